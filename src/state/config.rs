//! One configuration value per process: the tool's own environment variables
//! and its settings file, read once and passed down. Nothing below `main`
//! reads them itself, so a caller decides what a function sees and a unit
//! test builds the whole configuration in one place ([`Config::in_dirs`]).
//! The settings file is read when first asked for (a warm `get` seldom
//! needs it), and never twice.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::check::background::{self, Interval};
use crate::env_vars;
use crate::error::{Error, Result};
use crate::keychain::{self, KeychainKind, Waiter};
use crate::protocol::ci_env::{self, CiCredentials};
use crate::state::paths;
use crate::state::settings::{self, Settings};

/// The tool's directories: where the index, the stamps and the settings are.
#[derive(Clone, Debug)]
pub struct Dirs {
    /// The index and `configure`'s record.
    pub data: PathBuf,
    /// Rate-limit stamps and running-check markers (throw-away).
    pub cache: PathBuf,
    /// The settings file's directory.
    pub config: PathBuf,
}

impl Dirs {
    /// All three under `root` (unit tests).
    pub fn under(root: &Path) -> Dirs {
        Dirs {
            data: root.join("data"),
            cache: root.join("cache"),
            config: root.join("config"),
        }
    }
}

/// The tool's own variables, as set when the process started.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    pub store: Option<String>,
    pub timeout: Option<String>,
    pub cache_ttl: Option<String>,
    pub check_interval: Option<String>,
    pub registry: Option<String>,
    pub bridged: bool,
    /// `HARBOR_USERNAME`, `HARBOR_PASSWORD`, `HARBOR_HOST` (see [`ci_env`]):
    /// kept as read until the credentials are made, once.
    pub ci: Option<ci_env::Vars>,
}

pub struct Config {
    /// `None` without a home directory; each use then says so.
    dirs: Option<Dirs>,
    vars: Vars,
    settings: OnceLock<std::result::Result<Settings, String>>,
    ci: OnceLock<Option<CiCredentials>>,
}

/// Cache copies live this long unless the variable says otherwise.
const DEFAULT_CACHE_TTL: u64 = 600;

impl Config {
    /// This process's configuration: its environment and the user's directories.
    pub fn from_env() -> Config {
        let var = |name| std::env::var(name).ok();
        Config::new(
            paths::dirs().ok(),
            Vars {
                store: var(env_vars::STORE),
                timeout: var(env_vars::TIMEOUT),
                cache_ttl: var(env_vars::CACHE_TTL),
                check_interval: var(env_vars::CHECK_INTERVAL),
                registry: var(env_vars::REGISTRY),
                bridged: std::env::var_os(env_vars::BRIDGED).is_some(),
                ci: ci_env::Vars::from_env(),
            },
        )
    }

    /// A configuration over `dirs` and `vars` alone (tests, and a bridged run).
    pub fn new(dirs: Option<Dirs>, vars: Vars) -> Config {
        Config {
            dirs,
            vars,
            settings: OnceLock::new(),
            ci: OnceLock::new(),
        }
    }

    /// Everything under `root` (`data`, `cache`, `config`), no variables set.
    pub fn in_dirs(root: &Path) -> Config {
        Config::new(Some(Dirs::under(root)), Vars::default())
    }

    pub fn vars(&self) -> &Vars {
        &self.vars
    }

    pub fn dirs(&self) -> Result<&Dirs> {
        self.dirs.as_ref().ok_or_else(paths::no_home)
    }

    /// The index's directory.
    pub fn data_dir(&self) -> Result<&Path> {
        Ok(&self.dirs()?.data)
    }

    /// Where throw-away state lives (notice stamps, running checks).
    pub fn cache_dir(&self) -> Result<&Path> {
        Ok(&self.dirs()?.cache)
    }

    /// The settings file (read or not).
    pub fn settings_path(&self) -> Result<PathBuf> {
        Ok(self.dirs()?.config.join(settings::FILE_NAME))
    }

    /// The settings file, read the first time it is asked for. A file that
    /// cannot be read gives every caller its error (one line).
    pub fn settings(&self) -> Result<&Settings> {
        let read = self.settings.get_or_init(|| {
            self.settings_path()
                .and_then(|p| settings::read(&p))
                .map_err(|e| e.one_line())
        });
        read.as_ref().map_err(|why| Error::Config(why.clone()))
    }

    /// The registry to use when the user names none: the variable, then the
    /// settings file, then [`settings::DEFAULT_REGISTRY`].
    pub fn default_registry(&self) -> Result<String> {
        if let Some(r) = self.vars.registry.as_deref().map(str::trim)
            && !r.is_empty()
        {
            return Ok(r.to_string());
        }
        Ok(self
            .settings()?
            .registry
            .clone()
            .unwrap_or_else(|| settings::DEFAULT_REGISTRY.to_string()))
    }

    /// The CI credentials (see [`ci_env`]), made once.
    pub fn ci(&self) -> Option<&CiCredentials> {
        self.ci
            .get_or_init(|| {
                let vars = self.vars.ci.as_ref()?;
                vars.credentials(|| self.default_registry().ok())
            })
            .as_ref()
    }

    /// The CI credentials if they apply to the registry `key`.
    pub fn ci_for(&self, key: &str) -> Option<&CiCredentials> {
        self.ci().filter(|c| c.registry == key)
    }

    /// The keychain named by `DOCKER_CREDENTIAL_HARBOR_STORE`, if any.
    pub fn forced_keychain(&self) -> Result<Option<KeychainKind>> {
        keychain::forced_by(self.vars.store.as_deref())
    }

    /// How long one keychain call may take for `waiter`.
    pub fn keychain_limit(&self, waiter: Waiter) -> Duration {
        waiter.limit_with(self.vars.timeout.as_deref())
    }

    /// Seconds a cached copy lives (0: no cache), at most a day.
    pub fn cache_ttl(&self) -> u64 {
        self.vars
            .cache_ttl
            .as_deref()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_CACHE_TTL)
            .min(86_400)
    }

    /// The check interval in force: the variable, then the settings file,
    /// then the default. A value that does not parse falls back to the
    /// default, with the reason for the caller to show.
    pub fn check_interval(&self) -> (Interval, Option<String>) {
        let configured = match self.vars.check_interval.as_deref() {
            Some(v) if !v.trim().is_empty() => Some(serde_json::Value::String(v.to_string())),
            _ => self
                .settings()
                .ok()
                .and_then(|s| s.check_interval.clone())
                .filter(|v| !v.is_null()),
        };
        background::interval_of(configured.as_ref())
    }

    /// Whether the WSL bridge runs this process for the Linux side.
    pub fn bridged(&self) -> bool {
        self.vars.bridged
    }

    /// The Windows build the settings file names (WSL), trimmed, if any.
    pub fn windows_helper(&self) -> Result<Option<PathBuf>> {
        Ok(self
            .settings()?
            .windows_helper
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from))
    }
}
