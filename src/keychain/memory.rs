//! In-memory keychains for unit tests: each keeps the same blob the OS
//! keychains keep, so encoding and decoding are exercised too, and can be
//! taken down to play a keychain that cannot be reached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Keychain, KeychainKind, Stored};
use crate::error::{Error, Result};
use crate::secret::Secret;

pub struct Memory {
    kind: KeychainKind,
    entries: Mutex<HashMap<String, Secret<String>>>,
    /// How long each call takes before it answers (a hung keychain).
    delay: Duration,
    /// Every call fails as an unreachable keychain does.
    down: AtomicBool,
}

impl Memory {
    pub fn new(kind: KeychainKind) -> Memory {
        Memory {
            kind,
            entries: Mutex::default(),
            delay: Duration::ZERO,
            down: AtomicBool::new(false),
        }
    }

    pub fn hanging(mut self, delay: Duration) -> Memory {
        self.delay = delay;
        self
    }

    /// From now on every call fails (`true`) or works again (`false`).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The keys it holds, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<_> = self.lock().keys().cloned().collect();
        keys.sort();
        keys
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Secret<String>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn entries(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Secret<String>>>> {
        std::thread::sleep(self.delay);
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::KeychainUnavailable {
                store: self.kind,
                reason: "not reachable".into(),
                hint: "",
            });
        }
        Ok(self.lock())
    }
}

impl Keychain for Memory {
    fn kind(&self) -> KeychainKind {
        self.kind
    }

    fn set(&self, key: &str, stored: Stored) -> Result<()> {
        self.entries()?.insert(key.to_string(), stored.encode());
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Option<Stored>> {
        let blob = self
            .entries()?
            .get(key)
            .map(|b| b.expose().as_bytes().to_vec());
        blob.map(|b| Stored::decode(self.kind, key, b)).transpose()
    }

    fn delete(&self, key: &str) -> Result<bool> {
        Ok(self.entries()?.remove(key).is_some())
    }
}

/// A session's keychains, in memory: the first one is the best, as the
/// Secret Service is before the kernel keyring. As on Linux, only the
/// Windows side from WSL falls back to the others when it is down.
pub struct Keychains {
    stores: Vec<Memory>,
    forced: Mutex<Option<KeychainKind>>,
}

impl Keychains {
    pub fn new(kinds: &[KeychainKind]) -> Keychains {
        Keychains {
            stores: kinds.iter().map(|k| Memory::new(*k)).collect(),
            forced: Mutex::new(None),
        }
    }

    /// From now on as `DOCKER_CREDENTIAL_HARBOR_STORE=kind` is (`Some`) or
    /// is not set (`None`).
    pub fn force(&self, kind: Option<KeychainKind>) {
        *self.forced.lock().unwrap_or_else(|e| e.into_inner()) = kind;
    }

    fn forced_kind(&self) -> Option<KeychainKind> {
        *self.forced.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, kind: KeychainKind) -> &Memory {
        self.stores
            .iter()
            .find(|m| m.kind == kind)
            .expect("a keychain of this session")
    }
}

impl super::Keychains for Keychains {
    fn choose(&self) -> Result<KeychainKind> {
        Ok(self.forced_kind().unwrap_or(self.stores[0].kind))
    }

    fn forced(&self) -> Result<Option<KeychainKind>> {
        Ok(self.forced_kind())
    }

    fn search_order(&self) -> Result<Vec<KeychainKind>> {
        Ok(match self.forced_kind() {
            Some(k) => vec![k],
            None => self.stores.iter().map(|m| m.kind).collect(),
        })
    }

    fn instead_of(
        &self,
        kind: KeychainKind,
        e: &Error,
    ) -> Result<Option<(Vec<KeychainKind>, String)>> {
        let down = matches!(e, Error::KeychainUnavailable { store, .. } if *store == kind);
        if kind != KeychainKind::WindowsViaWsl || !down || self.forced_kind().is_some() {
            return Ok(None);
        }
        let others = self.stores.iter().map(|m| m.kind).filter(|k| *k != kind);
        Ok(Some((others.collect(), format!("{kind}: not reachable"))))
    }

    fn open(&self, kind: KeychainKind) -> Box<dyn Keychain + '_> {
        Box::new(self.get(kind))
    }

    fn waiter(&self) -> super::Waiter {
        super::Waiter::Program
    }
}
