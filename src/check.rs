//! Background credential checks: notice that the registry stopped accepting a
//! stored secret (a Harbor CLI secret dies with the user's web session) and
//! say so where docker fails, instead of a bare `unauthorized`.
//!
//! `get` never waits for the network. When the last verdict on the secret it
//! serves is older than the interval, it starts one detached
//! `docker-credential-harbor background-check KEY` (its own session, stdio on
//! /dev/null) and answers at once. That process reads the secret from the
//! keychain itself, asks the token service as `login` does, and records only
//! the verdict and its time in the index.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::index::{self, AccountKind, Check, Entry, NetOptions, Verdict};
use crate::paths;
use crate::private_file;
use crate::secret::Secret;

/// Six hours: a web session outlives that, and a pull a few times a day
/// then costs one token request per registry.
pub const DEFAULT_INTERVAL: u64 = 21_600;
/// While the secret is refused, look again this often (or at the interval,
/// when that is shorter), so the warning clears soon after the user fixes it.
pub const REFUSED_RETRY: u64 = 60;
/// An unreachable (or blocked) registry is asked again after this long (or the interval).
pub const UNREACHABLE_RETRY: u64 = 600;
/// Longest interval: ten years is "never" in practice, and keeps every
/// sum of times far from overflowing.
pub const MAX_INTERVAL: u64 = 10 * 365 * 86_400;
/// The hidden command that runs one check.
pub const COMMAND: &str = "background-check";
/// Longest life of one background check, network included.
pub const LIMIT: Duration = Duration::from_secs(40);
/// A marker older than this belongs to a check that died without cleaning up.
const MARKER_STALE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Off,
    Every(u64),
}

