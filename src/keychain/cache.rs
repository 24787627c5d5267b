//! A short-lived copy of recently read secrets in the Linux kernel keyring,
//! in front of the Secret Service.
//!
//! A Secret Service read costs a D-Bus connection, a DH session and a few
//! round trips (about 10 ms); a kernel keyring read costs a syscall. The copy
//! lives in the caller's session keyring (possessor-only, never on disk), the
//! kernel drops it after the TTL, and it is only served while its generation
//! matches the index entry's, so a `store` or `erase` from any session makes
//! it stale at once. Processes without a session keyring of their own simply
//! do not cache.

use crate::keychain::Stored;

#[cfg(target_os = "linux")]
mod imp {
    use linux_keyutils::{KeyRing, KeyRingIdentifier};

    use super::*;
    use crate::secret::Secret;

    fn description(key: &str) -> String {
        format!("{}-cache:{key}", crate::NAME)
    }

    /// The caller's own session keyring; never the shared fallback, where a
    /// copy would outlive the session and be unreachable to erase.
    fn session() -> Option<KeyRing> {
        if !crate::keychain::own_session_keyring() {
            return None;
        }
        KeyRing::from_special_id(KeyRingIdentifier::Session, false).ok()
    }

    /// A key's payload in a buffer of its own size: read into the stack
    /// first (a blob is a few hundred bytes), which is wiped, rather than
    /// into `read_to_vec`'s 64 KiB, which a wipe would have to touch whole.
    fn read(k: &linux_keyutils::Key) -> Option<Vec<u8>> {
        let mut small = [0u8; 1024];
        let len = k.read(&mut small).ok()?;
        if len <= small.len() {
            let out = small[..len].to_vec();
            zeroize::Zeroize::zeroize(&mut small[..len]);
            return Some(out);
        }
        let mut out = vec![0u8; len];
        // Replaced meanwhile by a longer one: no copy, as if not cached.
        match k.read(&mut out).ok()? {
            n if n == len => Some(out),
            _ => {
                zeroize::Zeroize::zeroize(&mut out);
                None
            }
        }
    }

    /// The cached entry for `key` if it was made for `generation`.
    pub fn get(key: &str, generation: u64, ttl: u64) -> Option<Stored> {
        if ttl == 0 {
            return None;
        }
        let k = session()?.search(&description(key)).ok()?;
        let blob = Secret::new(String::from_utf8(read(&k)?).ok()?);
        let (gen_text, rest) = blob.expose().split_once('\n')?;
        if gen_text.parse::<u64>().ok()? != generation {
            return None;
        }
        crate::keychain::decode_blob(rest)
    }

    /// Keep a copy of `stored` for `generation`; failures are ignored (no cache).
    /// With the cache off, an older copy still goes: nothing outlives a store.
    pub fn put(key: &str, generation: u64, stored: &Stored, ttl: u64) {
        if ttl == 0 {
            invalidate(key);
            return;
        }
        let Some(ring) = session() else { return };
        let blob = Secret::new(format!(
            "{generation}\n{}",
            crate::keychain::encode_blob(stored).expose()
        ));
        if let Ok(k) = ring.add_key(&description(key), blob.expose().as_bytes()) {
            let _ = k.set_timeout(usize::try_from(ttl).unwrap_or(usize::MAX));
        }
    }

    /// Forget the cached copy of `key` in this session.
    pub fn invalidate(key: &str) {
        if let Some(ring) = session()
            && let Ok(k) = ring.search(&description(key))
        {
            let _ = k.invalidate();
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    pub fn get(_: &str, _: u64, _: u64) -> Option<Stored> {
        None
    }
    pub fn put(_: &str, _: u64, _: &Stored, _: u64) {}
    pub fn invalidate(_: &str) {}
}

/// Where copies of slow keychains' entries are kept for a while, valid for
/// one index generation: the kernel keyring here, memory in unit tests.
pub trait Cache {
    /// The copy of `key` if it was made for `generation`.
    fn get(&self, key: &str, generation: u64) -> Option<Stored>;
    /// Keep a copy of `stored` for `generation`; failures are ignored (no cache).
    fn put(&self, key: &str, generation: u64, stored: &Stored);
    /// Forget the copy of `key`.
    fn invalidate(&self, key: &str);
}

impl<C: Cache + ?Sized> Cache for &C {
    fn get(&self, key: &str, generation: u64) -> Option<Stored> {
        (**self).get(key, generation)
    }
    fn put(&self, key: &str, generation: u64, stored: &Stored) {
        (**self).put(key, generation, stored)
    }
    fn invalidate(&self, key: &str) {
        (**self).invalidate(key)
    }
}

/// The copy in this session's kernel keyring (none outside Linux), kept
/// `ttl` seconds (0: no copies; see `Config::cache_ttl`).
pub struct KernelKeyring {
    ttl: u64,
}

impl KernelKeyring {
    pub fn new(ttl: u64) -> KernelKeyring {
        KernelKeyring { ttl }
    }
}

impl Cache for KernelKeyring {
    fn get(&self, key: &str, generation: u64) -> Option<Stored> {
        imp::get(key, generation, self.ttl)
    }
    fn put(&self, key: &str, generation: u64, stored: &Stored) {
        imp::put(key, generation, stored, self.ttl)
    }
    fn invalidate(&self, key: &str) {
        imp::invalidate(key)
    }
}

/// The cache in memory, for unit tests: the same blob the kernel keyring keeps.
#[cfg(test)]
#[derive(Default)]
pub struct Memory(
    std::sync::Mutex<std::collections::HashMap<String, (u64, crate::secret::Secret<String>)>>,
);

#[cfg(test)]
impl Memory {
    /// The generation of the copy of `key`, if there is one.
    pub fn generation(&self, key: &str) -> Option<u64> {
        self.0.lock().unwrap().get(key).map(|(g, _)| *g)
    }
}

#[cfg(test)]
impl Cache for Memory {
    fn get(&self, key: &str, generation: u64) -> Option<Stored> {
        let copies = self.0.lock().unwrap();
        let (_, blob) = copies.get(key).filter(|(g, _)| *g == generation)?;
        crate::keychain::decode_blob(blob.expose())
    }
    fn put(&self, key: &str, generation: u64, stored: &Stored) {
        let blob = crate::keychain::encode_blob(stored);
        self.0
            .lock()
            .unwrap()
            .insert(key.to_string(), (generation, blob));
    }
    fn invalidate(&self, key: &str) {
        self.0.lock().unwrap().remove(key);
    }
}

/// A fresh generation number for an index entry.
pub fn new_generation() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| {
            d.as_secs()
                .wrapping_mul(1_000_000_000)
                .wrapping_add(u64::from(d.subsec_nanos()))
        });
    nanos ^ (u64::from(std::process::id()) << 48)
}
