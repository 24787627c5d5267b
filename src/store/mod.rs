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
use linux as platform;
#[cfg(target_os = "linux")]
pub use linux::own_session_keyring;
#[cfg(target_os = "macos")]
use macos as platform;
#[cfg(windows)]
use windows as platform;

/// The keychain service name every entry is filed under; the registry key is the user.
pub const SERVICE: &str = "docker-credential-harbor";

/// Forces one keychain, e.g. `secret-service` or `keyutils`.
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
}

impl StoreKind {
    /// The name used in the index, in `DOCKER_CREDENTIAL_HARBOR_STORE` and in `status`.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::SecretService => "secret-service",
            StoreKind::Keyutils => "keyutils",
            StoreKind::MacosKeychain => "macos-keychain",
            StoreKind::WindowsCredentialManager => "windows-credential-manager",
        }
    }

    /// A name for people, used in error messages.
    pub fn display(self) -> &'static str {
        match self {
            StoreKind::SecretService => "Secret Service",
            StoreKind::Keyutils => "kernel keyring",
            StoreKind::MacosKeychain => "macOS Keychain",
            StoreKind::WindowsCredentialManager => "Windows Credential Manager",
        }
    }

    pub fn parse(name: &str) -> Option<StoreKind> {
        let n = name.trim().to_ascii_lowercase().replace('_', "-");
        match n.as_str() {
            "secret-service" | "secretservice" => Some(StoreKind::SecretService),
            "keyutils" | "kernel-keyring" => Some(StoreKind::Keyutils),
            "macos-keychain" | "keychain" => Some(StoreKind::MacosKeychain),
            "windows-credential-manager" | "wincred" => Some(StoreKind::WindowsCredentialManager),
            _ => None,
        }
    }

    /// Whether this build can talk to this keychain at all.
    pub fn supported(self) -> bool {
        platform::SUPPORTED.contains(&self)
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
    Stored::decode(StoreKind::Keyutils, text.as_bytes().to_vec()).ok()
}

impl Stored {
    fn encode(&self) -> Secret<String> {
        let mut s = String::with_capacity(32 + self.username.len() + self.secret.expose().len());
        s.push_str("{\"Username\":");
        crate::protocol::push_go_json_string(&mut s, &self.username);
        s.push_str(",\"Secret\":");
        crate::protocol::push_go_json_string(&mut s, self.secret.expose());
        s.push('}');
        Secret::new(s)
    }

    fn decode(kind: StoreKind, mut bytes: Vec<u8>) -> Result<Stored> {
        #[derive(Deserialize)]
        struct Blob {
            #[serde(rename = "Username")]
            username: String,
            #[serde(rename = "Secret")]
            secret: String,
        }
        let parsed = serde_json::from_slice::<Blob>(&bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        match parsed {
            Ok(b) => Ok(Stored {
                username: b.username,
                secret: Secret::new(b.secret),
            }),
            Err(_) => Err(Error::Keychain {
                store: kind.display(),
                reason: "the stored entry is not in this program's format; log in again".into(),
            }),
        }
    }
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
        let label = format!("Harbor registry {key} (docker-credential-harbor)");
        let modifiers = std::collections::HashMap::from([("label", label.as_str())]);
        Entry::new_in_store_with_modifiers(store, SERVICE, key, &modifiers)
    } else {
        Entry::new_in_store(store, SERVICE, key)
    };
    entry.map_err(|e| platform::map_error(kind, e))
}

/// Keep `stored` under `key`, replacing what was there.
pub fn set(kind: StoreKind, key: &str, stored: Stored) -> Result<()> {
    if stored.secret.expose().len() > MAX_SECRET {
        return Err(Error::BadInput(format!(
            "the secret is longer than {} KiB; registry secrets are much shorter",
            MAX_SECRET / 1024
        )));
    }
    let key = key.to_string();
    bounded(kind, move |store| {
        let blob = stored.encode();
        let entry = entry(kind, &store, &key)?;
        // An item erased between the lookup and the write: write afresh, once.
        match entry.set_password(blob.expose()) {
            Err(e) if platform::vanished(&e) => entry.set_password(blob.expose()),
            other => other,
        }
        .map_err(|e| platform::map_error(kind, e))
    })
}

/// The entry under `key`, or `None` when there is none.
pub fn get(kind: StoreKind, key: &str) -> Result<Option<Stored>> {
    let key = key.to_string();
    bounded(kind, move |store| {
        match entry(kind, &store, &key)?.get_secret() {
            Ok(bytes) => Stored::decode(kind, bytes).map(Some),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) if platform::vanished(&e) => Ok(None),
            Err(e) => Err(platform::map_error(kind, e)),
        }
    })
}

/// Remove the entry under `key`; `false` when there was none.
pub fn delete(kind: StoreKind, key: &str) -> Result<bool> {
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
