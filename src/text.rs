//! Text that came from a registry, a file or a client, made safe to print:
//! a terminal acts on control characters (ESC starts a sequence, a newline
//! forges a line), so they are shown escaped, the way Rust's `{:?}` shows
//! them, and everything printable is kept as it is.

use std::borrow::Cow;

/// `s` with every control character escaped (`\u{1b}`, `\n`, `\u{7f}`).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape("Entra ID"), "Entra ID");
        assert_eq!(escape("Ümlaut ✓"), "Ümlaut ✓");
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\naccount:  root"), "x\\naccount:  root");
        assert_eq!(escape("\r\t\u{7f}\u{9b}"), "\\r\\t\\u{7f}\\u{9b}");
    }
}
