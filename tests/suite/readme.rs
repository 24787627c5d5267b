//! The README's commands, run. Every command line in a command block (`sh`,
//! `powershell`, `bat`) of README.md and of every page in docs/ (docs/*.md)
//! is matched to one row of [`CHECKS`] by its start (the longest matching
//! start wins). The row runs the line itself, in a temporary
//! HOME with the kernel keyring forced (the suite runs under `keyctl session -`),
//! against the rig's Harbor stand-in and docker-registry, and asserts its exit
//! status and a key line of its output. Only these README names are changed:
//! `hub.k8s.ucar.edu` becomes the rig's registry (and is the default registry
//! through `DOCKER_CREDENTIAL_HARBOR_REGISTRY`), `PROJECT/REPO:TAG` an image
//! pushed there, `registry.example.org:5000` a TLS registry on 127.0.0.1.
//!
//! A README line that no row matches fails the test: add a row that runs it
//! (or, where running it here is impossible, a `CannotRun` row that says why
//! and checks what can be checked). Each check sets up what it needs itself,
//! so rows do not depend on the README's order.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::bin::{self, Env, NAME, Output};
use common::dist;
use common::docker::{self, Dockerd, Podman};
use common::docs;
use common::harbor::{Account, HarborStandin, StandinOptions, now};
use common::keychain::KeyutilsCleanup;
use common::oci::make_oci_layout_with_digest;
use common::registry::{Harbor, Registry};
use common::rig::KeyringUser;
use serde_json::Value;

const USER: &str = "jdoe@ucar.edu";
const USER_SECRET: &str = "cli-secret-readme-jdoe-5c1e";
const ROBOT: &str = "robot-myproj+ci";
const ROBOT_SECRET: &str = "robot-secret-readme-77d0";
const TLS_USER: &str = "tls-user";
const TLS_SECRET: &str = "tls-secret-readme-a91f";
const REGISTRY_ENV: &str = "DOCKER_CREDENTIAL_HARBOR_REGISTRY";
/// The README's `PROJECT/REPO:TAG`.
const IMAGE: &str = "readme/app:v1";

type Check = fn(&mut Tour, &str);

