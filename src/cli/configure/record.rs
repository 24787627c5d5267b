//! configure's own record (`configure.json` in the data directory): what it
//! changed in each file, so `configure --undo` takes back just that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::state::private_file;

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
    /// Where it was read from and goes back to (the config's data directory).
    #[serde(skip)]
    path: PathBuf,
}

/// The record in `dir` (the config's data directory).
pub fn load_state(dir: &Path) -> Result<State> {
    let path = dir.join("configure.json");
    let files = match std::fs::read(&path) {
        Ok(b) => {
            serde_json::from_slice::<State>(&b)
                .unwrap_or_default()
                .files
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(Error::file("cannot read", path, e)),
    };
    Ok(State { files, path })
}

pub fn save_state(s: &State) -> Result<()> {
    let p = &s.path;
    if s.files.is_empty() {
        return match std::fs::remove_file(p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::file("cannot remove", p.clone(), e))
            }
            _ => Ok(()),
        };
    }
    private_file::ensure_private_dir(p.parent().unwrap_or(std::path::Path::new(".")))?;
    let text = serde_json::to_vec_pretty(s).map_err(|e| Error::Config(e.to_string()))?;
    private_file::write_atomic(p, &text, 0o600)
}
