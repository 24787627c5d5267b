//! One helper "user" with one keychain, shared by the protocol and
//! reliability tests: the Secret Service found by auto-detection on a private
//! bus, or the kernel keyring because there is no D-Bus session at all.
//! Registry names are unique to the test, keychain and run, and whatever the
//! test leaves in the kernel keyring (entries and cached copies) goes at the end.

use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

use super::bin::{Env, NAME};
use super::keychain::{self, KeyutilsCleanup, SecretService};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    SecretService,
    Keyutils,
}

impl Backend {
    pub fn tag(self) -> &'static str {
        match self {
            Backend::SecretService => "ss",
            Backend::Keyutils => "ku",
        }
    }

    /// The name the index records.
    pub fn index_name(self) -> &'static str {
        match self {
            Backend::SecretService => "secret-service",
            Backend::Keyutils => "keyutils",
        }
    }
}

pub struct Rig {
    pub kind: Backend,
    pub test: &'static str,
    // Drop order: daemon, kernel-keyring leftovers, cache copies, temp dirs.
    pub ss: Option<SecretService>,
    pub cleanup: KeyutilsCleanup,
    pub cache: CacheCleanup,
    pub env: Env,
}

impl Rig {
    pub fn new(kind: Backend, test: &'static str) -> Rig {
        keychain::require_own_session_keyring();
        let mut env = Env::new();
        let ss = match kind {
            Backend::SecretService => {
                let ss = SecretService::start(&env);
                env.set_bus(ss.address());
                Some(ss)
            }
            Backend::Keyutils => None,
        };
        Rig {
            kind,
            test,
            ss,
            cleanup: KeyutilsCleanup::default(),
            cache: CacheCleanup::default(),
            env,
        }
    }

    pub fn ss(&self) -> &SecretService {
        self.ss.as_ref().expect("a Secret Service rig")
    }

    pub fn ss_mut(&mut self) -> &mut SecretService {
        self.ss.as_mut().expect("a Secret Service rig")
    }

    /// A registry host unique to this test, keychain and run (lower case: it
    /// is also the normalised key).
    pub fn host(&self, name: &str) -> String {
        let h = format!(
            "{name}.{}.{}.p{}.example",
            self.test.replace('_', "-"),
            self.kind.tag(),
            std::process::id()
        );
        self.cleanup.add(&h);
        self.cache.add(&h);
        h
    }

    pub fn index(&self) -> Value {
        let bytes = self.env.index_bytes().expect("an index file");
        serde_json::from_slice(&bytes).expect("the index is JSON")
    }
}

/// The kernel-keyring description of the helper's cached copy of `key`.
pub fn cache_description(key: &str) -> String {
    format!("{NAME}-cache:{key}")
}

/// The id of this session keyring's live cached copy of `key`, if any.
pub fn cache_find(key: &str) -> Option<String> {
    let out = Command::new("keyctl")
        .args(["search", "@s", "user", &cache_description(key)])
        .output()
        .expect("run keyctl search");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn cache_has(key: &str) -> bool {
    cache_find(key).is_some()
}

/// Removes cached copies from this session keyring when dropped.
#[derive(Default)]
pub struct CacheCleanup {
    keys: Mutex<Vec<String>>,
}

impl CacheCleanup {
    pub fn add(&self, key: &str) {
        self.keys.lock().unwrap().push(key.to_string());
    }
}

impl Drop for CacheCleanup {
    fn drop(&mut self) {
        for key in self.keys.lock().unwrap().iter() {
            if let Some(id) = cache_find(key) {
                let _ = Command::new("keyctl").args(["invalidate", &id]).output();
            }
        }
    }
}
