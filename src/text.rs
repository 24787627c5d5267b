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

/// `println!` with the whole line escaped: a line of the human commands is
/// our words around keys, usernames, file names and registry text, and
/// escaping all of it leaves nothing to forget (our words hold no control
/// characters, and escaping is idempotent).
macro_rules! say {
    ($($arg:tt)*) => {
        ::std::println!("{}", $crate::text::escape(&::std::format!($($arg)*)))
    };
}
pub(crate) use say;

/// [`say!`] on stderr.
macro_rules! say_err {
    ($($arg:tt)*) => {
        ::std::eprintln!("{}", $crate::text::escape(&::std::format!($($arg)*)))
    };
}
pub(crate) use say_err;

/// `value` as pretty JSON with every control character escaped: what the
/// human commands print for scripts (`status --json`, `doctor --json`).
/// serde_json escapes only U+0000–U+001F; DEL and the C1 controls
/// (U+007F–U+009F, CSI among them) would reach a terminal raw, so they are
/// written as `\u007f`...`\u009f`. Outside strings JSON holds only ASCII, and
/// inside one a raw character and its `\u` escape are the same text, so the
/// rewrite changes no value.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    use std::fmt::Write;
    let text = serde_json::to_string_pretty(value)?;
    if !text.chars().any(left_raw_by_serde_json) {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if left_raw_by_serde_json(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// The control characters serde_json writes as they are.
fn left_raw_by_serde_json(c: char) -> bool {
    ('\u{7f}'..='\u{9f}').contains(&c)
}

/// A time span for people: "3 days", "5 hours", "12 minutes".
pub fn span(secs: i64) -> String {
    let secs = secs.unsigned_abs();
    let (n, unit) = if secs >= 2 * 86_400 {
        (secs / 86_400, "day")
    } else if secs >= 2 * 3_600 {
        (secs / 3_600, "hour")
    } else if secs >= 120 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// "3 days ago".
pub fn ago(secs: i64) -> String {
    format!("{} ago", span(secs))
}

/// "in 3 days".
pub fn within(secs: i64) -> String {
    format!("in {}", span(secs))
}

#[cfg(test)]
mod tests {
    use super::{ago, escape, json, span, within};

    #[test]
    fn spans_read_naturally() {
        assert_eq!(within(5 * 86_400 + 10), "in 5 days");
        assert_eq!(ago(2 * 86_400), "2 days ago");
        assert_eq!(span(3 * 3_600), "3 hours");
        assert_eq!(span(90), "90 seconds");
        assert_eq!(span(1), "1 second");
    }

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape("Entra ID"), "Entra ID");
        assert_eq!(escape("Ümlaut ✓"), "Ümlaut ✓");
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\naccount:  root"), "x\\naccount:  root");
        assert_eq!(escape("\r\t\u{7f}\u{9b}"), "\\r\\t\\u{7f}\\u{9b}");
    }

    /// DEL and C1 controls are escaped in JSON as C0 ones are, and the
    /// document still reads back to the same values (issue 31, item 8).
    #[test]
    fn json_escapes_every_control_character() {
        let value = serde_json::json!({ "u\u{85}": "a\u{1b}[2J\u{9b}31m\u{7f}\nb ✓ \u{a0}" });
        let text = json(&value).unwrap();
        assert_eq!(
            text,
            "{\n  \"u\\u0085\": \"a\\u001b[2J\\u009b31m\\u007f\\nb ✓ \u{a0}\"\n}"
        );
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