enum How {
    /// Run the line and assert what it does.
    Run(Check),
    /// The line cannot run here, for the reason given; the check asserts
    /// what can be asserted instead.
    CannotRun(&'static str, Check),
}
use How::{CannotRun, Run};

/// (start of a README command line, how it is checked).
const CHECKS: &[(&str, How)] = &[
    ("./install.sh --uninstall", Run(install_uninstall)),
    ("./install.sh", Run(install)),
    (
        "keyctl session - cargo test --locked",
        CannotRun(
            "it runs this very test suite, which would recurse",
            suite_is_what_ci_runs,
        ),
    ),
    (
        "sudo .ci/run",
        CannotRun(
            "it installs Debian packages as root and then runs this very test suite, which \
             would recurse",
            ci_run_installs_then_runs_the_readme_test_command,
        ),
    ),
    (
        "docker-credential-harbor login --robot-file",
        Run(login_robot_file),
    ),
    (
        "docker-credential-harbor login -u",
        Run(login_password_stdin),
    ),
    (
        "docker-credential-harbor login registry.example.org:5000",
        Run(login_trusting_certs_d),
    ),
    ("docker-credential-harbor login", Run(login_prompting)),
    ("docker-credential-harbor status --check", Run(status_check)),
    ("docker-credential-harbor status", Run(status)),
    ("docker-credential-harbor renew", Run(renew)),
    ("docker-credential-harbor logout", Run(logout)),
    (
        "docker-credential-harbor configure --undo",
        Run(configure_undo),
    ),
    ("docker-credential-harbor configure", Run(configure)),
    (
        "docker-credential-harbor kube-secret",
        CannotRun(
            "`kubectl apply` needs a Kubernetes cluster; the helper's half of the pipe runs",
            kube_secret,
        ),
    ),
    (
        "export DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL=off",
        Run(check_interval_off),
    ),
    ("mkdir -p ~/.config/containers/certs.d/", Run(mkdir_certs_d)),
    (
        "cp ca.pem ~/.config/containers/certs.d/",
        Run(cp_ca_to_certs_d),
    ),
    ("docker pull", Run(docker_pull)),
    ("docker push", Run(docker_push)),
    ("podman login", Run(podman_login)),
    ("podman pull", Run(podman_pull)),
    ("podman logout", Run(podman_logout)),
    ("buildah push", Run(buildah_push)),
    ("docker-credential-harbor doctor", Run(doctor)),
    (
        "gpg --batch --passphrase '' --quick-gen-key",
        Run(gpg_quick_gen_key),
    ),
    ("pass init", Run(pass_init)),
    ("skopeo inspect", Run(skopeo_inspect)),
    (
        "curl --proto '=https' --tlsv1.2 -LsSf ",
        CannotRun(
            "it downloads from GitHub, which CI cannot reach; tests/suite/release.rs runs this very line \
             against the release artifacts served from loopback HTTPS",
            release_line_is_the_tested_one,
        ),
    ),
    (
        "powershell -ExecutionPolicy Bypass",
        CannotRun(NO_POWERSHELL, readme_says_powershell_did_not_run),
    ),
    (
        "brew ",
        CannotRun(NO_HOMEBREW, readme_says_homebrew_did_not_run),
    ),
    (
        "cp docker-credential-harbor.rb ",
        CannotRun(NO_HOMEBREW, readme_says_homebrew_did_not_run),
    ),
    ("sudo apt install ./", Run(apt_install_deb)),
    (
        "sudo dnf install ./",
        CannotRun(
            "dnf is not in Debian; tests/suite/packages.rs checks the .rpm with rpm -qlp and installs it \
             with rpm into an empty root, where its static binary runs",
            dnf_line_names_the_rpm,
        ),
    ),
    ("sha256sum -c ", Run(checksum_line)),
    ("shasum -a 256 -c ", Run(checksum_line)),
    (
        "New-Item ",
        CannotRun(NO_POWERSHELL, readme_says_powershell_did_not_run),
    ),
    (
        "Copy-Item ",
        CannotRun(NO_POWERSHELL, readme_says_powershell_did_not_run),
    ),
    (
        "[Environment]::SetEnvironmentVariable",
        CannotRun(NO_POWERSHELL, readme_says_powershell_did_not_run),
    ),
    (
        "$env:Path",
        CannotRun(NO_POWERSHELL, readme_says_powershell_did_not_run),
    ),
];

const NO_POWERSHELL: &str = "PowerShell does not run here (no Debian package); the \
     helper's own lines of these blocks run with the Linux build, and tests/suite/windows.rs \
     runs them with the Windows build under Wine";

/// Code block languages: those whose lines are commands, and those that are not.
const COMMAND_BLOCKS: &[&str] = &["sh", "powershell", "bat"];
const OTHER_BLOCKS: &[&str] = &["text", "yaml", "json"];

fn readme() -> String {
    docs::page("README.md")
}

/// A page of docs/ (test reports, figures, release internals moved out of
/// the README), e.g. `doc("windows.md")`.
fn doc(name: &str) -> String {
    docs::page(&format!("docs/{name}"))
}

/// README.md, then every docs/*.md (sorted): (name, text).
fn pages() -> Vec<(String, String)> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(bin::repo().join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    let mut out = vec![("README.md".to_string(), readme())];
    for p in docs {
        let name = format!("docs/{}", p.file_name().unwrap().to_string_lossy());
        out.push((name, std::fs::read_to_string(&p).unwrap()));
    }
    out
}

/// Command lines of the command blocks of README.md and docs/*.md, comments
/// stripped, each distinct line once (the same line does the same thing).
fn readme_commands() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (page, text) in pages() {
        let mut in_commands = None;
        for line in text.lines() {
            let t = line.trim();
            if let Some(lang) = t.strip_prefix("```") {
                in_commands = match in_commands {
                    Some(_) => None,
                    None if COMMAND_BLOCKS.contains(&lang) => Some(true),
                    None if OTHER_BLOCKS.contains(&lang) => Some(false),
                    None => panic!(
                        "{page} has a ```{lang} block: tests/suite/readme.rs does not know whether \
                         it holds commands; add the language to COMMAND_BLOCKS (and rows to \
                         CHECKS) or to OTHER_BLOCKS"
                    ),
                };
                continue;
            }
            if in_commands == Some(true) {
                let cmd = t.split(" #").next().unwrap().trim();
                if !cmd.is_empty() && !cmd.starts_with('#') && !out.iter().any(|c| c == cmd) {
                    out.push(cmd.to_string());
                }
            }
        }
    }
    out
}

/// The row for `cmd`: the longest start that matches.
fn row_for(cmd: &str) -> Option<&'static (&'static str, How)> {
    CHECKS
        .iter()
        .filter(|(start, _)| cmd.starts_with(start))
        .max_by_key(|(start, _)| start.len())
}

#[test]
fn every_readme_command_has_a_behaviour_check() {
    let cmds = readme_commands();
    assert!(cmds.len() >= 20, "found the README's commands: {cmds:?}");
    let unknown: Vec<&String> = cmds.iter().filter(|c| row_for(c).is_none()).collect();
    assert!(
        unknown.is_empty(),
        "README command lines without a behaviour check in tests/suite/readme.rs: {unknown:#?}\n\
         Add a row to CHECKS that runs the line and asserts what it does (or a CannotRun \
         row saying why it cannot run here)."
    );
}

