//! macOS: the login Keychain.

use std::sync::{Arc, OnceLock};

use keyring_core::CredentialStore;

use super::StoreKind;
use crate::error::{Error, Result};

pub const SUPPORTED: &[StoreKind] = &[StoreKind::MacosKeychain];

pub fn reachable(kind: StoreKind) -> bool {
    kind == StoreKind::MacosKeychain
}

pub fn detect() -> Result<StoreKind> {
    Ok(StoreKind::MacosKeychain)
}

static KEYCHAIN: OnceLock<Arc<CredentialStore>> = OnceLock::new();

pub fn open(kind: StoreKind) -> Result<Arc<CredentialStore>> {
    if kind != StoreKind::MacosKeychain {
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

pub fn vanished(_: &keyring_core::Error) -> bool {
    false
}

pub fn map_error(kind: StoreKind, e: keyring_core::Error) -> Error {
    match &e {
        keyring_core::Error::NoStorageAccess(_) => Error::KeychainUnavailable {
            store: kind.display(),
            reason: super::describe(&e),
            hint: "unlock the login keychain (Keychain Access) and allow access when asked",
        },
        _ => Error::Keychain {
            store: kind.display(),
            reason: super::describe(&e),
        },
    }
}

pub fn timeout_hint(_: StoreKind) -> &'static str {
    "it may be waiting for you to allow access in a Keychain dialog"
}
