//! install.sh from this checkout into a temporary HOME and PREFIX: it builds
//! the release's static Linux binary (issue 34), installs, configures docker
//! and podman, changes nothing when run again, and `--uninstall` leaves no
//! trace of the tool in those files; without musl-gcc it says so in one line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::bin;
use common::text::{self, Normal};
use serde_json::Value;

const ORIGINAL_DOCKER_CONFIG: &str = r#"{
  "auths": {"quay.io": {"auth": "eDp5"}},
  "credsStore": "desktop",
  "credHelpers": {"gcr.io": "gcloud"},
  "experimental": "enabled"
}"#;

struct Home {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    prefix: PathBuf,
}

impl Home {
    fn new() -> Home {
        let tmp = tempfile::Builder::new()
            .prefix("dch-install-")
            .tempdir()
            .unwrap();
        let home = tmp.path().join("home");
        let prefix = tmp.path().join("prefix");
        std::fs::create_dir_all(home.join(".docker")).unwrap();
        std::fs::write(home.join(".docker/config.json"), ORIGINAL_DOCKER_CONFIG).unwrap();
        Home {
            _tmp: tmp,
            home,
            prefix,
        }
    }

    fn vars(&self, path: &str) -> BTreeMap<String, String> {
        let mut v = BTreeMap::new();
        v.insert("HOME".into(), self.home.to_string_lossy().into_owned());
        v.insert("PREFIX".into(), self.prefix.to_string_lossy().into_owned());
        v.insert("PATH".into(), path.to_string());
        // Share the project's build directory: a release build is minutes on 2 cores.
        v.insert(
            "CARGO_TARGET_DIR".into(),
            bin::repo().join("target").to_string_lossy().into_owned(),
        );
        if let Ok(h) = std::env::var("CARGO_HOME") {
            v.insert("CARGO_HOME".into(), h);
        }
        if let Ok(h) = std::env::var("RUSTUP_HOME") {
            v.insert("RUSTUP_HOME".into(), h);
        }
        v.insert("DOCKER_CREDENTIAL_HARBOR_STORE".into(), "keyutils".into());
        v
    }

    fn install(&self, args: &[&str], path: &str) -> bin::Output {
        let script = bin::repo().join("install.sh");
        let mut all = vec![script.to_str().unwrap()];
        all.extend_from_slice(args);
        bin::run_bounded("sh", all, &self.vars(path), b"", Duration::from_secs(900))
    }

    /// HOME as `$HOME`, the prefix as `$PREFIX`, this version as `$VERSION`,
    /// the build target (it varies with the machine) as `$TARGET`.
    fn normal(&self) -> Normal {
        Normal::new()
            .name(&self.home.display().to_string(), "$HOME")
            .name(&self.prefix.display().to_string(), "$PREFIX")
            .name(bin::VERSION, "$VERSION")
            .name(
                &format!("{}-unknown-linux-musl", std::env::consts::ARCH),
                "$TARGET",
            )
    }

    fn docker_config(&self) -> PathBuf {
        self.home.join(".docker/config.json")
    }

    fn auth_json(&self) -> PathBuf {
        self.home.join(".config/containers/auth.json")
    }

    fn binary(&self) -> PathBuf {
        self.prefix.join("bin/docker-credential-harbor")
    }
}