/// Parse an interval as written in the variable or the settings file; both
/// go through the same text rules. Past [`MAX_INTERVAL`] it is clamped.
pub fn parse_interval(v: &serde_json::Value) -> std::result::Result<Interval, String> {
    let bad = || {
        format!(
            "check interval {v} is not a number of seconds or \"off\"; using {DEFAULT_INTERVAL}"
        )
    };
    let text = match v {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => return Err(bad()),
    };
    if matches!(text.as_str(), "off" | "never" | "false" | "no") {
        return Ok(Interval::Off);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // All digits: only its size can be wrong, and that clamps.
    let secs = text.parse::<u64>().unwrap_or(u64::MAX).min(MAX_INTERVAL);
    // Zero would mean a network request per pull: treat it as "off".
    Ok(if secs == 0 {
        Interval::Off
    } else {
        Interval::Every(secs)
    })
}

/// The interval in force: the variable, then the settings file, then the
/// default. A value that does not parse falls back to the default, with the
/// reason for the caller to show.
pub fn interval() -> (Interval, Option<String>) {
    let configured = match std::env::var(crate::env_vars::CHECK_INTERVAL) {
        Ok(v) if !v.trim().is_empty() => Some(serde_json::Value::String(v)),
        _ => crate::settings::load()
            .ok()
            .and_then(|s| s.check_interval)
            .filter(|v| !v.is_null()),
    };
    match configured.as_ref().map(parse_interval) {
        None => (Interval::Every(DEFAULT_INTERVAL), None),
        Some(Ok(i)) => (i, None),
        Some(Err(why)) => (Interval::Every(DEFAULT_INTERVAL), Some(why)),
    }
}

/// The last thing known about the entry's secret: a recorded check made
/// since it was stored, else the store itself (docker and podman verify
/// before they store, and so does `login`).
pub fn last(entry: &Entry) -> Check {
    match &entry.check {
        Some(c) if c.at >= entry.stored_at => c.clone(),
        _ => Check {
            at: entry.stored_at.max(entry.verified_at.unwrap_or(0)),
            verdict: Verdict::Accepted,
            detail: None,
            idp_down: false,
        },
    }
}

/// The refusal recorded for this entry's current secret, if any.
pub fn refusal(entry: &Entry) -> Option<Check> {
    Some(last(entry)).filter(|c| c.verdict == Verdict::Refused)
}

/// Whether a new check of `entry` is due at `now`.
pub fn due(entry: &Entry, now: i64, interval: Interval) -> bool {
    let Interval::Every(every) = interval else {
        return false;
    };
    if entry.kind == AccountKind::Token {
        // Identity tokens belong to other registries' OAuth flows.
        return false;
    }
    let last = last(entry);
    if passed_unchecked(entry, &last, now) {
        return true;
    }
    let period = match last.verdict {
        Verdict::Accepted => every,
        Verdict::Refused => every.min(REFUSED_RETRY),
        Verdict::Unreachable | Verdict::Blocked => every.min(UNREACHABLE_RETRY),
    };
    now.saturating_sub(last.at) >= i64::try_from(period).unwrap_or(i64::MAX)
}

/// A robot past its recorded expiry and not checked since: an admin may have
/// extended it, so ask now rather than let the date speak for the registry.
fn passed_unchecked(entry: &Entry, last: &Check, now: i64) -> bool {
    entry.kind == AccountKind::Robot
        && index::robot_date_passed(entry.expires_at, now)
        && entry.expires_at.is_some_and(|e| last.at < e)
}

/// Called by `get` after it found `entry` for `key`: start a background check
/// if one is due and none is running. Never fails, never waits.
pub fn maybe_start(key: &str, entry: &Entry, stderr: &mut dyn std::io::Write) {
    if !cfg!(feature = "net") || crate::ci_env::credentials().is_some() {
        // CI mode: the pipeline's variables are the credentials; check nothing.
        return;
    }
    let (interval, problem) = interval();
    if let Some(why) = problem
        && crate::notice::due("check-interval", 86_400)
    {
        let _ = writeln!(stderr, "{}: warning: {why}", crate::NAME);
    }
    if due(entry, index::now(), interval) {
        let _ = start(key);
    }
}

fn checks_dir() -> Result<PathBuf> {
    Ok(paths::cache_dir()?.join("checks"))
}

/// The marker that says a check of `key` is running.
fn marker(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{}.running", paths::file_stem(key)))
}

/// Start one check of `key` unless one is already running. The decision is
/// made under a per-registry lock, so 30 parallel `get`s start one check.
fn start(key: &str) -> Result<()> {
    let dir = checks_dir()?;
    private_file::ensure_private_dir(&dir)?;
    let lock_path = dir.join(format!("{}.lock", paths::file_stem(key)));
    let lock = private_file::open_lock(&lock_path)?;
    if lock.try_lock().is_err() {
        // Another `get` is deciding right now; it will start the check.
        return Ok(());
    }
    let running = marker(&dir, key);
    let fresh = std::fs::metadata(&running)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < MARKER_STALE);
    if fresh {
        return Ok(());
    }
    private_file::write_atomic(&running, std::process::id().to_string().as_bytes(), 0o600)?;
    if spawn(key).is_err() {
        let _ = std::fs::remove_file(&running);
    }
    Ok(())
}

/// Start `docker-credential-harbor background-check KEY`, detached: docker
/// waits for the helper's stdout to close, so the child gets none of ours.
fn spawn(key: &str) -> std::io::Result<()> {
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg(COMMAND)
        .arg(key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Not the check's business, and no secret belongs in its environment.
        .env_remove(crate::env_vars::HARBOR_PASSWORD);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid() and close() are async-signal-safe and only
        // affect the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                close_inherited();
                Ok(())
            });
        }
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        const DETACHED_PROCESS: u32 = 0x0000_0008;
        const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        cmd.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW);
        keep_std_handles_from_children();
    }
    // Not waited for: the child outlives this short-lived `get`.
    cmd.spawn().map(drop)
}

/// std's spawn on Windows always lets the child inherit every inheritable
/// handle (rust-lang/rust#146407), and docker gives `get` inheritable pipes
/// as stdin, stdout and stderr: the check would hold docker's stdout open,
/// and docker reads it to EOF. So ours stop being inheritable. Nothing is
/// lost: std duplicates a handle for a child that is to inherit it.
#[cfg(windows)]
fn keep_std_handles_from_children() {
    use windows_sys::Win32::Foundation::{HANDLE_FLAG_INHERIT, SetHandleInformation};
    use windows_sys::Win32::System::Console::{
        GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
    };
    for which in [STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE] {
        // SAFETY: plain values in and out; on a missing (null) or invalid
        // handle SetHandleInformation fails and changes nothing.
        unsafe {
            SetHandleInformation(GetStdHandle(which), HANDLE_FLAG_INHERIT, 0);
        }
    }
}

