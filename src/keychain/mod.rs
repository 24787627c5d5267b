//! The keychains, behind one small interface ([`Keychain`]: set, get and
//! delete one entry per registry key) that each backend implements in its own
//! file: `os` (the OS keychains through keyring-core), `wsl` (Windows
//! Credential Manager through the Windows build), `memory` (unit tests).
//! Which keychain is used is decided here.
//!
//! Every call is bounded (`bounded`: a worker thread that is abandoned; the
//! WSL bridge kills its process): a Secret Service that never answers must
//! not hang `docker pull`. How long depends on who waits ([`Waiter`]): a
//! program 10 s, a person at a human command long enough to answer a
//! Keychain or unlock dialog.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::state::config::Config;

mod bounded;
pub mod cache;
pub mod kind;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
mod macos_status;
#[cfg(test)]
pub mod memory;
mod os;
#[cfg(target_os = "linux")]
pub mod pass;
#[cfg(windows)]
mod windows;
#[cfg(target_os = "linux")]
mod wsl;

use os::Platform;

/// This system's keychains (see [`os::Platform`]).
#[cfg(target_os = "linux")]
type Current = linux::Linux;
#[cfg(target_os = "macos")]
type Current = macos::Macos;
#[cfg(windows)]
type Current = windows::Windows;
#[cfg(target_os = "linux")]
pub use linux::own_session_keyring;

/// The keychain service name every entry is filed under; the registry key is the user.
pub const SERVICE: &str = crate::NAME;

/// Secrets larger than this are not registry secrets (Harbor's are 32 characters,
/// JWT identity tokens a few KiB) and would overflow some keychains.
pub const MAX_SECRET: usize = 16 * 1024;

pub use kind::KeychainKind;

impl KeychainKind {
    /// Whether this build can talk to this keychain at all.
    pub fn supported(self) -> bool {
        Current::SUPPORTED.contains(&self)
    }

    /// Slow keychains whose reads are copied into the kernel-keyring cache
    /// (see `cache`): the Secret Service, the Windows side from WSL, and the
    /// password store (gpg-agent is then asked once per cache period).
    pub fn cached(self) -> bool {
        matches!(
            self,
            KeychainKind::SecretService | KeychainKind::WindowsViaWsl | KeychainKind::Pass
        )
    }
}

/// The keychain that a new secret goes to: the forced one, or the best one
/// this session offers.
pub fn choose(config: &Config) -> Result<KeychainKind> {
    if let Some(kind) = config.forced_keychain()? {
        return Ok(kind);
    }
    Current::detect(config)
}

