//! Where each client's files are, by its own rules on each platform: the
//! `*_on` forms take the platform and the variables, so Linux unit tests
//! check the macOS and Windows answers.

use std::path::{Path, PathBuf};

use super::{Vars, find_on_path, home};
use crate::error::Result;
use crate::platform::{Platform, env_var, path_var};

/// docker: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Result<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) if !d.is_empty() => Ok(PathBuf::from(d).join("config.json")),
        _ => Ok(home()?.join(".docker").join("config.json")),
    }
}

/// The containers auth file `configure` edits (see [`containers_auth_path_on`]).
pub fn containers_auth_path() -> Result<PathBuf> {
    Ok(containers_auth_path_on(
        Platform::CURRENT,
        &home()?,
        &env_var,
    ))
}

/// podman, skopeo, buildah (containers/image): `$REGISTRY_AUTH_FILE`, else on
/// Linux `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json` (read after the
/// runtime file), elsewhere `$HOME/.config/containers/auth.json` whatever
/// XDG_CONFIG_HOME says: there it is the file `login` writes and reads first
/// (containers/image `getPathToAuthWithOS`; on Windows HOME is `%USERPROFILE%`).
pub fn containers_auth_path_on(platform: Platform, home: &Path, var: &Vars) -> PathBuf {
    if let Some(f) = path_var(var, "REGISTRY_AUTH_FILE") {
        return f;
    }
    let base = match platform {
        Platform::Linux => path_var(var, "XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")),
        Platform::Macos | Platform::Windows => home.join(".config"),
    };
    base.join("containers").join("auth.json")
}

/// The runtime file (see [`runtime_auth_path_on`]).
pub fn runtime_auth_path() -> Option<PathBuf> {
    runtime_auth_path_on(Platform::CURRENT, &env_var)
}