/// Close every descriptor above 2 in the child: the caller of `get` may have
/// leaked some (a pipe docker waits on, a file), and the check outlives it.
/// Runs between fork and exec, so only async-signal-safe calls.
#[cfg(unix)]
fn close_inherited() {
    #[cfg(target_os = "linux")]
    // SAFETY: close_range(2) takes plain integers; it fails cleanly on
    // kernels before 5.9, and the loop below then does the work.
    if unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) } == 0 {
        return;
    }
    // SAFETY: sysconf and close take plain integers.
    let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    let max = i32::try_from(max).unwrap_or(65_536).clamp(256, 65_536);
    for fd in 3..max {
        unsafe {
            libc::close(fd);
        }
    }
}

/// The body of `background-check KEY`: check once, record the verdict, and
/// clear the running marker. Bounded by [`LIMIT`] whatever the network does.
pub fn run_background(key: &str) {
    std::thread::spawn(|| {
        std::thread::sleep(LIMIT);
        std::process::exit(0);
    });
    let _ = check_stored(key);
    if let Ok(dir) = checks_dir() {
        let _ = std::fs::remove_file(marker(&dir, key));
    }
}

/// What one check found: the verdict and what goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    /// For [`Verdict::Blocked`]: the one-line reason.
    pub detail: Option<String>,
    /// A refused CLI secret while Harbor could not reach its identity provider.
    pub idp_down: bool,
    /// `renew` saw the secret accepted: the web session was renewed.
    pub renewed: bool,
}

impl Finding {
    pub fn of(verdict: Verdict) -> Finding {
        Finding {
            verdict,
            detail: None,
            idp_down: false,
            renewed: false,
        }
    }
}

/// The line for a CLI secret refused while Harbor cannot reach its identity
/// provider: every CLI secret is refused then, and no renewal can help.
pub fn idp_down_text(key: &str) -> String {
    format!(
        "Harbor at {} cannot reach its identity provider now, and refuses every CLI secret until it can: \
         nothing to do on your side; try later",
        crate::text::escape(key)
    )
}

/// Check the secret stored for `key` and record the verdict; `None` when
/// nothing (or nothing checkable) is stored.
pub fn check_stored(key: &str) -> Result<Option<Verdict>> {
    let (idx, _) = index::load_lenient()?;
    let Some(entry) = idx.registries.get(key) else {
        return Ok(None);
    };
    if entry.kind == AccountKind::Token {
        return Ok(None);
    }
    let unattended = crate::store::System::new(crate::store::Waiter::Program);
    let Some(stored) = unattended.get(entry.store, key)? else {
        return Ok(None);
    };
    if stored.username != entry.username {
        // A store is half-way through; the next get will look again.
        return Ok(None);
    }
    let found = verify(
        key,
        entry.server_url.as_deref(),
        &entry.net,
        (&stored.username, entry.kind),
        &stored.secret,
    );
    let verdict = found.verdict;
    let now_dead = verdict == Verdict::Refused && !found.idp_down;
    let before = record(key, entry.generation, found)?;
    if let Some(before) = before
        && now_dead
        && !before.is_some_and(|c| c.verdict == Verdict::Refused && !c.idp_down)
    {
        // The first refusal only: a reminder every minute would be nagging.
        // An identity-provider outage is nobody's to fix here: no notice.
        crate::desktop::notify_refused(key, entry);
    }
    Ok(Some(verdict))
}

/// Ask the registry, as `login` does and with the options `login` used,
/// whether it accepts the secret stored for `key` (at `address`, as it was
/// given): the one verdict every command records.
/// A refused CLI secret is looked at once more: Harbor refuses them all
/// while it cannot reach its identity provider.
pub fn verify(
    key: &str,
    address: Option<&str>,
    net: &NetOptions,
    (username, kind): (&str, AccountKind),
    secret: &Secret<String>,
) -> Finding {
    let client = match crate::harbor::Client::connect_key(key, address, net) {
        Ok(c) => c,
        Err(e) => return verdict_of(&e),
    };
    match client.verify(username, secret) {
        Ok((Verdict::Refused, api)) if kind == AccountKind::User => Finding {
            idp_down: client.identity_provider_down(api.as_deref()).is_some(),
            ..Finding::of(Verdict::Refused)
        },
        Ok((verdict, _)) => Finding::of(verdict),
        Err(e) => verdict_of(&e),
    }
}