/// The keychain named by `DOCKER_CREDENTIAL_HARBOR_STORE` (its value given), if any.
pub fn forced_by(value: Option<&str>) -> Result<Option<KeychainKind>> {
    let var = crate::env_vars::STORE;
    match value {
        Some(v) if !v.trim().is_empty() => {
            let kind = KeychainKind::parse(v).ok_or_else(|| {
                Error::Config(format!(
                    "{var}={v:?} is not a keychain this program knows; use one of: {}",
                    Current::SUPPORTED
                        .iter()
                        .map(|k| k.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            // On Linux, "the Windows one" can only mean the Windows side from WSL.
            #[cfg(target_os = "linux")]
            let kind = match kind {
                KeychainKind::WindowsCredentialManager => KeychainKind::WindowsViaWsl,
                k => k,
            };
            #[cfg(target_os = "linux")]
            if kind == KeychainKind::WindowsViaWsl && !wsl::detected() {
                return Err(Error::Config(format!(
                    "{var}={} needs WSL, and this is not WSL (WSL_DISTRO_NAME and \
                     WSL_INTEROP are not both set and there is no WSLInterop binfmt entry)",
                    kind.name()
                )));
            }
            if !kind.supported() {
                return Err(Error::Config(format!(
                    "{var}={} is not available on this operating system",
                    kind.name()
                )));
            }
            Ok(Some(kind))
        }
        _ => Ok(None),
    }
}

/// Keychains to search for a key whose home is unknown (no index entry):
/// the preferred one first, then the others this session can reach.
/// No probing here: each keychain is asked once, so a hung one costs one timeout.
pub fn search_order(config: &Config) -> Result<Vec<KeychainKind>> {
    if let Some(kind) = config.forced_keychain()? {
        return Ok(vec![kind]);
    }
    Ok(Current::SUPPORTED
        .iter()
        .copied()
        .filter(|k| Current::reachable(*k, config))
        .collect())
}

/// When `e` says the Windows side cannot be reached from WSL just now (no
/// .exe, interop down) and it was not forced: the Linux keychains to use
/// instead, best first, and the reason, for one line on stderr that also
/// says how to get the shared login ([`SHARED_LOGIN`]).
pub fn instead_of(
    config: &Config,
    kind: KeychainKind,
    e: &Error,
) -> Result<Option<(Vec<KeychainKind>, String)>> {
    #[cfg(target_os = "linux")]
    if kind == KeychainKind::WindowsViaWsl
        && wsl::unusable(e)
        && config.forced_keychain()?.is_none()
    {
        let reason = match e {
            Error::KeychainUnavailable { reason, .. } => format!("{}: {reason}", kind.display()),
            other => other.one_line(),
        };
        let best = linux::detect_linux(config)?;
        let mut order = vec![best];
        order.extend(
            linux::Linux::SUPPORTED
                .iter()
                .copied()
                .filter(|k| *k != kind && *k != best && linux::Linux::reachable(*k, config)),
        );
        return Ok(Some((order, reason)));
    }
    let _ = (config, kind, e);
    Ok(None)
}

/// How to share one login with Windows from WSL.
#[cfg(target_os = "linux")]
pub const SHARED_LOGIN: &str = wsl::HOW;
#[cfg(not(target_os = "linux"))]
pub const SHARED_LOGIN: &str = "";

/// Who waits for a keychain call's answer, which decides how long it may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiter {
    /// docker, podman or kubelet (the protocol), or the background check:
    /// docker must never hang on a keychain.
    Program,
    /// A person at a human command (login, logout, status, renew,
    /// configure, kube-secret), who may have a dialog to answer first (the
    /// macOS Keychain asks after every upgrade of an unsigned binary).
    Person,
}

impl Waiter {
    /// How long one keychain call may take: `DOCKER_CREDENTIAL_HARBOR_TIMEOUT`
    /// seconds (`var`, its value) when set, else [`Waiter::default_limit`].
    /// Read through `Config::keychain_limit`.
    pub fn limit_with(self, var: Option<&str>) -> Duration {
        var.and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 600.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(self.default_limit())
    }

    /// Long enough for a person to read a dialog and type a password; short
    /// enough that `docker pull` fails rather than hangs.
    fn default_limit(self) -> Duration {
        match self {
            Waiter::Program => Duration::from_secs(10),
            Waiter::Person => Duration::from_secs(120),
        }
    }
}

/// The line a person reads before the first call to `kind` may bring up a
/// dialog: the macOS Keychain asks whether this (unsigned) program may read
/// its entry after every upgrade. `None` for a program, which shows no dialog's
/// answer to anyone, and for keychains that do not ask.
fn before_first_call(waiter: Waiter, kind: KeychainKind, limit: Duration) -> Option<String> {
    (waiter == Waiter::Person && kind == KeychainKind::MacosKeychain).then(|| {
        format!(
            "note: the macOS Keychain may show a dialog asking whether {} may use its entry: \
             choose \"Always Allow\" (waiting up to {} s)",
            crate::NAME,
            limit.as_secs()
        )
    })
}

/// What one keychain entry holds: the username travels with the secret so a
/// lost index never loses a login.
pub struct Stored {
    pub username: String,
    pub secret: Secret<String>,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("username", &self.username)
            .field("secret", &self.secret)
            .finish()
    }
}

/// The keychain blob for `stored`.
pub fn encode_blob(stored: &Stored) -> Secret<String> {
    stored.encode()
}

/// Parse a keychain blob; `None` when it is not in this program's format.
pub fn decode_blob(text: &str) -> Option<Stored> {
    parse_blob(text.as_bytes())
}

impl Stored {
    /// The length of [`Stored::encode`]'s blob, counted without writing it.
    fn encoded_len(&self) -> usize {
        struct Count(usize);
        impl std::fmt::Write for Count {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0 += s.len();
                Ok(())
            }
        }
        let mut n = Count(r#"{"Username":,"Secret":}"#.len());
        crate::protocol::push_json_string(&mut n, &self.username);
        crate::protocol::push_json_string(&mut n, self.secret.expose());
        n.0
    }

    fn encode(&self) -> Secret<String> {
        let mut s = crate::secret::SecretBuf::with_capacity(self.encoded_len());
        // Escaped only where JSON must be (no `\u003c` for `<` as on the
        // wire): a secret without quotes, backslashes or control bytes then
        // decodes without any copy.
        s.push_str("{\"Username\":");
        crate::protocol::push_json_string(&mut s, &self.username);
        s.push_str(",\"Secret\":");
        crate::protocol::push_json_string(&mut s, self.secret.expose());
        s.push('}');
        s.into_secret()
    }

    fn decode(kind: KeychainKind, key: &str, mut bytes: Vec<u8>) -> Result<Stored> {
        let parsed = parse_blob(&bytes).or_else(|| {
            // 0.1.0 wrote through `set_password`, which the Windows store keeps
            // as UTF-16LE: read those entries, so existing logins keep working.
            (kind == KeychainKind::WindowsCredentialManager)
                .then(|| utf16le_to_utf8(&bytes))
                .flatten()
                .and_then(|mut utf8| {
                    let parsed = parse_blob(&utf8);
                    zeroize::Zeroize::zeroize(&mut utf8);
                    parsed
                })
        });
        if kind == KeychainKind::Keyutils {
            // keyutils reads into a fresh 64 KiB buffer (`read_to_vec`) and
            // writes only its payload: wiping what was written is wiping
            // every byte that held the secret, without touching 16 pages.
            zeroize::Zeroize::zeroize(bytes.as_mut_slice());
        } else {
            zeroize::Zeroize::zeroize(&mut bytes);
        }
        parsed.ok_or_else(|| Error::Keychain {
            store: kind,
            reason: format!(
                "the entry {} was not written by this program (or is damaged); \
                 run {} to replace it",
                Current::entry_name(key),
                crate::cmd("login")
            ),
        })
    }
}

/// The blob as this program writes it: UTF-8 JSON with Username and Secret.
fn parse_blob(bytes: &[u8]) -> Option<Stored> {
    #[derive(Deserialize)]
    struct Blob<'a> {
        #[serde(rename = "Username")]
        username: String,
        /// Borrowed and decoded by `protocol`: serde_json would unescape it
        /// into a scratch buffer that is never wiped.
        #[serde(rename = "Secret", borrow)]
        secret: &'a serde_json::value::RawValue,
    }
    let b = serde_json::from_slice::<Blob>(bytes).ok()?;
    Some(Stored {
        username: b.username,
        secret: crate::protocol::decode_json_string(b.secret.get())?,
    })
}

/// UTF-16LE bytes as UTF-8; `None` when they are not UTF-16LE text.
fn utf16le_to_utf8(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let mut out = Vec::with_capacity(bytes.len());
    for c in char::decode_utf16(units) {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.ok()?.encode_utf8(&mut buf).as_bytes());
    }
    Some(out)
}

/// One keychain, as docker-credential-helpers' `Helper` (listing comes from
/// the index): each backend implements these, in its own file. What a
/// caller gets from [`keychain`] returns within [`timeout`].
pub trait Keychain: Send + Sync {
    fn kind(&self) -> KeychainKind;
    /// Keep `stored` under `key`, replacing what was there.
    fn set(&self, key: &str, stored: Stored) -> Result<()>;
    /// The entry under `key`, or `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<Stored>>;
    /// Remove the entry under `key`; `false` when there was none.
    fn delete(&self, key: &str) -> Result<bool>;
}

/// The keychains one process can reach and which one serves what. The
/// protocol actions take one of these: [`System`] is this machine's,
/// `memory::Keychains` stands in for it in unit tests.
pub trait Keychains {
    /// The keychain a new secret goes to (see [`choose`]).
    fn choose(&self) -> Result<KeychainKind>;
    /// The forced keychain; an error when the variable names none (see [`forced`]).
    fn forced(&self) -> Result<Option<KeychainKind>>;
    /// Where to look for a key the index does not know (see [`search_order`]).
    fn search_order(&self) -> Result<Vec<KeychainKind>>;
    /// The keychains to use when `kind` failed with `e` (see [`instead_of`]).
    fn instead_of(
        &self,
        kind: KeychainKind,
        e: &Error,
    ) -> Result<Option<(Vec<KeychainKind>, String)>>;
    /// The keychain `kind`, every call bounded.
    fn open(&self, kind: KeychainKind) -> Box<dyn Keychain + '_>;
    /// Who waits for the answers, which bounds every call (see [`Waiter`]).
    fn waiter(&self) -> Waiter;
}

/// `key`'s entry from `home` (the keychain the index names), or searched
/// for in every keychain when the index names none; which keychain
/// answered. The order, the WSL fallback (said through `warn`) and which
/// error wins are decided here, for every caller.
pub fn read(
    keychains: &dyn Keychains,
    key: &str,
    home: Option<KeychainKind>,
    warn: &mut dyn FnMut(&str),
) -> Result<(KeychainKind, Stored)> {
    let mut order = match home {
        Some(kind) => vec![kind],
        None => keychains.search_order()?,
    };
    let mut first_error = None;
    let mut i = 0;
    while let Some(&kind) = order.get(i) {
        i += 1;
        let e = match keychains.open(kind).get(key) {
            Ok(Some(stored)) => return Ok((kind, stored)),
            Ok(None) => continue,
            Err(e) => e,
        };
        // In WSL with the Windows side out of reach: the Linux keychains,
        // said once; a secret in neither is not found.
        if let Some((linux, why)) = keychains.instead_of(kind, &e)? {
            warn(&format!(
                "warning: {why}; looking in the Linux keychain instead; {SHARED_LOGIN}"
            ));
            for k in linux {
                if !order.contains(&k) {
                    order.push(k);
                }
            }
            continue;
        }
        match e {
            _ if home.is_some() && order.len() == 1 => return Err(e),
            // Searching for a key the index does not know: a keychain that
            // cannot be used cannot hold it either; the kernel keyring
            // refusing a process without a session keyring is no news at all.
            Error::KeychainUnavailable {
                store: KeychainKind::Keyutils,
                ..
            } => {}
            e => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(Error::NotFound))
}

/// This machine's keychains, opened for `waiter`: a human command's calls
/// wait as long as a person needs, a client's are cut off in time.
pub struct System {
    waiter: Waiter,
    config: Arc<Config>,
}

impl System {
    pub fn new(waiter: Waiter, config: &Arc<Config>) -> System {
        System {
            waiter,
            config: Arc::clone(config),
        }
    }

    /// The entry under `key` in `kind`, or `None` when there is none.
    pub fn get(&self, kind: KeychainKind, key: &str) -> Result<Option<Stored>> {
        self.open(kind).get(key)
    }
}

impl Keychains for System {
    fn choose(&self) -> Result<KeychainKind> {
        choose(&self.config)
    }
    fn forced(&self) -> Result<Option<KeychainKind>> {
        self.config.forced_keychain()
    }
    fn search_order(&self) -> Result<Vec<KeychainKind>> {
        search_order(&self.config)
    }
    fn instead_of(
        &self,
        kind: KeychainKind,
        e: &Error,
    ) -> Result<Option<(Vec<KeychainKind>, String)>> {
        instead_of(&self.config, kind, e)
    }
    fn open(&self, kind: KeychainKind) -> Box<dyn Keychain + '_> {
        let limit = self.config.keychain_limit(self.waiter);
        if let Some(line) = before_first_call(self.waiter, kind, limit) {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| crate::text::say_err!("{line}"));
        }
        keychain(kind, limit, &self.config)
    }
    fn waiter(&self) -> Waiter {
        self.waiter
    }
}