#[test]
fn readme_commands_do_what_the_readme_says() {
    let mut tour = Tour::new();
    let mut not_run = Vec::new();
    for cmd in readme_commands() {
        let Some((start, how)) = row_for(&cmd) else {
            // every_readme_command_has_a_behaviour_check names it.
            continue;
        };
        eprintln!("README: {cmd}");
        let (why, check) = match how {
            Run(check) => (None, check),
            CannotRun(why, check) => (Some(why), check),
        };
        if let Some(why) = why {
            not_run.push(format!("{cmd}: {why}"));
        }
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&mut tour, &cmd)));
        if ran.is_err() {
            panic!(
                "the README line {cmd:?} does not do what its check (the row {start:?} in \
                 tests/suite/readme.rs) expects: see the failure above"
            );
        }
    }
    eprintln!("Not run, checked otherwise:\n  {}", not_run.join("\n  "));
}

// ---------------------------------------------------------------------------
// The rig the README's commands run against

struct Tour {
    // Drop order: kernel-keyring entries, clients, registries, stand-in, dirs.
    _cleanup: KeyutilsCleanup,
    podman: Option<Podman>,
    dockerd: Option<Arc<Dockerd>>,
    tls: Registry,
    registry: Registry,
    standin: HarborStandin,
    /// The user's HOME and XDG dirs.
    env: Env,
    /// Where the commands run (`ca.pem`, robot files, `secret.txt`).
    cwd: tempfile::TempDir,
    /// The install.sh user: a HOME and PREFIX of its own.
    install_home: tempfile::TempDir,
    /// Whether `PROJECT/REPO:TAG` is in the rig's registry.
    pushed: bool,
}

