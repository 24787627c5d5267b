//! Which keychain: a leaf module, so that errors can name one without
//! depending on the keychain code.

use serde::{Deserialize, Serialize};

/// The keychains this program can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeychainKind {
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

impl KeychainKind {
    /// The name used in the index, in `DOCKER_CREDENTIAL_HARBOR_STORE` and in `status`.
    pub fn name(self) -> &'static str {
        match self {
            KeychainKind::SecretService => "secret-service",
            KeychainKind::Keyutils => "keyutils",
            KeychainKind::Pass => "pass",
            KeychainKind::MacosKeychain => "macos-keychain",
            KeychainKind::WindowsCredentialManager => "windows-credential-manager",
            KeychainKind::WindowsViaWsl => "windows-credential-manager-via-wsl",
        }
    }

    /// A name for people, used in error messages.
    pub fn display(self) -> &'static str {
        match self {
            KeychainKind::SecretService => "Secret Service",
            KeychainKind::Keyutils => "kernel keyring",
            KeychainKind::Pass => "password store (pass)",
            KeychainKind::MacosKeychain => "macOS Keychain",
            KeychainKind::WindowsCredentialManager => "Windows Credential Manager",
            KeychainKind::WindowsViaWsl => "Windows Credential Manager (through WSL interop)",
        }
    }

    pub fn parse(name: &str) -> Option<KeychainKind> {
        let n = name.trim().to_ascii_lowercase().replace('_', "-");
        match n.as_str() {
            "secret-service" | "secretservice" => Some(KeychainKind::SecretService),
            "keyutils" | "kernel-keyring" => Some(KeychainKind::Keyutils),
            "pass" | "password-store" | "gpg" => Some(KeychainKind::Pass),
            "macos-keychain" | "keychain" => Some(KeychainKind::MacosKeychain),
            "windows-credential-manager" | "wincred" | "windows" => {
                Some(KeychainKind::WindowsCredentialManager)
            }
            "windows-credential-manager-via-wsl" | "wsl" => Some(KeychainKind::WindowsViaWsl),
            _ => None,
        }
    }
}

impl std::fmt::Display for KeychainKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display())
    }
}