/// A borrowed set serves as well (tests share one between contexts).
impl<K: Keychains + ?Sized> Keychains for &K {
    fn choose(&self) -> Result<KeychainKind> {
        (**self).choose()
    }
    fn forced(&self) -> Result<Option<KeychainKind>> {
        (**self).forced()
    }
    fn search_order(&self) -> Result<Vec<KeychainKind>> {
        (**self).search_order()
    }
    fn instead_of(
        &self,
        kind: KeychainKind,
        e: &Error,
    ) -> Result<Option<(Vec<KeychainKind>, String)>> {
        (**self).instead_of(kind, e)
    }
    fn open(&self, kind: KeychainKind) -> Box<dyn Keychain + '_> {
        (**self).open(kind)
    }
    fn waiter(&self) -> Waiter {
        (**self).waiter()
    }
}

impl<K: Keychain + ?Sized> Keychain for &K {
    fn kind(&self) -> KeychainKind {
        (**self).kind()
    }
    fn set(&self, key: &str, stored: Stored) -> Result<()> {
        (**self).set(key, stored)
    }
    fn get(&self, key: &str) -> Result<Option<Stored>> {
        (**self).get(key)
    }
    fn delete(&self, key: &str) -> Result<bool> {
        (**self).delete(key)
    }
}

