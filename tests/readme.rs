//! Every command the README shows is exercised by a test: each command line in
//! a `sh` block must have a witness (a test file that runs it), and every
//! `docker-credential-harbor ...` line must parse with the real binary.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_docker-credential-harbor");

/// (start of a README command, test file that exercises it, fragment that file must contain).
const WITNESSES: &[(&str, &str, &str)] = &[
    (
        "./install.sh --uninstall",
        "tests/install.rs",
        "\"--uninstall\"",
    ),
    ("./install.sh", "tests/install.rs", "install.sh"),
    (
        "keyctl session - cargo test --locked",
        ".ci/run",
        "keyctl session - cargo test --locked",
    ),
    (
        "docker-credential-harbor login --robot-file",
        "tests/login.rs",
        "--robot-file",
    ),
    (
        "docker-credential-harbor login -u",
        "tests/login.rs",
        "--password-stdin",
    ),
    (
        "docker-credential-harbor login",
        "tests/login.rs",
        "\"login\"",
    ),
    (
        "docker-credential-harbor status --check",
        "tests/login.rs",
        "--check",
    ),
    (
        "docker-credential-harbor status",
        "tests/login.rs",
        "\"status\"",
    ),
    (
        "docker-credential-harbor renew",
        "tests/lifecycle.rs",
        "\"renew\"",
    ),
    (
        "export DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL=off",
        "tests/lifecycle.rs",
        "Some(\"off\")",
    ),
    (
        "docker-credential-harbor logout",
        "tests/login.rs",
        "\"logout\"",
    ),
    (
        "docker-credential-harbor configure --undo",
        "tests/configure.rs",
        "--undo",
    ),
    (
        "docker-credential-harbor configure",
        "tests/release.rs",
        "configure --registry",
    ),
    (
        "curl --proto '=https' --tlsv1.2 -LsSf",
        "tests/release.rs",
        "readme_install_line()",
    ),
    // Homebrew cannot run here: the witness checks the formula those lines install.
    ("brew tap-new", "tests/release.rs", "bin.install"),
    (
        "cp docker-credential-harbor.rb",
        "tests/release.rs",
        "bin.install",
    ),
    ("brew install", "tests/release.rs", "bin.install"),
    ("sha256sum -c", "tests/release.rs", "\"sha256sum\""),
    ("shasum -a 256 -c", "tests/release.rs", "\"shasum\""),
    (
        "docker-credential-harbor kube-secret",
        "tests/kube.rs",
        "kube-secret",
    ),
    (
        "mkdir -p ~/.config/containers/certs.d/",
        "tests/tls.rs",
        "certs_d(tool",
    ),
    (
        "cp ca.pem ~/.config/containers/certs.d/",
        "tests/tls.rs",
        "\"containers\"",
    ),
    ("docker pull", "tests/e2e.rs", "\"pull\""),
    ("docker push", "tests/e2e.rs", "\"push\""),
    ("podman login", "tests/e2e.rs", "\"login\""),
    ("podman pull", "tests/e2e.rs", "\"pull\""),
    ("skopeo inspect", "tests/e2e.rs", "\"inspect\""),
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Command lines in ```sh blocks, comments stripped.
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_sh = t == "```sh";
            continue;
        }
        if in_sh {
            let cmd = t.split(" #").next().unwrap().trim();
            if !cmd.is_empty() && !cmd.starts_with('#') {
                out.push(cmd.to_string());
            }
        }
    }
    out
}

#[test]
fn every_readme_command_has_a_witness_test() {
    let cmds = readme_commands();
    assert!(cmds.len() >= 10, "found the README's commands: {cmds:?}");
    for cmd in &cmds {
        let (_, file, fragment) = WITNESSES
            .iter()
            .find(|(start, _, _)| cmd.starts_with(start))
            .unwrap_or_else(|| {
                panic!("README command {cmd:?} has no witness test: add one and list it here")
            });
        let body =
            std::fs::read_to_string(repo().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            body.contains(fragment),
            "{file} must exercise {cmd:?} (looked for {fragment:?})"
        );
    }
}

#[test]
fn every_readme_helper_command_parses() {
    for cmd in readme_commands() {
        let Some(rest) = cmd.strip_prefix("docker-credential-harbor ") else {
            continue;
        };
        let line = rest.split(['|', '<']).next().unwrap();
        let mut args: Vec<String> = line
            .split_whitespace()
            .map(|a| a.trim_matches('\'').to_string())
            .collect();
        // --help after the arguments: clap rejects unknown flags before it prints help.
        args.push("--help".into());
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "`docker-credential-harbor {}` does not parse: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