impl Tour {
    fn new() -> Tour {
        let Harbor { registry, standin } = Harbor::start_with(StandinOptions {
            accounts: vec![
                Account::user(USER, USER_SECRET),
                Account::robot(ROBOT, ROBOT_SECRET),
            ],
            ..StandinOptions::default()
        });
        let tls = Registry::start_tls_basic(TLS_USER, TLS_SECRET);
        let KeyringUser {
            keyring: cleanup,
            mut env,
        } = KeyringUser::new();
        // The user's default environment: no XDG_CONFIG_HOME, XDG_DATA_HOME or
        // XDG_CACHE_HOME, so `~/.config/...` in the README is what is read.
        for var in ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"] {
            env.unset(var);
        }
        env.set(REGISTRY_ENV, &registry.addr());
        for s in [USER_SECRET, ROBOT_SECRET, TLS_SECRET] {
            env.watch_secret(s);
        }
        cleanup.add(&registry.addr());
        cleanup.add(&tls.addr());
        let temp = |p: &str| tempfile::Builder::new().prefix(p).tempdir().unwrap();
        Tour {
            _cleanup: cleanup,
            podman: None,
            dockerd: None,
            tls,
            registry,
            standin,
            env,
            cwd: temp("dch-readme-cwd-"),
            install_home: temp("dch-readme-install-"),
            pushed: false,
        }
    }

    fn key(&self) -> String {
        self.registry.addr()
    }

    /// The line with the README's names replaced by the rig's.
    fn local(&self, line: &str) -> String {
        line.replace("registry.example.org:5000", &self.tls.addr())
            .replace("hub.k8s.ucar.edu", &self.key())
            .replace("PROJECT/REPO:TAG", IMAGE)
    }

    /// The variables a README line runs with: the user's, the helper first
    /// on PATH as `docker-credential-harbor`, `sh` as the shell.
    fn vars(&self) -> std::collections::BTreeMap<String, String> {
        let mut vars = self.env.vars().clone();
        let path = bin::system_path();
        let helper = docker::helper_dir(&self.env);
        vars.insert("PATH".into(), format!("{}:{path}", helper.display()));
        vars.insert("SHELL".into(), "/bin/sh".into());
        vars
    }

    /// Run `line` (README names replaced) with `sh -c` in the tour's directory.
    fn sh(&self, line: &str) -> Output {
        self.sh_with(line, &[])
    }

    fn sh_with(&self, line: &str, extra: &[(&str, &str)]) -> Output {
        let mut vars = self.vars();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let script = format!("cd '{}' && {}", self.cwd.path().display(), self.local(line));
        let out = bin::run_bounded("sh", ["-c", script.as_str()], &vars, b"", bin::RUN_LIMIT);
        for s in self.env.watched_secrets() {
            assert!(!out.stderr.contains(&s), "a secret on stderr\n{out}");
        }
        out
    }

    /// Run `line` on a terminal (`script`), typing each answer after its
    /// prompt appears; returns the exit status and everything the terminal showed.
    fn on_terminal(&self, line: &str, answers: &[(&str, &str)]) -> (bool, String) {
        let script = format!("cd '{}' && {}", self.cwd.path().display(), self.local(line));
        let (ok, shown) = bin::on_terminal(&script, &self.vars(), answers);
        for s in self.env.watched_secrets() {
            assert!(!shown.contains(&s), "a secret was echoed\n{shown}");
        }
        (ok, shown)
    }

    /// The user logged in to the rig's registry with the CLI secret.
    fn logged_in(&self) {
        let out = bin::run(
            &self.env,
            &["login", "-u", USER, "--password-stdin"],
            format!("{USER_SECRET}\n").as_bytes(),
        );
        assert!(out.success(), "{out}");
    }

    fn entry(&self) -> Value {
        let idx: Value = serde_json::from_slice(&self.env.index_bytes().unwrap_or_default())
            .unwrap_or(Value::Null);
        idx["registries"][self.key()].clone()
    }

    fn token_requests(&self) -> usize {
        self.standin
            .token_log()
            .iter()
            .filter(|e| e.scopes.is_empty())
            .count()
    }

    fn docker_config(&self) -> Value {
        read_json(&docker::docker_config_file(&self.env))
    }

    fn dockerd(&mut self) -> Arc<Dockerd> {
        self.dockerd.get_or_insert_with(Dockerd::shared).clone()
    }

    /// `PROJECT/REPO:TAG` exists in the rig's registry.
    fn image_pushed(&mut self) {
        if self.pushed {
            return;
        }
        self.logged_in();
        docker::configure_clients(&self.env, &[&self.key()]);
        let layout = self.cwd.path().join("layout");
        make_oci_layout_with_digest(&layout, "v1");
        let src = format!("oci:{}:v1", layout.display());
        let dest = format!("docker://{}/{IMAGE}", self.key());
        let out = docker::skopeo(&self.env, &["copy", "--dest-tls-verify=false", &src, &dest]);
        docker::assert_ok(&out, "push the README's image with skopeo");
        self.pushed = true;
    }

    /// The command words after `program`, README names replaced.
    fn args_after(&self, cmd: &str, program: &str) -> Vec<String> {
        self.local(cmd)
            .strip_prefix(program)
            .unwrap_or_else(|| panic!("{cmd:?} starts with {program:?}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }
}

fn read_json(p: &Path) -> Value {
    match std::fs::read(p) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        Err(_) => Value::Null,
    }
}

// ---------------------------------------------------------------------------
// install.sh

fn install_vars(home: &Path) -> std::collections::BTreeMap<String, String> {
    let mut v = std::collections::BTreeMap::new();
    v.insert("HOME".into(), home.join("home").display().to_string());
    v.insert("PREFIX".into(), home.join("prefix").display().to_string());
    v.insert("PATH".into(), bin::system_path());
    // The project's build directory: a fresh release build takes minutes.
    v.insert(
        "CARGO_TARGET_DIR".into(),
        bin::repo().join("target").display().to_string(),
    );
    for k in ["CARGO_HOME", "RUSTUP_HOME"] {
        if let Ok(h) = std::env::var(k) {
            v.insert(k.into(), h);
        }
    }
    v.insert(bin::STORE_ENV.into(), "keyutils".into());
    v
}

/// Run an install.sh line from the README in the checkout, as the install user.
fn install_sh(t: &Tour, cmd: &str) -> Output {
    let script = format!("cd '{}' && {cmd}", bin::repo().display());
    bin::run_bounded(
        "sh",
        ["-c", script.as_str()],
        &install_vars(t.install_home.path()),
        b"",
        Duration::from_secs(900),
    )
}

fn installed(t: &Tour) -> (PathBuf, Value) {
    let h = t.install_home.path();
    (
        h.join("prefix/bin/docker-credential-harbor"),
        read_json(&h.join("home/.docker/config.json")),
    )
}

fn install(t: &mut Tour, cmd: &str) {
    let out = install_sh(t, cmd);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("Installed") || out.stdout.contains("is up to date"),
        "{out}"
    );
    let (binary, docker) = installed(t);
    let version = bin::run_bounded(
        binary.to_str().unwrap(),
        ["version"],
        &Default::default(),
        b"",
        bin::RUN_LIMIT,
    );
    assert!(
        version.success() && version.stdout.starts_with(bin::NAME),
        "{version}"
    );
    // "runs configure, which adds credHelpers to docker's config.json and to auth.json"
    assert_eq!(docker["credHelpers"]["hub.k8s.ucar.edu"], "harbor", "{out}");
    let auth = read_json(
        &t.install_home
            .path()
            .join("home/.config/containers/auth.json"),
    );
    assert_eq!(auth["credHelpers"]["hub.k8s.ucar.edu"], "harbor", "{out}");
}

fn install_uninstall(t: &mut Tour, cmd: &str) {
    if !installed(t).0.exists() {
        install(t, "./install.sh");
    }
    let out = install_sh(t, cmd);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("Removed"), "{out}");
    let (binary, docker) = installed(t);
    assert!(!binary.exists(), "the binary is gone\n{out}");
    assert_eq!(
        docker["credHelpers"].get("hub.k8s.ucar.edu"),
        None,
        "configure --undo ran\n{out}"
    );
}

