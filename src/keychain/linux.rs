//! Linux: the Secret Service when the D-Bus session offers one, otherwise an
//! initialised `pass` password store (see `pass`), otherwise the kernel
//! keyring (keyutils), which needs no daemon. In WSL, first of all Windows
//! Credential Manager through the Windows build (see `wsl`).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use keyring_core::CredentialStore;

use super::KeychainKind;
use super::os::Platform;
use crate::error::{Error, Result};
use crate::state::config::Config;

const SS_HINT: &str = "start a Secret Service (gnome-keyring, KeePassXC) in this D-Bus session, \
    or set DOCKER_CREDENTIAL_HARBOR_STORE=keyutils, or in CI set HARBOR_USERNAME and HARBOR_PASSWORD";
const SS_LOCKED_HINT: &str = "unlock it (log in to the desktop, or run `gnome-keyring-daemon --unlock`), \
    or set DOCKER_CREDENTIAL_HARBOR_STORE=keyutils";
const KEYUTILS_DENIED_HINT: &str = "this process has no session keyring of its own (common in CI, cron \
    and `su`); run the command inside `keyctl session - ...` or a login session, unlock a Secret Service, \
    or in CI set HARBOR_USERNAME and HARBOR_PASSWORD";

pub struct Linux;

impl Platform for Linux {
    /// Best first: the order in which a key of unknown home is looked for.
    const SUPPORTED: &'static [KeychainKind] = &[
        KeychainKind::WindowsViaWsl,
        KeychainKind::SecretService,
        KeychainKind::Pass,
        KeychainKind::Keyutils,
    ];

    fn reachable(kind: KeychainKind, config: &Config) -> bool {
        match kind {
            KeychainKind::SecretService => session_bus_present(),
            KeychainKind::Keyutils => true,
            KeychainKind::Pass => super::pass::initialised(),
            KeychainKind::WindowsViaWsl => {
                super::wsl::detected() && super::wsl::exe(config).is_ok()
            }
            _ => false,
        }
    }

    /// In WSL the Windows side (when it cannot be used, the caller falls back to
    /// [`detect_linux`], saying why); elsewhere [`detect_linux`].
    fn detect(config: &Config) -> Result<KeychainKind> {
        if super::wsl::detected() {
            return Ok(KeychainKind::WindowsViaWsl);
        }
        detect_linux(config)
    }

    /// Open (once per process) the store for `kind`.
    fn open(kind: KeychainKind) -> Result<Arc<CredentialStore>> {
        match kind {
            KeychainKind::SecretService => {
                if let Some(s) = SECRET_SERVICE.get() {
                    return Ok(s.clone());
                }
                if !session_bus_present() {
                    return Err(Error::KeychainUnavailable {
                        store: kind,
                        reason: "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)".into(),
                        hint: SS_HINT,
                    });
                }
                let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()
                    .map_err(|e| Error::KeychainUnavailable {
                    store: kind,
                    reason: format!("cannot reach it: {}", super::keyring_error(&e)),
                    hint: SS_HINT,
                })?;
                Ok(SECRET_SERVICE.get_or_init(|| store).clone())
            }
            KeychainKind::Keyutils => {
                if let Some(s) = KEYUTILS.get() {
                    return Ok(s.clone());
                }
                if !own_session_keyring() {
                    return Err(Error::KeychainUnavailable {
                        store: kind,
                        reason: "access denied".into(),
                        hint: KEYUTILS_DENIED_HINT,
                    });
                }
                let store: Arc<CredentialStore> = linux_keyutils_keyring_store::Store::new()
                    .map_err(|e| Self::map_error(kind, e))?;
                Ok(KEYUTILS.get_or_init(|| store).clone())
            }
            other => Err(Error::Config(format!(
                "{} is not available on Linux",
                other.display()
            ))),
        }
    }

    /// The kernel caps a `user` key's payload at 32,767 bytes; an escaped blob
    /// can pass that within [`super::MAX_SECRET`] (a control character takes 6 bytes as `\u0001`).
    /// Through WSL the Windows build keeps the same blob in Credential Manager,
    /// which holds 2,560 bytes (CRED_MAX_CREDENTIAL_BLOB_SIZE).
    fn max_blob(kind: KeychainKind) -> Option<usize> {
        match kind {
            KeychainKind::Keyutils => Some(32_767),
            KeychainKind::WindowsViaWsl => Some(5 * 512),
            _ => None,
        }
    }

    /// The item was deleted (by a concurrent `erase`) between the search that
    /// found it and the call that used it: for the caller that is "not there".
    fn vanished(e: &keyring_core::Error) -> bool {
        let text = super::keyring_error(e);
        text.contains("Object does not exist")
            || text.contains("UnknownObject")
            // gnome-keyring quotes the name with typographic quotes.
            || (text.contains("No such interface") && text.contains("org.freedesktop.Secret.Item"))
    }

    /// An error a concurrent `erase` can cause mid-call, so worth one more try
    /// before it is believed. The kernel keyring store searches for the key, then
    /// links and reads it; a key invalidated in between is no longer possessed
    /// by this process, and the kernel answers EACCES ("access denied") instead
    /// of "no such key" (seen once in 300 racing helpers, tests/suite/reliability.rs).
    /// A real denial repeats; a vanished key is then not found.
    fn look_again(kind: KeychainKind, e: &keyring_core::Error) -> bool {
        kind == KeychainKind::Keyutils && matches!(e, keyring_core::Error::NoStorageAccess(_))
    }

    fn map_error(kind: KeychainKind, e: keyring_core::Error) -> Error {
        use keyring_core::Error as K;
        let reason = super::keyring_error(&e);
        match (kind, &e) {
            (KeychainKind::Keyutils, K::NoStorageAccess(_)) => Error::KeychainUnavailable {
                store: kind,
                reason: "access denied".into(),
                hint: KEYUTILS_DENIED_HINT,
            },
            (KeychainKind::SecretService, K::NoStorageAccess(_)) => Error::KeychainUnavailable {
                store: kind,
                reason: if reason.contains("prompt") {
                    "the collection is locked and the unlock prompt was dismissed or cannot be shown"
                        .into()
                } else {
                    "the collection is locked".into()
                },
                hint: SS_LOCKED_HINT,
            },
            // The daemon went away between connecting and this call.
            (KeychainKind::SecretService, K::PlatformFailure(_))
                if [
                    "ServiceUnknown",
                    "NameHasNoOwner",
                    "NoReply",
                    "Disconnected",
                    "InputOutput",
                ]
                .iter()
                .any(|m| reason.contains(m)) =>
            {
                Error::KeychainUnavailable {
                    store: kind,
                    reason,
                    hint: SS_HINT,
                }
            }
            _ => Error::Keychain {
                store: kind,
                reason,
            },
        }
    }

    fn timeout_hint(kind: KeychainKind) -> &'static str {
        match kind {
            KeychainKind::SecretService => {
                "it may be waiting for an unlock prompt; unlock the keyring, or set DOCKER_CREDENTIAL_HARBOR_STORE=keyutils"
            }
            _ => "",
        }
    }
}

