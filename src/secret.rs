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
    fn zeroize_clears_the_buffer() {
        // Drop runs `zeroize`, which overwrites the bytes and truncates; check
        // the same operation on a live value since freed memory is off limits.
        let mut s = Secret::new(String::from("abc"));
        s.0.zeroize();
        assert!(s.expose().is_empty());
    }
}