/// The README's one command that installs what the tests need and runs them
/// (issue 23: on a fresh machine the README's two set-up commands must do
/// everything): .ci/run is executable, installs the packages, and then runs
/// the README's test command.
fn ci_run_installs_then_runs_the_readme_test_command(_: &mut Tour, _: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = bin::repo().join(".ci/run");
    let mode = std::fs::metadata(&path)
        .expect(".ci/run")
        .permissions()
        .mode();
    assert!(mode & 0o111 != 0, ".ci/run must be executable: {mode:o}");
    let ci = std::fs::read_to_string(&path).unwrap();
    assert!(ci.starts_with("#!"), ".ci/run starts with a #! line");
    let lines: Vec<&str> = ci.lines().map(str::trim).collect();
    let install = lines
        .iter()
        .position(|l| l.starts_with("apt-get install"))
        .expect(".ci/run installs the test packages with apt-get");
    let test = "keyctl session - cargo test --locked";
    assert!(
        readme()
            .lines()
            .any(|l| l.trim().split(" #").next().unwrap().trim() == test),
        "README.md gives the test command {test:?} (.ci/run runs it exactly as README.md gives it)"
    );
    let run = lines
        .iter()
        .position(|l| *l == test)
        .expect(".ci/run runs the README's test command");
    assert!(
        install < run,
        ".ci/run installs the packages before it runs the tests"
    );
}

fn suite_is_what_ci_runs(_: &mut Tour, cmd: &str) {
    let ci = std::fs::read_to_string(bin::repo().join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == cmd),
        ".ci/run must run exactly {cmd:?}"
    );
    // The part that makes the kernel keyring usable: a session keyring of its own.
    let out = bin::run_bounded(
        "keyctl",
        ["session", "-", "keyctl", "show", "@s"],
        &Default::default(),
        b"",
        bin::RUN_LIMIT,
    );
    assert!(out.success() && !out.stdout.contains("_uid_ses"), "{out}");
}

// ---------------------------------------------------------------------------
// The helper's commands

fn login_prompting(t: &mut Tour, cmd: &str) {
    let (ok, shown) = t.on_terminal(cmd, &[("Username for", USER), ("CLI secret", USER_SECRET)]);
    assert!(ok, "{shown}");
    assert!(
        shown.contains(&format!("Login Succeeded: {USER}")),
        "{shown}"
    );
    assert_eq!(
        bin::get_ok(&t.env, &t.key()),
        (USER.to_string(), USER_SECRET.to_string())
    );
}

fn login_password_stdin(t: &mut Tour, cmd: &str) {
    let cmd = cmd.replace(" -u USER ", &format!(" -u {USER} "));
    let (_, file) = cmd.split_once("< ").expect("the secret comes from a file");
    let file = t.cwd.path().join(file.trim());
    std::fs::write(&file, format!("{USER_SECRET}\n")).unwrap();
    t.standin.clear_token_log();
    let out = t.sh(&cmd);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains(&format!("Login Succeeded: {USER}")),
        "{out}"
    );
    assert!(
        t.token_requests() >= 1,
        "the secret was checked with Harbor"
    );
    assert_eq!(
        bin::get_ok(&t.env, &t.key()),
        (USER.to_string(), USER_SECRET.to_string())
    );
}

fn login_robot_file(t: &mut Tour, cmd: &str) {
    // Harbor's robot export, under the name the README gives it.
    let name = cmd
        .split_whitespace()
        .last()
        .expect("the README names the robot file")
        .trim_matches('\'');
    let file = t.cwd.path().join(name);
    let expires = now() + 5 * 86_400 + 3_600;
    let json = serde_json::json!({"name": ROBOT, "secret": ROBOT_SECRET, "expires_at": expires});
    std::fs::write(&file, json.to_string()).unwrap();
    bin::set_mode(&file, 0o600);
    let out = t.sh(cmd);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains(&format!("Login Succeeded: {ROBOT}")),
        "{out}"
    );
    // "`status` then shows "expires in 5 days""
    let status = t.sh("docker-credential-harbor status");
    assert!(status.stdout.contains("expires in 5 days"), "{status}");
    assert_eq!(
        bin::get_ok(&t.env, &t.key()),
        (ROBOT.to_string(), ROBOT_SECRET.to_string())
    );
}

fn certs_d_file(t: &Tour) -> PathBuf {
    t.env
        .home
        .join(".config/containers/certs.d")
        .join(t.tls.addr())
        .join("ca.crt")
}

fn mkdir_certs_d(t: &mut Tour, cmd: &str) {
    let out = t.sh(cmd);
    assert_eq!(out.code(), 0, "{out}");
    assert!(certs_d_file(t).parent().unwrap().is_dir(), "{out}");
}

fn cp_ca_to_certs_d(t: &mut Tour, cmd: &str) {
    let ca = std::fs::read(t.tls.ca_cert().unwrap()).unwrap();
    std::fs::write(t.cwd.path().join("ca.pem"), &ca).unwrap();
    std::fs::create_dir_all(certs_d_file(t).parent().unwrap()).unwrap();
    let out = t.sh(cmd);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(std::fs::read(certs_d_file(t)).unwrap(), ca, "{out}");
}

