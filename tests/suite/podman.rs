//! podman, skopeo and buildah in the environment a desktop user has: HOME,
//! `XDG_RUNTIME_DIR` set, `REGISTRY_AUTH_FILE`, `DOCKER_CONFIG` and
//! `XDG_CONFIG_HOME` unset. There `login` writes only
//! `$XDG_RUNTIME_DIR/containers/auth.json`; after `configure` it must store
//! through the helper, leave the secret in no file, survive the runtime dir
//! being emptied, and leave other registries alone. (tests/suite/e2e.rs covers the
//! same clients with `REGISTRY_AUTH_FILE`.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use common::bin::{self, Env, Output};
use common::commands::Login;
use common::docker::{self, CLIENT_LIMIT, Podman, assert_failed, assert_ok};
use common::harbor::{self, Account, HarborStandin};
use common::keychain::SecretService;
use common::oci::make_oci_layout_with_digest;
use common::registry::{Harbor, Registry};
use serde_json::Value;

const USER: &str = "jdoe@ucar.edu";
const SECRET: &str = "cli-secret-podman-7c1e9a4b2d";
/// The drop-in configure writes (always under HOME, as containers/image reads it).
const DROPIN: &str = ".config/containers/registries.conf.d/50-docker-credential-harbor.conf";

/// One desktop user (private Secret Service) and a Harbor stand-in with a
/// real registry behind its token service.
struct Desk {
    // First, so the daemon stops before the Env's dirs go.
    ss: SecretService,
    env: Env,
    podman: Podman,
    standin: HarborStandin,
    registry: Registry,
}

impl Desk {
    fn new() -> Desk {
        Desk::with(vec![Account::user(USER, SECRET)])
    }

    fn with(accounts: Vec<Account>) -> Desk {
        let mut env = Env::new();
        // The default environment: only HOME and XDG_RUNTIME_DIR.
        env.unset("XDG_CONFIG_HOME");
        let ss = SecretService::start(&env);
        env.set_bus(ss.address());
        env.watch_secret(SECRET);
        let Harbor { registry, standin } = Harbor::start(accounts);
        Desk {
            ss,
            env,
            podman: Podman::new(),
            standin,
            registry,
        }
    }

    fn addr(&self) -> String {
        self.registry.addr()
    }

    fn helper(&self, args: &[&str]) -> Output {
        bin::run(&self.env, args, b"")
    }

    fn configure(&self) {
        let out = self.helper(&["configure", "--registry", &self.addr()]);
        assert_ok(&out, "configure");
    }

    /// The variables a client gets: the Env's, the helper first on PATH,
    /// no REGISTRY_AUTH_FILE, no DOCKER_CONFIG.
    fn vars(&self) -> BTreeMap<String, String> {
        let mut v = self.env.with(&[]);
        let system = bin::system_path();
        v.insert(
            "PATH".into(),
            format!("{}:{system}", docker::helper_dir(&self.env).display()),
        );
        v.insert("NO_PROXY".into(), "127.0.0.1,localhost".into());
        assert!(!v.contains_key("REGISTRY_AUTH_FILE") && !v.contains_key("DOCKER_CONFIG"));
        v
    }

    fn client(&self, program: &str, pre: &[String], args: &[&str], stdin: &[u8]) -> Output {
        let argv = pre.iter().map(String::as_str).chain(args.iter().copied());
        let out = bin::run_bounded(program, argv, &self.vars(), stdin, CLIENT_LIMIT);
        for s in self.env.watched_secrets() {
            assert!(
                !out.stdout.contains(&s) && !out.stderr.contains(&s),
                "{out}"
            );
        }
        out
    }

    fn podman(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.client("podman", &self.podman.global_flags(), args, stdin)
    }

    /// buildah in podman's private storage (it takes the same storage flags).
    fn buildah(&self, args: &[&str], stdin: &[u8]) -> Output {
        let flags: Vec<String> = self.podman.global_flags().into_iter().take(3).collect();
        self.client("buildah", &flags, args, stdin)
    }

    fn skopeo(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.client("skopeo", &["--insecure-policy".into()], args, stdin)
    }

    /// `TOOL login --tls-verify=false -u USER --password-stdin ADDR`.
    fn login(&self, tool: &str, addr: &str, user: &str, secret: &str) -> Output {
        let args = [
            "login",
            "--tls-verify=false",
            "-u",
            user,
            "--password-stdin",
            addr,
        ];
        let stdin = format!("{secret}\n");
        match tool {
            "podman" => self.podman(&args, stdin.as_bytes()),
            "buildah" => self.buildah(&args, stdin.as_bytes()),
            "skopeo" => self.skopeo(&args, stdin.as_bytes()),
            _ => unreachable!(),
        }
    }

    fn runtime_file(&self) -> PathBuf {
        self.env.runtime_dir.join("containers/auth.json")
    }

    /// Push tokens granted to USER for `repo` since the log was cleared.
    fn tokens(&self, repo: &str, action: &str) -> usize {
        harbor::token_requests(&self.standin.token_log(), USER, repo, action)
    }

