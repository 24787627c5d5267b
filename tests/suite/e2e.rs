//! End-to-end: the real docker CLI and engine, podman and skopeo authenticate
//! to a real docker-registry (token auth from the Harbor stand-in) through
//! `docker-credential-harbor`, named in `credHelpers` and found on PATH.
//!
//! Each test has its own stand-in, registry, HOME and keychain (a private
//! Secret Service, or the kernel keyring); the Docker engine is shared.
//! The kernel-keyring test needs its own session keyring:
//! `keyctl session - cargo test --test suite e2e::`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::bin::{self, Env, Output};
use common::commands::Login;
use common::docker::{self, Dockerd, Podman, assert_failed, assert_ok, configure_clients, skopeo};
use common::harbor::{self, Account, HarborStandin, TokenLogEntry, now};
use common::keychain::{self, KeyutilsCleanup, SecretService};
use common::oci::make_oci_layout_with_digest;
use common::registry::{Harbor, Registry};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const USER: &str = "jdoe@ucar.edu";
const USER_SECRET: &str = "cli-secret-jdoe-4f9a2c7e1b";
const ROBOT: &str = "robot$proj+ci";
const ROBOT_SECRET: &str = "robot-secret-ci-8d3e6a0f5c";
const SHORT_ROBOT: &str = "robot$proj+short";
const SHORT_ROBOT_SECRET: &str = "robot-secret-short-2b7c9e1d";
const OLD_ROBOT: &str = "robot$proj+old";
const OLD_ROBOT_SECRET: &str = "robot-secret-old-6f1a3d8b0e";

fn accounts() -> Vec<Account> {
    vec![
        Account::user(USER, USER_SECRET),
        Account::robot(ROBOT, ROBOT_SECRET),
        Account::robot(SHORT_ROBOT, SHORT_ROBOT_SECRET),
        Account::expired_robot(OLD_ROBOT, OLD_ROBOT_SECRET),
    ]
}

/// A Harbor stand-in with one real registry behind its token service.
struct Rig {
    registry: Registry,
    standin: HarborStandin,
}

impl Rig {
    fn start() -> Rig {
        let Harbor { registry, standin } = Harbor::start(accounts());
        Rig { registry, standin }
    }

    /// `127.0.0.1:PORT`
    fn addr(&self) -> String {
        self.registry.addr()
    }

    /// `http://127.0.0.1:PORT`, what a user types for `login`.
    fn url(&self) -> String {
        self.registry.url()
    }

    fn image(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.addr())
    }
}

/// One person: a private HOME, and (unless it is the kernel keyring or no
/// keychain at all) a private unlocked Secret Service on a private bus.
struct User {
    // First, so the daemon is stopped before the Env's dirs go.
    ss: Option<SecretService>,
    env: Env,
}

impl User {
    fn with_secret_service() -> User {
        let mut env = Env::new();
        let ss = SecretService::start(&env);
        env.set_bus(ss.address());
        User { ss: Some(ss), env }
    }

    /// No D-Bus session at all (and no `bus` in XDG_RUNTIME_DIR).
    fn without_bus() -> User {
        User {
            ss: None,
            env: Env::new(),
        }
    }

    fn ss(&self) -> &SecretService {
        self.ss.as_ref().expect("this user has a Secret Service")
    }

    /// `docker-credential-harbor ARGS`.
    fn helper(&self, args: &[&str], stdin: &[u8]) -> Output {
        bin::run(&self.env, args, stdin)
    }

    /// `docker-credential-harbor login URL -u USER --password-stdin [extra...]`.
    fn login(&self, url: &str, user: &str, secret: &str, extra: &[&str]) -> Output {
        Login::to(&self.env, url)
            .user(user, secret)
            .args(extra)
            .run()
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Makes the small test image and loads it into the engine as `image`
/// (`127.0.0.1:PORT/proj/img:tag`): an OCI layout, turned into a
/// docker-archive by skopeo (no registry involved), then `docker load`.
fn load_image(d: &Dockerd, env: &Env, image: &str) {
    let tar = image_archive(env, image);
    let out = d.docker(env, &["load", "-i", tar.to_str().unwrap()]);
    assert_ok(&out, "docker load");
    assert!(
        out.stdout.contains(image),
        "docker load names the image\n{out}"
    );
}

/// The test image as a docker-archive tagged `image`, made by skopeo from
/// an OCI layout (no registry involved).
fn image_archive(env: &Env, image: &str) -> PathBuf {
    let name = image.replace(['/', ':', '.'], "_");
    let layout = env.root().join(format!("layout-{name}"));
    unique_oci_layout(&layout, image);
    let tar = env.root().join(format!("{name}.tar"));
    let out = skopeo(
        env,
        &[
            "copy",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker-archive:{}:{image}", tar.display()),
        ],
    );
    assert_ok(&out, "skopeo copy oci -> docker-archive");
    tar
}

/// The rig's OCI layout (tag `v1`) with a label naming `unique` in its
/// config, so that each test's image has its own image id: tests run in
/// parallel on one engine, and `docker rmi` in one test must not race a pull
/// of the same image id in another. Returns the manifest digest.
fn unique_oci_layout(dir: &Path, unique: &str) -> String {
    make_oci_layout_with_digest(dir, "v1");
    let blobs = dir.join("blobs").join("sha256");
    let read_json = |p: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(p).expect("read layout file")).expect("layout JSON")
    };
    let blob_path =
        |digest: &Value| blobs.join(digest.as_str().unwrap().trim_start_matches("sha256:"));
    let put_blob = |bytes: &[u8]| -> (String, usize) {
        let hex: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        std::fs::write(blobs.join(&hex), bytes).expect("write blob");
        (format!("sha256:{hex}"), bytes.len())
    };
    let mut index = read_json(&dir.join("index.json"));
    let mut manifest = read_json(&blob_path(&index["manifests"][0]["digest"]));
    let mut config = read_json(&blob_path(&manifest["config"]["digest"]));
    config["config"]["Labels"] = json!({ "e2e.test": unique });
    let (digest, size) = put_blob(config.to_string().as_bytes());
    manifest["config"]["digest"] = json!(digest);
    manifest["config"]["size"] = json!(size);
    let (digest, size) = put_blob(manifest.to_string().as_bytes());
    index["manifests"][0]["digest"] = json!(digest);
    index["manifests"][0]["size"] = json!(size);
    std::fs::write(dir.join("index.json"), index.to_string()).expect("write index.json");
    digest
}