/// The keychain `kind`, every call bounded: the OS keychains on a worker
/// thread abandoned at `limit`; the WSL bridge kills its own process (at a
/// program's limit: the Windows side shows no dialog).
fn keychain(kind: KeychainKind, limit: Duration, config: &Arc<Config>) -> Box<dyn Keychain> {
    #[cfg(target_os = "linux")]
    match kind {
        KeychainKind::WindowsViaWsl => return Box::new(wsl::Bridge::new(config)),
        // A kernel keyring call is a syscall that waits on no other
        // process: it cannot hang as a D-Bus call can, so it needs no
        // worker thread (a thread, its stack and an arena on every get).
        KeychainKind::Keyutils => return Box::new(os::Os(kind)),
        // Bounds its own gpg and git children, and kills them.
        KeychainKind::Pass => return Box::new(pass::Pass::new(limit)),
        _ => {}
    }
    #[cfg(not(target_os = "linux"))]
    let _ = config;
    Box::new(bounded::Bounded::new(os::Os(kind), limit))
}

/// Where `kind` keeps things, for people: its name, and for the password
/// store its directory.
pub fn describe(kind: KeychainKind) -> String {
    #[cfg(target_os = "linux")]
    if kind == KeychainKind::Pass
        && let Ok(dir) = pass::store_dir()
    {
        return format!("{} in {}", kind.display(), dir.display());
    }
    kind.display().to_string()
}

