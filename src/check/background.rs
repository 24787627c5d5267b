//! When a background check runs: `get` never waits for the network. When
//! the last verdict on the secret it serves is older than the interval, it
//! starts one detached `docker-credential-harbor background-check KEY` (its
//! own session, stdio on /dev/null) and answers at once; that process makes
//! the one check ([`super::ask`]) and records it ([`super::record`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{check_stored, last};
use crate::account::AccountKind;
use crate::error::Result;
use crate::state::config::Config;
use crate::state::index::{self, Entry};
use crate::state::paths;
use crate::state::private_file;
use crate::verdict::{Check, Verdict};

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

/// The interval in force given what was configured (the variable, else the
/// settings file; see `Config::check_interval`): the default when nothing
/// was, or (with the reason for the caller to show) when it does not parse.
pub fn interval_of(configured: Option<&serde_json::Value>) -> (Interval, Option<String>) {
    match configured.map(parse_interval) {
        None => (Interval::Every(DEFAULT_INTERVAL), None),
        Some(Ok(i)) => (i, None),
        Some(Err(why)) => (Interval::Every(DEFAULT_INTERVAL), Some(why)),
    }
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
pub fn maybe_start(config: &Config, key: &str, entry: &Entry, stderr: &mut dyn std::io::Write) {
    if !cfg!(feature = "net") || config.ci().is_some() {
        // CI mode: the pipeline's variables are the credentials; check nothing.
        return;
    }
    let (interval, problem) = config.check_interval();
    if let Some(why) = problem
        && crate::state::notice::due(config.cache_dir().ok(), "check-interval", 86_400)
    {
        let _ = writeln!(stderr, "{}: warning: {why}", crate::NAME);
    }
    if due(entry, index::now(), interval) {
        let _ = start(config, key);
    }
}

fn checks_dir(config: &Config) -> Result<PathBuf> {
    Ok(config.cache_dir()?.join("checks"))
}

/// The marker that says a check of `key` is running.
fn marker(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{}.running", paths::file_stem(key)))
}

/// Start one check of `key` unless one is already running. The decision is
/// made under a per-registry lock, so 30 parallel `get`s start one check.
fn start(config: &Config, key: &str) -> Result<()> {
    let dir = checks_dir(config)?;
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
pub fn run(config: &Arc<Config>, key: &str) {
    std::thread::spawn(|| {
        std::thread::sleep(LIMIT);
        std::process::exit(0);
    });
    let _ = check_stored(config, key);
    if let Ok(dir) = checks_dir(config) {
        let _ = std::fs::remove_file(marker(&dir, key));
    }
}
