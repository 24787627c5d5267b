//! The tool's own small settings file (`config.json` in the config directory):
//! the default registry for `login`, `logout` and `status`, and how often a
//! stored secret is checked in the background; in WSL, where the Windows build is.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::state::config::Config;

/// The registry this tool was first built for.
pub const DEFAULT_REGISTRY: &str = "hub.k8s.ucar.edu";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Seconds between background checks, or `"off"`; see [`crate::check`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_interval: Option<serde_json::Value>,
    /// In WSL: the Windows build's path (e.g. under `/mnt/c/`), when it is
    /// not on PATH; see `keychain::wsl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_helper: Option<String>,
}

/// The settings file's name in the config directory.
pub const FILE_NAME: &str = "config.json";

/// The line `status` and `doctor` give the settings file: its path (a file
/// anywhere else is not read), and whether it is there.
pub fn line(config: &Config) -> String {
    match config.settings_path() {
        Ok(p) if p.exists() => format!("settings: {}", p.display()),
        Ok(p) => format!("settings: {} (not there: defaults)", p.display()),
        Err(e) => format!("settings: {}", e.one_line()),
    }
}

/// The settings file at `p`; defaults when there is none. Read through
/// [`Config::settings`], once per process.
pub fn read(p: &Path) -> Result<Settings> {
    match std::fs::read(p) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::Config(format!("{} is not valid: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(Error::file("cannot read", p.to_path_buf(), e)),
    }
}
