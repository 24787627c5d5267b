//! The timeout around a keychain: each call runs on a worker thread that is
//! abandoned when it runs over, so a Secret Service that never answers cannot
//! hang `docker pull`.

use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::os::Platform;
use super::{Current, Keychain, KeychainKind, Stored};
use crate::error::{Error, Result};

/// `inner`, every call bounded by `limit`.
pub struct Bounded<K> {
    inner: Arc<K>,
    limit: Duration,
}

impl<K: Keychain + 'static> Bounded<K> {
    pub fn new(inner: K, limit: Duration) -> Bounded<K> {
        Bounded {
            inner: Arc::new(inner),
            limit,
        }
    }

    fn call<T: Send + 'static>(
        &self,
        key: &str,
        op: impl FnOnce(&K, &str) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        let key = key.to_string();
        call(self.inner.kind(), self.limit, move || op(&inner, &key))
    }
}

impl<K: Keychain + 'static> Keychain for Bounded<K> {
    fn kind(&self) -> KeychainKind {
        self.inner.kind()
    }

    fn set(&self, key: &str, stored: Stored) -> Result<()> {
        self.call(key, move |k, key| k.set(key, stored))
    }

    fn get(&self, key: &str) -> Result<Option<Stored>> {
        self.call(key, |k, key| k.get(key))
    }

    fn delete(&self, key: &str) -> Result<bool> {
        self.call(key, |k, key| k.delete(key))
    }
}

/// Run `op` (a call to `kind`) on a worker thread; give up after `limit`.
pub fn call<T: Send + 'static>(
    kind: KeychainKind,
    limit: Duration,
    op: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("keychain".into())
        .spawn(move || {
            let _ = tx.send(op());
        })
        .map_err(|e| Error::Keychain {
            store: kind,
            reason: format!("cannot start a worker thread: {e}"),
        })?;
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(_) => Err(Error::KeychainTimeout {
            store: kind,
            secs: limit.as_secs().max(1),
            hint: Current::timeout_hint(kind),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keychain::memory::Memory;
    use crate::secret::Secret;
    use std::time::Instant;

    fn stored(secret: &str) -> Stored {
        Stored {
            username: "jdoe".into(),
            secret: Secret::new(secret.into()),
        }
    }

    #[test]
    fn calls_pass_through_within_the_limit() {
        let k = Bounded::new(Memory::new(KeychainKind::Keyutils), Duration::from_secs(5));
        k.set("h.example", stored("s1")).unwrap();
        let got = k.get("h.example").unwrap().unwrap();
        assert_eq!(
            (got.username.as_str(), got.secret.expose().as_str()),
            ("jdoe", "s1")
        );
        assert!(k.delete("h.example").unwrap());
        assert!(!k.delete("h.example").unwrap());
        assert!(k.get("h.example").unwrap().is_none());
    }

    /// A keychain that never answers costs the limit, then one line.
    #[test]
    fn a_hung_keychain_is_abandoned_at_the_limit() {
        let hung = Memory::new(KeychainKind::SecretService).hanging(Duration::from_secs(30));
        let k = Bounded::new(hung, Duration::from_millis(100));
        let started = Instant::now();
        let e = k.get("h.example").unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(20), "not abandoned");
        assert!(
            matches!(
                e,
                Error::KeychainTimeout {
                    store: KeychainKind::SecretService,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.one_line()
                .starts_with("Secret Service did not answer within 1 s"),
            "{e}"
        );
        let e = k.set("h.example", stored("s2")).unwrap_err();
        assert!(matches!(e, Error::KeychainTimeout { .. }), "{e:?}");
    }
}
