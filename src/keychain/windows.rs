//! Windows: the Credential Manager.

use std::sync::{Arc, OnceLock};

use keyring_core::CredentialStore;

use super::KeychainKind;
use crate::config::Config;
use crate::error::{Error, Result};

pub const SUPPORTED: &[KeychainKind] = &[KeychainKind::WindowsCredentialManager];

pub fn reachable(kind: KeychainKind, _: &Config) -> bool {
    kind == KeychainKind::WindowsCredentialManager
}

pub fn detect(_: &Config) -> Result<KeychainKind> {
    Ok(KeychainKind::WindowsCredentialManager)
}

static CREDMAN: OnceLock<Arc<CredentialStore>> = OnceLock::new();

pub fn open(kind: KeychainKind) -> Result<Arc<CredentialStore>> {
    if kind != KeychainKind::WindowsCredentialManager {
        return Err(Error::Config(format!(
            "{} is not available on Windows",
            kind.display()
        )));
    }
    if let Some(s) = CREDMAN.get() {
        return Ok(s.clone());
    }
    let store: Arc<CredentialStore> =
        windows_native_keyring_store::Store::new().map_err(|e| map_error(kind, e))?;
    Ok(CREDMAN.get_or_init(|| store).clone())
}

/// The generic credential's target name: windows-native-keyring-store's
/// default store files (service, user) under `{user}.{service}`.
pub fn entry_name(key: &str) -> String {
    format!("\"{key}.{}\"", super::SERVICE)
}

/// CRED_MAX_CREDENTIAL_BLOB_SIZE (wincred.h): 5 * 512 bytes per credential.
pub fn max_blob(_: KeychainKind) -> Option<usize> {
    Some(5 * 512)
}

pub fn vanished(_: &keyring_core::Error) -> bool {
    false
}

pub fn look_again(_: KeychainKind, _: &keyring_core::Error) -> bool {
    false
}

pub fn map_error(kind: KeychainKind, e: keyring_core::Error) -> Error {
    match &e {
        // ERROR_NO_SUCH_LOGON_SESSION: no user profile with a credential
        // store is loaded (services, some remote sessions).
        keyring_core::Error::NoStorageAccess(_) => Error::KeychainUnavailable {
            store: kind,
            reason: "this logon session has no credential store".into(),
            hint: "run it in an interactive session of the user, or in CI set HARBOR_USERNAME and HARBOR_PASSWORD",
        },
        _ => Error::Keychain {
            store: kind,
            reason: super::keyring_error(&e),
        },
    }
}

pub fn timeout_hint(_: KeychainKind) -> &'static str {
    ""
}
