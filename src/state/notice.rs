//! Rate-limited notices. A warning printed during every `docker pull` would
//! be noise; once a day is a reminder. (Time spans for people: `text`.)

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::state::paths;
use crate::state::private_file;

/// True (and the stamp renewed) if the notice `name` was not shown in the last
/// `period_secs`; the stamps live under `dir` (the config's cache directory).
/// Any file-system trouble, or no directory, means "show it".
pub fn due(dir: Option<&Path>, name: &str, period_secs: u64) -> bool {
    let Some(dir) = dir else {
        return true;
    };
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
