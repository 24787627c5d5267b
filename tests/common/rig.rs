//! One helper "user" with one keychain, shared by the protocol and
//! reliability tests: the Secret Service found by auto-detection on a private
//! bus, or the kernel keyring because there is no D-Bus session at all.
//! Registry names are unique to the test, keychain and run, and whatever the
//! test leaves in the kernel keyring (entries and cached copies) goes at the end.

use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

use super::bin::{Env, NAME, Output};
use super::keychain::{self, KeyutilsCleanup, SecretService, keyutils_has};

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

    pub fn index_entry(&self, key: &str) -> Value {
        self.index()["registries"][key].clone()
    }

    /// Register a key (e.g. `host:port`) for kernel-keyring cleanup.
    pub fn track(&self, key: &str) -> String {
        self.cleanup.add(key);
        key.to_string()
    }

    /// How many keychain entries the helper has for normalised `key`.
    pub fn items(&self, key: &str) -> usize {
        match self.kind {
            Backend::SecretService => {
                // Never in the kernel keyring as well (checked for this run's
                // own names only: the kernel keyring may hold a developer's
                // real entry for a common name).
                if unique(key) {
                    assert!(!keyutils_has(key), "{key} leaked into the kernel keyring");
                }
                self.ss().count(key)
            }
            Backend::Keyutils => usize::from(keyutils_has(key)),
        }
    }

    pub fn assert_items(&self, key: &str, n: usize) {
        assert_eq!(
            self.items(key),
            n,
            "keychain entries for {key} ({:?})",
            self.kind
        );
    }

    /// Whether the keychain holds the one entry for `key` (never two).
    pub fn has(&self, key: &str) -> bool {
        let n = self.items(key);
        assert!(n <= 1, "{n} keychain entries for {key}");
        n == 1
    }

    /// The helper's lines on stderr after a successful store: none with the
    /// Secret Service, one notice naming the kernel keyring with keyutils.
    pub fn assert_store_stderr(&self, out: &Output) {
        let lines = out.stderr_lines();
        match self.kind {
            Backend::SecretService => assert!(lines.is_empty(), "store should be quiet\n{out}"),
            Backend::Keyutils => {
                assert_eq!(
                    lines.len(),
                    1,
                    "store to the kernel keyring prints one notice\n{out}"
                );
                assert!(lines[0].contains("kernel keyring"), "{out}");
            }
        }
    }
}

/// A helper user on the kernel keyring, forced (so no Secret Service on the
/// machine is touched), whose kernel-keyring entries go at the end: what the
/// login, TLS, lifecycle and README tests run the helper as.
pub struct KeyringUser {
    // Drop order: kernel-keyring leftovers, then the directories.
    pub keyring: KeyutilsCleanup,
    pub env: Env,
}

impl Default for KeyringUser {
    fn default() -> KeyringUser {
        KeyringUser::new()
    }
}

impl KeyringUser {
    pub fn new() -> KeyringUser {
        keychain::require_own_session_keyring();
        let mut env = Env::new();
        env.set(super::bin::STORE_ENV, "keyutils");
        KeyringUser {
            keyring: KeyutilsCleanup::default(),
            env,
        }
    }

    /// Take `key` for this test: remove an entry that an earlier test on the
    /// same (reused) port may have left, and remove ours at the end.
    pub fn claim(&self, key: &str) {
        let stale = KeyutilsCleanup::default();
        stale.add(key);
        drop(stale);
        self.keyring.add(key);
    }
}

/// Whether `key` is one of this run's own registry names.
pub fn unique(key: &str) -> bool {
    key.contains(&format!(".p{}.", std::process::id()))
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