fn login_trusting_certs_d(t: &mut Tour, cmd: &str) {
    let answers = [("Username for", TLS_USER), ("secret", TLS_SECRET)];
    // Without the CA in certs.d the certificate is not trusted...
    let file = certs_d_file(t);
    let _ = std::fs::remove_file(&file);
    let (ok, shown) = t.on_terminal(cmd, &answers);
    assert!(!ok && shown.contains("not trusted"), "{shown}");
    // ...with it (the README's mkdir and cp), login succeeds.
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::copy(t.tls.ca_cert().unwrap(), &file).unwrap();
    let (ok, shown) = t.on_terminal(cmd, &answers);
    assert!(ok, "{shown}");
    assert!(
        shown.contains(&format!("Login Succeeded: {TLS_USER}")),
        "{shown}"
    );
}

fn status(t: &mut Tour, cmd: &str) {
    t.logged_in();
    let out = t.sh(cmd);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.lines().any(|l| l == t.key())
            && out.stdout.contains(&format!("account:  {USER}")),
        "{out}"
    );
}

fn status_check(t: &mut Tour, cmd: &str) {
    t.logged_in();
    t.standin.clear_token_log();
    let out = t.sh(cmd);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("check:    accepted"), "{out}");
    assert!(t.token_requests() >= 1, "it asked the registry");
    assert_eq!(t.entry()["check"]["verdict"], "accepted", "and recorded it");
}

fn renew(t: &mut Tour, cmd: &str) {
    t.logged_in();
    // The web session ended; a person completes the sign-in in the browser.
    t.standin
        .update_account(USER, |a| a.oidc_session_expired = true);
    t.standin.set_idp_user(Some(USER));
    let browser = t.cwd.path().join("browser.sh");
    std::fs::write(
        &browser,
        "#!/bin/sh\nexec curl -sSL --max-time 20 -o /dev/null \"$1\"\n",
    )
    .unwrap();
    bin::set_mode(&browser, 0o755);
    let out = t.sh_with(cmd, &[("BROWSER", browser.to_str().unwrap())]);
    t.standin.set_idp_user(None);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains(&format!("{}/c/oidc/login", t.standin.url)),
        "it names the sign-in address\n{out}"
    );
    assert!(out.stdout.contains("accepts the CLI secret"), "{out}");
    assert_eq!(t.standin.sign_ins().last().map(String::as_str), Some(USER));
}

fn logout(t: &mut Tour, cmd: &str) {
    t.logged_in();
    let out = t.sh(cmd);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("Removed"), "{out}");
    bin::assert_not_found(&t.env, &t.key());
}

fn configure(t: &mut Tour, cmd: &str) {
    let out = t.sh(cmd);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(t.docker_config()["credHelpers"][t.key()], "harbor", "{out}");
    let auth = read_json(&t.env.home.join(".config/containers/auth.json"));
    assert_eq!(auth["credHelpers"][t.key()], "harbor", "{out}");
}

fn configure_undo(t: &mut Tour, cmd: &str) {
    configure(t, "docker-credential-harbor configure");
    let out = t.sh(cmd);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("removed credHelpers"), "{out}");
    assert_eq!(t.docker_config()["credHelpers"].get(t.key()), None, "{out}");
}

fn kube_secret(t: &mut Tour, cmd: &str) {
    t.logged_in();
    let (helper, kubectl) = cmd.split_once(" | ").expect("a pipe into kubectl");
    assert_eq!(kubectl, "kubectl apply -f -");
    let out = t.sh(helper);
    assert_eq!(out.code(), 0, "{out}");
    for want in [
        "kind: Secret",
        "name: harbor-pull",
        "namespace: myns",
        "kubernetes.io/dockerconfigjson",
    ] {
        assert!(out.stdout.contains(want), "{want:?}\n{out}");
    }
}

fn check_interval_off(t: &mut Tour, cmd: &str) {
    t.logged_in();
    // Pacing, not synchronisation: the 1 s interval of the control must pass.
    std::thread::sleep(Duration::from_millis(1100));
    t.standin.clear_token_log();
    // Checks every second until the README's line turns them off.
    let every_second = [("DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL", "1")];
    let get = format!("printf %s {} | docker-credential-harbor get", t.key());
    let out = t.sh_with(&format!("{cmd}; {get}"), &every_second);
    assert_eq!(out.code(), 0, "{out}");
    t.env.wait_for_checks_done();
    assert_eq!(t.token_requests(), 0, "no check with the interval off");
    // The control: the same get without the line checks.
    let out = t.sh_with(&get, &every_second);
    assert_eq!(out.code(), 0, "{out}");
    t.env.wait_for_checks_done();
    assert_eq!(t.token_requests(), 1, "the control checked");
}

// ---------------------------------------------------------------------------
// docker, podman, skopeo

