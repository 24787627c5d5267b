//! The life of a stored secret after login: background checks started by
//! `get`, the warning while Harbor refuses the secret, `renew`, and the
//! check interval. The real binary against the Harbor stand-in (token
//! service, systeminfo, the OIDC sign-in through a fake identity provider) in
//! front of a real docker-registry, secrets in the kernel keyring.
//! (With real docker: `dead_cli_secret_is_noticed_named_and_renewed` in e2e.rs.)
//!
//! Run under a session keyring of its own:
//! `keyctl session - cargo test --test suite lifecycle::`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::bin::{self, Env, NAME, Output};
use common::commands::Login;
use common::harbor::{Account, HarborStandin, StandinOptions};
use common::keychain;
use common::registry::{Harbor, Registry};
use common::rig::KeyringUser;
use common::text::{self, Normal};
use serde_json::Value;

const INTERVAL_ENV: &str = "DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL";
const USER: &str = "jdoe@ucar.edu";
const USER_SECRET: &str = "cli-secret-jdoe-lifecycle-7f3a";
const ROBOT: &str = "robot$proj+ci";
const ROBOT_SECRET: &str = "robot-secret-lifecycle-91bd";
/// A username a client could store: a terminal would act on every control in it.
const ODD_USER: &str = "jdoe\u{1b}[2J\nforged \u{85}\u{9b}31m\u{7f}@ucar.edu";
const ODD_SECRET: &str = "cli-secret-odd-lifecycle-44c1";
/// What every reader says of the WAF's 403 in front of the stand-in.
const BLOCKED: &str = "$HARBOR answered HTTP 403 (\"Request blocked: rate limit exceeded\") to the credential check: something in front of the registry (a firewall, a rate limiter or a proxy) stopped it, so it says nothing about the secret, which is kept; try again later, or ask the registry's administrators";
/// What every reader says while Harbor cannot reach its identity provider.
const OUTAGE: &str = "Harbor at $REGISTRY cannot reach its identity provider now, and refuses every CLI secret until it can: nothing to do on your side; try later";
/// What `renew` prints first for a CLI secret whose web session expired.
const SIGN_IN: &str = "\
$REGISTRY refuses the CLI secret of jdoe@ucar.edu: your Harbor web session has expired.
Sign in to Harbor through Entra ID at:
  http://$HARBOR/c/oidc/login
";

struct Rig {
    // Drop order: the helper user (kernel-keyring leftovers, dirs), then the servers.
    user: KeyringUser,
    registry: Registry,
    standin: HarborStandin,
}

impl std::ops::Deref for Rig {
    type Target = KeyringUser;
    fn deref(&self) -> &KeyringUser {
        &self.user
    }
}

impl Rig {
    /// A stand-in with USER and ROBOT, a registry behind it, and a helper
    /// user on the kernel keyring with the check interval `interval`.
    fn start(interval: Option<&str>) -> Rig {
        let Harbor { registry, standin } = Harbor::start_with(StandinOptions {
            accounts: vec![
                Account::user(USER, USER_SECRET),
                Account::robot(ROBOT, ROBOT_SECRET),
                Account::user(ODD_USER, ODD_SECRET),
            ],
            ..StandinOptions::default()
        });
        let mut user = KeyringUser::new();
        if let Some(i) = interval {
            user.env.set(INTERVAL_ENV, i);
        }
        user.env.watch_secret(USER_SECRET);
        user.env.watch_secret(ROBOT_SECRET);
        user.env.watch_secret(ODD_SECRET);
        user.claim(&registry.addr());
        Rig {
            user,
            registry,
            standin,
        }
    }

    /// The registry key, `127.0.0.1:PORT`.
    fn key(&self) -> String {
        self.registry.addr()
    }

    /// The home's directories, the registry as `$REGISTRY`, the stand-in
    /// (`host:port`) as `$HARBOR`, and spans of seconds as `N`.
    fn normal(&self) -> Normal {
        Normal::registry(&self.env, &self.key())
            .name(self.standin.url.trim_start_matches("http://"), "$HARBOR")
            .seconds()
    }

    fn helper(&self, args: &[&str]) -> Output {
        bin::run(&self.env, args, b"")
    }

    fn login(&self, user: &str, secret: &str) -> Output {
        Login::to(&self.env, &self.registry.url())
            .user(user, secret)
            .ok()
    }

    fn entry(&self) -> Value {
        let idx: Value =
            serde_json::from_slice(&self.env.index_bytes().expect("an index")).expect("index JSON");
        idx["registries"][self.key()].clone()
    }

