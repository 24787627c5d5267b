//! The tool's own small settings file (`config.json` in the config directory):
//! the default registry for `login`, `logout` and `status`, and how often a
//! stored secret is checked in the background; in WSL, where the Windows build is.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths;

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

pub fn path() -> Result<std::path::PathBuf> {
    Ok(paths::config_dir()?.join("config.json"))
}

/// The line `status` and `doctor` give the settings file: its path (a file
/// anywhere else is not read), and whether it is there.
pub fn line() -> String {
    match path() {
        Ok(p) if p.exists() => format!("settings: {}", p.display()),
        Ok(p) => format!("settings: {} (not there: defaults)", p.display()),
        Err(e) => format!("settings: {}", e.one_line()),
    }
}

/// The settings, read once per process: one `get` asks for them in three
/// places (the default registry, the check interval, the WSL bridge), and
/// nothing in a run writes them. A file that cannot be read is not
/// remembered: each caller gets its error.
pub fn load() -> Result<Settings> {
    static READ: OnceLock<Settings> = OnceLock::new();
    if let Some(s) = READ.get() {
        return Ok(s.clone());
    }
    let read = read()?;
    Ok(READ.get_or_init(|| read).clone())
}

fn read() -> Result<Settings> {
    let p = path()?;
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::Config(format!("{} is not valid: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(Error::file("cannot read", p, e)),
    }
}

/// The registry to use when the user names none: the environment, then the
/// settings file, then [`DEFAULT_REGISTRY`].
pub fn default_registry() -> Result<String> {
    if let Ok(r) = std::env::var(crate::env_vars::REGISTRY)
        && !r.trim().is_empty()
    {
        return Ok(r.trim().to_string());
    }
    Ok(load()?
        .registry
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_string()))
}