fn docker_pull(t: &mut Tour, cmd: &str) {
    t.image_pushed();
    // An earlier README line may have logged out or undone configure: this
    // one starts logged in and configured.
    t.logged_in();
    docker::configure_clients(&t.env, &[&t.key()]);
    let d = t.dockerd();
    let args = t.args_after(cmd, "docker ");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = d.docker(&t.env, &args);
    docker::assert_ok(&out, cmd);
    assert!(out.stdout.contains("Status:"), "{out}");
}

fn docker_push(t: &mut Tour, cmd: &str) {
    docker_pull(t, "docker pull hub.k8s.ucar.edu/PROJECT/REPO:TAG");
    let d = t.dockerd();
    let args = t.args_after(cmd, "docker ");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = d.docker(&t.env, &args);
    docker::assert_ok(&out, cmd);
    assert!(out.stdout.contains("digest: sha256:"), "{out}");
}

fn podman_login(t: &mut Tour, cmd: &str) {
    docker::configure_clients(&t.env, &[&t.key()]);
    // The rig's registry is plain HTTP: podman needs --tls-verify=false, and
    // a script-style login instead of the prompt.
    let mut args = t.args_after(cmd, "podman ");
    args.splice(
        1..1,
        ["--tls-verify=false", "-u", USER, "--password-stdin"].map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = &t.env;
    let out = t.podman.get_or_insert_with(Podman::new).podman(
        env,
        &args,
        format!("{USER_SECRET}\n").as_bytes(),
    );
    docker::assert_ok(&out, cmd);
    assert!(out.stdout.contains("Login Succeeded"), "{out}");
    // "stores through the helper"
    assert_eq!(
        bin::get_ok(&t.env, &t.key()),
        (USER.to_string(), USER_SECRET.to_string())
    );
}

fn podman_logout(t: &mut Tour, cmd: &str) {
    podman_login(t, "podman login hub.k8s.ucar.edu");
    let args = t.args_after(cmd, "podman ");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = &t.env;
    let out = t
        .podman
        .get_or_insert_with(Podman::new)
        .podman(env, &args, b"");
    docker::assert_ok(&out, cmd);
    // "removes the secret from the keychain"
    bin::assert_not_found(&t.env, &t.key());
    t.logged_in();
}

fn buildah_push(t: &mut Tour, cmd: &str) {
    t.image_pushed();
    let image = t.args_after(cmd, "buildah push ")[0].clone();
    let mut args = t.args_after(cmd, "buildah ");
    args.insert(1, "--tls-verify=false".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = &t.env;
    let p = t.podman.get_or_insert_with(Podman::new);
    let out = p.buildah(env, &["pull", "--tls-verify=false", &image], b"");
    docker::assert_ok(&out, "buildah pull (to have an image to push)");
    let out = p.buildah(env, &args, b"");
    docker::assert_ok(&out, cmd);
}

fn doctor(t: &mut Tour, cmd: &str) {
    t.logged_in();
    docker::configure_clients(&t.env, &[&t.key()]);
    let out = t.sh(&t.local(cmd));
    // Whatever it finds, it names the registry and exits 0 (nothing
    // bypasses) or 1 (something does), never a crash or usage error.
    assert!(matches!(out.code(), 0 | 1), "{out}");
    assert!(out.stdout.contains(&t.key()), "{out}");
}

fn gpg_quick_gen_key(t: &mut Tour, cmd: &str) {
    let out = t.sh(cmd);
    assert_eq!(out.code(), 0, "{out}");
    let out = t.sh("gpg --list-secret-keys you@example.org");
    assert_eq!(
        out.code(),
        0,
        "a secret key for the address the README uses\n{out}"
    );
}

/// After `pass init`, a login without a forced keychain goes to the
/// password store, and `login` says so; the tour's user then logs in
/// to the kernel keyring again, as the other rows expect.
fn pass_init(t: &mut Tour, cmd: &str) {
    let out = t.sh(cmd);
    assert_eq!(out.code(), 0, "{out}");
    let gpg_id = t.env.home.join(".password-store/.gpg-id");
    assert_eq!(
        std::fs::read_to_string(&gpg_id).ok().as_deref(),
        Some("you@example.org\n")
    );
    let auto = [(bin::STORE_ENV, None)];
    let out = bin::run_with(
        &t.env,
        &auto,
        &["login", "-u", USER, "--password-stdin"],
        format!("{USER_SECRET}\n").as_bytes(),
    );
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("kept in the password store (pass)")
            && out
                .stdout
                .contains("it survives a reboot and follows the home directory"),
        "{out}"
    );
    assert_eq!(t.entry()["store"], "pass");
    let out = bin::run_with(&t.env, &auto, &["get"], t.key().as_bytes());
    assert!(out.stdout.contains(USER_SECRET), "{out}");
    t.logged_in();
    assert_eq!(t.entry()["store"], "keyutils");
    let _ = t.sh("gpgconf --kill gpg-agent");
}

fn podman_pull(t: &mut Tour, cmd: &str) {
    t.image_pushed();
    let mut args = t.args_after(cmd, "podman ");
    args.insert(1, "--tls-verify=false".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = &t.env;
    let out = t
        .podman
        .get_or_insert_with(Podman::new)
        .podman(env, &args, b"");
    docker::assert_ok(&out, cmd);
}

fn skopeo_inspect(t: &mut Tour, cmd: &str) {
    t.image_pushed();
    let mut args = t.args_after(cmd, "skopeo ");
    args.insert(1, "--tls-verify=false".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = docker::skopeo(&t.env, &args);
    docker::assert_ok(&out, cmd);
    let v: Value = serde_json::from_str(&out.stdout).expect("skopeo inspect prints JSON");
    // (Not the digest skopeo pushed: `docker push` may have replaced it.)
    assert_eq!(v["Name"], format!("{}/readme/app", t.key()), "{out}");
    assert_eq!(v["RepoTags"], serde_json::json!(["v1"]), "{out}");
    assert!(
        v["Digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{out}"
    );
}

const NO_HOMEBREW: &str = "Homebrew is not packaged for Debian; tests/suite/release.rs checks the \
     formula these lines install (its URLs and sums)";

fn readme_says_homebrew_did_not_run(_: &mut Tour, _: &str) {
    assert!(
        readme().contains("not run here: no Homebrew"),
        "the README must say that the Homebrew steps did not run here"
    );
    // The steps themselves moved to docs/releases.md (issue 23, step 6): it
    // says so beside them.
    assert!(
        doc("releases.md").contains("not run here: no Homebrew"),
        "docs/releases.md must say that the Homebrew steps did not run here"
    );
}

/// tests/suite/release.rs asserts that the README holds exactly the line it runs;
/// here: the line names this package's repository and installer.
fn release_line_is_the_tested_one(_: &mut Tour, cmd: &str) {
    let manifest = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"),
    )
    .expect("read Cargo.toml");
    let repo = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("repository = "))
        .expect("Cargo.toml names its repository")
        .trim_matches('"');
    let want = format!("{repo}/releases/latest/download/{NAME}-installer.sh | sh");
    assert!(cmd.ends_with(&want), "{cmd:?} should end with {want:?}");
}

/// The .deb line, run as written (as root: no sudo) in a clean Debian 12
/// root holding the release's .deb: the helper is installed and runs.
fn apt_install_deb(_: &mut Tour, cmd: &str) {
    let line = cmd.strip_prefix("sudo ").unwrap();
    let root = dist::DebianRoot::copy();
    let deb = dist::deb();
    std::fs::copy(&deb, root.path().join("tmp").join(deb.file_name().unwrap())).unwrap();
    root.sh_ok(&format!("cd /tmp && {line}"));
    assert_eq!(
        root.sh_ok(&format!("{NAME} version")),
        format!("{NAME} ({NAME}) {}\n", bin::VERSION)
    );
}

/// The .rpm line's glob names the release's .rpm.
fn dnf_line_names_the_rpm(_: &mut Tour, cmd: &str) {
    let glob = cmd
        .split_whitespace()
        .nth(3)
        .unwrap()
        .trim_start_matches("./");
    let (head, tail) = glob.split_once('*').expect("a glob");
    let rpm = dist::rpm();
    let name = rpm.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(head) && name.ends_with(tail),
        "{glob} matches {name}"
    );
}

/// The checksum lines, run as written in a directory holding an archive and
/// its `sha256.sum`: they pass, and they refuse a tampered archive.
fn checksum_line(t: &mut Tour, cmd: &str) {
    let dir = t.cwd.path();
    let archive = dir.join("dch-archive.tar.xz");
    std::fs::write(&archive, b"release archive bytes").unwrap();
    let out = bin::run_bounded(
        "sh",
        [
            "-c",
            &format!(
                "cd '{}' && sha256sum dch-archive.tar.xz > sha256.sum",
                dir.display()
            ),
        ],
        &t.vars(),
        b"",
        bin::RUN_LIMIT,
    );
    assert!(out.success(), "{out}");
    let out = t.sh(cmd);
    assert!(
        out.success() && out.stdout.contains("dch-archive.tar.xz: OK"),
        "{out}"
    );
    std::fs::write(&archive, b"tampered archive bytes").unwrap();
    let out = t.sh(cmd);
    assert!(
        !out.success(),
        "a tampered archive must fail the check\n{out}"
    );
    for f in ["dch-archive.tar.xz", "sha256.sum"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

fn readme_says_powershell_did_not_run(_: &mut Tour, _: &str) {
    // The Windows section's "What ran where" moved to docs/windows.md (issue
    // 23, step 6); the README's Windows section links to it.
    assert!(
        doc("windows.md").contains("PowerShell itself"),
        "docs/windows.md's 'What ran where' must say that PowerShell itself did not run"
    );
    assert!(
        readme().contains("(docs/windows.md)"),
        "the README links to docs/windows.md"
    );
}
