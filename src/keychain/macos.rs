//! macOS: the login Keychain. Secrets are written and read in `os.rs` (one
//! `set_secret` / `get_secret` pair, as on every platform); nothing here
//! touches them. This code is only compiled here, never run (no macOS in CI).

use std::sync::{Arc, OnceLock};

use keyring_core::CredentialStore;

use super::KeychainKind;
use super::os::{Platform, only_store};
use crate::error::{Error, Result};

pub struct Macos;

impl Platform for Macos {
    const SUPPORTED: &'static [KeychainKind] = &[KeychainKind::MacosKeychain];

    fn open(kind: KeychainKind) -> Result<Arc<CredentialStore>> {
        static KEYCHAIN: OnceLock<Arc<CredentialStore>> = OnceLock::new();
        only_store(kind, "macOS", &KEYCHAIN, || {
            let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()
                .map_err(|e| Self::map_error(kind, e))?;
            Ok(store)
        })
    }

    // A generic password with service `docker-credential-harbor` and
    // account `key` (the default `entry_name`); no size limit below
    // MAX_SECRET is known for one.

    fn map_error(kind: KeychainKind, e: keyring_core::Error) -> Error {
        if let Some(hint) = status_code(&e).and_then(super::macos_status::next_step) {
            return Error::KeychainUnavailable {
                store: kind,
                reason: super::keyring_error(&e),
                hint,
            };
        }
        match &e {
            keyring_core::Error::NoStorageAccess(_) => Error::KeychainUnavailable {
                store: kind,
                reason: super::keyring_error(&e),
                hint: "unlock the login keychain (Keychain Access) and allow access when asked",
            },
            _ => Error::Keychain {
                store: kind,
                reason: super::keyring_error(&e),
            },
        }
    }

    fn timeout_hint(_: KeychainKind) -> &'static str {
        super::macos_status::DIALOG_PENDING
    }
}

/// The OSStatus of a Keychain error: apple-native-keyring-store hands on
/// security-framework's error inside keyring-core's.
fn status_code(e: &keyring_core::Error) -> Option<i32> {
    match e {
        keyring_core::Error::PlatformFailure(inner)
        | keyring_core::Error::NoStorageAccess(inner) => inner
            .downcast_ref::<security_framework::base::Error>()
            .map(|s| s.code()),
        _ => None,
    }
}
