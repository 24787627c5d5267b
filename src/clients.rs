//! Where each client keeps its registry logins: docker's `config.json`,
//! containers' `auth.json` (podman, skopeo, buildah) and its per-boot copy,
//! Helm's and Apptainer's files, and the name these files give this helper.
//! `auth_file` edits them; `configure` and `doctor` walk them.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::private_file;

/// The `credHelpers` value that names this helper (`docker-credential-harbor`).
pub const HELPER: &str = "harbor";

/// A client whose login files `configure` edits and `doctor` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// docker, and nerdctl, which reads docker's file.
    Docker,
    /// podman, skopeo and buildah (containers/image).
    Containers,
    Helm,
    Apptainer,
    /// SingularityCE 4.x: its own file only, never docker's.
    Singularity,
}

/// Which of `configure --docker` / `--podman` selects a client; the others
/// are configured only when neither is given.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    Docker,
    Podman,
    Neither,
}

/// One client: how messages name it, and the files its `login` writes, in
/// order (what `configure` edits). A new client is one row here.
pub struct Row {
    pub client: Client,
    pub who: &'static str,
    pub selected: Selected,
    pub login_files: fn() -> Result<Vec<PathBuf>>,
}

pub const CLIENTS: [Row; 5] = [
    Row {
        client: Client::Docker,
        who: "docker",
        selected: Selected::Docker,
        login_files: || Ok(vec![docker_config_path()?]),
    },
    Row {
        client: Client::Containers,
        who: "podman/skopeo/buildah",
        selected: Selected::Podman,
        // The file under ~/.config (or $REGISTRY_AUTH_FILE), then the runtime
        // file `podman login` writes.
        login_files: || {
            Ok([Some(containers_auth_path()?), runtime_auth_path()]
                .into_iter()
                .flatten()
                .collect())
        },
    },
    Row {
        client: Client::Helm,
        who: "helm",
        selected: Selected::Neither,
        login_files: || Ok(helm_registry_config_path()?.into_iter().collect()),
    },
    Row {
        client: Client::Apptainer,
        who: "apptainer",
        selected: Selected::Neither,
        login_files: || Ok(apptainer_config_path()?.into_iter().collect()),
    },
    Row {
        client: Client::Singularity,
        who: "singularity",
        selected: Selected::Neither,
        login_files: || Ok(singularity_config_path()?.into_iter().collect()),
    },
];

impl Client {
    fn row(self) -> &'static Row {
        CLIENTS
            .iter()
            .find(|r| r.client == self)
            .unwrap_or(&CLIENTS[0])
    }

    /// How messages name it.
    pub fn who(self) -> &'static str {
        self.row().who
    }
}

/// Every file the selected clients' logins write, in the table's order:
/// `docker` and `podman` as `configure --docker` / `--podman` say (neither
/// flag: every client).
pub fn login_files(docker: bool, podman: bool) -> Result<Vec<(Client, PathBuf)>> {
    let all = !docker && !podman;
    let mut out = Vec::new();
    for row in &CLIENTS {
        let wanted = all
            || (docker && row.selected == Selected::Docker)
            || (podman && row.selected == Selected::Podman);
        if wanted {
            out.extend((row.login_files)()?.into_iter().map(|p| (row.client, p)));
        }
    }
    Ok(out)
}

pub fn home() -> Result<PathBuf> {
    crate::paths::home()
}

/// docker: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Result<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) if !d.is_empty() => Ok(PathBuf::from(d).join("config.json")),
        _ => Ok(home()?.join(".docker").join("config.json")),
    }
}

/// podman, skopeo, buildah: `$REGISTRY_AUTH_FILE`, else
/// `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`.
pub fn containers_auth_path() -> Result<PathBuf> {
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|f| !f.is_empty()) {
        return Ok(PathBuf::from(f));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => home()?.join(".config"),
    };
    Ok(base.join("containers").join("auth.json"))
}

/// The one file podman, skopeo and buildah `login` write when no
/// `REGISTRY_AUTH_FILE` is set, and read first: `$XDG_RUNTIME_DIR/containers/auth.json`,
/// else `/run/containers/$UID/auth.json` when that directory exists. A tmpfs:
/// it is gone after a reboot. `None` with `REGISTRY_AUTH_FILE` (then that file
/// is the only one they write).
pub fn runtime_auth_path() -> Option<PathBuf> {
    if std::env::var_os("REGISTRY_AUTH_FILE").is_some_and(|f| !f.is_empty()) {
        return None;
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        // A stale variable (su, sudo) names a directory that is not there.
        let d = PathBuf::from(d);
        return d.is_dir().then(|| d.join("containers").join("auth.json"));
    }
    #[cfg(unix)]
    {
        // SAFETY: getuid(2) cannot fail.
        let dir = PathBuf::from(format!("/run/containers/{}", unsafe { libc::getuid() }));
        if dir.is_dir() {
            return Some(dir.join("auth.json"));
        }
    }
    None
}

