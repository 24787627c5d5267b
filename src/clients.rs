//! Where each client keeps its registry logins: docker's `config.json`,
//! containers' `auth.json` (podman, skopeo, buildah) and its per-boot copy,
//! Helm's and Apptainer's files, and the name these files give this helper.
//! `auth_file` edits them; `configure` and `doctor` walk them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::platform::{Platform, env_var, path_var};
use crate::private_file;

/// The environment variables a rule reads (this process's, or a test's).
pub type Vars = dyn Fn(&str) -> Option<OsString>;

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
    use crate::platform::test_vars as vars;

    const ELSEWHERE: [Platform; 2] = [Platform::Macos, Platform::Windows];

    fn homes() -> [(Platform, PathBuf); 3] {
        [
            (Platform::Linux, PathBuf::from("/home/jdoe")),
            (Platform::Macos, PathBuf::from("/Users/jdoe")),
            (Platform::Windows, PathBuf::from(r"C:\Users\jdoe")),
        ]
    }

    /// containers/image: on Linux the XDG file; on macOS and Windows
    /// `$HOME/.config/containers/auth.json` whatever XDG_CONFIG_HOME says.
    #[test]
    fn the_containers_auth_file_follows_xdg_on_linux_only() {
        let xdg = vars(&[("XDG_CONFIG_HOME", "/xdg")]);
        let none = vars(&[]);
        let given = vars(&[
            ("REGISTRY_AUTH_FILE", "/ci/auth.json"),
            ("XDG_CONFIG_HOME", "/xdg"),
        ]);
        for (platform, home) in homes() {
            let dotconfig = home.join(".config").join("containers").join("auth.json");
            assert_eq!(containers_auth_path_on(platform, &home, &none), dotconfig);
            let with_xdg = containers_auth_path_on(platform, &home, &xdg);
            match platform {
                Platform::Linux => assert_eq!(with_xdg, Path::new("/xdg/containers/auth.json")),
                _ => assert_eq!(with_xdg, dotconfig, "{platform:?}"),
            }
            assert_eq!(
                containers_auth_path_on(platform, &home, &given),
                Path::new("/ci/auth.json")
            );
        }
    }

    /// The runtime file and the tmpfiles line that restores it are Linux's:
    /// a Mac with XDG_RUNTIME_DIR set gets neither.
    #[test]
    fn the_runtime_file_and_tmpfiles_are_linux_only() {
        let t = tempfile::tempdir().unwrap();
        let run = vars(&[("XDG_RUNTIME_DIR", t.path().to_str().unwrap())]);
        assert_eq!(
            runtime_auth_path_on(Platform::Linux, &run),
            Some(t.path().join("containers").join("auth.json"))
        );
        assert!(runtime_dir_is_xdg_on(Platform::Linux, &run));
        for platform in ELSEWHERE {
            assert_eq!(runtime_auth_path_on(platform, &run), None, "{platform:?}");
            assert!(!runtime_dir_is_xdg_on(platform, &run), "{platform:?}");
        }
        // A stale variable names nothing; REGISTRY_AUTH_FILE replaces it.
        let stale = vars(&[("XDG_RUNTIME_DIR", "/nonexistent/run/user/1000")]);
        assert_eq!(runtime_auth_path_on(Platform::Linux, &stale), None);
        let given = vars(&[
            ("XDG_RUNTIME_DIR", t.path().to_str().unwrap()),
            ("REGISTRY_AUTH_FILE", "/ci/auth.json"),
        ]);
        assert_eq!(runtime_auth_path_on(Platform::Linux, &given), None);
        assert!(!runtime_dir_is_xdg_on(Platform::Linux, &given));
    }

    /// What `doctor` lists for podman: what containers/image reads there.
    #[test]
    fn doctor_lists_what_podman_reads_on_each_platform() {
        let t = tempfile::tempdir().unwrap();
        let env = vars(&[
            ("XDG_RUNTIME_DIR", t.path().to_str().unwrap()),
            ("XDG_CONFIG_HOME", "/xdg"),
        ]);
        for (platform, home) in homes() {
            let docker = home.join(".docker").join("config.json");
            let got = containers_files_on(platform, &home, &env, (&docker, ""));
            let paths: Vec<PathBuf> = got.files.iter().map(|(p, _)| p.clone()).collect();
            let first = match platform {
                Platform::Linux => t.path().join("containers").join("auth.json"),
                _ => home.join(".config").join("containers").join("auth.json"),
            };
            let want = vec![
                first,
                PathBuf::from("/xdg/containers/auth.json"),
                docker.clone(),
                home.join(".dockercfg"),
            ];
            assert_eq!(paths, want, "{platform:?}");
            assert!(got.files[0].1.contains("login writes here"), "{platform:?}");
            assert_eq!(got.note, None, "{platform:?}");
        }
        // Without XDG_CONFIG_HOME the second file is the first: listed once.
        for platform in ELSEWHERE {
            let home = Path::new("/Users/jdoe");
            let docker = home.join(".docker/config.json");
            let got = containers_files_on(platform, home, &vars(&[]), (&docker, ""));
            assert_eq!(got.files.len(), 3, "{platform:?}");
        }
    }

    /// Docker Desktop from the Dock has launchd's PATH: a helper only in
    /// ~/.local/bin is a problem on macOS, with the link as its fix.
    #[test]
    fn a_mac_helper_outside_launchds_path_is_named_with_its_fix() {
        let local = Path::new("/Users/jdoe/.local/bin/docker-credential-harbor");
        let nowhere = |_: &Path| false;
        let (problem, fix) = gui_path_problem(Platform::Macos, Some(local), &nowhere).unwrap();
        assert!(problem.contains("/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin:/opt/homebrew/bin"));
        assert!(problem.contains("launchd"), "{problem}");
        assert!(
            fix.contains(&format!("sudo ln -sf {} /usr/local/bin/", local.display())),
            "{fix}"
        );
        for dir in ["/usr/local/bin", "/opt/homebrew/bin"] {
            let there = |d: &Path| d == Path::new(dir);
            assert_eq!(
                gui_path_problem(Platform::Macos, Some(local), &there),
                None,
                "{dir}"
            );
        }
        // Not on PATH at all: the fix names where the installer puts it.
        let (_, fix) = gui_path_problem(Platform::Macos, None, &nowhere).unwrap();
        assert!(
            fix.contains("~/.local/bin/docker-credential-harbor"),
            "{fix}"
        );
        for platform in [Platform::Linux, Platform::Windows] {
            assert_eq!(gui_path_problem(platform, Some(local), &nowhere), None);
        }
    }

    /// Helm's own directory: XDG_CONFIG_HOME everywhere, else the platform's.
    #[test]
    fn helm_keeps_its_config_where_helmpath_says() {
        let appdata = vars(&[("APPDATA", r"C:\Users\jdoe\AppData\Roaming")]);
        let xdg = vars(&[("XDG_CONFIG_HOME", "/xdg")]);
        let own = vars(&[("HELM_CONFIG_HOME", "/h"), ("XDG_CONFIG_HOME", "/xdg")]);
        for (platform, home) in homes() {
            let want = match platform {
                Platform::Linux => home.join(".config/helm"),
                Platform::Macos => home.join("Library/Preferences/helm"),
                Platform::Windows => PathBuf::from(r"C:\Users\jdoe\AppData\Roaming").join("helm"),
            };
            assert_eq!(
                helm_config_dir_on(platform, &home, &appdata),
                want,
                "{platform:?}"
            );
            assert_eq!(
                helm_config_dir_on(platform, &home, &xdg),
                Path::new("/xdg/helm")
            );
            assert_eq!(helm_config_dir_on(platform, &home, &own), Path::new("/h"));
        }
    }

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