/// What `login` adds about where `username`'s secret for `key` went in
/// `kind`, when there is more to say than its name.
pub fn kept_note(kind: KeychainKind, key: &str, username: &str) -> Option<String> {
    #[cfg(target_os = "linux")]
    if kind == KeychainKind::Pass {
        let file = pass::entry_file(key, username).ok()?;
        return Some(format!(
            "The secret is in {}, encrypted with GnuPG: it survives a reboot and follows the \
             home directory (pass and docker-credential-pass read it too).",
            file.display()
        ));
    }
    let _ = (kind, key, username);
    None
}

/// Refuse, with one line, what is too large for `kind`: checked before
/// anything is written.
pub fn check_size(kind: KeychainKind, stored: &Stored) -> Result<()> {
    if stored.secret.expose().len() > MAX_SECRET {
        return Err(Error::BadInput(format!(
            "the secret is longer than {} KiB; registry secrets are much shorter",
            MAX_SECRET / 1024
        )));
    }
    let len = stored.encoded_len();
    if let Some(max) = Current::max_blob(kind)
        && len > max
    {
        return Err(Error::BadInput(format!(
            "the username and secret are too long for the {}: together they take {len} bytes, \
             it holds at most {max} per entry",
            kind.display(),
        )));
    }
    Ok(())
}