/// Whether this process can see a D-Bus session bus at all. Without one the
/// Secret Service cannot exist and is not even tried.
fn session_bus_present() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()) {
        return true;
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| PathBuf::from(d).join("bus"))
        .is_some_and(|p| p.exists())
}

/// Secret Service if a provider answers on the session bus, else an
/// initialised password store, else the kernel keyring.
/// A Secret Service that is there but hangs is an error, not a reason to put
/// the secret somewhere the user does not expect.
pub fn detect_linux(config: &Config) -> Result<KeychainKind> {
    if !session_bus_present() {
        return Ok(without_secret_service());
    }
    let kind = KeychainKind::SecretService;
    let limit = config.keychain_limit(super::Waiter::Program);
    match super::bounded::call(kind, limit, move || Linux::open(kind).map(|_| ())) {
        Ok(()) => Ok(KeychainKind::SecretService),
        Err(e @ Error::KeychainTimeout { .. }) => Err(e),
        Err(_) => Ok(without_secret_service()),
    }
}

/// No Secret Service: the password store once it is set up (it survives a
/// reboot and follows the home directory), else the kernel keyring.
fn without_secret_service() -> KeychainKind {
    if super::pass::initialised() {
        KeychainKind::Pass
    } else {
        KeychainKind::Keyutils
    }
}

/// Whether this process has a session keyring of its own. Without one (cron,
/// `su`, many CI runners) the kernel falls back to the shared user-session
/// keyring: keys can be added there but not found again by this process, so
/// the kernel keyring is treated as unusable rather than left holding an
/// unreachable secret.
pub fn own_session_keyring() -> bool {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    const KEY_SPEC_USER_SESSION_KEYRING: libc::c_long = -5;
    // SAFETY: KEYCTL_GET_KEYRING_ID with create=0 only reads this process's keyring ids.
    let (session, user_session) = unsafe {
        (
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_GET_KEYRING_ID,
                KEY_SPEC_SESSION_KEYRING,
                0,
            ),
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_GET_KEYRING_ID,
                KEY_SPEC_USER_SESSION_KEYRING,
                0,
            ),
        )
    };
    session > 0 && session != user_session
}

static SECRET_SERVICE: OnceLock<Arc<CredentialStore>> = OnceLock::new();
static KEYUTILS: OnceLock<Arc<CredentialStore>> = OnceLock::new();
