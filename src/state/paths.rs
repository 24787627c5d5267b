//! Where the tool keeps its own (non-secret) files, and their names; they
//! are written through [`crate::state::private_file`].

use std::fs;
use std::path::{Path, PathBuf};

use directories::ProjectDirs;

use crate::error::{Error, Result};
use crate::platform::{self, Platform};
use crate::state::config::Dirs;

fn project() -> Result<ProjectDirs> {
    ProjectDirs::from("", "", crate::NAME).ok_or_else(no_home)
}

pub fn no_home() -> Error {
    Error::Config("cannot find the home directory (is HOME set?)".into())
}

/// The user's home directory.
pub fn home() -> Result<PathBuf> {
    directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .ok_or_else(no_home)
}

/// The tool's directories (read once, into [`crate::state::config::Config`]).
pub fn dirs() -> Result<Dirs> {
    let project = project()?;
    Ok(Dirs {
        data: project.data_dir().to_path_buf(),
        cache: project.cache_dir().to_path_buf(),
        config: config_dir_on(
            Platform::CURRENT,
            &home()?,
            &platform::env_var,
            project.config_dir(),
        ),
    })
}

/// The settings file's directory on `platform`: on Linux and macOS
/// `${XDG_CONFIG_HOME:-~/.config}/docker-credential-harbor`, where the README
/// says and the installer writes its receipt (on macOS not the platform's
/// `~/Library/Application Support`, where a file placed as the README says
/// would be ignored); on Windows the platform's `windows_config`
/// (`%APPDATA%\docker-credential-harbor\config`). As the XDG rules say, a
/// relative `XDG_CONFIG_HOME` is ignored.
pub fn config_dir_on(
    platform: Platform,
    home: &Path,
    var: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    windows_config: &Path,
) -> PathBuf {
    match platform {
        Platform::Windows => windows_config.to_path_buf(),
        Platform::Linux | Platform::Macos => platform::path_var(var, "XDG_CONFIG_HOME")
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".config"))
            .join(crate::NAME),
    }
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

    use crate::platform::test_vars as vars;

    /// Where the README says, on Linux and macOS alike; Windows keeps its
    /// platform directory (docs/windows.md).
    #[test]
    fn the_settings_file_is_where_the_readme_says_on_each_platform() {
        let win = Path::new(r"C:\Users\jdoe\AppData\Roaming\docker-credential-harbor\config");
        let none = vars(&[]);
        let xdg = vars(&[("XDG_CONFIG_HOME", "/xdg")]);
        let relative = vars(&[("XDG_CONFIG_HOME", "rel")]);
        let empty = vars(&[("XDG_CONFIG_HOME", "")]);
        for (platform, home) in [
            (Platform::Linux, "/home/jdoe"),
            (Platform::Macos, "/Users/jdoe"),
        ] {
            let home = Path::new(home);
            let dir = |var: &dyn Fn(&str) -> Option<std::ffi::OsString>| {
                config_dir_on(platform, home, var, win)
            };
            let readme = home.join(".config/docker-credential-harbor");
            assert_eq!(dir(&none), readme, "{platform:?}");
            assert_eq!(dir(&empty), readme, "{platform:?}");
            assert_eq!(dir(&relative), readme, "{platform:?}");
            assert_eq!(
                dir(&xdg),
                Path::new("/xdg/docker-credential-harbor"),
                "{platform:?}"
            );
        }
        for var in [&none, &xdg] {
            assert_eq!(
                config_dir_on(Platform::Windows, Path::new(r"C:\Users\jdoe"), var, win),
                win
            );
        }
    }

    /// On Linux the rule is the one the `directories` crate applied before.
    #[cfg(target_os = "linux")]
    #[test]
    fn on_linux_the_settings_directory_did_not_move() {
        assert_eq!(
            dirs().unwrap().config,
            project().unwrap().config_dir().to_path_buf()
        );
    }

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
