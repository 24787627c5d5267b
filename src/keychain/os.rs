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

use keyring_core::{CredentialStore, Entry};

use super::{Keychain, KeychainKind, SERVICE, Stored, platform};
use crate::error::Result;

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