    /// Push a small OCI image to `repo:tag` with skopeo; returns the reference.
    fn push_layout(&self, repo_tag: &str) -> String {
        let layout = self
            .env
            .root()
            .join(format!("layout-{}", repo_tag.replace([':', '/'], "-")));
        make_oci_layout_with_digest(&layout, "v1");
        let dest = format!("{}/{repo_tag}", self.addr());
        let src = format!("oci:{}:v1", layout.display());
        let out = self.skopeo(
            &[
                "copy",
                "--dest-tls-verify=false",
                &src,
                &format!("docker://{dest}"),
            ],
            b"",
        );
        assert_ok(&out, "skopeo copy oci -> registry");
        dest
    }
}

/// No file under the Env (HOME, runtime dir, ...) holds `secret` in plain
/// text or as docker's base64 `user:secret`.
fn assert_secret_in_no_file(env: &Env, user: &str, secret: &str) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
    let files = env.files();
    assert!(!files.is_empty());
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        for needle in [secret, b64.as_str()] {
            assert!(
                !bin::contains(&bytes, needle.as_bytes()),
                "{needle:?} (the secret) found in {}",
                f.display()
            );
        }
    }
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn login_pull_push_logout_go_through_the_helper() {
    let d = Desk::new();
    let addr = d.addr();
    d.configure();
    assert_eq!(read_json(&d.runtime_file())["credHelpers"][&addr], "harbor");

    for tool in ["podman", "skopeo", "buildah"] {
        let out = d.login(tool, &addr, USER, SECRET);
        assert_ok(&out, &format!("{tool} login"));
        assert!(out.stdout.contains("Login Succeeded"), "{out}");
        assert_eq!(
            d.ss.count(&addr),
            1,
            "{tool} login stored through the helper"
        );
        assert_eq!(bin::get_ok(&d.env, &addr), (USER.into(), SECRET.into()));
        assert_secret_in_no_file(&d.env, USER, SECRET);
        if tool != "buildah" {
            let out = match tool {
                "podman" => d.podman(&["logout", &addr], b""),
                _ => d.skopeo(&["logout", &addr], b""),
            };
            assert_ok(&out, &format!("{tool} logout"));
            assert_eq!(d.ss.count(&addr), 0, "{tool} logout erased it");
        }
    }

    // Pushes and pulls with no credential flags: the helper answers.
    d.standin.clear_token_log();
    let image = d.push_layout("proj/sk:v1");
    assert!(
        d.tokens("proj/sk", "push") >= 1,
        "{:?}",
        d.standin.token_log()
    );
    d.standin.clear_token_log();
    assert_ok(
        &d.podman(&["pull", "--tls-verify=false", &image], b""),
        "podman pull",
    );
    assert!(
        d.tokens("proj/sk", "pull") >= 1,
        "{:?}",
        d.standin.token_log()
    );
    let pm = format!("{addr}/proj/pm:v1");
    assert_ok(&d.podman(&["tag", &image, &pm], b""), "podman tag");
    assert_ok(
        &d.podman(&["push", "--tls-verify=false", &pm], b""),
        "podman push",
    );
    assert!(
        d.tokens("proj/pm", "push") >= 1,
        "{:?}",
        d.standin.token_log()
    );
    let bh = format!("{addr}/proj/bh:v1");
    assert_ok(&d.buildah(&["tag", &pm, &bh], b""), "buildah tag");
    assert_ok(
        &d.buildah(&["push", "--tls-verify=false", &bh], b""),
        "buildah push",
    );
    assert!(
        d.tokens("proj/bh", "push") >= 1,
        "{:?}",
        d.standin.token_log()
    );
    assert_ok(&d.podman(&["rmi", "-f", &bh], b""), "podman rmi");
    assert_ok(
        &d.buildah(&["pull", "--tls-verify=false", &bh], b""),
        "buildah pull",
    );

    // buildah logout erases; a second logout of every tool, with nothing
    // stored, succeeds instead of crashing (containers/image <= 5.30).
    assert_ok(&d.buildah(&["logout", &addr], b""), "buildah logout");
    assert_eq!(d.ss.count(&addr), 0, "buildah logout erased it");
    for out in [
        d.podman(&["logout", &addr], b""),
        d.skopeo(&["logout", &addr], b""),
        d.buildah(&["logout", &addr], b""),
    ] {
        assert_ok(&out, "logout with nothing stored");
        assert!(!out.stderr.contains("stack overflow"), "{out}");
    }
    let out = d.skopeo(
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{image}"),
        ],
        b"",
    );
    assert_failed(&out, "skopeo inspect after logout");
    assert_secret_in_no_file(&d.env, USER, SECRET);
}

