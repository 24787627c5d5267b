//! configure's own record (`configure.json` in the data directory): what it
//! changed in each file, so `configure --undo` takes back just that.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths;
use crate::private_file;

/// What configure changed in one file, so `--undo` can take back just that.
#[derive(Default, Serialize, Deserialize)]
pub struct FileRecord {
    pub created_file: bool,
    pub created_helpers: bool,
    /// Registry key to the helper it had before (None: it had none).
    pub keys: BTreeMap<String, Option<String>>,
    /// The `credsStore` configure wrote (Helm's file: the store Helm had chosen by itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_creds_store: Option<String>,
    /// The empty `auths` entries configure added (Apptainer, SingularityCE).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_auths: Vec<String>,
}

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    pub files: BTreeMap<PathBuf, FileRecord>,
}

fn state_path() -> Result<PathBuf> {
    Ok(paths::data_dir()?.join("configure.json"))
}

pub fn load_state() -> Result<State> {
    let p = state_path()?;
    match std::fs::read(&p) {
        Ok(b) => Ok(serde_json::from_slice(&b).unwrap_or_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(Error::file("cannot read", p, e)),
    }
}

pub fn save_state(s: &State) -> Result<()> {
    let p = state_path()?;
    if s.files.is_empty() {
        return match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::file("cannot remove", p, e))
            }
            _ => Ok(()),
        };
    }
    private_file::ensure_private_dir(p.parent().unwrap_or(std::path::Path::new(".")))?;
    let text = serde_json::to_vec_pretty(s).map_err(|e| Error::Config(e.to_string()))?;
    private_file::write_atomic(&p, &text, 0o600)
}
