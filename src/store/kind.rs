//! Which keychain: a leaf module, so that errors can name one without
//! depending on the keychain code.

use serde::{Deserialize, Serialize};

/// The keychains this program can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    SecretService,
    Keyutils,
    /// A `pass` password store: GPG-encrypted files (docker-credential-pass's layout).
    Pass,
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
            StoreKind::Pass => "pass",
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
            StoreKind::Pass => "password store (pass)",
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
            "pass" | "password-store" | "gpg" => Some(StoreKind::Pass),
            "macos-keychain" | "keychain" => Some(StoreKind::MacosKeychain),
            "windows-credential-manager" | "wincred" | "windows" => {
                Some(StoreKind::WindowsCredentialManager)
            }
            "windows-credential-manager-via-wsl" | "wsl" => Some(StoreKind::WindowsViaWsl),
            _ => None,
        }
    }
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display())
    }
}