/// A reboot empties the runtime dir. The user session's tmpfiles.d run (as
/// systemd's user `systemd-tmpfiles-setup.service` does it) puts the entry
/// back; pulls read `~/.config/containers/auth.json` meanwhile.
#[test]
fn after_the_runtime_dir_is_emptied() {
    let d = Desk::new();
    let addr = d.addr();
    d.configure();
    Login::to(&d.env, &addr).user(USER, SECRET).ok();
    let image = d.push_layout("proj/boot:v1");

    std::fs::remove_dir_all(d.env.runtime_dir.join("containers")).unwrap();
    // Reading needs no runtime file: ~/.config/containers/auth.json names the helper.
    d.standin.clear_token_log();
    assert_ok(
        &d.skopeo(
            &[
                "inspect",
                "--tls-verify=false",
                &format!("docker://{image}"),
            ],
            b"",
        ),
        "skopeo inspect after the runtime dir is emptied",
    );
    assert!(
        d.tokens("proj/boot", "pull") >= 1,
        "{:?}",
        d.standin.token_log()
    );

    // Session start: the user tmpfiles.d entry recreates the runtime file.
    let out = bin::run_bounded(
        "systemd-tmpfiles",
        ["--user", "--create"],
        &d.vars(),
        b"",
        CLIENT_LIMIT,
    );
    assert_ok(&out, "systemd-tmpfiles --user --create");
    assert_eq!(read_json(&d.runtime_file())["credHelpers"][&addr], "harbor");
    assert_eq!(bin::mode_of(&d.runtime_file()), 0o600);
    assert_ok(&d.podman(&["logout", &addr], b""), "podman logout");
    assert_eq!(d.ss.count(&addr), 0);
    assert_ok(
        &d.login("podman", &addr, USER, SECRET),
        "podman login after reboot",
    );
    assert_eq!(
        d.ss.count(&addr),
        1,
        "podman login stored through the helper"
    );
    assert_secret_in_no_file(&d.env, USER, SECRET);

    // --undo takes it all back: runtime entry, tmpfiles.d line, config files.
    assert_ok(
        &d.helper(&["configure", "--registry", &addr, "--undo"]),
        "undo",
    );
    let rt = std::fs::read_to_string(d.runtime_file()).unwrap_or_default();
    assert!(!rt.contains("harbor"), "{rt}");
    assert!(
        !d.env
            .home
            .join(".config/user-tmpfiles.d/docker-credential-harbor.conf")
            .exists()
    );
}

/// An older `podman login` left a (now stale) secret in the runtime file,
/// which podman reads first. After configure the helper's secret wins.
#[test]
fn a_stale_plaintext_secret_from_an_older_podman_login_no_longer_wins() {
    let d = Desk::new();
    let addr = d.addr();
    let image = {
        // The registry needs an image: push it with the good secret first.
        Login::to(&d.env, &addr).user(USER, SECRET).ok();
        let home = d.env.home.join(".config/containers/auth.json");
        std::fs::create_dir_all(home.parent().unwrap()).unwrap();
        std::fs::write(
            &home,
            format!("{{\"credHelpers\":{{\"{addr}\":\"harbor\"}}}}"),
        )
        .unwrap();
        let image = d.push_layout("proj/stale:v1");
        std::fs::remove_file(&home).unwrap();
        image
    };
    let stale = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:old-secret-x"));
    std::fs::create_dir_all(d.runtime_file().parent().unwrap()).unwrap();
    std::fs::write(
        d.runtime_file(),
        format!("{{\"auths\":{{\"{addr}\":{{\"auth\":\"{stale}\"}}}}}}"),
    )
    .unwrap();
    let inspect = || {
        d.skopeo(
            &[
                "inspect",
                "--tls-verify=false",
                &format!("docker://{image}"),
            ],
            b"",
        )
    };
    assert_failed(&inspect(), "the stale secret wins before configure");

    // configure checks the plaintext secret, finds it refused, and removes it.
    let out = d.helper(&["configure", "--registry", &addr]);
    assert_eq!(out.code(), 0, "{out}");
    let removed = format!(
        "podman/skopeo/buildah: {}: removed the plaintext secret of {USER} for {addr}: the registry refused it",
        d.runtime_file().display()
    );
    assert!(out.stdout.lines().any(|l| l.starts_with(&removed)), "{out}");
    let rt = read_json(&d.runtime_file());
    assert!(rt["auths"][&addr].get("auth").is_none(), "{rt}");
    assert_ok(&inspect(), "the helper's secret wins after configure");
    assert_eq!(bin::get_ok(&d.env, &addr), (USER.into(), SECRET.into()));
}