/// The verdict an error amounts to: only a network failure is "unreachable";
/// anything else kept the secret from being sent (plain HTTP, a certificate
/// not trusted, a CA file gone) or stopped the check in front of the registry
/// (a 403), and is "blocked", with the line that says why.
pub fn verdict_of(e: &Error) -> Finding {
    match e {
        Error::Network(_) => Finding::of(Verdict::Unreachable),
        // A 403 reached something in front of the registry: its line says so.
        Error::Blocked(_) => Finding {
            detail: Some(e.one_line()),
            ..Finding::of(Verdict::Blocked)
        },
        other => Finding {
            detail: Some(format!("nothing was sent: {}", other.one_line())),
            ..Finding::of(Verdict::Blocked)
        },
    }
}

/// Record what a check `found` for the secret of index generation
/// `generation`. A secret stored or erased meanwhile is left alone: the
/// verdict was about the old one. `Some(previous check)` when it was
/// recorded, `None` when it was not.
pub fn record(key: &str, generation: Option<u64>, found: Finding) -> Result<Option<Option<Check>>> {
    let (previous, _) = index::update(|idx| {
        Ok(match idx.registries.get_mut(key) {
            Some(e) if e.generation == generation => {
                let before = e.check.clone().filter(|c| c.at >= e.stored_at);
                let at = index::now();
                // An outage of the identity provider ends no secret's life.
                if e.kind == AccountKind::User && !found.idp_down {
                    e.lives.note(found.verdict, at, e.stored_at, found.renewed);
                }
                e.check = Some(Check {
                    at,
                    verdict: found.verdict,
                    detail: found.detail,
                    idp_down: found.idp_down,
                });
                forget_a_passed_expiry(e);
                Some(before)
            }
            _ => None,
        })
    })?;
    Ok(previous)
}