/// Whether the runtime file lives under `$XDG_RUNTIME_DIR` (the `%t` that
/// systemd's user tmpfiles.d recreate at each session start).
pub fn runtime_dir_is_xdg() -> bool {
    std::env::var_os("REGISTRY_AUTH_FILE").is_none_or(|f| f.is_empty())
        && std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| !d.is_empty())
}

pub fn xdg_config_home() -> Result<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME") {
        Some(d) if !d.is_empty() => Ok(PathBuf::from(d)),
        _ => Ok(home()?.join(".config")),
    }
}

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

/// Whether a client's login file routes `key` to this helper (a
/// `credHelpers` entry naming it, in any spelling of the key). Files that
/// cannot be read route nothing.
pub fn routes_to_helper(key: &str) -> bool {
    let Ok(files) = login_files(false, false) else {
        return false;
    };
    files
        .iter()
        .any(|(_, path)| file_routes_to_helper(path, key))
}

/// Whether the auth file at `path` has a `credHelpers` entry naming this
/// helper for `key` (any spelling). A file that cannot be read routes nothing.
pub fn file_routes_to_helper(path: &Path, key: &str) -> bool {
    crate::auth_file::AuthFile::open(path).is_ok_and(|f| {
        f.keys_with_helper(HELPER)
            .iter()
            .any(|k| crate::registry::normalize(k).is_ok_and(|n| n == key))
    })
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

/// Helm (>= 3.18) `registry login` writes and reads `$HELM_REGISTRY_CONFIG`,
/// else `${HELM_CONFIG_HOME:-$XDG_CONFIG_HOME/helm}/registry/config.json`.
/// `None` unless that variable is set, `helm` is on PATH or its config
/// directory exists: no Helm, no file.
pub fn helm_registry_config_path() -> Result<Option<PathBuf>> {
    if let Some(f) = std::env::var_os("HELM_REGISTRY_CONFIG").filter(|f| !f.is_empty()) {
        return Ok(Some(PathBuf::from(f)));
    }
    let dir = match std::env::var_os("HELM_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => xdg_config_home()?.join("helm"),
    };
    Ok((find_on_path("helm").is_some() || dir.is_dir())
        .then(|| dir.join("registry").join("config.json")))
}

/// SingularityCE reads only `~/.singularity/docker-config.json` (no fallback
/// to docker's file): a file to write when `~/.singularity` exists or
/// `singularity` is on PATH.
pub fn singularity_config_path() -> Result<Option<PathBuf>> {
    let dir = home()?.join(".singularity");
    Ok((dir.is_dir() || find_on_path("singularity").is_some())
        .then(|| dir.join("docker-config.json")))
}

/// Apptainer and SingularityCE `registry logout` act only on a registry
/// with an `auths` entry in their file (else "no existing login"): with a
/// `credHelpers` entry that entry holds no secret, as docker's own login
/// leaves it.
pub fn logout_needs_auths_entry(client: Client) -> bool {
    matches!(client, Client::Apptainer | Client::Singularity)
}

/// Apptainer reads `~/.apptainer/docker-config.json` when it exists, else
/// docker's file (never both): only an existing file is one to edit.
pub fn apptainer_config_path() -> Result<Option<PathBuf>> {
    let p = home()?.join(".apptainer").join("docker-config.json");
    Ok(p.is_file().then_some(p))
}

/// The credential store Helm (oras-go) picks by itself when its file holds no
/// auth at all: `pass` when `pass` is installed, else `secretservice`, and
/// only when that helper is on PATH.
pub fn helm_native_store() -> Option<&'static str> {
    let suffix = if find_on_path("pass").is_some() {
        "pass"
    } else {
        "secretservice"
    };
    find_on_path(&format!("docker-credential-{suffix}")).map(|_| suffix)
}

/// The first `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let name = if cfg!(windows) {
        format!("{name}.exe")
    } else {
        name.to_string()
    };
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_has_one_row() {
        for c in [
            Client::Docker,
            Client::Containers,
            Client::Helm,
            Client::Apptainer,
            Client::Singularity,
        ] {
            assert_eq!(CLIENTS.iter().filter(|r| r.client == c).count(), 1, "{c:?}");
            assert_eq!(c.who(), c.row().who);
        }
        let who: Vec<&str> = CLIENTS.iter().map(|r| r.who).collect();
        assert_eq!(
            who,
            [
                "docker",
                "podman/skopeo/buildah",
                "helm",
                "apptainer",
                "singularity"
            ]
        );
    }
}