/// A plaintext secret that still works moves out of the runtime file.
#[test]
fn a_working_plaintext_secret_moves_out_of_the_runtime_file() {
    let d = Desk::new();
    let addr = d.addr();
    // As `podman login` wrote it before configure.
    assert_ok(
        &d.login("podman", &addr, USER, SECRET),
        "podman login before configure",
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{SECRET}"));
    assert!(
        std::fs::read_to_string(d.runtime_file())
            .unwrap()
            .contains(&b64),
        "without configure podman writes base64 plaintext to the runtime file"
    );
    assert_eq!(d.ss.count(&addr), 0);
    d.configure();
    assert_eq!(d.ss.count(&addr), 1, "configure moved it into the keychain");
    assert_secret_in_no_file(&d.env, USER, SECRET);
    let image = d.push_layout("proj/moved:v1");
    assert_ok(
        &d.podman(&["pull", "--tls-verify=false", &image], b""),
        "podman pull",
    );
}

/// Another registry (plain Basic auth) logs in, pulls and logs out exactly as
/// before; the helper never holds it.
#[test]
fn a_registry_that_is_not_configured_is_untouched() {
    let d = Desk::new();
    d.configure();
    let other = Registry::start_basic("alice", "alice-basic-pass-91");
    let oaddr = other.addr();
    let out = d.login("podman", &oaddr, "alice", "alice-basic-pass-91");
    assert_ok(&out, "podman login to the other registry");
    assert!(out.stdout.contains("Login Succeeded"), "{out}");
    assert!(!out.stderr.contains("docker-credential-harbor"), "{out}");
    // Where podman always put it: base64 in the runtime file.
    let rt = read_json(&d.runtime_file());
    assert!(rt["auths"][&oaddr]["auth"].is_string(), "{rt}");
    assert_eq!(rt["credHelpers"][&d.addr()], "harbor", "{rt}");
    assert!(!bin::list(&d.env).contains_key(&oaddr));
    assert!(d.ss.items().is_empty(), "{:?}", d.ss.items());
    bin::assert_not_found(&d.env, &oaddr);
    // Push with the login podman stored, then pull it back.
    let layout = d.env.root().join("layout-other");
    make_oci_layout_with_digest(&layout, "v1");
    let img = format!("{oaddr}/team/app:v1");
    let src = format!("oci:{}:v1", layout.display());
    let out = d.skopeo(
        &[
            "copy",
            "--dest-tls-verify=false",
            &src,
            &format!("docker://{img}"),
        ],
        b"",
    );
    assert_ok(&out, "skopeo copy to the other registry");
    assert_ok(
        &d.podman(&["pull", "--tls-verify=false", &img], b""),
        "podman pull",
    );
    assert_ok(&d.podman(&["rmi", "-f", &img], b""), "podman rmi");
    assert_ok(
        &d.podman(&["pull", "--tls-verify=false", &img], b""),
        "podman pull",
    );
    let out = d.podman(&["logout", &oaddr], b"");
    assert_ok(&out, "podman logout of the other registry");
    assert!(out.stdout.contains("Removed login credentials"), "{out}");
    // A second logout: podman asks the helper too (the registries.conf.d
    // drop-in), and containers/image <= 5.30 crashes on a failing erase, so
    // the helper's erase succeeds and podman 4.3 says "Removed" again (the
    // README says so). Nothing is stored anywhere either way.
    let out = d.podman(&["logout", &oaddr], b"");
    assert_ok(&out, "a second logout");
    assert!(!out.stderr.contains("stack overflow"), "{out}");
    let rt = read_json(&d.runtime_file());
    assert!(rt["auths"].get(&oaddr).is_none(), "{rt}");
    assert!(d.ss.items().is_empty());
}

/// `podman logout --all` empties the runtime file's credHelpers; the
/// registries.conf.d drop-in still sends the next `podman login` of the
/// configured registry through the helper, and other registries still go to
/// the auth file.
#[test]
fn after_logout_all_podman_login_still_stores_through_the_helper() {
    let d = Desk::new();
    let addr = d.addr();
    d.configure();
    let dropin = d.env.home.join(DROPIN);
    assert_eq!(
        std::fs::read_to_string(&dropin)
            .unwrap_or_default()
            .lines()
            .last(),
        Some(r#"credential-helpers = ["harbor", "containers-auth.json"]"#),
        "{}",
        dropin.display()
    );
    assert_ok(&d.login("podman", &addr, USER, SECRET), "podman login");
    assert_eq!(d.ss.count(&addr), 1);

    let out = d.podman(&["logout", "--all"], b"");
    assert_ok(&out, "podman logout --all");
    assert_eq!(d.ss.count(&addr), 0, "logout --all erased it");
    let rt = read_json(&d.runtime_file());
    assert!(
        rt["credHelpers"].get(&addr).is_none(),
        "podman emptied credHelpers (the case this covers): {rt}"
    );

    let out = d.login("podman", &addr, USER, SECRET);
    assert_ok(&out, "podman login after logout --all");
    assert_eq!(d.ss.count(&addr), 1, "stored through the helper");
    assert_eq!(bin::get_ok(&d.env, &addr), (USER.into(), SECRET.into()));
    assert_secret_in_no_file(&d.env, USER, SECRET);
    let image = d.push_layout("proj/all:v1");
    assert_ok(
        &d.podman(&["pull", "--tls-verify=false", &image], b""),
        "podman pull after logout --all and login",
    );

    // skopeo and buildah have the same `logout --all`, and the same way back.
    for tool in ["skopeo", "buildah"] {
        let args = ["logout", "--all"];
        let out = match tool {
            "skopeo" => d.skopeo(&args, b""),
            _ => d.buildah(&args, b""),
        };
        assert_ok(&out, &format!("{tool} logout --all"));
        assert_eq!(d.ss.count(&addr), 0, "{tool} logout --all erased it");
        assert_ok(
            &d.login(tool, &addr, USER, SECRET),
            &format!("{tool} login"),
        );
        assert_eq!(
            d.ss.count(&addr),
            1,
            "{tool} login stored through the helper"
        );
        assert_secret_in_no_file(&d.env, USER, SECRET);
    }

    // Another registry: refused by the helper's store, kept by podman in
    // its auth file as without the helper, and read back from there.
    let other = Registry::start_basic("alice", "alice-basic-pass-92");
    let oaddr = other.addr();
    assert_ok(
        &d.login("podman", &oaddr, "alice", "alice-basic-pass-92"),
        "podman login to another registry",
    );
    assert!(read_json(&d.runtime_file())["auths"][&oaddr]["auth"].is_string());
    assert_eq!(d.ss.count(&oaddr), 0, "the helper keeps no other registry");
    assert!(!bin::list(&d.env).contains_key(&oaddr));
    let out = d.podman(&["login", "--get-login", &oaddr], b"");
    assert_ok(&out, "podman login --get-login of the other registry");
    assert_eq!(out.stdout.trim(), "alice", "{out}");

    // --undo removes the drop-in with the rest.
    assert_ok(
        &d.helper(&["configure", "--registry", &addr, "--undo"]),
        "undo",
    );
    assert!(!dropin.exists(), "{} removed", dropin.display());
}

/// A helper whose store fails (a locked keychain) makes `podman login` fail:
/// no silent plaintext fallback.
#[test]
fn a_failing_store_makes_podman_login_fail() {
    let d = Desk::new();
    let addr = d.addr();
    d.configure();
    d.ss.lock();
    let out = d.login("podman", &addr, USER, SECRET);
    assert_failed(&out, "podman login with a locked keychain");
    assert!(out.stderr.contains("locked"), "{out}");
    let rt = read_json(&d.runtime_file());
    assert!(rt.get("auths").and_then(|a| a.get(&addr)).is_none(), "{rt}");
    assert_secret_in_no_file(&d.env, USER, SECRET);
}

/// With the drop-in and a stored user login, a client given an auth file
/// of its own (a CI job's robot, a pull secret) gets exactly what it would
/// get without the helper: containers/image asks the helper first whatever
/// `--authfile` says, so the helper must decline. The robot's login goes
/// into that file, the user's stays in the keychain, and a logout with
/// another file erases nothing. A file that routes the registry to the
/// helper itself is still served (declining there would loop).
#[test]
fn a_client_given_its_own_auth_file_is_left_to_it() {
    const ROBOT: &str = "robot$p+ci";
    const ROBOT_SECRET: &str = "robot-secret-authfile-5a1f";
    let d = Desk::with(vec![
        Account::user(USER, SECRET),
        Account::robot(ROBOT, ROBOT_SECRET),
    ]);
    d.env.watch_secret(ROBOT_SECRET);
    let addr = d.addr();
    d.configure();
    assert_ok(&d.login("skopeo", &addr, USER, SECRET), "skopeo login");
    assert_eq!(bin::get_ok(&d.env, &addr), (USER.into(), SECRET.into()));

    let robot_file = d.env.root().join("robot-auth.json");
    let rf = robot_file.to_str().unwrap();
    let stdin = format!("{ROBOT_SECRET}\n");
    let args = [
        "login",
        "--tls-verify=false",
        "--authfile",
        rf,
        "-u",
        ROBOT,
        "--password-stdin",
        &addr,
    ];
    let out = d.skopeo(&args, stdin.as_bytes());
    assert_ok(&out, "skopeo login --authfile robot-auth.json");
    assert_eq!(out.stdout.trim(), "Login Succeeded!", "{out}");
    let robot_auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{ROBOT}:{ROBOT_SECRET}"));
    assert_eq!(
        read_json(&robot_file)["auths"][&addr]["auth"],
        robot_auth.as_str()
    );
    assert_eq!(
        bin::get_ok(&d.env, &addr),
        (USER.into(), SECRET.into()),
        "the user's login is untouched"
    );
    // Pulls with that file use the robot, not the keychain's user.
    let image = d.push_layout("proj/ci:v1");
    d.standin.clear_token_log();
    assert_ok(
        &d.skopeo(
            &[
                "inspect",
                "--tls-verify=false",
                "--authfile",
                rf,
                &format!("docker://{image}"),
            ],
            b"",
        ),
        "skopeo inspect --authfile robot-auth.json",
    );
    assert!(harbor::token_requests(&d.standin.token_log(), ROBOT, "proj/ci", "pull") > 0);
    assert_eq!(
        d.tokens("proj/ci", "pull"),
        0,
        "the user's secret was not sent"
    );

    // A logout with another file (or this one) erases nothing of the helper's.
    let ci_file = d.env.root().join("ci-auth.json");
    std::fs::write(
        &ci_file,
        format!(r#"{{"auths":{{"{addr}":{{"auth":"{robot_auth}"}}}}}}"#),
    )
    .unwrap();
    for f in [&ci_file, &robot_file] {
        let out = d.skopeo(&["logout", "--authfile", f.to_str().unwrap(), &addr], b"");
        assert_ok(&out, "skopeo logout --authfile");
        assert!(
            read_json(f)["auths"].get(&addr).is_none(),
            "removed from {}",
            f.display()
        );
    }
    assert_eq!(d.ss.count(&addr), 1);
    assert_eq!(bin::get_ok(&d.env, &addr), (USER.into(), SECRET.into()));

    // An auth file that routes the registry here is this helper's: its
    // login stores through it (and no copy lands in the file).
    let routed = d.env.root().join("routed-auth.json");
    std::fs::write(
        &routed,
        format!(r#"{{"credHelpers":{{"{addr}":"harbor"}}}}"#),
    )
    .unwrap();
    bin::run(&d.env, &["erase"], addr.as_bytes());
    let args = [
        "login",
        "--tls-verify=false",
        "--authfile",
        routed.to_str().unwrap(),
        "-u",
        USER,
        "--password-stdin",
        &addr,
    ];
    assert_ok(
        &d.skopeo(&args, format!("{SECRET}\n").as_bytes()),
        "skopeo login --authfile routed",
    );
    assert_eq!(bin::get_ok(&d.env, &addr), (USER.into(), SECRET.into()));
    assert!(
        read_json(&routed)
            .get("auths")
            .and_then(|a| a.get(&addr))
            .is_none()
    );
    assert_secret_in_no_file(&d.env, USER, SECRET);
}

/// With the drop-in, a registry the helper does not serve is "not found"
/// at once, from files alone: containers/image moves on only after exactly
/// that text, so a keychain that cannot answer (a frozen Secret Service, a
/// mistyped store name) must not break every anonymous registry.
#[test]
fn a_registry_not_served_is_not_found_whatever_the_keychain() {
    let d = Desk::new();
    d.configure();
    let open = Registry::start_open();
    let layout = d.env.root().join("open-layout");
    make_oci_layout_with_digest(&layout, "anon:v1");
    let image = format!("docker://{}/anon/app:v1", open.addr());
    let copy = [
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:anon:v1", layout.display()),
        &image,
    ];
    assert_ok(&d.skopeo(&copy, b""), "skopeo copy to an open registry");

    // No login yet, and a store name with a typo: skopeo is not affected.
    let mut typo = d.vars();
    typo.insert("DOCKER_CREDENTIAL_HARBOR_STORE".into(), "keyutil".into());
    let tags = [
        "--insecure-policy",
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/anon/app", open.addr()),
    ];
    let out = bin::run_bounded("skopeo", tags, &typo, b"", CLIENT_LIMIT);
    assert_ok(&out, "skopeo list-tags with a mistyped store name");
    assert!(out.stdout.contains("\"v1\""), "{out}");
    // The configured registry still says what is wrong with the name.
    let typo_env = [("DOCKER_CREDENTIAL_HARBOR_STORE", Some("keyutil"))];
    let out = bin::run_with(&d.env, &typo_env, &["get"], d.addr().as_bytes());
    assert!(out.error_line().contains("keyutil"), "{out}");

    // A Secret Service that does not answer (a prompt nobody sees).
    d.ss.freeze();
    let out = d.skopeo(&tags[1..], b"");
    d.ss.thaw();
    assert_ok(&out, "skopeo list-tags with a frozen Secret Service");
    assert!(out.stdout.contains("\"v1\""), "{out}");
}

/// In a desktop user's default environment (Secret Service, nothing
/// forced): a robot kept with `login --robot-file` survives `configure`
/// over an older plaintext user login in docker's and the runtime file; a
/// copy of the robot's login in the runtime file goes, the user's stays
/// with one line each.
#[test]
fn configure_never_replaces_the_stored_robot() {
    const ROBOT: &str = "robot-proj+ci";
    const ROBOT_SECRET: &str = "robot-secret-desk-8e2d";
    let d = Desk::with(vec![
        Account::user(USER, SECRET),
        Account::robot(ROBOT, ROBOT_SECRET),
    ]);
    d.env.watch_secret(ROBOT_SECRET);
    let addr = d.addr();
    let file = harbor::robot_file(d.env.root(), ROBOT, ROBOT_SECRET, -1);
    assert_ok(
        &d.helper(&[
            "login",
            "--robot-file",
            file.to_str().unwrap(),
            &d.registry.url(),
        ]),
        "login --robot-file",
    );
    std::fs::remove_file(&file).unwrap();
    let b64 =
        |u: &str, s: &str| base64::engine::general_purpose::STANDARD.encode(format!("{u}:{s}"));
    let docker = d.env.home.join(".docker/config.json");
    std::fs::create_dir_all(docker.parent().unwrap()).unwrap();
    std::fs::write(
        &docker,
        format!(
            r#"{{"auths":{{"{addr}":{{"auth":"{}"}}}}}}"#,
            b64(USER, SECRET)
        ),
    )
    .unwrap();
    std::fs::create_dir_all(d.runtime_file().parent().unwrap()).unwrap();
    std::fs::write(
        d.runtime_file(),
        format!(
            r#"{{"auths":{{"{addr}":{{"auth":"{}"}}}}}}"#,
            b64(ROBOT, ROBOT_SECRET)
        ),
    )
    .unwrap();
    let out = d.helper(&["configure", "--registry", &addr]);
    assert_ok(&out, "configure");
    assert_eq!(
        bin::get_ok(&d.env, &addr),
        (ROBOT.into(), ROBOT_SECRET.into())
    );
    assert_eq!(d.ss.count(&addr), 1);
    assert_eq!(
        read_json(&docker)["auths"][&addr]["auth"],
        b64(USER, SECRET).as_str()
    );
    assert!(
        read_json(&d.runtime_file())["auths"][&addr]
            .get("auth")
            .is_none()
    );
    assert!(
        out.stderr.contains(&format!(
            "it differs from the login the keychain holds ({ROBOT})"
        )),
        "{out}"
    );
    assert!(
        out.stdout.contains("the keychain holds the same login"),
        "{out}"
    );
    // Pulls still use the robot.
    let image = d.push_layout("proj/robot:v1");
    d.standin.clear_token_log();
    assert_ok(
        &d.podman(&["pull", "--tls-verify=false", &image], b""),
        "podman pull",
    );
    assert!(harbor::token_requests(&d.standin.token_log(), ROBOT, "proj/robot", "pull") > 0);
}

/// `configure` takes over the login the registry's previous helper holds
/// (docker's `credsStore`, an earlier `credHelpers` entry) when the
/// registry accepts it, and never deletes it there; a helper that is
/// missing, hangs or fails costs one line. Here with the real
/// docker-credential-secretservice and docker-credential-pass, and stubs
/// answering as the macOS and Windows helpers do.
#[test]
fn configure_takes_over_the_previous_helpers_login() {
    let d = Desk::new();
    let addr = d.addr();
    let docker = d.env.home.join(".docker/config.json");
    std::fs::create_dir_all(docker.parent().unwrap()).unwrap();
    let store_json = format!(r#"{{"ServerURL":"{addr}","Username":"{USER}","Secret":"{SECRET}"}}"#);
    let out = d.client(
        "docker-credential-secretservice",
        &[],
        &["store"],
        store_json.as_bytes(),
    );
    assert_ok(&out, "docker-credential-secretservice store");
    std::fs::write(&docker, r#"{"credsStore":"secretservice"}"#).unwrap();

    let out = d.helper(&["configure", "--registry", &addr]);
    assert_ok(&out, "configure");
    let line = format!(
        "{addr}: took over the login of {USER} from docker-credential-secretservice \
         (the registry accepts it; it stays there too)"
    );
    assert!(out.stdout.lines().any(|l| l == line), "{out}");
    assert_eq!(bin::get_ok(&d.env, &addr), (USER.into(), SECRET.into()));
    // Still in docker-credential-secretservice (its answer holds the secret:
    // not through `client`, which refuses any output that shows one).
    let theirs = bin::run_bounded(
        "docker-credential-secretservice",
        ["get"],
        &d.vars(),
        addr.as_bytes(),
        CLIENT_LIMIT,
    );
    assert_eq!(bin::parse_get(&theirs, &addr), (USER.into(), SECRET.into()));
    let doctor = d.helper(&["doctor", "--registry", &addr]);
    assert!(
        doctor
            .stdout
            .contains("the login was taken over by configure from docker-credential-secretservice"),
        "{doctor}"
    );
    // The registry now goes to this helper: a second run asks nobody else.
    let out = d.helper(&["configure", "--registry", &addr]);
    assert_ok(&out, "configure again");
    assert!(
        !out.stdout.contains("secretservice") && !out.stderr.contains("secretservice"),
        "{out}"
    );
    // Undone, docker's credsStore serves the login again, as before.
    std::fs::write(&docker, r#"{"credsStore":"secretservice"}"#).unwrap();
    assert_ok(
        &d.helper(&["configure", "--registry", &addr, "--undo"]),
        "undo",
    );
    bin::run(&d.env, &["erase"], addr.as_bytes());
}

/// The macOS and Windows helpers (stubs answering as they do: the login
/// under `https://host`), one that hangs and one that fails, and the real
/// docker-credential-pass.
#[test]
fn configure_asks_each_previous_helper_within_bounds() {
    let d = Desk::new();
    let addr = d.addr();
    let stubs = d.env.root().join("stub-helpers");
    std::fs::create_dir_all(&stubs).unwrap();
    let stub = |name: &str, body: &str| {
        let p = stubs.join(format!("docker-credential-{name}"));
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        bin::set_mode(&p, 0o755);
    };
    // osxkeychain/desktop keep docker's `https://` spelling.
    stub(
        "desktop",
        &format!(
            r#"read -r key; [ "$1" = get ] && [ "$key" = "https://{addr}" ] && {{ printf '{{"ServerURL":"%s","Username":"{USER}","Secret":"{SECRET}"}}\n' "$key"; exit 0; }}; echo "credentials not found in native keychain"; exit 1"#
        ),
    );
    stub("wincred", "sleep 60");
    stub(
        "broken",
        "echo 'error getting credentials - err: exit status 1, out: `GDBus.Error`'; exit 1",
    );
    let path = format!("{}:{}", stubs.display(), bin::system_path());
    let docker = d.env.home.join(".docker/config.json");
    std::fs::create_dir_all(docker.parent().unwrap()).unwrap();
    let run = |config: &str| {
        std::fs::write(&docker, config).unwrap();
        bin::run_with(
            &d.env,
            &[("PATH", Some(&path))],
            &["configure", "--docker", "--registry", &addr],
            b"",
        )
    };
    for (helper, line) in [
        (
            "wincred",
            "warning: docker-credential-wincred get 127.0.0.1",
        ),
        ("broken", "warning: docker-credential-broken get 127.0.0.1"),
        (
            "missing",
            "warning: docker-credential-missing is not on PATH",
        ),
    ] {
        let out = run(&format!(r#"{{"credHelpers":{{"{addr}":"{helper}"}}}}"#));
        assert_eq!(out.code(), 0, "{out}");
        let said: Vec<&str> = out
            .stderr_lines()
            .into_iter()
            .filter(|l| l.contains(helper))
            .collect();
        assert_eq!(said.len(), 1, "{out}");
        assert!(said[0].starts_with(line), "{out}");
        bin::assert_not_found(&d.env, &addr);
        assert_ok(
            &bin::run_with(
                &d.env,
                &[("PATH", Some(&path))],
                &["configure", "--docker", "--registry", &addr, "--undo"],
                b"",
            ),
            "undo",
        );
    }
    let out = run(r#"{"credsStore":"desktop"}"#);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains("took over the login of jdoe@ucar.edu from docker-credential-desktop"),
        "{out}"
    );
    assert_eq!(bin::get_ok(&d.env, &addr), (USER.into(), SECRET.into()));
    bin::run(&d.env, &["erase"], addr.as_bytes());
}

/// The same with the real docker-credential-pass (a `pass` store with a
/// passphrase-less key made here). Its entries are in the layout this
/// helper's pass keychain reads too, so there is nothing to take over: the
/// keychain already holds that very login, and it stays where it is.
#[test]
fn a_docker_credential_pass_login_is_already_in_the_pass_keychain() {
    let d = Desk::new();
    let addr = d.addr();
    let gnupg = d.env.root().join("gnupg");
    std::fs::create_dir_all(&gnupg).unwrap();
    bin::set_mode(&gnupg, 0o700);
    let store = d.env.root().join("password-store");
    let (gnupg, store) = (gnupg.to_str().unwrap(), store.to_str().unwrap());
    let mut vars = d.vars();
    vars.insert("GNUPGHOME".into(), gnupg.into());
    vars.insert("PASSWORD_STORE_DIR".into(), store.into());
    let run = |program: &str, args: &[&str], stdin: &[u8]| {
        let out = bin::run_bounded(program, args.iter().copied(), &vars, stdin, CLIENT_LIMIT);
        assert_ok(&out, program);
    };
    run(
        "gpg",
        &[
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Helper Test <pass@example.org>",
            "default",
            "default",
            "never",
        ],
        b"",
    );
    run("pass", &["init", "pass@example.org"], b"");
    let store_json = format!(r#"{{"ServerURL":"{addr}","Username":"{USER}","Secret":"{SECRET}"}}"#);
    run("docker-credential-pass", &["store"], store_json.as_bytes());
    let docker = d.env.home.join(".docker/config.json");
    std::fs::create_dir_all(docker.parent().unwrap()).unwrap();
    std::fs::write(&docker, r#"{"credsStore":"pass"}"#).unwrap();
    let changes = [
        ("GNUPGHOME", Some(gnupg)),
        ("PASSWORD_STORE_DIR", Some(store)),
    ];
    let out = bin::run_with(
        &d.env,
        &changes,
        &["configure", "--docker", "--registry", &addr],
        b"",
    );
    assert_eq!(out.code(), 0, "{out}");
    let line = format!("{addr}: docker-credential-pass holds the same login as the keychain");
    assert!(out.stdout.lines().any(|l| l == line), "{out}");
    assert_eq!(bin::get_ok(&d.env, &addr), (USER.into(), SECRET.into()));
    let theirs = bin::run_bounded(
        "docker-credential-pass",
        ["get"],
        &vars,
        addr.as_bytes(),
        CLIENT_LIMIT,
    );
    assert_eq!(
        bin::parse_get(&theirs, &addr),
        (USER.into(), SECRET.into()),
        "still in pass"
    );
    let _ = bin::run_bounded("gpgconf", ["--kill", "gpg-agent"], &vars, b"", CLIENT_LIMIT);
    bin::run(&d.env, &["erase"], addr.as_bytes());
}