/// The one file podman, skopeo and buildah `login` write on Linux when no
/// `REGISTRY_AUTH_FILE` is set, and read first: `$XDG_RUNTIME_DIR/containers/auth.json`,
/// else `/run/containers/$UID/auth.json` when that directory exists. A tmpfs:
/// it is gone after a reboot. `None` with `REGISTRY_AUTH_FILE` (then that file
/// is the only one they write), and off Linux, where containers/image has no
/// runtime file whatever XDG_RUNTIME_DIR says.
pub fn runtime_auth_path_on(platform: Platform, var: &Vars) -> Option<PathBuf> {
    if platform != Platform::Linux || path_var(var, "REGISTRY_AUTH_FILE").is_some() {
        return None;
    }
    if let Some(d) = path_var(var, "XDG_RUNTIME_DIR") {
        // A stale variable (su, sudo) names a directory that is not there.
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

/// Whether the runtime file lives under `$XDG_RUNTIME_DIR` (see [`runtime_dir_is_xdg_on`]).
pub fn runtime_dir_is_xdg() -> bool {
    runtime_dir_is_xdg_on(Platform::CURRENT, &env_var)
}

/// Whether the runtime file lives under `$XDG_RUNTIME_DIR`, the `%t` that
/// systemd's user tmpfiles.d recreate at each session start: on Linux only
/// (elsewhere nothing reads a tmpfiles line, and there is no runtime file).
pub fn runtime_dir_is_xdg_on(platform: Platform, var: &Vars) -> bool {
    platform == Platform::Linux
        && path_var(var, "REGISTRY_AUTH_FILE").is_none()
        && path_var(var, "XDG_RUNTIME_DIR").is_some()
}

/// The files podman, skopeo and buildah read for a login, in their order,
/// each with a note for `doctor`, and a note when a file could not be
/// named (see [`containers_files_on`]).
pub fn containers_files(docker: &Path, docker_note: &'static str) -> Result<ContainersFiles> {
    Ok(containers_files_on(
        Platform::CURRENT,
        &home()?,
        &env_var,
        (docker, docker_note),
    ))
}

/// The files containers/image reads, in its order, each with its note.
pub struct ContainersFiles {
    pub files: Vec<(PathBuf, &'static str)>,
    /// A file it may read that `doctor` cannot name.
    pub note: Option<&'static str>,
}

/// What containers/image (`getAuthFilePaths`) reads on `platform`: the file
/// `login` writes (`$REGISTRY_AUTH_FILE`; on Linux the runtime file; elsewhere
/// `$HOME/.config/containers/auth.json`), then `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`
/// when that is another file, then docker's file (with its note) and `~/.dockercfg`.
pub fn containers_files_on(
    platform: Platform,
    home: &Path,
    var: &Vars,
    (docker, docker_note): (&Path, &'static str),
) -> ContainersFiles {
    let mut files: Vec<(PathBuf, &'static str)> = Vec::new();
    let mut note = None;
    if let Some(f) = path_var(var, "REGISTRY_AUTH_FILE") {
        files.push((f, " (REGISTRY_AUTH_FILE; login writes here)"));
    } else {
        let primary = containers_auth_path_on(platform, home, var);
        if platform == Platform::Linux {
            match runtime_auth_path_on(platform, var) {
                Some(p) => files.push((p, " (login writes here; emptied at reboot)")),
                None => {
                    note = Some(
                        "XDG_RUNTIME_DIR is not set: podman login writes /run/containers/$UID/auth.json, not checked",
                    )
                }
            }
            files.push((primary, ""));
        } else {
            files.push((primary.clone(), " (login writes here)"));
            let xdg =
                path_var(var, "XDG_CONFIG_HOME").map(|d| d.join("containers").join("auth.json"));
            if let Some(x) = xdg.filter(|x| *x != primary) {
                files.push((x, ""));
            }
        }
    }
    files.push((docker.to_path_buf(), docker_note));
    files.push((home.join(".dockercfg"), ""));
    ContainersFiles { files, note }
}

/// `${XDG_CONFIG_HOME:-~/.config}`: the user tmpfiles.d directory (Linux).
pub fn xdg_config_home() -> Result<PathBuf> {
    match path_var(&env_var, "XDG_CONFIG_HOME") {
        Some(d) => Ok(d),
        None => Ok(home()?.join(".config")),
    }
}

/// Helm (>= 3.18) `registry login` writes and reads `$HELM_REGISTRY_CONFIG`,
/// else `${HELM_CONFIG_HOME:-$XDG_CONFIG_HOME/helm}/registry/config.json`.
/// `None` unless that variable is set, `helm` is on PATH or its config
/// directory exists: no Helm, no file.
pub fn helm_registry_config_path() -> Result<Option<PathBuf>> {
    if let Some(f) = path_var(&env_var, "HELM_REGISTRY_CONFIG") {
        return Ok(Some(f));
    }
    let dir = helm_config_dir_on(Platform::CURRENT, &home()?, &env_var);
    Ok((find_on_path("helm").is_some() || dir.is_dir())
        .then(|| dir.join("registry").join("config.json")))
}

/// Helm's config directory (helmpath's lazypath): `$HELM_CONFIG_HOME`, else
/// `$XDG_CONFIG_HOME/helm` on every platform, else the platform's own:
/// `~/.config/helm` on Linux, `~/Library/Preferences/helm` on macOS,
/// `%APPDATA%\helm` on Windows.
pub fn helm_config_dir_on(platform: Platform, home: &Path, var: &Vars) -> PathBuf {
    if let Some(d) = path_var(var, "HELM_CONFIG_HOME") {
        return d;
    }
    let base = path_var(var, "XDG_CONFIG_HOME").unwrap_or_else(|| match platform {
        Platform::Linux => home.join(".config"),
        Platform::Macos => home.join("Library").join("Preferences"),
        Platform::Windows => {
            path_var(var, "APPDATA").unwrap_or_else(|| home.join("AppData").join("Roaming"))
        }
    });
    base.join("helm")
}

/// SingularityCE reads only `~/.singularity/docker-config.json` (no fallback
/// to docker's file): a file to write when `~/.singularity` exists or
/// `singularity` is on PATH.
pub fn singularity_config_path() -> Result<Option<PathBuf>> {
    let dir = home()?.join(".singularity");
    Ok((dir.is_dir() || find_on_path("singularity").is_some())
        .then(|| dir.join("docker-config.json")))
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

/// Where a GUI-started Docker Desktop on macOS looks for a credential
/// helper: launchd's default PATH (not the shell profile's), and the two
/// directories Docker Desktop adds to it.
pub const MACOS_GUI_PATH: [&str; 6] = [
    "/usr/bin",
    "/bin",
    "/usr/sbin",
    "/sbin",
    "/usr/local/bin",
    "/opt/homebrew/bin",
];

/// On macOS, when Docker Desktop started from the Dock would not find the
/// helper (`~/.local/bin` is on the shell's PATH only): the problem and its
/// fix. `helper` is the one found on PATH; `holds_helper` says whether a
/// directory holds it. `None` elsewhere, and when one of those directories does.
pub fn gui_path_problem(
    platform: Platform,
    helper: Option<&Path>,
    holds_helper: &dyn Fn(&Path) -> bool,
) -> Option<(String, String)> {
    if platform != Platform::Macos || MACOS_GUI_PATH.iter().any(|d| holds_helper(Path::new(d))) {
        return None;
    }
    let source = helper.map_or_else(
        || format!("~/.local/bin/{}", crate::NAME),
        |p| p.display().to_string(),
    );
    Some((
        format!(
            "{} is in none of {}: Docker Desktop started from the Dock or Finder (its PATH comes \
             from launchd, not your shell profile) cannot run it",
            crate::NAME,
            MACOS_GUI_PATH.join(":")
        ),
        format!(
            "link it into /usr/local/bin, which Docker Desktop's PATH has: \
             `sudo mkdir -p /usr/local/bin && sudo ln -sf {source} /usr/local/bin/`"
        ),
    ))
}
