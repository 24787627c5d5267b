//! A wrapper for secret values that cannot leak through `Debug` or `Display`
//! and is wiped from memory when dropped.
//!
//! Every registry secret and every keychain blob travels in a [`Secret`], so a
//! stray `{:?}` in an error path or a log line prints `<redacted>` instead.

use std::fmt;
use zeroize::Zeroize;

/// A value that must never be printed and is zeroized on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// Borrow the secret value. The name makes every use visible in review.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl Secret<String> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A growing buffer for text that holds a secret (a document being
/// serialised): when it must grow, the old allocation is wiped before it is
/// freed, so no stray copy is left in memory.
#[derive(Default)]
pub struct SecretBuf(Vec<u8>);

impl SecretBuf {
    /// A buffer that holds `n` bytes before it first grows.
    pub fn with_capacity(n: usize) -> SecretBuf {
        SecretBuf(Vec::with_capacity(n))
    }

    /// How much it holds before it grows (for tests of sizing up front).
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    fn grow_for(&mut self, extra: usize) {
        let needed = self.0.len() + extra;
        if needed <= self.0.capacity() {
            return;
        }
        let mut bigger = Vec::with_capacity(needed.max(self.0.capacity() * 2).max(256));
        bigger.extend_from_slice(&self.0);
        // Zeroes the whole old allocation, spare capacity included.
        self.0.zeroize();
        self.0 = bigger;
    }

    pub fn push_str(&mut self, s: &str) {
        self.grow_for(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    pub fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    /// The text, moved (not copied) into a [`Secret`].
    pub fn into_secret(mut self) -> Secret<String> {
        match String::from_utf8(std::mem::take(&mut self.0)) {
            Ok(s) => Secret::new(s),
            Err(e) => {
                // Only `str`s are ever written, so this cannot happen; wipe anyway.
                e.into_bytes().zeroize();
                Secret::default()
            }
        }
    }
}

impl std::io::Write for SecretBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.grow_for(buf.len());
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Write for SecretBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Standard base64 of `bytes` (which hold a secret), in a buffer sized
/// exactly, so encoding never reallocates and leaves no copy behind.
pub fn base64(prefix: &str, bytes: &[u8]) -> Secret<String> {
    use base64::Engine;
    let mut out = String::with_capacity(prefix.len() + bytes.len().div_ceil(3) * 4);
    out.push_str(prefix);
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut out);
    Secret::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new(String::from("hunter2-very-secret"));
        let shown = format!("{s:?} {:?}", Some(&s));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn secret_buf_grows_without_losing_text_and_base64_is_sized_exactly() {
        use std::fmt::Write as _;
        let mut b = SecretBuf::default();
        for i in 0..500 {
            write!(b, "{i},").unwrap();
        }
        let text = b.into_secret();
        assert!(text.expose().starts_with("0,1,2,") && text.expose().ends_with("499,"));
        for n in 0..9 {
            let e = base64("Basic ", "x".repeat(n).as_bytes());
            assert_eq!(e.expose().capacity(), e.expose().len(), "{n}");
        }
        assert_eq!(base64("", b"u:pw").expose(), "dTpwdw==");
    }

    #[test]
    fn zeroize_clears_the_buffer() {
        // Drop runs `zeroize`, which overwrites the bytes and truncates; check
        // the same operation on a live value since freed memory is off limits.
        let mut s = Secret::new(String::from("abc"));
        s.0.zeroize();
        assert!(s.expose().is_empty());
    }
}
