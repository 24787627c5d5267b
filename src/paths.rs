//! Where the tool keeps its own (non-secret) files, and their names; they
//! are written through [`crate::private_file`].

use std::fs;
use std::path::{Path, PathBuf};

use directories::ProjectDirs;

use crate::error::{Error, Result};

fn project() -> Result<ProjectDirs> {
    ProjectDirs::from("", "", crate::NAME)
        .ok_or_else(|| Error::Config("cannot find the home directory (is HOME set?)".into()))
}

/// Holds the index of stored registries.
pub fn data_dir() -> Result<PathBuf> {
    Ok(project()?.data_dir().to_path_buf())
}

/// Holds `config.json` (the default registry).
pub fn config_dir() -> Result<PathBuf> {
    Ok(project()?.config_dir().to_path_buf())
}

/// Holds throw-away state such as when a warning was last shown.
pub fn cache_dir() -> Result<PathBuf> {
    Ok(project()?.cache_dir().to_path_buf())
}

/// `path` with symlinks resolved (the file's, or its directory's while the
/// file does not exist yet), so that a file has one name before and after it
/// is created; `path` itself when neither resolves. Without Windows' verbatim
/// `\\?\` prefix: people read these paths, and `configure` records them.
pub fn canonical(path: &Path) -> PathBuf {
    let resolved = fs::canonicalize(path).ok().or_else(|| {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
        Some(fs::canonicalize(parent).ok()?.join(path.file_name()?))
    });
    match resolved {
        Some(p) => strip_verbatim(p),
        None => path.to_path_buf(),
    }
}

#[cfg(windows)]
fn strip_verbatim(p: PathBuf) -> PathBuf {
    let Some(s) = p.to_str() else { return p };
    match s.strip_prefix(r"\\?\") {
        Some(rest) if rest.starts_with(r"UNC\") => PathBuf::from(format!(r"\\{}", &rest[4..])),
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => PathBuf::from(rest),
        _ => p,
    }
}

#[cfg(not(windows))]
fn strip_verbatim(p: PathBuf) -> PathBuf {
    p
}

/// A file name for a registry key or notice name: letters, digits, `-` and
/// `.` kept, anything else (`:`, `/`, `[`) made `_`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

// Its one case needs a symlink.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A file has the same name before and after it exists (configure
    /// records files by name between runs).
    #[test]
    fn canonical_names_a_file_the_same_before_and_after_it_exists() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, t.path().join("link")).unwrap();
        let via_link = t.path().join("link").join("config.json");
        let before = canonical(&via_link);
        fs::write(&via_link, b"{}").unwrap();
        assert_eq!(before, canonical(&via_link));
        assert_eq!(before, fs::canonicalize(&real).unwrap().join("config.json"));
        let nowhere = t.path().join("missing/dir/config.json");
        assert_eq!(canonical(&nowhere), nowhere);
    }
}
