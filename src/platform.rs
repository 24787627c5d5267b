//! Which operating system's rules apply. Where clients and this tool keep
//! their files differs between Linux, macOS and Windows; each such rule takes
//! a [`Platform`], so unit tests on Linux check the other platforms' answers.

use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// Linux and the other Unixes that follow its (XDG) rules.
    Linux,
    Macos,
    Windows,
}

impl Platform {
    /// This build's.
    pub const CURRENT: Platform = if cfg!(windows) {
        Platform::Windows
    } else if cfg!(target_os = "macos") {
        Platform::Macos
    } else {
        Platform::Linux
    };
}

/// The environment variable `name` from `var` as a path, when set and not empty.
pub fn path_var(var: &dyn Fn(&str) -> Option<OsString>, name: &str) -> Option<PathBuf> {
    var(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// This process's environment, as the rules read it.
pub fn env_var(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// An environment holding only `pairs`, for the rules' unit tests.
#[cfg(test)]
pub fn test_vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
    let pairs: Vec<(String, OsString)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}
