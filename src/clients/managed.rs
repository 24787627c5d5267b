//! The files `configure` writes or removes whole, besides the clients' own:
//! the user tmpfiles.d line that puts the runtime auth file's entry back at
//! each boot, and containers' drop-in that asks this helper first.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{HELPER, home, xdg_config_home};
use crate::error::{Error, Result};
use crate::state::private_file;

/// The user tmpfiles.d entry that recreates the runtime file's `credHelpers`
/// at each session start (systemd's user `systemd-tmpfiles-setup.service`).
pub fn user_tmpfiles_path() -> Result<PathBuf> {
    Ok(xdg_config_home()?
        .join("user-tmpfiles.d")
        .join("docker-credential-harbor.conf"))
}

/// Write (or, with no keys, remove) the user tmpfiles.d entry that creates
/// `%t/containers/auth.json` holding `credHelpers` for `keys`. Returns whether
/// the file changed.
pub fn write_user_tmpfiles(keys: &[String], helper: &str) -> Result<bool> {
    let path = user_tmpfiles_path()?;
    let old = std::fs::read(&path).ok();
    if keys.is_empty() {
        if old.is_none() {
            return Ok(false);
        }
        std::fs::remove_file(&path).map_err(|e| Error::file("cannot remove", &path, e))?;
        return Ok(true);
    }
    let helpers: Map<String, Value> = keys
        .iter()
        .map(|k| (k.clone(), Value::String(helper.to_string())))
        .collect();
    let json = serde_json::to_string(&serde_json::json!({ "credHelpers": helpers }))
        .map_err(|e| Error::Config(format!("cannot encode JSON: {e}")))?;
    let text = format!(
        "# Written by `docker-credential-harbor configure`; `configure --undo` removes it.\n\
         # The runtime dir is emptied at reboot: recreate the entry that makes\n\
         # `podman login` (skopeo, buildah) store through the helper.\n\
         d %t/containers 0700 - - -\n\
         f %t/containers/auth.json 0600 - - - {json}\n"
    );
    if old.as_deref() == Some(text.as_bytes()) {
        return Ok(false);
    }
    private_file::ensure_private_dir(path.parent().unwrap_or(Path::new(".")))?;
    private_file::write_atomic(&path, text.as_bytes(), 0o600)?;
    Ok(true)
}

/// containers/image's drop-in that asks this helper first for every
/// registry, before the auth files: `podman logout --all` empties the auth
/// file's `credHelpers`, and without it the next `podman login` would write
/// the secret there in plain text. Always under HOME: containers/image reads
/// `$HOME/.config/containers/registries.conf.d`, whatever XDG_CONFIG_HOME says.
pub fn containers_dropin_path() -> Result<PathBuf> {
    Ok(home()?
        .join(".config/containers/registries.conf.d")
        .join("50-docker-credential-harbor.conf"))
}

/// Write (`on`) or remove the drop-in. Returns whether the file changed.
pub fn write_containers_dropin(on: bool) -> Result<bool> {
    let path = containers_dropin_path()?;
    let old = std::fs::read(&path).ok();
    if !on {
        if old.is_none() {
            return Ok(false);
        }
        std::fs::remove_file(&path).map_err(|e| Error::file("cannot remove", &path, e))?;
        return Ok(true);
    }
    let text = format!(
        "# Written by `docker-credential-harbor configure`; `configure --undo` removes it.\n\
         # `podman logout --all` empties credHelpers in the auth file: asking the helper\n\
         # first keeps `podman login` (skopeo, buildah) storing through it. The helper\n\
         # answers not-found and refuses to store for registries it is not configured\n\
         # for, so those are kept in the auth file as before.\n\
         credential-helpers = [\"{HELPER}\", \"containers-auth.json\"]\n"
    );
    if old.as_deref() == Some(text.as_bytes()) {
        return Ok(false);
    }
    private_file::ensure_private_dir(path.parent().unwrap_or(Path::new(".")))?;
    private_file::write_atomic(&path, text.as_bytes(), 0o600)?;
    Ok(true)
}