    /// Waits up to 20 s for a recorded check whose verdict is `verdict`.
    fn wait_for(&self, verdict: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let e = self.entry();
            if e["check"]["verdict"] == verdict {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no {verdict} check recorded within 20 s: {e}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Token requests that checked `account`'s credentials (no scope).
    fn checks_of(&self, account: &str) -> usize {
        self.standin
            .token_log()
            .iter()
            .filter(|e| e.account.as_deref() == Some(account) && e.scopes.is_empty())
            .count()
    }
}

fn due_soon() {
    // The interval in these tests is 1 s, counted in whole seconds: this lets
    // the time pass that makes a check due (no synchronisation).
    std::thread::sleep(Duration::from_millis(1100));
}

#[test]
fn a_refused_robot_is_named_and_renew_explains_robots() {
    let rig = Rig::start(Some("1"));
    let key = rig.key();
    rig.login(ROBOT, ROBOT_SECRET);
    rig.standin.update_account(ROBOT, |a| a.disabled = true);
    due_soon();
    assert!(bin::get(&rig.env, &key).success());
    rig.wait_for("refused");
    let get = bin::get(&rig.env, &key);
    assert_eq!(
        bin::parse_get(&get, &key),
        (ROBOT.to_string(), ROBOT_SECRET.to_string())
    );
    let lines = get.stderr_lines();
    assert_eq!(lines.len(), 1, "{get}");
    text::assert_text(
        &rig.normal(),
        &get.stderr,
        "docker-credential-harbor: warning: $REGISTRY refused robot account robot$proj+ci (N seconds ago): it expired, was disabled or its secret was refreshed; import the new secret with `docker-credential-harbor login --robot-file FILE`\n",
    );
    let renew = rig.helper(&["renew", &key, "--wait", "1"]);
    assert_eq!(renew.code(), 1, "{renew}");
    text::assert_text(
        &rig.normal(),
        &renew.stderr,
        "error: robot$proj+ci is a robot account: robots have no web session to renew. If $REGISTRY refuses it, it expired, was disabled or its secret was refreshed: ask a project admin for the new secret, then run `docker-credential-harbor login --robot-file FILE`\n",
    );

    // A new secret clears the warning at once: the old verdict was about the old one.
    rig.standin.update_account(ROBOT, |a| a.disabled = false);
    rig.login(ROBOT, ROBOT_SECRET);
    let get = bin::get(&rig.env, &key);
    assert_eq!(get.stderr, "", "{get}");
}

/// An admin extended the robot: Harbor moved its date and kept the secret.
/// The first `get` past the recorded date starts a check at once (the
/// interval is hours), and the registry's acceptance drops the old date:
/// `status` and the warnings stop calling the robot expired (issue 32, item 1).
#[test]
fn a_robot_accepted_past_its_recorded_expiry_loses_the_date() {
    let rig = Rig::start(None);
    let key = rig.key();
    rig.login(ROBOT, ROBOT_SECRET);
    // Imported a month ago, last checked 3 hours ago (the interval is 6),
    // and the date it had passed an hour ago.
    let now = common::harbor::now();
    let path = rig.env.index_path();
    let mut idx: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let e = &mut idx["registries"][&key];
    e["stored_at"] = Value::from(now - 30 * 86_400);
    e["verified_at"] = Value::from(now - 30 * 86_400);
    e["check"] = serde_json::json!({"at": now - 3 * 3_600, "verdict": "accepted"});
    e["expires_at"] = Value::from(now - 3_600);
    std::fs::write(&path, idx.to_string()).unwrap();
    rig.standin.clear_token_log();

    let get = bin::get(&rig.env, &key);
    assert_eq!(
        bin::parse_get(&get, &key),
        (ROBOT.to_string(), ROBOT_SECRET.to_string())
    );
    text::assert_text(
        &rig.normal(),
        &get.stderr,
        "docker-credential-harbor: warning: robot account robot$proj+ci for $REGISTRY passed its recorded expiry 60 minutes ago: it has expired unless a project admin extended it, and the registry decides; if pulls fail, ask for a new secret, then run `docker-credential-harbor login --robot-file FILE`\n",
    );
    bin::wait_until("a check past the date", Duration::from_secs(20), || {
        rig.entry()["check"]["at"].as_i64() >= Some(now)
    });
    let entry = rig.entry();
    assert_eq!(entry["check"]["verdict"], "accepted", "{entry}");
    assert_eq!(
        entry["expires_at"],
        Value::Null,
        "the old date is dropped: {entry}"
    );
    assert_eq!(rig.checks_of(ROBOT), 1, "{:?}", rig.standin.token_log());

    let status = rig.helper(&["status"]);
    assert_eq!(status.code(), 0, "{status}");
    text::assert_text(
        &rig.normal(),
        &status.stdout,
        "\
$REGISTRY
  account:  robot$proj+ci (robot)
  keychain: keyutils
  stored:   30 days ago
  expiry:   unknown (import with --robot-file to track it)
  checked:  accepted N seconds ago
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
",
    );
    let get = bin::get(&rig.env, &key);
    assert_eq!(get.stderr, "", "no more warnings\n{get}");
}

#[test]
fn renew_that_nobody_completes_fails_after_wait() {
    let rig = Rig::start(Some("off"));
    let key = rig.key();
    rig.login(USER, USER_SECRET);
    rig.standin
        .update_account(USER, |a| a.oidc_session_expired = true);

    // status --check finds it and records the verdict that `get` reports.
    let status = rig.helper(&["status", "--check", &key]);
    assert_eq!(status.code(), 1, "{status}");
    text::assert_text(&rig.normal(), &status.stdout, "\
$REGISTRY
  account:  jdoe@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  refused N seconds ago
  check:    refused: $REGISTRY refused the CLI secret for jdoe@ucar.edu. This Harbor signs people in through Entra ID: use your Harbor username and the CLI secret from the web UI (your name > User Profile > CLI secret), not your password. If it worked before, your web session has expired: log in to the Harbor web UI once, then run login again (or run `docker-credential-harbor renew $REGISTRY`)
  lived:    N seconds (from its store or renewal until Harbor refused it)
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
");
    assert_eq!(rig.entry()["check"]["verdict"], "refused");
    let get = bin::get(&rig.env, &key);
    text::assert_text(
        &rig.normal(),
        &get.stderr,
        "docker-credential-harbor: warning: $REGISTRY refused the CLI secret of jdoe@ucar.edu (N seconds ago); your Harbor web session has probably expired: run `docker-credential-harbor renew $REGISTRY`\n",
    );

    // Nobody signs in at the identity provider.
    let (browser, ran) = common::harbor::browser_script(rig.env.root());
    let start = Instant::now();
    let renew = bin::run_with(
        &rig.env,
        &[("BROWSER", Some(browser.to_str().unwrap()))],
        &["renew", &key, "--wait", "3"],
        b"",
    );
    let took = start.elapsed();
    assert_eq!(renew.code(), 1, "{renew}");
    assert!(took >= Duration::from_secs(3), "gave up early: {took:?}");
    let sign_in = format!("{}/c/oidc/login", rig.standin.url);
    text::assert_text(
        &rig.normal(),
        &renew.stdout,
        &format!(
            "\
{SIGN_IN}Waiting up to 3 s for Harbor to accept the CLI secret again...
"
        ),
    );
    text::assert_text(
        &rig.normal(),
        &renew.stderr,
        "error: $REGISTRY still refuses the CLI secret of jdoe@ucar.edu after 3 s. If you did sign in, the CLI secret was probably regenerated: copy the new one (web UI: your name > User Profile > CLI secret) and run `docker-credential-harbor login $REGISTRY`\n",
    );
    assert_eq!(
        std::fs::read_to_string(&ran)
            .expect("the browser ran")
            .trim(),
        sign_in
    );
    assert!(rig.standin.sign_ins().is_empty());
    assert_eq!(rig.entry()["check"]["verdict"], "refused");

    // --no-browser and SSH sessions open nothing; the address is printed.
    std::fs::remove_file(&ran).unwrap();
    for extra in [
        vec![("BROWSER", Some(browser.to_str().unwrap()))],
        vec![
            ("BROWSER", Some(browser.to_str().unwrap())),
            ("SSH_CONNECTION", Some("10.0.0.1 5555 10.0.0.2 22")),
        ],
    ] {
        let no_browser = extra.len() == 1;
        let mut args = vec!["renew", &key, "--wait", "1"];
        if no_browser {
            args.push("--no-browser");
        }
        let out = bin::run_with(&rig.env, &extra, &args, b"");
        assert_eq!(out.code(), 1, "{out}");
        assert!(out.stdout.contains(&sign_in), "{out}");
        assert!(!ran.exists(), "no browser was opened\n{out}");
    }

    // Once someone signs in, renew succeeds and `get` is quiet again.
    rig.standin.set_idp_user(Some(USER));
    let renew = bin::run_with(
        &rig.env,
        &[("BROWSER", Some(browser.to_str().unwrap()))],
        &["renew", &key, "--wait", "20"],
        b"",
    );
    assert!(renew.success(), "{renew}");
    assert_eq!(rig.standin.sign_ins(), vec![USER.to_string()]);
    assert_eq!(bin::get(&rig.env, &key).stderr, "");
    let again = rig.helper(&["renew", &key]);
    assert!(again.success(), "{again}");
    text::assert_text(
        &rig.normal(),
        &again.stdout,
        "$REGISTRY accepts the CLI secret of jdoe@ucar.edu; there is nothing to renew.\n",
    );
}

/// The stored username is shown escaped wherever it is printed: `login`,
/// `status` and `renew` in text, `status --json` with DEL and the C1
/// controls escaped as the C0 ones are (issue 31, item 8).
#[test]
fn a_username_with_control_characters_is_shown_escaped() {
    let rig = Rig::start(Some("off"));
    let key = rig.key();
    let shown = "jdoe\\u{1b}[2J\\nforged \\u{85}\\u{9b}31m\\u{7f}@ucar.edu";
    let no_controls = |out: &Output| !out.stdout.chars().any(|c| c.is_control() && c != '\n');
    let login = rig.login(ODD_USER, ODD_SECRET);
    text::assert_text(&rig.normal(), &login.stdout, "\
Login Succeeded: jdoe\\u{1b}[2J\\nforged \\u{85}\\u{9b}31m\\u{7f}@ucar.edu (user) for $REGISTRY, kept in the kernel keyring.
docker does not use this helper for $REGISTRY yet: run `docker-credential-harbor configure --registry $REGISTRY`.
");
    assert!(no_controls(&login), "{login}");

    let status = rig.helper(&["status"]);
    text::assert_text(
        &rig.normal(),
        &status.stdout,
        "\
$REGISTRY
  account:  jdoe\\u{1b}[2J\\nforged \\u{85}\\u{9b}31m\\u{7f}@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  accepted N seconds ago
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
",
    );
    assert!(no_controls(&status), "{status}");
    let json = rig.helper(&["status", "--json"]);
    assert!(
        json.stdout.contains(
            "\"username\": \"jdoe\\u001b[2J\\nforged \\u0085\\u009b31m\\u007f@ucar.edu\""
        ),
        "{json}"
    );
    assert!(no_controls(&json), "{json}");
    assert_eq!(bin::status_rows(&json)[0]["username"], ODD_USER);

    let renew = rig.helper(&["renew", &key]);
    assert!(renew.success(), "{renew}");
    assert_eq!(
        renew.stdout,
        format!("{key} accepts the CLI secret of {shown}; there is nothing to renew.\n"),
        "{renew}"
    );
}

#[test]
fn renew_does_not_apply_without_oidc() {
    let rig = Rig::start(Some("off"));
    let key = rig.key();
    rig.login(USER, USER_SECRET);
    rig.standin.set_auth_mode("db_auth");
    rig.standin
        .update_account(USER, |a| a.secret = "changed-password".into());
    let renew = rig.helper(&["renew", &key, "--wait", "5"]);
    assert_eq!(renew.code(), 1, "{renew}");
    text::assert_text(
        &rig.normal(),
        &renew.stderr,
        "error: $REGISTRY refuses the password of jdoe@ucar.edu, and it signs people in with db_auth, not OIDC: renew does not apply; run `docker-credential-harbor login $REGISTRY` with the right password\n",
    );
    assert!(
        renew.elapsed < Duration::from_secs(5),
        "no waiting: {renew}"
    );
}

#[test]
fn check_interval_off_sends_nothing() {
    // The control: with an interval, the same steps make exactly one check.
    let on = Rig::start(Some("1"));
    // Off through the variable, and through the settings file.
    let off_env = Rig::start(Some("off"));
    let off_file = Rig::start(None);
    let settings = off_file.env.config_home.join(NAME).join("config.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"check_interval": "off"}"#).unwrap();

    for rig in [&on, &off_env, &off_file] {
        rig.login(USER, USER_SECRET);
        rig.standin.clear_token_log();
    }
    due_soon();
    for rig in [&on, &off_env, &off_file] {
        for _ in 0..3 {
            let get = bin::get(&rig.env, &rig.key());
            assert!(get.success() && get.stderr.is_empty(), "{get}");
        }
    }
    // Quiescent: the control's check ran and finished, and the other gets,
    // which have all returned, left no check marker behind.
    on.wait_for("accepted");
    for rig in [&on, &off_env, &off_file] {
        rig.env.wait_for_no_check(&rig.key());
    }
    assert!(on.checks_of(USER) >= 1, "{:?}", on.standin.token_log());
    for rig in [&off_env, &off_file] {
        assert_eq!(
            rig.standin.token_log(),
            vec![],
            "nothing was sent with the interval off"
        );
        assert_eq!(rig.entry()["check"], Value::Null);
    }
}

#[test]
fn get_stays_fast_while_the_registry_hangs() {
    let rig = Rig::start(Some("1"));
    let key = rig.key();
    rig.login(USER, USER_SECRET);
    rig.standin.clear_token_log();
    rig.standin.set_token_delay(Duration::from_secs(6));
    due_soon();

    // 30 parallel gets: every one answers without waiting for the registry.
    // Each is handed an open descriptor 7, as a caller may leak one; the
    // check it starts must not keep it (nor anything else above 2).
    let gets: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..30)
            .map(|_| {
                s.spawn(|| {
                    bin::run_via(
                        &rig.env,
                        &[],
                        &["sh", "-c", r#"exec 7</dev/zero; exec "$@""#, "sh"],
                        &["get"],
                        key.as_bytes(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for get in &gets {
        assert_eq!(
            bin::parse_get(get, &key),
            (USER.to_string(), USER_SECRET.to_string())
        );
        assert!(
            get.elapsed < Duration::from_secs(4),
            "get waited for the hanging registry: {get}"
        );
    }

    // The check is running: detached, and no secret in argv or environment.
    let pids = bin::pids_running(&[NAME, "background-check", &key]);
    assert_eq!(pids.len(), 1, "exactly one check runs: {pids:?}");
    let pid = pids[0];
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(
        fields[3],
        pid.to_string(),
        "the check leads its own session: {stat}"
    );
    for fd in 0..3 {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
        assert_eq!(target, PathBuf::from("/dev/null"), "fd {fd}");
    }
    let inherited: Vec<PathBuf> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .filter(|t| t == Path::new("/dev/zero"))
        .collect();
    assert_eq!(
        inherited,
        Vec::<PathBuf>::new(),
        "the caller's descriptor 7 was closed"
    );
    let secrets = vec![USER_SECRET.to_string()];
    assert_eq!(
        bin::procs_holding(&secrets, "cmdline"),
        Vec::<String>::new()
    );
    assert_eq!(
        bin::procs_holding(&secrets, "environ"),
        Vec::<String>::new()
    );

    rig.wait_for("accepted");
    rig.env.wait_for_no_check(&key);
    assert_eq!(rig.checks_of(USER), 1, "{:?}", rig.standin.token_log());
}

#[test]
fn checks_racing_store_erase_and_logout_lose_no_index_update() {
    let KeyringUser {
        keyring: cleanup,
        mut env,
    } = KeyringUser::new();
    env.set(INTERVAL_ENV, "1");
    // Registries nobody listens on: each check ends quickly as "unreachable".
    // All twelve are held while picking, so no port (and no key) comes twice.
    let held: Vec<std::net::TcpListener> = (0..12)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    drop(held);
    let keys: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let (kept, rest) = keys.split_at(4);
    let (restored, erased) = rest.split_at(4);
    for k in &keys {
        cleanup.add(k);
        let out = bin::store(&env, k, "first-user", "first-secret");
        out.assert_silent_success();
    }
    due_soon();
    // The sleeps below pace the load (gets, stores and erases spread over
    // about a second, so they overlap running checks); nothing waits on them.
    std::thread::scope(|s| {
        for k in &keys {
            let env = &env;
            s.spawn(move || {
                for _ in 0..6 {
                    // Found or (once erased) not: either way the get starts checks.
                    let _ = bin::get(env, k);
                    std::thread::sleep(Duration::from_millis(150));
                }
            });
        }
        s.spawn(|| {
            for k in restored {
                std::thread::sleep(Duration::from_millis(100));
                bin::store(&env, k, "second-user", "second-secret").assert_silent_success();
            }
        });
        s.spawn(|| {
            for (i, k) in erased.iter().enumerate() {
                std::thread::sleep(Duration::from_millis(100));
                if i % 2 == 0 {
                    bin::erase(&env, k).assert_silent_success();
                } else {
                    let out = bin::run(&env, &["logout", k], b"");
                    assert!(out.success() && out.stdout.contains("Removed"), "{out}");
                }
            }
        });
    });
    let deadline = Instant::now() + Duration::from_secs(40);
    while keys
        .iter()
        .any(|k| !bin::pids_running(&[NAME, "background-check", k]).is_empty())
    {
        assert!(Instant::now() < deadline, "checks still running after 40 s");
        std::thread::sleep(Duration::from_millis(50));
    }

    let idx: Value = serde_json::from_slice(&env.index_bytes().unwrap()).unwrap();
    let registries = idx["registries"].as_object().unwrap();
    let mut want: Vec<&String> = kept.iter().chain(restored).collect();
    want.sort();
    let mut have: Vec<&String> = registries.keys().collect();
    have.sort();
    assert_eq!(have, want, "exactly the kept and re-stored registries");
    for k in kept {
        assert_eq!(registries[k]["username"], "first-user");
        assert_eq!(
            registries[k]["check"]["verdict"], "unreachable",
            "the checks recorded their verdicts: {}",
            registries[k]
        );
        assert_eq!(
            bin::get_ok(&env, k),
            ("first-user".into(), "first-secret".into())
        );
    }
    for k in restored {
        assert_eq!(
            registries[k]["username"], "second-user",
            "{}",
            registries[k]
        );
        assert_eq!(
            bin::get_ok(&env, k),
            ("second-user".into(), "second-secret".into())
        );
    }
    for k in erased {
        bin::assert_not_found(&env, k);
        assert!(!keychain::keyutils_has(k), "{k} left in the kernel keyring");
    }
    let listed = bin::list(&env);
    assert_eq!(listed.len(), 8, "{listed:?}");
}

#[test]
fn the_first_refusal_sends_one_desktop_notification() {
    let Harbor { registry, standin } = Harbor::start(vec![Account::user(USER, USER_SECRET)]);
    let key = registry.addr();
    let mut env = Env::new();
    let ss = keychain::SecretService::start(&env);
    env.set_bus(ss.address());
    env.set(INTERVAL_ENV, "1");
    // A desktop session: the notification is for people who never see stderr.
    env.set("DISPLAY", ":99");
    env.watch_secret(USER_SECRET);
    let mut monitor =
        keychain::BusMonitor::start(ss.address(), &["interface='org.freedesktop.Notifications'"]);
    Login::to(&env, &registry.url())
        .user(USER, USER_SECRET)
        .ok();
    // First an identity-provider outage: nobody's to fix, no notification.
    standin.set_idp_down(true);

    // Then two checks find the secret refused; only the first one notifies.
    let mut first_at = None;
    for round in 0..3 {
        if round == 1 {
            standin.set_idp_down(false);
            standin.update_account(USER, |a| a.oidc_session_expired = true);
        }
        due_soon();
        assert!(bin::get(&env, &key).success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let idx: Value = serde_json::from_slice(&env.index_bytes().unwrap()).unwrap();
            let check = &idx["registries"][&key]["check"];
            if check["verdict"] == "refused" && check["at"].as_i64() > first_at {
                first_at = check["at"].as_i64();
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: no new check: {idx}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        env.wait_for_checks_done();
        if round == 0 {
            monitor.sync();
            let seen = monitor.text();
            assert!(!seen.contains("member=Notify"), "{seen}");
        }
    }
    // The checks have finished their Notify calls (which wait for the bus's
    // answer): after a marker through the bus, the monitor has seen them all.
    monitor.sync();
    let seen = monitor.text();
    assert_eq!(
        seen.matches("member=Notify").count(),
        1,
        "one notification\n{seen}"
    );
    assert!(
        seen.contains(&format!("{key} refused your Harbor credentials"))
            && seen.contains(&format!("docker-credential-harbor renew {key}")),
        "{seen}"
    );
    assert!(!seen.contains(USER_SECRET));
}

#[test]
fn ci_mode_and_the_kubelet_provider_start_no_checks() {
    let rig = Rig::start(Some("1"));
    let key = rig.key();
    rig.login(USER, USER_SECRET);
    rig.standin.clear_token_log();
    due_soon();
    // CI variables for another registry: this one still comes from the keychain.
    let ci = [
        ("HARBOR_USERNAME", Some("ci-user")),
        ("HARBOR_PASSWORD", Some("ci-password-0000")),
        ("HARBOR_HOST", Some("ci.example.org")),
    ];
    let get = bin::run_with(&rig.env, &ci, &["get"], key.as_bytes());
    assert_eq!(
        bin::parse_get(&get, &key),
        (USER.to_string(), USER_SECRET.to_string())
    );
    let request = serde_json::json!({
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "kind": "CredentialProviderRequest",
        "image": format!("{key}/proj/app:1.0"),
    })
    .to_string();
    let kube = bin::run_with(
        &rig.env,
        &[("DOCKER_CREDENTIAL_HARBOR_REGISTRY", Some(key.as_str()))],
        &["kubelet-credential-provider"],
        request.as_bytes(),
    );
    assert!(kube.success() && kube.stdout.contains(USER), "{kube}");
    // Both have exited, so a check they started would have its marker now.
    rig.env.wait_for_no_check(&key);
    assert_eq!(rig.standin.token_log(), vec![], "no check was started");
    assert_eq!(rig.entry()["check"], Value::Null);
    // The control: a plain get starts one.
    assert!(bin::get(&rig.env, &key).success());
    rig.wait_for("accepted");
}

#[test]
fn renew_on_a_terminal_takes_a_regenerated_secret() {
    const NEW_SECRET: &str = "cli-secret-jdoe-regenerated-55aa";
    let rig = Rig::start(Some("off"));
    let key = rig.key();
    rig.login(USER, USER_SECRET);
    // The user regenerated the CLI secret in the web UI: signing in cannot help.
    rig.standin
        .update_account(USER, |a| a.secret = NEW_SECRET.into());
    rig.env.watch_secret(NEW_SECRET);

    // A real terminal: `script` runs renew on a pseudo-terminal.
    let command = format!("{} renew {key} --wait 1 --no-browser", bin::BIN);
    let mut vars = rig.env.vars().clone();
    vars.insert("PATH".into(), bin::system_path());
    let (ok, shown) =
        bin::on_terminal(&command, &vars, &[("Paste the new CLI secret", NEW_SECRET)]);
    assert!(ok, "{shown}");
    assert!(
        shown.contains("still refuses") && shown.contains("Login Succeeded"),
        "{shown}"
    );
    assert!(
        !shown.contains(NEW_SECRET),
        "the secret was echoed\n{shown}"
    );
    assert_eq!(
        bin::get_ok(&rig.env, &key),
        (USER.to_string(), NEW_SECRET.to_string())
    );
    assert_eq!(
        rig.entry()["check"],
        Value::Null,
        "a new secret starts clean"
    );
}

#[test]
fn a_docker_login_store_is_checked_over_loopback_http() {
    // docker login stores `127.0.0.1:PORT` with no scheme; the registry here
    // speaks plain HTTP, so the check must fall back as docker does.
    let rig = Rig::start(Some("1"));
    let key = rig.key();
    bin::store(&rig.env, &key, USER, USER_SECRET).assert_silent_success();
    due_soon();
    assert!(bin::get(&rig.env, &key).success());
    rig.wait_for("accepted");
    assert_eq!(rig.checks_of(USER), 1, "{:?}", rig.standin.token_log());
}

/// Why CLI secrets die: each refusal records how long the secret lived since
/// its store (or since it was accepted again); `status` shows the lives, and
/// after two short ones names the missing `offline_access` scope.
#[test]
fn short_lived_cli_secrets_point_at_the_offline_access_scope() {
    let rig = Rig::start(Some("1"));
    let key = rig.key();
    rig.login(USER, USER_SECRET);

    // The background check sees the first refusal.
    rig.standin
        .update_account(USER, |a| a.oidc_session_expired = true);
    due_soon();
    bin::get(&rig.env, &key);
    let e = rig.wait_for("refused");
    assert_eq!(e["lives"]["spans"].as_array().map(Vec::len), Some(1), "{e}");
    rig.env.wait_for_no_check(&key);
    let out = rig.helper(&["status"]);
    // One short life is not a pattern: no note.
    text::assert_text(
        &rig.normal(),
        &out.stdout,
        "\
$REGISTRY
  account:  jdoe@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  refused N seconds ago
  lived:    N seconds (from its store or renewal until Harbor refused it)
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
",
    );
    // Refused again: the same life, not a second one.
    let out = rig.helper(&["status", "--check"]);
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(
        rig.entry()["lives"]["spans"].as_array().map(Vec::len),
        Some(1)
    );

    // Accepted again without a renewal or a new secret: that refusal ended
    // no life (Harbor was briefly unwell), and the life goes on.
    rig.standin
        .update_account(USER, |a| a.oidc_session_expired = false);
    assert_eq!(rig.helper(&["status", "--check"]).code(), 0);
    assert!(rig.entry()["lives"].is_null(), "{}", rig.entry());
    rig.standin
        .update_account(USER, |a| a.oidc_session_expired = true);
    assert_eq!(rig.helper(&["status", "--check"]).code(), 1);
    assert_eq!(
        rig.entry()["lives"]["spans"].as_array().map(Vec::len),
        Some(1)
    );

    // The session is renewed, then ends again.
    rig.standin.set_idp_user(Some(USER));
    let (browser, _) = common::harbor::browser_script(rig.env.root());
    let renew = bin::run_with(
        &rig.env,
        &[("BROWSER", Some(browser.to_str().unwrap()))],
        &["renew", &key, "--wait", "20"],
        b"",
    );
    assert!(renew.success(), "{renew}");
    rig.standin
        .update_account(USER, |a| a.oidc_session_expired = true);
    assert_eq!(rig.helper(&["status", "--check"]).code(), 1);
    let out = rig.helper(&["status"]);
    text::assert_text(&rig.normal(), &out.stdout, "\
$REGISTRY
  account:  jdoe@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  refused N seconds ago
  lived:    N seconds, N seconds (from its store or renewal until Harbor refused it)
  note:     2 web sessions ended within a day: the Harbor administrator's OIDC scope probably lacks offline_access, so Harbor cannot refresh the session (Harbor's documentation names that scope for refresh tokens)
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
");
    let out = rig.helper(&["status", "--json"]);
    let rows = Value::from(bin::status_rows(&out));
    assert_eq!(
        rows[0]["session_lives"].as_array().map(Vec::len),
        Some(2),
        "{rows}"
    );
    assert_eq!(rows[0]["offline_access_hint"], true, "{rows}");
}

/// A 403 from something in front of Harbor (a WAF, a rate limiter, a proxy)
/// says nothing about the secret: Harbor's token service never answers 403.
/// Every reader says "blocked" with what answered, none says to sign in
/// again, renew stops at once, and the secret stays, its life unended
/// (issue 31 item 2, issue 32 item 2).
#[test]
fn a_403_in_front_of_harbor_is_blocked_for_every_reader_and_keeps_the_secret() {
    let rig = Rig::start(Some("1"));
    let key = rig.key();
    rig.login(USER, USER_SECRET);
    let said = "Request blocked: rate limit exceeded";
    rig.standin
        .set_waf_block(Some(&format!("\n{said}\n<p>ref 42</p>\n")));
    let blocked = |text: &str| {
        text.contains("blocked")
            && text.contains("HTTP 403")
            && text.contains(said)
            && !text.contains("ref 42")
            && !text.contains("renew")
            && !text.contains("web session")
            && !text.contains("refused")
    };

    // The background check records it; `get` says it and serves the secret.
    due_soon();
    bin::get(&rig.env, &key);
    let e = rig.wait_for("blocked");
    rig.env.wait_for_no_check(&key);
    let detail = e["check"]["detail"].as_str().unwrap_or_default();
    assert!(blocked(&format!("blocked: {detail}")), "{e}");
    assert!(e["lives"].is_null(), "a 403 ends no life: {e}");
    let get = bin::get(&rig.env, &key);
    rig.env.wait_for_no_check(&key);
    text::assert_text(
        &rig.normal(),
        &get.stderr,
        &format!(
            "docker-credential-harbor: warning: the last check of the secret for $REGISTRY (N seconds ago) was blocked, so it says nothing about the secret: {BLOCKED}\n"
        ),
    );
    assert_eq!(
        bin::parse_get(&get, &key),
        (USER.to_string(), USER_SECRET.to_string())
    );

    // status --check and status.
    let status = rig.helper(&["status", "--check", &key]);
    assert_eq!(status.code(), 1, "{status}");
    text::assert_text(
        &rig.normal(),
        &status.stdout,
        &format!(
            "\
$REGISTRY
  account:  jdoe@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  blocked N seconds ago
            {BLOCKED}
  check:    blocked: {BLOCKED}
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
"
        ),
    );
    let status = rig.helper(&["status", &key]);
    text::assert_text(
        &rig.normal(),
        &status.stdout,
        &format!(
            "\
$REGISTRY
  account:  jdoe@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  blocked N seconds ago
            {BLOCKED}
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
"
        ),
    );

    // renew: no sign-in page, no polling.
    let (browser, ran) = common::harbor::browser_script(rig.env.root());
    let renew = bin::run_with(
        &rig.env,
        &[("BROWSER", Some(browser.to_str().unwrap()))],
        &["renew", &key, "--wait", "60"],
        b"",
    );
    assert_eq!(renew.code(), 1, "{renew}");
    assert!(renew.elapsed < Duration::from_secs(10), "{renew}");
    // No sign-in page: nothing on stdout.
    text::assert_text(&rig.normal(), &renew.stdout, "");
    text::assert_text(&rig.normal(), &renew.stderr, &format!("error: {BLOCKED}\n"));
    assert!(!ran.exists(), "no browser was opened\n{renew}");
    assert_eq!(rig.entry()["check"]["verdict"], "blocked");

    // Let through again: the same secret is accepted; no life was counted.
    rig.standin.set_waf_block(None);
    let status = rig.helper(&["status", "--check", &key]);
    assert_eq!(status.code(), 0, "{status}");
    assert!(rig.entry()["lives"].is_null(), "{}", rig.entry());
}

/// When Harbor cannot reach its identity provider it refuses every CLI
/// secret with the empty 401 of a dead one, robots keep working, and its
/// sign-in page answers 500. Every reader says so instead of "your web
/// session expired", renew stops instead of opening a sign-in page that
/// fails, and the outage ends no secret's life (issue 32 item 3).
#[test]
fn an_identity_provider_outage_is_no_expired_session() {
    let rig = Rig::start(Some("1"));
    let key = rig.key();
    rig.login(USER, USER_SECRET);
    rig.standin.set_idp_down(true);

    // The background check records it; `get` says it.
    due_soon();
    bin::get(&rig.env, &key);
    let e = rig.wait_for("refused");
    rig.env.wait_for_no_check(&key);
    assert_eq!(e["check"]["idp_down"], true, "{e}");
    assert!(e["lives"].is_null(), "an outage ends no life: {e}");
    let get = bin::get(&rig.env, &key);
    rig.env.wait_for_no_check(&key);
    text::assert_text(
        &rig.normal(),
        &get.stderr,
        &format!(
            "docker-credential-harbor: warning: $REGISTRY refused the CLI secret of jdoe@ucar.edu (N seconds ago): {OUTAGE}\n"
        ),
    );

    // status --check and status.
    let status = rig.helper(&["status", "--check", &key]);
    assert_eq!(status.code(), 1, "{status}");
    text::assert_text(&rig.normal(), &status.stdout, &format!("\
$REGISTRY
  account:  jdoe@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  refused N seconds ago
            Harbor could not reach its identity provider then, and refused every CLI secret: nothing to do on your side; try later
  check:    refused: {OUTAGE} (its sign-in page /c/oidc/login answered HTTP 500)
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
"));
    let status = rig.helper(&["status", &key]);
    text::assert_text(&rig.normal(), &status.stdout, "\
$REGISTRY
  account:  jdoe@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  refused N seconds ago
            Harbor could not reach its identity provider then, and refused every CLI secret: nothing to do on your side; try later
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
");

    // renew: no sign-in page that fails, no polling.
    let (browser, ran) = common::harbor::browser_script(rig.env.root());
    let renew = bin::run_with(
        &rig.env,
        &[("BROWSER", Some(browser.to_str().unwrap()))],
        &["renew", &key, "--wait", "60"],
        b"",
    );
    assert_eq!(renew.code(), 1, "{renew}");
    assert!(renew.elapsed < Duration::from_secs(10), "{renew}");
    // No sign-in page: nothing on stdout.
    text::assert_text(&rig.normal(), &renew.stdout, "");
    text::assert_text(
        &rig.normal(),
        &renew.stderr,
        &format!(
            "error: {OUTAGE} (its sign-in page http://$HARBOR/c/oidc/login answered HTTP 500, so signing in cannot work now)\n"
        ),
    );
    assert!(!ran.exists(), "no browser was opened\n{renew}");
    assert!(rig.entry()["lives"].is_null(), "{}", rig.entry());

    // The outage ends: the same secret works again, and no life was counted.
    rig.standin.set_idp_down(false);
    let status = rig.helper(&["status", "--check", &key]);
    assert_eq!(status.code(), 0, "{status}");
    assert!(rig.entry()["lives"].is_null(), "{}", rig.entry());

    // Robots never involve the identity provider.
    rig.standin.set_idp_down(true);
    rig.login(ROBOT, ROBOT_SECRET);
}

/// The identity provider goes down while renew waits for a sign-in: at the
/// end renew says so, not "the CLI secret was probably regenerated". It
/// polls no faster than every 5 s: each poll makes Harbor ask the provider.
#[test]
fn renew_that_outlasts_into_an_outage_says_so() {
    let rig = Rig::start(Some("off"));
    let key = rig.key();
    rig.login(USER, USER_SECRET);
    rig.standin
        .update_account(USER, |a| a.oidc_session_expired = true);
    let before = rig.checks_of(USER);
    let renew = std::thread::scope(|s| {
        let renew = s.spawn(|| {
            bin::run(
                &rig.env,
                &["renew", &key, "--no-browser", "--wait", "6"],
                b"",
            )
        });
        // renew's first check, systeminfo and sign-in page take milliseconds;
        // its first poll comes after 5 s.
        std::thread::sleep(Duration::from_millis(2500));
        rig.standin.set_idp_down(true);
        renew.join().expect("renew ran")
    });
    assert_eq!(renew.code(), 1, "{renew}");
    // The provider was up at the start: the sign-in page is named.
    text::assert_text(
        &rig.normal(),
        &renew.stdout,
        &format!(
            "\
{SIGN_IN}Waiting up to 6 s for Harbor to accept the CLI secret again...
"
        ),
    );
    // Its look at the sign-in page stopped at Harbor's redirect.
    assert_eq!(rig.standin.idp_visits(), 0, "{renew}");
    text::assert_text(
        &rig.normal(),
        &renew.stderr,
        &format!(
            "error: {OUTAGE} (its sign-in page http://$HARBOR/c/oidc/login answered HTTP 500, so signing in cannot work now)\n"
        ),
    );
    assert_eq!(rig.entry()["check"]["idp_down"], true, "{}", rig.entry());
    let checks = rig.checks_of(USER) - before;
    assert!(
        checks <= 3,
        "the first check and polls at 5 and 6 s, not {checks}"
    );
}

/// Something in front of Harbor starts answering 403 while renew waits:
/// renew stops at its next poll and says what answered; polling on would
/// only feed a rate limiter.
#[test]
fn renew_stops_when_something_in_front_of_harbor_answers_403() {
    let rig = Rig::start(Some("off"));
    let key = rig.key();
    rig.login(USER, USER_SECRET);
    rig.standin
        .update_account(USER, |a| a.oidc_session_expired = true);
    let renew = std::thread::scope(|s| {
        let renew = s.spawn(|| {
            bin::run(
                &rig.env,
                &["renew", &key, "--no-browser", "--wait", "60"],
                b"",
            )
        });
        std::thread::sleep(Duration::from_millis(2500));
        rig.standin
            .set_waf_block(Some("Too many requests from your address"));
        renew.join().expect("renew ran")
    });
    assert_eq!(renew.code(), 1, "{renew}");
    assert!(renew.elapsed < Duration::from_secs(15), "{renew}");
    text::assert_text(
        &rig.normal(),
        &renew.stderr,
        "error: $HARBOR answered HTTP 403 (\"Too many requests from your address\") to the credential check: something in front of the registry (a firewall, a rate limiter or a proxy) stopped it, so it says nothing about the secret, which is kept; try again later, or ask the registry's administrators\n",
    );
    assert_eq!(rig.entry()["check"]["verdict"], "blocked");
}
