//! Where the tool keeps its own (non-secret) files. Everything it creates is
//! 0600 in 0700 directories.

use std::fs;
use std::io::Write;
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

/// Whether a file is its owner's alone (no group or other permission bits):
/// the one rule for files that hold a secret. Windows has no such bits.
pub fn is_private(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o077 == 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}

/// Create `dir` and its missing parents; directories this creates are 0700.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .map_err(|e| Error::file("cannot create directory", dir, e))
}

/// Replace `path` with `contents` atomically: write a temporary file beside it,
/// flush it to disk, then rename over the target. Readers see the old or the
/// new file, never a half-written one. `mode` applies to the new file (unix).
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    Staged::write(path, contents, mode)?.commit()
}

/// New content for a file, written and flushed beside it but not yet in place.
/// [`Staged::commit`] renames it over the target; dropping it uncommitted
/// removes it. Writing first lets a caller learn that the disk is full or
/// read-only before it changes anything else.
pub struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Staged {
    pub fn write(path: &Path, contents: &[u8], mode: u32) -> Result<Staged> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let staged = Staged {
            tmp: dir.join(format!(".{name}.tmp.{}", std::process::id())),
            target: path.to_path_buf(),
            done: false,
        };
        let tmp = &staged.tmp;
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = opts
            .open(tmp)
            .map_err(|e| Error::file("cannot write", tmp, e))?;
        // An existing temp file from a crashed run keeps its old mode: set it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(|e| Error::file("cannot set permissions on", tmp, e))?;
        }
        f.write_all(contents)
            .map_err(|e| Error::file("cannot write", tmp, e))?;
        f.sync_all()
            .map_err(|e| Error::file("cannot write", tmp, e))?;
        Ok(staged)
    }

    pub fn commit(mut self) -> Result<()> {
        fs::rename(&self.tmp, &self.target)
            .map_err(|e| Error::file("cannot replace", &self.target, e))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file has the same name before and after it exists (configure
    /// records files by name between runs).
    #[cfg(unix)]
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
