//! Rate-limited notices and human time spans. A warning printed during every
//! `docker pull` would be noise; once a day is a reminder.

use std::fs;
use std::time::{Duration, SystemTime};

use crate::paths;
use crate::private_file;

/// True (and the stamp renewed) if the notice `name` was not shown in the last
/// `period_secs`. Any file-system trouble means "show it".
pub fn due(name: &str, period_secs: u64) -> bool {
    match paths::cache_dir() {
        Ok(dir) => due_in(&dir, name, period_secs),
        Err(_) => true,
    }
}

/// [`due`], with the stamps kept under `dir`.
pub fn due_in(dir: &std::path::Path, name: &str, period_secs: u64) -> bool {
    let stamp = dir.join("notices").join(paths::file_stem(name));
    let recent = fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < Duration::from_secs(period_secs));
    if recent {
        return false;
    }
    if let Some(parent) = stamp.parent()
        && private_file::ensure_private_dir(parent).is_ok()
    {
        let _ = private_file::write_atomic(&stamp, b"", 0o600);
    }
    true
}

/// "3 days", "5 hours", "12 minutes".
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

pub fn ago(secs: i64) -> String {
    format!("{} ago", span(secs))
}

pub fn within(secs: i64) -> String {
    format!("in {}", span(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(within(5 * 86_400 + 10), "in 5 days");
        assert_eq!(ago(2 * 86_400), "2 days ago");
        assert_eq!(span(3 * 3_600), "3 hours");
        assert_eq!(span(90), "90 seconds");
        assert_eq!(span(1), "1 second");
    }
}
