//! A robot account's secret as Harbor exports it (web UI, harbor-cli): the
//! file `login --robot-file` imports and the kubelet provider reads.

use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::protocol;
use crate::secret::Secret;

/// A robot account from its file.
pub struct Robot {
    /// The full name, `robot$project+name`.
    pub name: String,
    pub secret: Secret<String>,
    /// Unix seconds; -1 for never (Harbor writes -1 or nothing).
    pub expires_at: Option<i64>,
}

/// The JSON Harbor's web UI and harbor-cli write for a new robot account.
#[derive(Deserialize)]
struct RobotFile<'a> {
    #[serde(alias = "Name")]
    name: String,
    /// Borrowed and decoded by `protocol`: serde_json would unescape it
    /// into a scratch buffer that is never wiped.
    #[serde(alias = "Secret", borrow)]
    secret: &'a serde_json::value::RawValue,
    #[serde(default, alias = "expiresAt", alias = "ExpiresAt")]
    expires_at: Option<i64>,
}

/// Read a robot account file as Harbor exports it.
pub fn read(path: &Path) -> Result<Robot> {
    // Room for the limit up front: a growing Vec gives back copies unwiped.
    let mut bytes = Vec::with_capacity(protocol::MAX_INPUT + 1);
    std::fs::File::open(path)
        .and_then(|f| f.take(protocol::MAX_INPUT as u64).read_to_end(&mut bytes))
        .map_err(|e| Error::file("cannot read robot file", path, e))?;
    let not_robot = |why: String| {
        Error::BadInput(format!(
            "{} is not a Harbor robot account file (expected JSON with \"name\" and \"secret\"): {why}",
            path.display(),
        ))
    };
    let parsed = serde_json::from_slice::<RobotFile>(&bytes)
        .map_err(|e| not_robot(protocol::json_error(&e)))
        .and_then(|r| {
            let secret = protocol::decode_json_string(r.secret.get())
                .ok_or_else(|| not_robot("\"secret\" is not a string".into()))?;
            Ok((r.name, r.expires_at, secret))
        });
    zeroize::Zeroize::zeroize(&mut bytes);
    let (name, expires_at, secret) = parsed?;
    if name.trim().is_empty() {
        return Err(Error::BadInput(format!(
            "{} has an empty \"name\"",
            path.display()
        )));
    }
    Ok(Robot {
        name: name.trim().to_string(),
        secret,
        // Harbor writes -1 for "never"; keep it so status can say so.
        expires_at: expires_at.map(|e| if e > 0 { e } else { -1 }),
    })
}
