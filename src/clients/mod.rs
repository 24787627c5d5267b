//! Where each client keeps its registry logins: docker's `config.json`,
//! containers' `auth.json` (podman, skopeo, buildah) and its per-boot copy,
//! Helm's and Apptainer's files, and the name these files give this helper.
//! `auth_file` edits them; `configure` and `doctor` walk them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::Result;

pub mod auth_file;
mod managed;
mod paths;
pub use managed::*;
pub use paths::*;

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

/// One client, said in one place: how messages name it, the files its
/// `login` writes in order (what `configure` edits), what it reads (what
/// `doctor` walks), and its ways with those files. A new client is one row
/// here (and, when its files have rules of their own, a function in
/// `paths.rs`).
pub struct Row {
    pub client: Client,
    pub who: &'static str,
    pub selected: Selected,
    pub login_files: fn() -> Result<Vec<PathBuf>>,
    /// The files `doctor` walks for it, in its read order, given docker's
    /// file; `true` marks docker's file read as a fallback. `None`: doctor
    /// has a report of its own for this client (docker's, containers').
    pub reads: Option<Reads>,
    /// Another spelling of a key the client looks up first, which its file
    /// must route too (nerdctl's `host:443` in docker's file).
    pub also_asks: fn(&str) -> Option<String>,
    /// A `credsStore` in its file keeps logins that have no `credHelpers` entry.
    pub honours_creds_store: bool,
    /// The store the client picks by itself while its file holds no auth
    /// (Helm), which a `credHelpers` entry would turn off.
    pub native_store: Option<fn() -> Option<&'static str>>,
    /// Its `registry logout` acts only on a registry with an `auths` entry
    /// (else "no existing login"): with a `credHelpers` entry that entry
    /// holds no secret, as docker's own login leaves it.
    pub logout_needs_auths_entry: bool,
}

/// The files a client reads, given docker's (see [`Row::reads`]).
pub type Reads = fn(docker: &Path) -> Result<Vec<(PathBuf, bool)>>;

/// A client that reads its own file, when it has one, and nothing else.
fn own_file_only(file: Option<PathBuf>) -> Result<Vec<(PathBuf, bool)>> {
    Ok(file.map(|p| (p, false)).into_iter().collect())
}

/// No other spelling.
fn only_the_key(_: &str) -> Option<String> {
    None
}

/// nerdctl 2.x looks a registry up as `host:443` before `host`: give that
/// spelling the helper too (the helper maps it to the same key).
fn nerdctl_key(key: &str) -> Option<String> {
    let has_port = !key.ends_with(']') && key.contains(':');
    (!key.contains("://") && !has_port).then(|| format!("{key}:443"))
}

pub const CLIENTS: [Row; 5] = [
    Row {
        client: Client::Docker,
        who: "docker",
        selected: Selected::Docker,
        login_files: || Ok(vec![docker_config_path()?]),
        reads: None,
        also_asks: nerdctl_key,
        honours_creds_store: true,
        native_store: None,
        logout_needs_auths_entry: false,
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
        reads: None,
        also_asks: only_the_key,
        honours_creds_store: false,
        native_store: None,
        logout_needs_auths_entry: false,
    },
    Row {
        client: Client::Helm,
        who: "helm",
        selected: Selected::Neither,
        login_files: || Ok(helm_registry_config_path()?.into_iter().collect()),
        // Its own file, then docker's.
        reads: Some(|docker| {
            Ok(match helm_registry_config_path()? {
                Some(helm) => vec![(helm, false), (docker.to_path_buf(), true)],
                None => Vec::new(),
            })
        }),
        also_asks: only_the_key,
        honours_creds_store: true,
        native_store: Some(helm_native_store),
        logout_needs_auths_entry: false,
    },
    Row {
        client: Client::Apptainer,
        who: "apptainer",
        selected: Selected::Neither,
        login_files: || Ok(apptainer_config_path()?.into_iter().collect()),
        // Its own file if it exists, else docker's (never both).
        reads: Some(|_| own_file_only(apptainer_config_path()?)),
        also_asks: only_the_key,
        honours_creds_store: false,
        native_store: None,
        logout_needs_auths_entry: true,
    },
    Row {
        client: Client::Singularity,
        who: "singularity",
        selected: Selected::Neither,
        login_files: || Ok(singularity_config_path()?.into_iter().collect()),
        // Its own file only.
        reads: Some(|_| own_file_only(singularity_config_path()?)),
        also_asks: only_the_key,
        honours_creds_store: false,
        native_store: None,
        logout_needs_auths_entry: true,
    },
];

impl Client {
    /// Its row in [`CLIENTS`].
    pub fn row(self) -> &'static Row {
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
    crate::state::paths::home()
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
    crate::clients::auth_file::AuthFile::open(path).is_ok_and(|f| {
        f.keys_with_helper(HELPER)
            .iter()
            .any(|k| crate::registry::normalize(k).is_ok_and(|n| n == key))
    })
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
    use crate::platform::Platform;
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
