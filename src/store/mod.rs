//! The OS keychains, behind one small interface: set, get and delete one
//! entry per registry key. Which keychain is used is decided here.
//!
//! Every call runs on a worker thread and is abandoned after [`timeout`]: a
//! Secret Service that never answers must not hang `docker pull`.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secret::Secret;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;
#[cfg(target_os = "linux")]
mod wsl;

#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(target_os = "linux")]
pub use linux::own_session_keyring;
#[cfg(target_os = "macos")]
use macos as platform;
#[cfg(windows)]
use windows as platform;

/// The keychain service name every entry is filed under; the registry key is the user.
pub const SERVICE: &str = crate::NAME;

/// Forces one keychain, e.g. `secret-service`, `keyutils` or (in WSL) `windows`.
pub const STORE_ENV: &str = "DOCKER_CREDENTIAL_HARBOR_STORE";
/// Seconds a keychain call may take (default 10).
pub const TIMEOUT_ENV: &str = "DOCKER_CREDENTIAL_HARBOR_TIMEOUT";

/// Secrets larger than this are not registry secrets (Harbor's are 32 characters,
/// JWT identity tokens a few KiB) and would overflow some keychains.
pub const MAX_SECRET: usize = 16 * 1024;

/// The keychains this program can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    SecretService,
    Keyutils,
    MacosKeychain,
    WindowsCredentialManager,
    /// In WSL: Windows Credential Manager, through the Windows build.
    #[serde(rename = "windows-credential-manager-via-wsl")]
    WindowsViaWsl,
}

impl StoreKind {
    /// The name used in the index, in `DOCKER_CREDENTIAL_HARBOR_STORE` and in `status`.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::SecretService => "secret-service",
            StoreKind::Keyutils => "keyutils",
            StoreKind::MacosKeychain => "macos-keychain",
            StoreKind::WindowsCredentialManager => "windows-credential-manager",
            StoreKind::WindowsViaWsl => "windows-credential-manager-via-wsl",
        }
    }

    /// A name for people, used in error messages.
    pub fn display(self) -> &'static str {
        match self {
            StoreKind::SecretService => "Secret Service",
            StoreKind::Keyutils => "kernel keyring",
            StoreKind::MacosKeychain => "macOS Keychain",
            StoreKind::WindowsCredentialManager => "Windows Credential Manager",
            StoreKind::WindowsViaWsl => "Windows Credential Manager (through WSL interop)",
        }
    }

    pub fn parse(name: &str) -> Option<StoreKind> {
        let n = name.trim().to_ascii_lowercase().replace('_', "-");
        match n.as_str() {
            "secret-service" | "secretservice" => Some(StoreKind::SecretService),
            "keyutils" | "kernel-keyring" => Some(StoreKind::Keyutils),
            "macos-keychain" | "keychain" => Some(StoreKind::MacosKeychain),
            "windows-credential-manager" | "wincred" | "windows" => {
                Some(StoreKind::WindowsCredentialManager)
            }
            "windows-credential-manager-via-wsl" | "wsl" => Some(StoreKind::WindowsViaWsl),
            _ => None,
        }
    }

    /// Whether this build can talk to this keychain at all.
    pub fn supported(self) -> bool {
        platform::SUPPORTED.contains(&self)
    }

    /// Slow keychains whose reads are copied into the kernel-keyring cache
    /// (see `cache`): the Secret Service, and the Windows side from WSL.
    pub fn cached(self) -> bool {
        matches!(self, StoreKind::SecretService | StoreKind::WindowsViaWsl)
    }
}

/// The keychain that a new secret goes to: the forced one, or the best one
/// this session offers.
pub fn choose() -> Result<StoreKind> {
    if let Some(kind) = forced()? {
        return Ok(kind);
    }
    platform::detect()
}