/// Removes `image` from the engine (it must be there).
fn rmi(d: &Dockerd, env: &Env, image: &str) {
    let out = d.docker(env, &["rmi", image]);
    assert_ok(&out, "docker rmi");
    assert!(!has_image(d, env, image), "{image} still present after rmi");
}

fn has_image(d: &Dockerd, env: &Env, image: &str) -> bool {
    let out = d.docker(env, &["image", "inspect", image]);
    out.success()
}

/// The `sha256:...` digest `docker push` printed.
fn pushed_digest(out: &Output) -> String {
    let i = out
        .stdout
        .find("digest: sha256:")
        .unwrap_or_else(|| panic!("docker push printed no digest\n{out}"));
    out.stdout[i + "digest: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A pull of `image` that failed because Harbor refused it (not because the
/// helper failed): refused or absent credentials get a token with anonymous
/// rights, and Harbor core turns the pull down in these words, which docker,
/// podman and skopeo all print.
fn assert_refused(out: &Output, image: &str, what: &str) {
    assert_failed(out, what);
    let refusal = harbor_refusal(image);
    assert!(
        out.stderr.contains(&refusal),
        "{what}: Harbor refused the pull ({refusal})\n{out}"
    );
}

/// What clients print when Harbor refuses a pull of `image`
/// (`[docker://]HOST/REPO:TAG`).
fn harbor_refusal(image: &str) -> String {
    let repo = image
        .trim_start_matches("docker://")
        .split_once('/')
        .and_then(|(_, r)| r.rsplit_once(':'))
        .map(|(r, _)| r)
        .expect("an image HOST/REPO:TAG");
    format!("unauthorized: unauthorized to access repository: {repo}, action: pull")
}

/// Error text the clients print when the registry refuses them.
fn is_auth_error(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    // A failing helper is not the registry refusing.
    if t.contains("error getting credentials") || t.contains("error storing credentials") {
        return false;
    }
    [
        "unauthorized",
        "denied",
        "no basic auth credentials",
        "authentication required",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// Collects the paths of every `auth`, `password` or `identitytoken` key
/// (at any depth) in a JSON value.
fn auth_fields(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                if k.eq_ignore_ascii_case("auth")
                    || k.eq_ignore_ascii_case("password")
                    || k.eq_ignore_ascii_case("identitytoken")
                {
                    out.push(p.clone());
                }
                auth_fields(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                auth_fields(x, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The client config at `path` holds no secret and no `auth`/`password`
/// field; returns it parsed.
fn assert_config_clean(path: &Path, secrets: &[&str]) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for s in secrets {
        assert!(
            !text.contains(s),
            "{} holds a secret:\n{text}",
            path.display()
        );
    }
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON ({e}):\n{text}", path.display()));
    let mut found = Vec::new();
    auth_fields(&v, "", &mut found);
    assert!(
        found.is_empty(),
        "{} has credential fields {found:?}:\n{text}",
        path.display()
    );
    v
}

/// Both client configs still name the helper for `addr`.
fn assert_cred_helper_kept(env: &Env, addr: &str) {
    for f in [docker::docker_config_file(env), docker::auth_file(env)] {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(
            v["credHelpers"][addr],
            "harbor",
            "{} lost its credHelpers entry",
            f.display()
        );
    }
}

fn write_robot_file(env: &Env, name: &str, secret: &str, expires_at: i64) -> PathBuf {
    env.watch_secret(secret);
    harbor::robot_file(env.root(), name, secret, expires_at)
}

// ---------------------------------------------------------------------------
// Scenarios 1-3: docker, with the Secret Service or the kernel keyring

/// Scenarios 1, 2 and 3 for one keychain: `login` with the helper, docker
/// push and pull through `credHelpers`, `docker logout`, plain `docker login`.
/// `keychain_has(key)` tells whether the keychain holds an entry for `key`.
/// Scenario 1's first step, as a user does it: `install.sh --registry ADDR`
/// into a temporary PREFIX (its `configure` writes the clients' configs), and
/// the installed binary is the helper the clients run from then on.
fn install_for(env: &Env, addr: &str) {
    let prefix = env.root().join("prefix");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut vars = env.vars().clone();
    vars.insert("PREFIX".into(), prefix.display().to_string());
    vars.insert(
        "CARGO_TARGET_DIR".into(),
        repo.join("target").display().to_string(),
    );
    for k in ["CARGO_HOME", "RUSTUP_HOME"] {
        if let Ok(v) = std::env::var(k) {
            vars.insert(k.into(), v);
        }
    }
    let script = repo.join("install.sh");
    let out = bin::run_bounded(
        "sh",
        [script.to_str().unwrap(), "--registry", addr],
        &vars,
        b"",
        Duration::from_secs(900),
    );
    assert_ok(&out, "install.sh --registry");
    let installed = prefix.join("bin/docker-credential-harbor");
    assert!(installed.is_file(), "{out}");
    for file in [docker::docker_config_file(env), docker::auth_file(env)] {
        let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(
            v["credHelpers"][addr],
            "harbor",
            "install configured {}",
            file.display()
        );
    }
    // The clients' PATH starts with this directory: put the installed binary there.
    let dir = env.root().join("helper-bin");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&installed, dir.join("docker-credential-harbor")).unwrap();
}

fn docker_journey(
    user: &User,
    keychain_name: &str,
    keychain_has: &dyn Fn(&str) -> bool,
    via_install: bool,
) {
    let d = Dockerd::shared();
    let rig = Rig::start();
    let env = &user.env;
    let addr = rig.addr();
    if via_install {
        install_for(env, &addr);
    } else {
        configure_clients(env, &[&addr]);
    }
    let image = rig.image("proj/img:v1");

    // 1. login with the helper's own command: verified with the registry, kept.
    let out = user.login(&rig.url(), USER, USER_SECRET, &[]);
    assert_ok(&out, "docker-credential-harbor login");
    assert!(
        out.stdout.contains("Login Succeeded") && out.stdout.contains(&addr),
        "{out}"
    );
    assert!(
        rig.standin
            .token_log()
            .iter()
            .any(|e| e.account.as_deref() == Some(USER) && e.status == 200),
        "login checked the secret with the token service: {:?}",
        rig.standin.token_log()
    );
    assert!(keychain_has(&addr), "the {keychain_name} holds {addr}");
    assert_eq!(bin::get_ok(env, &addr), (USER.into(), USER_SECRET.into()));
    let listed = bin::list(env);
    assert_eq!(
        listed.get(&addr).map(String::as_str),
        Some(USER),
        "{listed:?}"
    );
    let status = user.helper(&["status", "--json"], b"");
    assert_ok(&status, "status --json");
    let rows = Value::from(bin::status_rows(&status));
    assert_eq!(rows[0]["registry"], addr.as_str(), "{rows}");
    assert_eq!(rows[0]["keychain"], keychain_name, "{rows}");
    assert_eq!(rows[0]["kind"], "user", "{rows}");

    // 2. docker push, rmi, pull: the engine gets the credentials from the helper.
    load_image(&d, env, &image);
    rig.standin.clear_token_log();
    let push = d.docker(env, &["push", &image]);
    assert_ok(&push, "docker push");
    let digest = pushed_digest(&push);
    let log = rig.standin.token_log();
    assert!(
        harbor::token_requests(&log, USER, "proj/img", "push") >= 1,
        "docker push got a push token for {USER}: {log:?}"
    );
    assert!(
        log.iter().all(|e| e.status == 200),
        "no token request was refused: {log:?}"
    );
    let reg_log = rig.registry.log();
    assert!(
        reg_log
            .lines()
            .any(|l| l.contains("http.request.method=PUT")
                && l.contains("/v2/proj/img/manifests/v1")
                && l.contains("http.response.status=201")),
        "the registry stored the manifest of proj/img:v1\n{reg_log}"
    );

    rmi(&d, env, &image);
    rig.standin.clear_token_log();
    let pull = d.docker(env, &["pull", &image]);
    assert_ok(&pull, "docker pull");
    assert!(
        pull.stdout.contains(&digest),
        "pulled what was pushed\n{pull}"
    );
    assert!(has_image(&d, env, &image), "{image} is back after the pull");
    let log = rig.standin.token_log();
    assert!(
        harbor::token_requests(&log, USER, "proj/img", "pull") >= 1,
        "docker pull got a pull token for {USER}: {log:?}"
    );

    // No secret in docker's config (nor anywhere under HOME/XDG).
    assert_config_clean(&docker::docker_config_file(env), &[USER_SECRET]);
    env.assert_no_secret_in_files();

    // 3. docker logout erases; a pull is then refused; docker login stores again.
    let out = d.docker(env, &["logout", &addr]);
    assert_ok(&out, "docker logout");
    assert!(
        !out.stderr.to_ascii_lowercase().contains("warning") && !out.stderr.contains("error"),
        "logout was clean\n{out}"
    );
    assert!(
        !keychain_has(&addr),
        "logout removed {addr} from the {keychain_name}"
    );
    bin::assert_not_found(env, &addr);
    assert!(
        !bin::list(env).contains_key(&addr),
        "logout removed {addr} from the index"
    );
    assert_cred_helper_kept(env, &addr);

    rmi(&d, env, &image);
    rig.standin.clear_token_log();
    let pull = d.docker(env, &["pull", &image]);
    assert_refused(&pull, &image, "docker pull after logout");
    let log = rig.standin.token_log();
    assert!(
        log.iter().all(|e| e.account.is_none()),
        "after logout docker asked for tokens anonymously: {log:?}"
    );
    assert!(!has_image(&d, env, &image));

    let out = d.docker_stdin(
        env,
        &["login", &addr, "-u", USER, "--password-stdin"],
        format!("{USER_SECRET}\n").as_bytes(),
    );
    assert_ok(&out, "docker login");
    assert!(out.stdout.contains("Login Succeeded"), "{out}");
    assert!(
        keychain_has(&addr),
        "docker login stored {addr} in the {keychain_name}"
    );
    assert_eq!(bin::get_ok(env, &addr), (USER.into(), USER_SECRET.into()));
    assert_eq!(
        bin::list(env).get(&addr).map(String::as_str),
        Some(USER),
        "docker login is in the index"
    );
    let cfg = assert_config_clean(&docker::docker_config_file(env), &[USER_SECRET]);
    assert_eq!(cfg["credHelpers"][&addr], "harbor", "{cfg}");

    let pull = d.docker(env, &["pull", &image]);
    assert_ok(&pull, "docker pull after docker login");
    assert!(has_image(&d, env, &image));
    env.assert_no_secret_in_files();

    // Leave the engine as it was found.
    rmi(&d, env, &image);
}

#[test]
fn docker_journey_with_secret_service() {
    let user = User::with_secret_service();
    let ss = user.ss();
    docker_journey(&user, "secret-service", &|key| ss.count(key) == 1, true);
    assert_eq!(
        ss.items().len(),
        1,
        "one item for one registry: {:?}",
        ss.items()
    );
}

#[test]
fn docker_journey_with_kernel_keyring() {
    keychain::require_own_session_keyring();
    let mut user = User::without_bus();
    user.env.set(bin::STORE_ENV, "keyutils");
    let cleanup = KeyutilsCleanup::default();
    // Every registry this test could store goes when it ends, pass or fail.
    let rig_probe = |key: &str| {
        cleanup.add(key);
        keychain::keyutils_has(key)
    };
    docker_journey(&user, "keyutils", &rig_probe, false);
}

// ---------------------------------------------------------------------------
// Scenario 4: podman and skopeo

#[test]
fn podman_and_skopeo_journey() {
    let user = User::with_secret_service();
    let env = &user.env;
    let ss = user.ss();
    let rig = Rig::start();
    let addr = rig.addr();
    configure_clients(env, &[&addr]);
    let podman = Podman::new();
    env.watch_secret(USER_SECRET);

    // podman login calls the helper's store.
    let out = podman.podman(
        env,
        &[
            "login",
            "--tls-verify=false",
            "-u",
            USER,
            "--password-stdin",
            &addr,
        ],
        format!("{USER_SECRET}\n").as_bytes(),
    );
    assert_ok(&out, "podman login");
    assert!(out.stdout.contains("Login Succeeded"), "{out}");
    assert_eq!(
        ss.count(&addr),
        1,
        "podman login stored {addr} in the Secret Service"
    );
    assert_eq!(bin::get_ok(env, &addr), (USER.into(), USER_SECRET.into()));
    assert_eq!(bin::list(env).get(&addr).map(String::as_str), Some(USER));
    assert_config_clean(&docker::auth_file(env), &[USER_SECRET]);

    // skopeo: no credential flags, only credHelpers in REGISTRY_AUTH_FILE.
    // (First: once podman has pushed the layer compressed its own way,
    // skopeo's blob-info cache would reuse that blob and change the digest.)
    let layout = env.root().join("layout");
    let layout_digest = unique_oci_layout(&layout, &addr);
    let src = format!("oci:{}:v1", layout.display());
    let sk_image = format!("docker://{}", rig.image("proj/sk:v1"));
    rig.standin.clear_token_log();
    let out = skopeo(env, &["copy", "--dest-tls-verify=false", &src, &sk_image]);
    assert_ok(&out, "skopeo copy oci -> registry");
    assert!(
        harbor::token_requests(&rig.standin.token_log(), USER, "proj/sk", "push") >= 1,
        "skopeo copy got a push token for {USER}: {:?}",
        rig.standin.token_log()
    );
    let out = skopeo(env, &["inspect", "--tls-verify=false", &sk_image]);
    assert_ok(&out, "skopeo inspect");
    let info: Value = serde_json::from_str(&out.stdout).expect("skopeo inspect JSON");
    assert_eq!(info["Digest"], layout_digest.as_str(), "{info}");
    assert_eq!(info["Name"], rig.image("proj/sk").as_str(), "{info}");
    // podman push from its own storage, rmi, pull.
    let image = rig.image("proj/pm:v1");
    let tar = image_archive(env, &image);
    let out = podman.podman(env, &["load", "-i", tar.to_str().unwrap()], b"");
    assert_ok(&out, "podman load");
    assert!(
        out.stdout.contains(&image),
        "podman load names the image\n{out}"
    );
    rig.standin.clear_token_log();
    let out = podman.podman(env, &["push", "--tls-verify=false", &image], b"");
    assert_ok(&out, "podman push");
    assert!(
        harbor::token_requests(&rig.standin.token_log(), USER, "proj/pm", "push") >= 1,
        "podman push got a push token for {USER}: {:?}",
        rig.standin.token_log()
    );
    assert_ok(&podman.podman(env, &["rmi", &image], b""), "podman rmi");
    let out = podman.podman(
        env,
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
        b"",
    );
    assert!(!out.stdout.contains(&image), "{image} removed\n{out}");
    rig.standin.clear_token_log();
    let out = podman.podman(env, &["pull", "--tls-verify=false", &image], b"");
    assert_ok(&out, "podman pull");
    assert!(
        harbor::token_requests(&rig.standin.token_log(), USER, "proj/pm", "pull") >= 1,
        "podman pull got a pull token for {USER}: {:?}",
        rig.standin.token_log()
    );
    let out = podman.podman(
        env,
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
        b"",
    );
    assert!(out.stdout.contains(&image), "{image} pulled back\n{out}");

    let copy_dest = format!("docker://{}", rig.image("proj/sk-copy:v1"));
    let out = skopeo(
        env,
        &[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &sk_image,
            &copy_dest,
        ],
    );
    assert_ok(&out, "skopeo copy registry -> registry");
    let out = skopeo(env, &["inspect", "--tls-verify=false", &copy_dest]);
    assert_ok(&out, "skopeo inspect the copy");
    let info: Value = serde_json::from_str(&out.stdout).expect("skopeo inspect JSON");
    assert_eq!(info["Digest"], layout_digest.as_str(), "{info}");
    let podman_image = format!("docker://{image}");
    let out = skopeo(env, &["inspect", "--tls-verify=false", &podman_image]);
    assert_ok(&out, "skopeo inspect podman's push");

    // podman logout calls erase; then nobody gets in.
    let out = podman.podman(env, &["logout", &addr], b"");
    assert_ok(&out, "podman logout");
    assert_eq!(
        ss.count(&addr),
        0,
        "podman logout erased {addr}: {:?}",
        ss.items()
    );
    bin::assert_not_found(env, &addr);
    assert!(!bin::list(env).contains_key(&addr));
    assert_cred_helper_kept(env, &addr);
    let out = skopeo(env, &["inspect", "--tls-verify=false", &sk_image]);
    assert_refused(&out, &sk_image, "skopeo inspect after logout");
    assert_ok(
        &podman.podman(env, &["rmi", "-f", &image], b""),
        "podman rmi",
    );
    let out = podman.podman(env, &["pull", "--tls-verify=false", &image], b"");
    assert_refused(&out, &image, "podman pull after logout");
    assert_config_clean(&docker::auth_file(env), &[USER_SECRET]);
    env.assert_no_secret_in_files();
}

// ---------------------------------------------------------------------------
// Scenario 5: robot accounts

#[test]
fn robot_accounts_push_and_expire() {
    let d = Dockerd::shared();
    let user = User::with_secret_service();
    let env = &user.env;
    let rig = Rig::start();
    let addr = rig.addr();
    configure_clients(env, &[&addr]);

    // A robot imported from Harbor's JSON file pushes.
    let in_30_days = now() + 30 * 86_400;
    let file = write_robot_file(env, ROBOT, ROBOT_SECRET, in_30_days);
    let out = Login::to(env, &rig.url()).robot_file(&file).run();
    assert_ok(&out, "login --robot-file");
    // As login advises: the file holds the secret in plain text.
    std::fs::remove_file(&file).unwrap();
    assert!(
        out.stdout.contains(ROBOT) && out.stdout.contains("robot"),
        "{out}"
    );
    assert_eq!(bin::get_ok(env, &addr), (ROBOT.into(), ROBOT_SECRET.into()));
    let image = rig.image("proj/robot:v1");
    load_image(&d, env, &image);
    rig.standin.clear_token_log();
    let push = d.docker(env, &["push", &image]);
    assert_ok(&push, "docker push as the robot");
    let log = rig.standin.token_log();
    assert!(
        harbor::token_requests(&log, ROBOT, "proj/robot", "push") >= 1,
        "the push token went to {ROBOT}: {log:?}"
    );
    let status = user.helper(&["status", "--json"], b"");
    assert_ok(&status, "status with a valid robot");
    let rows = Value::from(bin::status_rows(&status));
    assert_eq!(rows[0]["kind"], "robot", "{rows}");
    assert_eq!(rows[0]["expires_at"], in_30_days, "{rows}");
    assert_eq!(rows[0]["expired"], false, "{rows}");

    // A robot file past its date is checked with Harbor, which refuses this
    // expired robot; unverified, nobody can tell. What was stored stays.
    let old = write_robot_file(env, OLD_ROBOT, OLD_ROBOT_SECRET, now() - 3600);
    for extra in [&[][..], &["--no-verify"][..]] {
        let out = Login::to(env, &rig.url())
            .robot_file(&old)
            .args(extra)
            .run();
        assert_failed(&out, "login with an expired robot file");
        assert!(out.stderr.contains("expired"), "says why\n{out}");
        assert_eq!(bin::get_ok(env, &addr), (ROBOT.into(), ROBOT_SECRET.into()));
    }
    std::fs::remove_file(&old).unwrap();

    // A robot that expires a few seconds after its import: docker pull works
    // (and the helper warns that the robot expires soon), then fails.
    let expires = now() + 5;
    rig.standin
        .update_account(SHORT_ROBOT, |a| a.expires_at = Some(expires));
    let short = write_robot_file(env, SHORT_ROBOT, SHORT_ROBOT_SECRET, expires);
    let out = Login::to(env, &rig.url()).robot_file(&short).run();
    assert_ok(&out, "login --robot-file (short-lived robot)");
    std::fs::remove_file(&short).unwrap();
    rmi(&d, env, &image);
    rig.standin.clear_token_log();
    let pull = d.docker(env, &["pull", &image]);
    assert_ok(&pull, "docker pull with a robot about to expire");
    assert!(
        harbor::token_requests(&rig.standin.token_log(), SHORT_ROBOT, "proj/robot", "pull") >= 1,
        "the pull token went to {SHORT_ROBOT}: {:?}",
        rig.standin.token_log()
    );
    assert!(
        pull.stderr.contains(SHORT_ROBOT) && pull.stderr.contains("expires"),
        "docker shows the helper's warning that the robot expires soon\n{pull}"
    );
    rmi(&d, env, &image);
    while now() <= expires {
        std::thread::sleep(Duration::from_millis(200));
    }
    rig.standin.clear_token_log();
    let expired_pull = d.docker(env, &["pull", &image]);
    assert_refused(&expired_pull, &image, "docker pull with an expired robot");
    // Harbor refuses the expired robot by treating it as anonymous: the
    // scoped token request still gets 200, with anonymous rights.
    let log = rig.standin.token_log();
    assert!(
        log.iter().any(|e| e.account.as_deref() == Some(SHORT_ROBOT)
            && !e.scopes.is_empty()
            && e.status == 200
            && !e.accepted),
        "the token service gave the expired robot anonymous rights: {log:?}"
    );
    // The date alone is no verdict (an admin may have extended the robot):
    // the pull past it started a check, whose refusal makes it one.
    env.wait_for_no_check(&addr);
    let status = user.helper(&["status"], b"");
    assert_eq!(
        status.code(),
        1,
        "status fails for an expired robot\n{status}"
    );
    assert!(
        status.stdout.contains(SHORT_ROBOT) && status.stdout.contains("expired"),
        "status says the robot expired\n{status}"
    );
    let status = user.helper(&["status", "--json"], b"");
    assert_eq!(status.code(), 1, "{status}");
    let rows = Value::from(bin::status_rows(&status));
    assert_eq!(rows[0]["expired"], true, "{rows}");
    env.assert_no_secret_in_files();

    // The failing pull is where the user needs to learn that the robot has
    // probably expired: the helper knows the date (the index has expires_at),
    // and docker shows its stderr. The "expires soon" warning shown an hour,
    // or a second, earlier must not silence the "expired" one for a day.
    assert!(
        expired_pull.stderr.contains(SHORT_ROBOT) && expired_pull.stderr.contains("expired"),
        "docker pull with an expired robot shows the helper's \"expired\" warning\n{expired_pull}"
    );
}

// ---------------------------------------------------------------------------
// Scenario 6: CI, no keychain, credentials from the environment

#[test]
fn ci_mode_without_any_keychain() {
    let d = Dockerd::shared();
    let user = User::without_bus();
    let env = &user.env;
    let rig = Rig::start();
    let addr = rig.addr();
    configure_clients(env, &[&addr]);
    env.watch_secret(USER_SECRET);
    // The runner's shell: no session keyring of its own (the shared
    // user-session keyring, where linking to the persistent keyring is
    // denied), no D-Bus.
    let ring = shared_session_keyring();
    let shared = ["keyctl", "session", ring.as_str()];
    // Whatever a failed store leaves in that keyring goes when the test ends.
    let _leftovers = SharedKeyringCleanup(vec![addr.clone()]);
    let ci = [
        ("HARBOR_USERNAME", Some(USER)),
        ("HARBOR_PASSWORD", Some(USER_SECRET)),
        ("HARBOR_HOST", Some(addr.as_str())),
    ];
    assert!(env.bus().is_none());

    // The helper itself has nowhere to keep a secret here.
    let out = bin::run_via(
        env,
        &[],
        &shared,
        &["store"],
        bin::store_json(&addr, USER, USER_SECRET).as_bytes(),
    );
    assert_failed(&out, "store with no keychain and no CI variables");
    assert!(
        out.stdout.contains("HARBOR_USERNAME"),
        "the error names the CI variables\n{out}"
    );
    // A store that reports failure must not leave the secret behind. (Checked
    // at the end, so the CI-mode checks below run either way.)
    let left_by_failed_store = shared_keyring_print(&addr).map(|(id, payload)| {
        // What the helper itself says about it from the same place.
        let get = bin::run_via(env, &[], &shared, &["get"], addr.as_bytes());
        let erase = bin::run_via(env, &[], &shared, &["erase"], addr.as_bytes());
        format!(
            "key {id} (holds the secret: {}); then get says {:?}, erase says {:?}",
            payload.contains(USER_SECRET),
            get.stdout.trim(),
            erase.stdout.trim()
        )
    });
    shared_keyring_remove(&addr);

    let image = rig.image("proj/ci:v1");
    load_image(&d, env, &image);
    rig.standin.clear_token_log();
    let push = d.docker_with(env, &ci, &shared, &["push", &image], b"");
    assert_ok(&push, "docker push in CI mode");
    rmi(&d, env, &image);
    let pull = d.docker_with(env, &ci, &shared, &["pull", &image], b"");
    assert_ok(&pull, "docker pull in CI mode");
    let log = rig.standin.token_log();
    assert!(
        harbor::token_requests(&log, USER, "proj/ci", "push") >= 1
            && harbor::token_requests(&log, USER, "proj/ci", "pull") >= 1,
        "the CI credentials were used: {log:?}"
    );

    // docker login with the same variables succeeds and stores nothing.
    let out = d.docker_with(
        env,
        &ci,
        &shared,
        &["login", &addr, "-u", USER, "--password-stdin"],
        format!("{USER_SECRET}\n").as_bytes(),
    );
    assert_ok(&out, "docker login in CI mode");
    assert!(out.stdout.contains("Login Succeeded"), "{out}");
    assert!(env.index_bytes().is_none(), "CI mode keeps no index");
    assert!(
        bin::list(env).is_empty(),
        "nothing listed without the CI variables"
    );
    assert!(
        !keychain::keyutils_has(&addr),
        "nothing in the kernel keyring"
    );
    let out = bin::run_via(env, &[], &shared, &["get"], addr.as_bytes());
    let line = out.error_line();
    assert!(
        line == bin::NOT_FOUND || line.contains("HARBOR_USERNAME"),
        "get finds nothing (or explains why it cannot look)\n{out}"
    );
    assert_config_clean(&docker::docker_config_file(env), &[USER_SECRET]);

    // docker logout in CI mode: erase succeeds without a keychain.
    let out = d.docker_with(env, &ci, &shared, &["logout", &addr], b"");
    assert_ok(&out, "docker logout in CI mode");

    // Without the variables the pull is anonymous, and refused by the registry.
    rmi(&d, env, &image);
    let pull = d.docker_with(env, &[], &shared, &["pull", &image], b"");
    assert_refused(&pull, &image, "docker pull without CI variables");
    // containers/image stops at a helper error: skopeo either goes on
    // anonymously (and is refused) or shows the helper's advice.
    let target = format!("docker://{image}");
    let sk = docker::skopeo_with(
        env,
        &[],
        &shared,
        &["inspect", "--tls-verify=false", &target],
    );
    assert_failed(&sk, "skopeo inspect without CI variables");
    assert!(
        is_auth_error(&sk.stderr) || sk.stderr.contains("HARBOR_USERNAME"),
        "refused, or told what to set\n{sk}"
    );
    // docker login without the variables cannot keep the secret, and says why.
    let out = d.docker_with(
        env,
        &[],
        &shared,
        &["login", &addr, "-u", USER, "--password-stdin"],
        format!("{USER_SECRET}\n").as_bytes(),
    );
    assert_failed(&out, "docker login with no keychain and no CI variables");
    assert!(
        out.stderr.contains("HARBOR_USERNAME") && out.stderr.contains("HARBOR_PASSWORD"),
        "the helper's advice reaches the user\n{out}"
    );
    assert!(env.index_bytes().is_none(), "still no index");
    env.assert_no_secret_in_files();

    assert!(
        left_by_failed_store.is_none(),
        "`store` failed (\"kernel keyring: access denied\") yet left an entry in the shared \
         user-session keyring {ring}: {}",
        left_by_failed_store.as_deref().unwrap_or_default()
    );
}

/// The shared user-session keyring of this uid: what a process that has no
/// session keyring of its own (CI runner, cron, `su`) uses.
fn shared_session_keyring() -> String {
    // SAFETY: getuid(2) cannot fail.
    format!("_uid_ses.{}", unsafe { libc::getuid() })
}

/// `keyctl session <shared> keyctl ARGS`, for inspecting the shared keyring
/// whatever session keyring the test process has.
fn in_shared_keyring(args: &[&str]) -> std::process::Output {
    std::process::Command::new("keyctl")
        .args(["session", &shared_session_keyring(), "keyctl"])
        .args(args)
        .output()
        .expect("run keyctl")
}

/// The helper's entry for `key` in the shared user-session keyring:
/// `(serial, payload)`.
fn shared_keyring_print(key: &str) -> Option<(String, String)> {
    let out = in_shared_keyring(&["search", "@s", "user", &keychain::keyutils_description(key)]);
    if !out.status.success() {
        return None;
    }
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let payload = in_shared_keyring(&["print", &id]);
    Some((id, String::from_utf8_lossy(&payload.stdout).into_owned()))
}

/// Unlinks the helper's entries for `key` from the shared user-session keyring.
fn shared_keyring_remove(key: &str) {
    for _ in 0..10 {
        let Some((id, _)) = shared_keyring_print(key) else {
            return;
        };
        if !in_shared_keyring(&["unlink", &id]).status.success() {
            return;
        }
    }
}

/// Removes the helper's entries for some keys from the shared user-session
/// keyring when dropped.
struct SharedKeyringCleanup(Vec<String>);

impl Drop for SharedKeyringCleanup {
    fn drop(&mut self) {
        for key in &self.0 {
            shared_keyring_remove(key);
        }
    }
}

// ---------------------------------------------------------------------------
// Scenario 7: a wrong secret fails alone

#[test]
fn wrong_secret_fails_and_others_are_unaffected() {
    let d = Dockerd::shared();
    let user = User::with_secret_service();
    let env = &user.env;
    let ss = user.ss();
    let rig = Rig::start();
    // A second registry behind the same Harbor token service.
    let other = Registry::start_token(&rig.standin);
    let (a, b) = (rig.addr(), other.addr());
    configure_clients(env, &[&a, &b]);
    let (img_a, img_b) = (format!("{a}/proj/w:v1"), format!("{b}/proj/w:v1"));

    for url in [rig.url(), other.url()] {
        assert_ok(&user.login(&url, USER, USER_SECRET, &[]), "login");
    }
    for img in [&img_a, &img_b] {
        load_image(&d, env, img);
        assert_ok(&d.docker(env, &["push", img]), "docker push");
        rmi(&d, env, img);
    }

    // login verifies: a wrong secret is refused with an explanation, and the
    // stored secret stays.
    let wrong = "wrong-secret-0000000000";
    let out = user.login(&rig.url(), USER, wrong, &[]);
    assert_failed(&out, "login with a wrong secret");
    assert!(
        out.stderr.contains("CLI secret"),
        "explains the CLI secret\n{out}"
    );
    assert_eq!(bin::get_ok(env, &a), (USER.into(), USER_SECRET.into()));

    // Stored unverified, the wrong secret makes docker pull fail.
    assert_ok(
        &user.login(&rig.url(), USER, wrong, &["--no-verify"]),
        "login --no-verify",
    );
    assert_eq!(bin::get_ok(env, &a), (USER.into(), wrong.into()));
    rig.standin.clear_token_log();
    let pull = d.docker(env, &["pull", &img_a]);
    assert_refused(&pull, &img_a, "docker pull with a wrong secret");
    assert!(
        rig.standin
            .token_log()
            .iter()
            .any(|e| e.account.as_deref() == Some(USER) && e.status == 200 && !e.accepted),
        "the token service gave the wrong secret anonymous rights: {:?}",
        rig.standin.token_log()
    );

    // The other registry is unaffected.
    assert_eq!(bin::get_ok(env, &b), (USER.into(), USER_SECRET.into()));
    assert_ok(
        &d.docker(env, &["pull", &img_b]),
        "docker pull from the other registry",
    );
    let listed = bin::list(env);
    assert_eq!(listed.get(&a).map(String::as_str), Some(USER), "{listed:?}");
    assert_eq!(listed.get(&b).map(String::as_str), Some(USER), "{listed:?}");
    assert_eq!(ss.keys(), {
        let mut k = vec![a.clone(), b.clone()];
        k.sort();
        k
    });

    // Harbor regenerates the secret: the old one stops working everywhere;
    // a new login with the new secret fixes that registry alone.
    let rotated = "cli-secret-jdoe-rotated-77";
    rig.standin
        .update_account(USER, |acc| acc.secret = rotated.into());
    rmi(&d, env, &img_b);
    let pull = d.docker(env, &["pull", &img_b]);
    assert_refused(
        &pull,
        &img_b,
        "docker pull after the secret was regenerated",
    );
    assert_ok(
        &user.login(&other.url(), USER, rotated, &[]),
        "login with the new secret",
    );
    assert_ok(
        &d.docker(env, &["pull", &img_b]),
        "docker pull with the new secret",
    );
    assert_eq!(
        bin::get_ok(env, &a),
        (USER.into(), wrong.into()),
        "A untouched"
    );
    let pull = d.docker(env, &["pull", &img_a]);
    assert_failed(&pull, "A still has the wrong secret");
    rmi(&d, env, &img_b);
    env.assert_no_secret_in_files();
}

// ---------------------------------------------------------------------------
// Scenario 8: many clients at once

/// Runs `n` clients at once, even ones `docker pull`, odd ones `skopeo
/// inspect`, with the Env's variables changed by `changes`; all must succeed.
/// Returns the token log of the round.
fn mixed_round(
    d: &Arc<Dockerd>,
    rig: &Rig,
    env: &Env,
    image: &str,
    n: usize,
    changes: &[(&str, Option<&str>)],
    round: &str,
) -> Vec<TokenLogEntry> {
    rig.standin.clear_token_log();
    // Many clients at once against the rig's Secret Service: one burst at
    // a time in the whole suite (common::keychain says why).
    let _turn = common::keychain::secret_service_burst();
    let started = Instant::now();
    let results: Vec<(String, Output)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                s.spawn(move || {
                    if i % 2 == 0 {
                        let out = d.docker_with(env, changes, &[], &["pull", image], b"");
                        (format!("docker pull #{i}"), out)
                    } else {
                        let target = format!("docker://{image}");
                        let args = ["inspect", "--tls-verify=false", &target];
                        let out = docker::skopeo_with(env, changes, &[], &args);
                        (format!("skopeo inspect #{i}"), out)
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, o)| !o.success())
        .map(|(what, o)| format!("{what}:\n{o}"))
        .collect();
    assert!(
        failed.is_empty(),
        "{round}: {} of {n} clients failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    let log = rig.standin.token_log();
    assert!(
        log.iter()
            .all(|e| e.account.as_deref() == Some(USER) && e.status == 200),
        "{round}: every token request carried the user's credentials: {log:?}"
    );
    let repo = image
        .split_once('/')
        .and_then(|(_, r)| r.rsplit_once(':'))
        .map(|(r, _)| r)
        .unwrap();
    assert!(
        harbor::token_requests(&log, USER, repo, "pull") >= n,
        "{round}: each client got a pull token ({} requests): {log:?}",
        log.len()
    );
    eprintln!(
        "{round}: {n} concurrent clients took {:.1} s",
        secs(elapsed)
    );
    log
}

#[test]
fn concurrent_docker_pulls_and_skopeo_inspects() {
    let d = Dockerd::shared();
    let user = User::with_secret_service();
    let env = &user.env;
    let ss = user.ss();
    let rig = Rig::start();
    let addr = rig.addr();
    configure_clients(env, &[&addr]);

    env.watch_secret(USER_SECRET);
    // Parallel `docker login`s of the same account: one keychain item, no
    // "item already exists", and the index agrees.
    let logins: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (d, addr) = (&d, &addr);
                s.spawn(move || {
                    d.docker_stdin(
                        env,
                        &["login", addr, "-u", USER, "--password-stdin"],
                        format!("{USER_SECRET}\n").as_bytes(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &logins {
        assert_ok(out, "concurrent docker login");
    }
    assert_eq!(
        ss.count(&addr),
        1,
        "one item after parallel logins: {:?}",
        ss.items()
    );
    assert_eq!(bin::get_ok(env, &addr), (USER.into(), USER_SECRET.into()));
    assert_eq!(bin::list(env).get(&addr).map(String::as_str), Some(USER));

    let image = rig.image("proj/many:v1");
    load_image(&d, env, &image);
    assert_ok(&d.docker(env, &["push", &image]), "docker push");
    rmi(&d, env, &image);

    // Every helper run reads the Secret Service (the kernel-keyring cache off).
    mixed_round(
        &d,
        &rig,
        env,
        &image,
        16,
        &[("DOCKER_CREDENTIAL_HARBOR_CACHE_TTL", Some("0"))],
        "Secret Service only",
    );
    rmi(&d, env, &image);
    // As users run it (the cache on, in the test's session keyring).
    mixed_round(&d, &rig, env, &image, 16, &[], "default settings");
    rmi(&d, env, &image);
    assert_eq!(ss.count(&addr), 1, "still one item: {:?}", ss.items());
    env.assert_no_secret_in_files();
}

// ---------------------------------------------------------------------------
// Scenario: transparent background auth. The CLI secret dies with the web
// session; a background check notices, `get` and `docker pull` name `renew`,
// and `renew` through the browser brings docker back.

/// Waits (up to 20 s) until the index records a check verdict for `key`
/// that is `verdict`, made at `since` (Unix seconds) or later; returns the entry.
fn wait_for_verdict(env: &Env, key: &str, verdict: &str, since: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let idx: Value = env
            .index_bytes()
            .map(|b| serde_json::from_slice(&b).expect("index JSON"))
            .unwrap_or(Value::Null);
        let entry = idx["registries"][key].clone();
        if entry["check"]["verdict"] == verdict && entry["check"]["at"].as_i64() >= Some(since) {
            return entry;
        }
        assert!(
            Instant::now() < deadline,
            "no {verdict} check recorded for {key} within 20 s: {entry}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn dead_cli_secret_is_noticed_named_and_renewed() {
    let d = Dockerd::shared();
    let mut user = User::with_secret_service();
    user.env.set("DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL", "1");
    let rig = Rig::start();
    let addr = rig.addr();
    let image = rig.image("proj/renew:v1");
    let env = &user.env;
    configure_clients(env, &[&addr]);
    assert_ok(&user.login(&rig.url(), USER, USER_SECRET, &[]), "login");
    load_image(&d, env, &image);
    assert_ok(&d.docker(env, &["push", &image]), "docker push");
    rmi(&d, env, &image);

    // Healthy: a due check runs in the background and `get` says nothing.
    // (docker push may have started one already: let it finish first.)
    env.wait_for_no_check(&addr);
    std::thread::sleep(Duration::from_millis(1100));
    rig.standin.clear_token_log();
    let since = now();
    let get = bin::get(env, &addr);
    assert!(get.success(), "{get}");
    assert_eq!(get.stderr, "", "a healthy get prints nothing\n{get}");
    wait_for_verdict(env, &addr, "accepted", since);
    env.wait_for_no_check(&addr);
    let log = rig.standin.token_log();
    assert!(
        log.iter()
            .any(|e| e.account.as_deref() == Some(USER) && e.scopes.is_empty() && e.status == 200),
        "the check asked the token service without a scope: {log:?}"
    );

    // The web session expires: Harbor refuses the CLI secret.
    rig.standin
        .update_account(USER, |a| a.oidc_session_expired = true);
    std::thread::sleep(Duration::from_millis(1100));
    let get = bin::get(env, &addr);
    assert!(get.success(), "{get}");
    wait_for_verdict(env, &addr, "refused", 0);
    let get = bin::get(env, &addr);
    assert_eq!(
        bin::parse_get(&get, &addr),
        (USER.to_string(), USER_SECRET.to_string()),
        "a refused secret is still served (it may have been fixed since)"
    );
    let lines = get.stderr_lines();
    assert_eq!(lines.len(), 1, "one line on stderr\n{get}");
    assert!(
        lines[0].contains("web session") && lines[0].contains(&format!("renew {addr}")),
        "{get}"
    );
    let pull = d.docker(env, &["pull", &image]);
    assert_failed(&pull, "docker pull with a dead CLI secret");
    assert!(
        pull.stderr.contains("docker-credential-harbor renew"),
        "docker pull's output names renew\n{pull}"
    );
    let status = user.helper(&["status", &addr], b"");
    assert!(status.stdout.contains("checked:  refused"), "{status}");

    // renew: the BROWSER signs in; Harbor accepts the same secret again.
    rig.standin.set_idp_user(Some(USER));
    let (browser, _) = harbor::browser_script(env.root());
    let renew = bin::run_with(
        env,
        &[("BROWSER", Some(browser.to_str().unwrap()))],
        &["renew", &addr, "--wait", "20"],
        b"",
    );
    assert_ok(&renew, "renew");
    assert!(
        renew
            .stdout
            .contains(&format!("{}/c/oidc/login", rig.standin.url)),
        "renew prints the sign-in address\n{renew}"
    );
    assert!(renew.stdout.contains("accepts the CLI secret"), "{renew}");
    assert_eq!(rig.standin.sign_ins(), vec![USER.to_string()]);
    let entry = &rig_index_entry(env, &addr);
    assert_eq!(entry["check"]["verdict"], "accepted", "{entry}");

    let get = bin::get(env, &addr);
    assert_eq!(get.stderr, "", "the warning is gone\n{get}");
    let pull = d.docker(env, &["pull", &image]);
    assert_ok(&pull, "docker pull after renew");
    assert!(!pull.stderr.contains("renew"), "{pull}");
    rmi(&d, env, &image);
    env.assert_no_secret_in_files();
}

fn rig_index_entry(env: &Env, key: &str) -> Value {
    let idx: Value =
        serde_json::from_slice(&env.index_bytes().expect("an index")).expect("index JSON");
    idx["registries"][key].clone()
}