/// PATH with cargo and the usual tools, but not the install prefix (nor
/// any helper installed on the machine).
fn path_with_cargo() -> String {
    bin::system_path()
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())),
    )
    .unwrap()
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn install_rerun_and_uninstall() {
    common::keychain::require_own_session_keyring();
    let h = Home::new();
    let out = h.install(&[], &path_with_cargo());
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&h.normal(), &out.stdout, "\
Building docker-credential-harbor ($TARGET, release)...
Installed $PREFIX/bin/docker-credential-harbor.
docker: $HOME/.docker/config.json: added credHelpers[hub.k8s.ucar.edu] = \"harbor\"
docker: $HOME/.docker/config.json: added credHelpers[hub.k8s.ucar.edu:443] = \"harbor\"
podman/skopeo/buildah: $HOME/.config/containers/auth.json: added credHelpers[hub.k8s.ucar.edu] = \"harbor\"
podman/skopeo/buildah: $HOME/.config/containers/registries.conf.d/50-docker-credential-harbor.conf: asks this helper first, so `podman logout --all` cannot turn it off
Next: docker-credential-harbor login    (paste the CLI secret from your Harbor User Profile)
");
    assert!(
        out.stderr.contains("is not on PATH"),
        "the prefix is not on PATH: warn\n{out}"
    );
    let bin_path = h.binary();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&bin_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "installed binary is executable");
    }
    // The release's Linux build: static (no loader) and not a PIE.
    let bytes = std::fs::read(&bin_path).unwrap();
    assert_eq!(common::dist::elf_interpreter(&bytes), None, "static");
    assert_eq!(
        common::dist::elf_type(&bytes),
        common::dist::ET_EXEC,
        "non-PIE"
    );

    // docker: credHelpers added, everything else kept.
    let docker = json(&h.docker_config());
    let original: Value = serde_json::from_str(ORIGINAL_DOCKER_CONFIG).unwrap();
    assert_eq!(docker["credHelpers"]["hub.k8s.ucar.edu"], "harbor");
    assert_eq!(docker["credHelpers"]["gcr.io"], "gcloud");
    for k in ["auths", "credsStore", "experimental"] {
        assert_eq!(docker[k], original[k], "{k} kept");
    }
    // podman/skopeo/buildah: a new private auth.json.
    assert_eq!(
        json(&h.auth_json())["credHelpers"]["hub.k8s.ucar.edu"],
        "harbor"
    );
    assert_eq!(bin::mode_of(&h.auth_json()), 0o600);

    // The installed binary is the helper.
    let v = bin::run_bounded(
        bin_path.to_str().unwrap(),
        ["version"],
        &h.vars(&path_with_cargo()),
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(v.code(), 0, "{v}");
    assert!(
        v.stdout
            .starts_with("docker-credential-harbor (docker-credential-harbor) "),
        "{v}"
    );

    // Again: nothing changes.
    let before = (
        std::fs::read(h.docker_config()).unwrap(),
        std::fs::read(h.auth_json()).unwrap(),
        mtime(&bin_path),
    );
    let out = h.install(
        &[],
        &format!("{}:{}", h.prefix.join("bin").display(), path_with_cargo()),
    );
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(
        &h.normal(),
        &out.stdout,
        "\
Building docker-credential-harbor ($TARGET, release)...
$PREFIX/bin/docker-credential-harbor is up to date.
docker: $HOME/.docker/config.json: hub.k8s.ucar.edu already uses this helper
docker: $HOME/.docker/config.json: hub.k8s.ucar.edu:443 already uses this helper
podman/skopeo/buildah: $HOME/.config/containers/auth.json: hub.k8s.ucar.edu already uses this helper
Next: docker-credential-harbor login    (paste the CLI secret from your Harbor User Profile)
",
    );
    assert!(!out.stderr.contains("not on PATH"), "{out}");
    assert_eq!(
        std::fs::read(h.docker_config()).unwrap(),
        before.0,
        "config.json unchanged by a rerun"
    );
    assert_eq!(
        std::fs::read(h.auth_json()).unwrap(),
        before.1,
        "auth.json unchanged by a rerun"
    );
    assert_eq!(mtime(&bin_path), before.2, "binary not rewritten");

    // Uninstall: no trace of the tool in those files.
    let out = h.install(&["--uninstall"], &path_with_cargo());
    assert_eq!(out.code(), 0, "{out}");
    assert!(!bin_path.exists(), "binary removed");
    assert_eq!(
        json(&h.docker_config()),
        original,
        "config.json back to the original, semantically"
    );
    assert!(
        !h.auth_json().exists(),
        "auth.json that install created is gone"
    );
    let text = std::fs::read_to_string(h.docker_config()).unwrap();
    assert!(!text.contains("harbor"), "{text}");
    // Uninstalling twice is fine.
    let out = h.install(&["--uninstall"], &path_with_cargo());
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&h.normal(), &out.stdout, "\
$PREFIX/bin/docker-credential-harbor is not installed; nothing to remove.
Secrets you stored stay in the OS keychain; run 'docker-credential-harbor logout REGISTRY' before uninstalling to remove them.
");
}

/// A directory of symlinks to `tools`, found on the machine's PATH: a PATH
/// that has just those.
fn only_tools(tools: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var("PATH").unwrap();
    for t in tools {
        let src = std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
            .map(|d| d.join(t))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{t} is on PATH"));
        std::os::unix::fs::symlink(src, dir.path().join(t)).unwrap();
    }
    dir
}

#[test]
fn install_without_musl_gcc_says_so_and_changes_nothing() {
    let h = Home::new();
    let tools = only_tools(&["sh", "dirname", "id", "cat", "sed", "uname", "cargo", "cc"]);
    let out = h.install(&[], tools.path().to_str().unwrap());
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(
        out.stderr,
        "install.sh: the static build needs musl-gcc: install it (Debian, Ubuntu: apt install \
         musl-tools; Fedora: dnf install musl-gcc), or run ./install.sh --glibc for a build \
         against this system's C library (a warm get then takes about twice as long)\n",
        "{out}"
    );
    assert!(!h.binary().exists());
    assert_eq!(
        std::fs::read_to_string(h.docker_config()).unwrap(),
        ORIGINAL_DOCKER_CONFIG,
        "nothing touched"
    );
}

#[test]
fn install_without_cargo_says_so() {
    let h = Home::new();
    // A PATH with the shell tools but no cargo.
    let tools = only_tools(&["sh", "dirname", "id", "cat", "sed"]);
    let out = h.install(&[], tools.path().to_str().unwrap());
    assert_eq!(out.code(), 1, "{out}");
    text::assert_text(
        &h.normal(),
        &out.stderr,
        "install.sh: cargo not found: install Rust first (https://rustup.rs), then run this again\n",
    );
    assert!(!h.binary().exists());
    assert_eq!(
        std::fs::read_to_string(h.docker_config()).unwrap(),
        ORIGINAL_DOCKER_CONFIG,
        "nothing touched"
    );
}