/// The keychain named by `DOCKER_CREDENTIAL_HARBOR_STORE`, if any.
pub fn forced() -> Result<Option<StoreKind>> {
    match std::env::var(STORE_ENV) {
        Ok(v) if !v.trim().is_empty() => {
            let kind = StoreKind::parse(&v).ok_or_else(|| {
                Error::Config(format!(
                    "{STORE_ENV}={v:?} is not a keychain this program knows; use one of: {}",
                    platform::SUPPORTED
                        .iter()
                        .map(|k| k.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            // On Linux, "the Windows one" can only mean the Windows side from WSL.
            #[cfg(target_os = "linux")]
            let kind = match kind {
                StoreKind::WindowsCredentialManager => StoreKind::WindowsViaWsl,
                k => k,
            };
            #[cfg(target_os = "linux")]
            if kind == StoreKind::WindowsViaWsl && !wsl::detected() {
                return Err(Error::Config(format!(
                    "{STORE_ENV}={} needs WSL, and this is not WSL (WSL_DISTRO_NAME and \
                     WSL_INTEROP are not both set and there is no WSLInterop binfmt entry)",
                    kind.name()
                )));
            }
            if !kind.supported() {
                return Err(Error::Config(format!(
                    "{STORE_ENV}={} is not available on this operating system",
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
pub fn search_order() -> Result<Vec<StoreKind>> {
    if let Some(kind) = forced()? {
        return Ok(vec![kind]);
    }
    Ok(platform::SUPPORTED
        .iter()
        .copied()
        .filter(|k| platform::reachable(*k))
        .collect())
}

/// When `e` says the Windows side cannot be reached from WSL just now (no
/// .exe, interop down) and it was not forced: the Linux keychains to use
/// instead, best first, and the reason, for one line on stderr that also
/// says how to get the shared login ([`SHARED_LOGIN`]).
pub fn instead_of(kind: StoreKind, e: &Error) -> Result<Option<(Vec<StoreKind>, String)>> {
    #[cfg(target_os = "linux")]
    if kind == StoreKind::WindowsViaWsl && wsl::unusable(e) && forced()?.is_none() {
        let reason = match e {
            Error::KeychainUnavailable { reason, .. } => format!("{}: {reason}", kind.display()),
            other => other.one_line(),
        };
        let best = linux::detect_linux()?;
        let mut order = vec![best];
        order.extend(
            linux::SUPPORTED
                .iter()
                .copied()
                .filter(|k| *k != kind && *k != best && linux::reachable(*k)),
        );
        return Ok(Some((order, reason)));
    }
    let _ = (kind, e);
    Ok(None)
}

/// How to share one login with Windows from WSL.
#[cfg(target_os = "linux")]
pub const SHARED_LOGIN: &str = wsl::HOW;
#[cfg(not(target_os = "linux"))]
pub const SHARED_LOGIN: &str = "";

pub fn timeout() -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 600.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(10))
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
    fn encode(&self) -> Secret<String> {
        let mut s = crate::secret::SecretBuf::default();
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

    fn decode(kind: StoreKind, key: &str, mut bytes: Vec<u8>) -> Result<Stored> {
        let parsed = parse_blob(&bytes).or_else(|| {
            // 0.1.0 wrote through `set_password`, which the Windows store keeps
            // as UTF-16LE: read those entries, so existing logins keep working.
            (kind == StoreKind::WindowsCredentialManager)
                .then(|| utf16le_to_utf8(&bytes))
                .flatten()
                .and_then(|mut utf8| {
                    let parsed = parse_blob(&utf8);
                    zeroize::Zeroize::zeroize(&mut utf8);
                    parsed
                })
        });
        zeroize::Zeroize::zeroize(&mut bytes);
        parsed.ok_or_else(|| Error::Keychain {
            store: kind.display(),
            reason: format!(
                "the entry {} was not written by this program (or is damaged); \
                 run {} to replace it",
                platform::entry_name(key),
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

/// Run one keychain operation on a worker thread, bounded by [`timeout`].
fn bounded<T: Send + 'static>(
    kind: StoreKind,
    op: impl FnOnce(Arc<CredentialStore>) -> Result<T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    let limit = timeout();
    std::thread::Builder::new()
        .name("keychain".into())
        .spawn(move || {
            let result = platform::open(kind).and_then(op);
            let _ = tx.send(result);
        })
        .map_err(|e| Error::Keychain {
            store: kind.display(),
            reason: format!("cannot start a worker thread: {e}"),
        })?;
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(_) => Err(Error::KeychainTimeout {
            store: kind.display(),
            secs: limit.as_secs().max(1),
            hint: platform::timeout_hint(kind),
        }),
    }
}

fn entry(kind: StoreKind, store: &Arc<CredentialStore>, key: &str) -> Result<Entry> {
    let entry = if kind == StoreKind::SecretService {
        // The label is what people see in Seahorse or KeePassXC.
        let label = format!("Harbor registry {key} ({})", crate::NAME);
        let modifiers = std::collections::HashMap::from([("label", label.as_str())]);
        Entry::new_in_store_with_modifiers(store, SERVICE, key, &modifiers)
    } else {
        Entry::new_in_store(store, SERVICE, key)
    };
    entry.map_err(|e| platform::map_error(kind, e))
}

/// Keep `stored` under `key`, replacing what was there.
///
/// Every keychain gets the blob's UTF-8 bytes through `set_secret` and gives
/// them back through `get_secret`: one matching pair of calls. (`set_password`
/// is not bytes-in, bytes-out everywhere: the Windows store turns the text
/// into UTF-16.)
pub fn set(kind: StoreKind, key: &str, stored: Stored) -> Result<()> {
    if stored.secret.expose().len() > MAX_SECRET {
        return Err(Error::BadInput(format!(
            "the secret is longer than {} KiB; registry secrets are much shorter",
            MAX_SECRET / 1024
        )));
    }
    let blob = stored.encode();
    if let Some(max) = platform::max_blob(kind)
        && blob.expose().len() > max
    {
        return Err(Error::BadInput(format!(
            "the username and secret are too long for the {}: together they take {} bytes, \
             it holds at most {max} per entry",
            kind.display(),
            blob.expose().len()
        )));
    }
    #[cfg(target_os = "linux")]
    if kind == StoreKind::WindowsViaWsl {
        return wsl::set(key, &stored);
    }
    let key = key.to_string();
    bounded(kind, move |store| {
        let entry = entry(kind, &store, &key)?;
        let bytes = blob.expose().as_bytes();
        // An item erased between the lookup and the write: write afresh, once.
        match entry.set_secret(bytes) {
            Err(e) if platform::vanished(&e) => entry.set_secret(bytes),
            other => other,
        }
        .map_err(|e| platform::map_error(kind, e))
    })
}

/// The entry under `key`, or `None` when there is none.
pub fn get(kind: StoreKind, key: &str) -> Result<Option<Stored>> {
    #[cfg(target_os = "linux")]
    if kind == StoreKind::WindowsViaWsl {
        return wsl::get(key);
    }
    let key = key.to_string();
    bounded(kind, move |store| {
        match entry(kind, &store, &key)?.get_secret() {
            Ok(bytes) => Stored::decode(kind, &key, bytes).map(Some),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) if platform::vanished(&e) => Ok(None),
            Err(e) => Err(platform::map_error(kind, e)),
        }
    })
}

/// Remove the entry under `key`; `false` when there was none.
pub fn delete(kind: StoreKind, key: &str) -> Result<bool> {
    #[cfg(target_os = "linux")]
    if kind == StoreKind::WindowsViaWsl {
        return wsl::delete(key);
    }
    let key = key.to_string();
    bounded(kind, move |store| {
        match entry(kind, &store, &key)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) if platform::vanished(&e) => Ok(false),
            Err(e) => Err(platform::map_error(kind, e)),
        }
    })
}

/// A keychain error as a one-line message; never includes secret bytes
/// (the variants that carry them are described, not printed).
fn describe(e: &keyring_core::Error) -> String {
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

    #[test]
    fn utf8_blob_reads_back_on_every_keychain() {
        let text = blob("jdoe é<&>", "s3cret \u{2028} ü");
        for kind in [
            StoreKind::SecretService,
            StoreKind::Keyutils,
            StoreKind::MacosKeychain,
            StoreKind::WindowsCredentialManager,
            StoreKind::WindowsViaWsl,
        ] {
            let s = Stored::decode(kind, "h.example", text.clone().into_bytes()).unwrap();
            assert_eq!(s.username, "jdoe é<&>");
            assert_eq!(s.secret.expose(), "s3cret \u{2028} ü");
        }
    }

    #[test]
    fn utf16_blob_from_0_1_0_reads_back_on_windows_only() {
        let old = utf16le(&blob("jdoe", "s3cret-ü"));
        let s = Stored::decode(
            StoreKind::WindowsCredentialManager,
            "h.example",
            old.clone(),
        )
        .expect("a 0.1.0 Windows entry");
        assert_eq!(
            (s.username.as_str(), s.secret.expose().as_str()),
            ("jdoe", "s3cret-ü")
        );
        // Elsewhere 0.1.0 wrote UTF-8; UTF-16 there is someone else's data.
        assert!(Stored::decode(StoreKind::Keyutils, "h.example", old).is_err());
    }

    /// Refused before any keychain is opened, with one line that names the limit.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_blob_over_the_kernel_keyrings_cap_is_refused_up_front() {
        let stored = Stored {
            username: "u".into(),
            secret: Secret::new("\u{1}".repeat(6000)),
        };
        let e = set(StoreKind::Keyutils, "big.example", stored).unwrap_err();
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
            let e = Stored::decode(StoreKind::WindowsCredentialManager, "h.example", bytes)
                .unwrap_err()
                .one_line();
            assert!(e.contains("not written by this program"), "{e}");
            assert!(e.contains("login"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}