/// A robot accepted after its recorded expiry was extended (Harbor keeps
/// the secret and moves the date): the old date now says nothing, and the
/// new one is not told to a robot, so it is unknown.
fn forget_a_passed_expiry(e: &mut Entry) {
    if let Some(c) = &e.check
        && c.verdict == Verdict::Accepted
        && e.kind == AccountKind::Robot
        && index::robot_date_passed(e.expires_at, c.at)
    {
        e.expires_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKind;
    use serde_json::json;

    fn entry(stored_at: i64, check: Option<(i64, Verdict)>) -> Entry {
        Entry {
            username: "jdoe@ucar.edu".into(),
            kind: AccountKind::User,
            store: StoreKind::Keyutils,
            stored_at,
            expires_at: None,
            server_url: None,
            generation: Some(1),
            verified_at: None,
            check: check.map(|(at, verdict)| Check {
                at,
                verdict,
                detail: None,
                idp_down: false,
            }),
            net: NetOptions::default(),
            lives: crate::index::Lives::default(),
            adopted_from: None,
            extra: serde_json::Map::new(),
        }
    }

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval(&json!(60)), Ok(Interval::Every(60)));
        assert_eq!(parse_interval(&json!("3600")), Ok(Interval::Every(3600)));
        assert_eq!(parse_interval(&json!("off")), Ok(Interval::Off));
        assert_eq!(parse_interval(&json!(" OFF ")), Ok(Interval::Off));
        assert_eq!(parse_interval(&json!(0)), Ok(Interval::Off));
        assert!(parse_interval(&json!("soon")).is_err());
        assert!(parse_interval(&json!(-5)).is_err());
        assert!(parse_interval(&json!(true)).is_err());
        assert!(parse_interval(&json!(1.5)).is_err());
        assert!(parse_interval(&json!("")).is_err());
    }

    #[test]
    fn huge_intervals_clamp_and_never_make_every_get_a_check() {
        let max = Interval::Every(MAX_INTERVAL);
        for v in [
            json!("18446744073709551615"),
            json!("99999999999999999999999"),
            json!(u64::MAX),
            json!(i64::MAX),
        ] {
            assert_eq!(parse_interval(&v), Ok(max), "{v}");
        }
        let e = entry(1_000, None);
        assert!(!due(&e, 1_000 + 86_400, max));
        assert!(!due(&e, i64::MAX, Interval::Every(u64::MAX)) || due(&e, i64::MAX, max));
        // Even an unclamped interval compares without wrapping.
        assert!(!due(&e, 2_000, Interval::Every(u64::MAX)));
    }

    #[test]
    fn only_network_failures_are_unreachable() {
        assert_eq!(
            verdict_of(&Error::Network("x did not answer".into())),
            Finding::of(Verdict::Unreachable)
        );
        let found = verdict_of(&Error::Policy("refusing http:// to x".into()));
        assert_eq!(found.verdict, Verdict::Blocked);
        assert_eq!(
            found.detail.as_deref(),
            Some("nothing was sent: refusing http:// to x")
        );
        let found = verdict_of(&Error::Blocked("h answered HTTP 403".into()));
        assert_eq!(found.verdict, Verdict::Blocked);
        assert_eq!(found.detail.as_deref(), Some("h answered HTTP 403"));
    }

    #[test]
    fn a_fresh_store_counts_as_accepted() {
        let e = entry(1_000, None);
        let every = Interval::Every(100);
        assert!(!due(&e, 1_050, every));
        assert!(due(&e, 1_100, every));
        assert!(!due(&e, 1_000_000, Interval::Off));
        assert_eq!(refusal(&e), None);
    }

    #[test]
    fn refusals_are_checked_again_within_a_minute() {
        let e = entry(1_000, Some((2_000, Verdict::Refused)));
        let every = Interval::Every(DEFAULT_INTERVAL);
        assert!(!due(&e, 2_059, every));
        assert!(due(&e, 2_060, every));
        // Never more often than the interval asks for.
        assert!(!due(&e, 2_005, Interval::Every(10)));
        assert!(due(&e, 2_010, Interval::Every(10)));
        assert_eq!(refusal(&e).map(|c| c.at), Some(2_000));
    }

    #[test]
    fn offline_is_not_a_refusal() {
        let e = entry(1_000, Some((2_000, Verdict::Unreachable)));
        assert_eq!(refusal(&e), None);
        assert!(!due(&e, 2_599, Interval::Every(DEFAULT_INTERVAL)));
        assert!(due(&e, 2_600, Interval::Every(DEFAULT_INTERVAL)));
    }

    #[test]
    fn a_verdict_older_than_the_secret_does_not_count() {
        // Stored again after the refusal: the new secret starts clean.
        let e = entry(3_000, Some((2_000, Verdict::Refused)));
        assert_eq!(refusal(&e), None);
        assert!(!due(&e, 3_100, Interval::Every(DEFAULT_INTERVAL)));
    }

    #[test]
    fn a_robot_past_its_recorded_expiry_is_asked_and_forgets_the_date_once_accepted() {
        let robot = |check| Entry {
            kind: AccountKind::Robot,
            expires_at: Some(5_000),
            ..entry(1_000, check)
        };
        let every = Interval::Every(DEFAULT_INTERVAL);
        let e = robot(Some((2_000, Verdict::Accepted)));
        assert!(!due(&e, 4_999, every));
        assert!(due(&e, 5_000, every), "the date passed: ask at once");
        assert!(!due(&e, 5_000, Interval::Off));
        // Asked since the date: the usual schedule again.
        assert!(!due(&robot(Some((5_010, Verdict::Accepted))), 5_020, every));
        assert!(!due(&robot(Some((5_010, Verdict::Refused))), 5_020, every));

        for (check, kept) in [
            ((5_010, Verdict::Accepted), None),
            ((5_010, Verdict::Refused), Some(5_000)),
            ((5_010, Verdict::Unreachable), Some(5_000)),
            ((4_000, Verdict::Accepted), Some(5_000)),
        ] {
            let mut e = robot(Some(check));
            forget_a_passed_expiry(&mut e);
            assert_eq!(e.expires_at, kept, "{check:?}");
        }
    }

    #[test]
    fn identity_tokens_are_never_checked() {
        let mut e = entry(0, None);
        e.kind = AccountKind::Token;
        assert!(!due(&e, 1_000_000, Interval::Every(1)));
    }
}
