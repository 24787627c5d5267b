//! The OS keychains through keyring-core: the Secret Service and the kernel
//! keyring (Linux), the macOS Keychain, Windows Credential Manager. The
//! platform module opens the store and words its errors; this file is the
//! one place entries are read and written.
//!
//! Every keychain gets the blob's UTF-8 bytes through `set_secret` and gives
//! them back through `get_secret`: one matching pair of calls. (`set_password`
//! is not bytes-in, bytes-out everywhere: the Windows store turns the text
//! into UTF-16.)

use std::sync::Arc;
#[cfg(not(target_os = "linux"))]
use std::sync::OnceLock;

use keyring_core::{CredentialStore, Entry};

use super::{Current as platform, Keychain, KeychainKind, SERVICE, Stored};
use crate::error::{Error, Result};
use crate::state::config::Config;

/// What one operating system's file says about its keychains (`linux.rs`,
/// `macos.rs`, `windows.rs`, each a unit struct): the store behind each
/// kind and how its errors read. The defaults are a system with one
/// keychain, always there, without size limits or races to retry, so a
/// platform file says only where it differs.
pub trait Platform {
    /// The keychains this system offers, best first.
    const SUPPORTED: &'static [KeychainKind];

    /// Whether this session can use `kind` now.
    fn reachable(kind: KeychainKind, _config: &Config) -> bool {
        Self::SUPPORTED.contains(&kind)
    }

    /// Where a new secret goes when no keychain is forced.
    fn detect(_config: &Config) -> Result<KeychainKind> {
        Ok(Self::SUPPORTED[0])
    }

    /// The store behind `kind`, opened once per process.
    fn open(kind: KeychainKind) -> Result<Arc<CredentialStore>>;

    /// How people find the entry for `key` in the keychain's own tool.
    fn entry_name(key: &str) -> String {
        format!("for {key}")
    }

    /// The largest blob `kind` keeps, when below [`super::MAX_SECRET`]'s.
    fn max_blob(_kind: KeychainKind) -> Option<usize> {
        None
    }

    /// The item went away (a concurrent `erase`) mid-call: "not there".
    fn vanished(_e: &keyring_core::Error) -> bool {
        false
    }

    /// An error a concurrent `erase` can cause mid-call: worth one more try.
    fn look_again(_kind: KeychainKind, _e: &keyring_core::Error) -> bool {
        false
    }

    /// `e` from `kind` as the line people read, with what to do.
    fn map_error(kind: KeychainKind, e: keyring_core::Error) -> Error;

    /// What to do when `kind` did not answer in time.
    fn timeout_hint(_kind: KeychainKind) -> &'static str {
        ""
    }
}

#[cfg(not(target_os = "linux"))]
/// The store of a system with one keychain (macOS, Windows), made once by
/// `make`; any other `kind` is not there on `system`.
pub fn only_store(
    kind: KeychainKind,
    system: &str,
    cell: &'static OnceLock<Arc<CredentialStore>>,
    make: impl FnOnce() -> Result<Arc<CredentialStore>>,
) -> Result<Arc<CredentialStore>> {
    if Some(&kind) != platform::SUPPORTED.first() {
        return Err(Error::Config(format!(
            "{} is not available on {system}",
            kind.display()
        )));
    }
    if let Some(s) = cell.get() {
        return Ok(s.clone());
    }
    let store = make()?;
    Ok(cell.get_or_init(|| store).clone())
}

/// An OS keychain. Its calls may block (a Secret Service that never
/// answers): [`super::keychain`] wraps it in [`super::bounded::Bounded`].
pub struct Os(pub KeychainKind);

impl Os {
    fn entry(&self, key: &str) -> Result<Entry> {
        let kind = self.0;
        let store: Arc<CredentialStore> = platform::open(kind)?;
        let entry = if kind == KeychainKind::SecretService {
            // The label is what people see in Seahorse or KeePassXC.
            let label = format!("Harbor registry {key} ({})", crate::NAME);
            let modifiers = std::collections::HashMap::from([("label", label.as_str())]);
            Entry::new_in_store_with_modifiers(&store, SERVICE, key, &modifiers)
        } else {
            Entry::new_in_store(&store, SERVICE, key)
        };
        entry.map_err(|e| platform::map_error(kind, e))
    }
}

impl Keychain for Os {
    fn kind(&self) -> KeychainKind {
        self.0
    }

    fn set(&self, key: &str, stored: Stored) -> Result<()> {
        let entry = self.entry(key)?;
        let blob = stored.encode();
        let bytes = blob.expose().as_bytes();
        // An item erased between the lookup and the write: write afresh, once.
        match entry.set_secret(bytes) {
            Err(e) if platform::vanished(&e) || platform::look_again(self.0, &e) => {
                entry.set_secret(bytes)
            }
            other => other,
        }
        .map_err(|e| platform::map_error(self.0, e))
    }

    fn get(&self, key: &str) -> Result<Option<Stored>> {
        let entry = self.entry(key)?;
        let got = match entry.get_secret() {
            Err(e) if platform::look_again(self.0, &e) => entry.get_secret(),
            other => other,
        };
        match got {
            Ok(bytes) => Stored::decode(self.0, key, bytes).map(Some),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) if platform::vanished(&e) => Ok(None),
            Err(e) => Err(platform::map_error(self.0, e)),
        }
    }

    fn delete(&self, key: &str) -> Result<bool> {
        let entry = self.entry(key)?;
        let deleted = match entry.delete_credential() {
            Err(e) if platform::look_again(self.0, &e) => entry.delete_credential(),
            other => other,
        };
        match deleted {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) if platform::vanished(&e) => Ok(false),
            Err(e) => Err(platform::map_error(self.0, e)),
        }
    }
}
