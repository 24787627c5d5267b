//! An in-memory keychain for unit tests: it keeps the same blob the OS
//! keychains keep, so encoding and decoding are exercised too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::{Keychain, StoreKind, Stored};
use crate::error::Result;
use crate::secret::Secret;

pub struct Memory {
    kind: StoreKind,
    entries: Mutex<HashMap<String, Secret<String>>>,
    /// How long each call takes before it answers (a hung keychain).
    delay: Duration,
}

impl Memory {
    pub fn new(kind: StoreKind) -> Memory {
        Memory {
            kind,
            entries: Mutex::default(),
            delay: Duration::ZERO,
        }
    }

    pub fn hanging(mut self, delay: Duration) -> Memory {
        self.delay = delay;
        self
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Secret<String>>> {
        std::thread::sleep(self.delay);
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Keychain for Memory {
    fn kind(&self) -> StoreKind {
        self.kind
    }

    fn set(&self, key: &str, stored: Stored) -> Result<()> {
        self.entries().insert(key.to_string(), stored.encode());
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Option<Stored>> {
        let blob = self
            .entries()
            .get(key)
            .map(|b| b.expose().as_bytes().to_vec());
        blob.map(|b| Stored::decode(self.kind, key, b)).transpose()
    }

    fn delete(&self, key: &str) -> Result<bool> {
        Ok(self.entries().remove(key).is_some())
    }
}