/// A keychain error as a one-line message; never includes secret bytes
/// (the variants that carry them are described, not printed).
fn keyring_error(e: &keyring_core::Error) -> String {
    use keyring_core::Error as K;
    match e {
        K::BadEncoding(_) => "the stored entry is not valid UTF-8".into(),
        K::BadDataFormat(_, _) => "the stored entry is malformed".into(),
        K::PlatformFailure(inner) | K::NoStorageAccess(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(user: &str, secret: &str) -> String {
        Stored {
            username: user.into(),
            secret: Secret::new(secret.into()),
        }
        .encode()
        .expose()
        .clone()
    }

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// A person at a human command may have a Keychain dialog to answer; a
    /// client's call stays bounded as before, whatever a person needs.
    #[test]
    fn a_person_waits_longer_than_a_program() {
        assert_eq!(Waiter::Program.limit_with(None), Duration::from_secs(10));
        assert_eq!(Waiter::Person.limit_with(None), Duration::from_secs(120));
        // The variable sets both; nonsense is ignored.
        for w in [Waiter::Program, Waiter::Person] {
            assert_eq!(w.limit_with(Some(" 2 ")), Duration::from_secs(2));
            for bad in ["0", "-1", "nan", "601", "soon"] {
                assert_eq!(w.limit_with(Some(bad)), w.default_limit(), "{bad}");
            }
        }
        let config = Arc::new(Config::new(None, Default::default()));
        assert_eq!(
            System::new(Waiter::Person, &config).waiter(),
            Waiter::Person
        );
        assert_eq!(
            System::new(Waiter::Program, &config).waiter(),
            Waiter::Program
        );
    }

    const LIMIT: Duration = Duration::from_secs(120);

    /// Said once before a human command's first macOS Keychain call; never
    /// to a client (docker shows helpers' stderr) nor for other keychains.
    #[test]
    fn only_a_person_is_told_about_the_keychain_dialog() {
        let line = before_first_call(Waiter::Person, KeychainKind::MacosKeychain, LIMIT).unwrap();
        assert!(line.contains("Keychain may show a dialog"), "{line}");
        assert!(line.contains("\"Always Allow\""), "{line}");
        assert!(line.contains("up to "), "{line}");
        assert_eq!(
            before_first_call(Waiter::Program, KeychainKind::MacosKeychain, LIMIT),
            None
        );
        for kind in [
            KeychainKind::SecretService,
            KeychainKind::Keyutils,
            KeychainKind::WindowsCredentialManager,
            KeychainKind::WindowsViaWsl,
        ] {
            assert_eq!(
                before_first_call(Waiter::Person, kind, LIMIT),
                None,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn utf8_blob_reads_back_on_every_keychain() {
        let text = blob("jdoe é<&>", "s3cret \u{2028} ü");
        for kind in [
            KeychainKind::SecretService,
            KeychainKind::Keyutils,
            KeychainKind::MacosKeychain,
            KeychainKind::WindowsCredentialManager,
            KeychainKind::WindowsViaWsl,
        ] {
            let s = Stored::decode(kind, "h.example", text.clone().into_bytes()).unwrap();
            assert_eq!(s.username, "jdoe é<&>");
            assert_eq!(s.secret.expose(), "s3cret \u{2028} ü");
        }
    }

    #[test]
    fn the_size_check_counts_the_blob_exactly() {
        for (user, secret) in [("u", ""), ("jdoe é<&>", "s3cret \u{2028} \u{1}\"\\ ü")] {
            let stored = Stored {
                username: user.into(),
                secret: Secret::new(secret.into()),
            };
            assert_eq!(stored.encoded_len(), stored.encode().expose().len());
            assert_eq!(
                stored.encoded_len(),
                stored.encode().expose().capacity(),
                "it grew"
            );
        }
    }

    #[test]
    fn utf16_blob_from_0_1_0_reads_back_on_windows_only() {
        let old = utf16le(&blob("jdoe", "s3cret-ü"));
        let s = Stored::decode(
            KeychainKind::WindowsCredentialManager,
            "h.example",
            old.clone(),
        )
        .expect("a 0.1.0 Windows entry");
        assert_eq!(
            (s.username.as_str(), s.secret.expose().as_str()),
            ("jdoe", "s3cret-ü")
        );
        // Elsewhere 0.1.0 wrote UTF-8; UTF-16 there is someone else's data.
        assert!(Stored::decode(KeychainKind::Keyutils, "h.example", old).is_err());
    }

    /// Refused before any keychain is opened, with one line that names the limit.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_blob_over_the_kernel_keyrings_cap_is_refused_up_front() {
        let stored = Stored {
            username: "u".into(),
            secret: Secret::new("\u{1}".repeat(6000)),
        };
        let e = check_size(KeychainKind::Keyutils, &stored).unwrap_err();
        assert!(matches!(e, Error::BadInput(_)), "{e:?}");
        assert_eq!(
            e.one_line(),
            "the username and secret are too long for the kernel keyring: together they take \
             36028 bytes, it holds at most 32767 per entry"
        );
    }

    #[test]
    fn foreign_entries_give_one_clear_line_without_their_bytes() {
        for bytes in [
            b"hunter2-foreign".to_vec(),
            utf16le("hunter2-foreign"),
            utf16le("hunter2-foreign")[1..].to_vec(),
            vec![0xff, 0xfe, 0x00],
            Vec::new(),
            br#"{"Username":"u"}"#.to_vec(),
        ] {
            let e = Stored::decode(KeychainKind::WindowsCredentialManager, "h.example", bytes)
                .unwrap_err()
                .one_line();
            assert!(e.contains("not written by this program"), "{e}");
            assert!(e.contains("login"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}
