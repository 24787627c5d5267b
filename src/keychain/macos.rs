//! macOS: the login Keychain. Secrets are written and read in `super` (one
//! `set_secret` / `get_secret` pair, as on every platform); nothing here
//! touches them. This code is only compiled here, never run (no macOS in CI).

use std::sync::{Arc, OnceLock};

use keyring_core::CredentialStore;

use super::KeychainKind;
use crate::config::Config;
use crate::error::{Error, Result};

pub const SUPPORTED: &[KeychainKind] = &[KeychainKind::MacosKeychain];

pub fn reachable(kind: KeychainKind, _: &Config) -> bool {
    kind == KeychainKind::MacosKeychain
}

pub fn detect(_: &Config) -> Result<KeychainKind> {
    Ok(KeychainKind::MacosKeychain)
}

static KEYCHAIN: OnceLock<Arc<CredentialStore>> = OnceLock::new();

pub fn open(kind: KeychainKind) -> Result<Arc<CredentialStore>> {
    if kind != KeychainKind::MacosKeychain {
        return Err(Error::Config(format!(
            "{} is not available on macOS",
            kind.display()
        )));
    }
    if let Some(s) = KEYCHAIN.get() {
        return Ok(s.clone());
    }
    let store: Arc<CredentialStore> =
        apple_native_keyring_store::keychain::Store::new().map_err(|e| map_error(kind, e))?;
    Ok(KEYCHAIN.get_or_init(|| store).clone())
}

/// A generic password with service `docker-credential-harbor` and account `key`.
pub fn entry_name(key: &str) -> String {
    format!("for {key}")
}

/// No size limit below [`super::MAX_SECRET`] is known for a generic password.
pub fn max_blob(_: KeychainKind) -> Option<usize> {
    None
}

pub fn vanished(_: &keyring_core::Error) -> bool {
    false
}

pub fn look_again(_: KeychainKind, _: &keyring_core::Error) -> bool {
    false
}

pub fn map_error(kind: KeychainKind, e: keyring_core::Error) -> Error {
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

pub fn timeout_hint(_: KeychainKind) -> &'static str {
    super::macos_status::DIALOG_PENDING
}
