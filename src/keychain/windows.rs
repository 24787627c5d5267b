//! Windows: the Credential Manager.

use std::sync::{Arc, OnceLock};

use keyring_core::CredentialStore;

use super::KeychainKind;
use super::os::{Platform, only_store};
use crate::error::{Error, Result};

pub struct Windows;

impl Platform for Windows {
    const SUPPORTED: &'static [KeychainKind] = &[KeychainKind::WindowsCredentialManager];

    fn open(kind: KeychainKind) -> Result<Arc<CredentialStore>> {
        static CREDMAN: OnceLock<Arc<CredentialStore>> = OnceLock::new();
        only_store(kind, "Windows", &CREDMAN, || {
            let store: Arc<CredentialStore> =
                windows_native_keyring_store::Store::new().map_err(|e| Self::map_error(kind, e))?;
            Ok(store)
        })
    }

    /// The generic credential's target name: windows-native-keyring-store's
    /// default store files (service, user) under `{user}.{service}`.
    fn entry_name(key: &str) -> String {
        format!("\"{key}.{}\"", super::SERVICE)
    }

    /// CRED_MAX_CREDENTIAL_BLOB_SIZE (wincred.h): 5 * 512 bytes per credential.
    fn max_blob(_: KeychainKind) -> Option<usize> {
        Some(5 * 512)
    }

    fn map_error(kind: KeychainKind, e: keyring_core::Error) -> Error {
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
}
