//! `docker-credential-harbor login` end to end: the real binary against the
//! Harbor stand-in (token service + systeminfo) in front of a real
//! docker-registry, or a TLS registry with a private CA, with the secret kept
//! in the kernel keyring (`DOCKER_CREDENTIAL_HARBOR_STORE=keyutils`).
//!
//! What login stored is read back the way clients and people do: the protocol
//! `get`, `status` / `status --json`, and `logout`.
//!
//! Every login is also checked for leaks: the secret never appears on its
//! stdout or stderr, nor in any file under the temporary HOME and XDG
//! directories, nor in any process's command line (scanned while the login
//! waits for the secret on a held-open stdin, and again until it exits).
//!
//! Run under a session keyring of its own:
//! `keyctl session - cargo test --test suite login::`.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::bin::{self, Env, Output};
use common::harbor::{Account, HarborStandin, StandinOptions, now, rfc3339};
use common::keychain;
use common::registry::{Harbor, Registry};
use common::rig::KeyringUser;
use common::text::{self, Normal};
use serde_json::{Value, json};

/// What `login` prints for USER before docker is configured.
const LOGGED_IN_USER: &str = "\
Login Succeeded: jdoe@ucar.edu (user) for $REGISTRY, kept in the kernel keyring.
docker does not use this helper for $REGISTRY yet: run `docker-credential-harbor configure --registry $REGISTRY`.
";
/// `status --check` of ROBOT, accepted, its expiry unknown.
const ROBOT_CHECKED: &str = "\
$REGISTRY
  account:  robot$proj+ci (robot)
  keychain: keyutils
  stored:   N seconds ago
  expiry:   unknown (import with --robot-file to track it)
  checked:  accepted N seconds ago
  check:    accepted
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
";

const USER: &str = "jdoe@ucar.edu";
const USER_SECRET: &str = "cli-secret-jdoe-0123456789";
/// A user whose CLI secret is right but whose OIDC session Harbor cannot refresh.
const STALE_USER: &str = "stale@ucar.edu";
const STALE_SECRET: &str = "cli-secret-stale-5555";
const ROBOT: &str = "robot$proj+ci";
const ROBOT_SECRET: &str = "robot-secret-ci-4567abcd";
/// A robot that the stand-in says expired an hour ago.
const OLD_ROBOT: &str = "robot$proj+old";
const OLD_ROBOT_SECRET: &str = "robot-secret-old-99999";
const WRONG_SECRET: &str = "wrong-secret-000000000";

const DAY: i64 = 86_400;

fn accounts() -> Vec<Account> {
    vec![
        Account::user(USER, USER_SECRET),
        Account {
            oidc_session_expired: true,
            ..Account::user(STALE_USER, STALE_SECRET)
        },
        Account::robot(ROBOT, ROBOT_SECRET),
        Account::expired_robot(OLD_ROBOT, OLD_ROBOT_SECRET),
    ]
}

// ---------------------------------------------------------------------------
// Fixture

/// One person's machine: a private HOME and XDG dirs with the kernel keyring
/// forced, plus a separate directory for robot files (they hold the secret in
/// plain text, so they must not live under the scanned HOME).
struct Home {
    user: KeyringUser,
    files: tempfile::TempDir,
}

impl std::ops::Deref for Home {
    type Target = KeyringUser;
    fn deref(&self) -> &KeyringUser {
        &self.user
    }
}

impl Home {
    fn new() -> Home {
        Home {
            user: KeyringUser::new(),
            files: tempfile::Builder::new()
                .prefix("dch-robot-files-")
                .tempdir()
                .expect("temp dir for robot files"),
        }
    }

    /// `login URL ARGS...`. With `--password-stdin` the login is started with
    /// its stdin held open, the process table is scanned while it waits, then
    /// `stdin` is written. Checks for leaks afterwards.
    fn login(&self, url: &str, args: &[&str], stdin: &str) -> Output {
        let secret = stdin.trim_end_matches(['\n', '\r']);
        self.env.watch_secret(secret);
        let mut full = vec!["login", url];
        full.extend_from_slice(args);
        let out = if args.contains(&"--password-stdin") {
            run_holding_stdin(&self.env, &full, stdin.as_bytes())
        } else {
            bin::run(&self.env, &full, stdin.as_bytes())
        };
        self.assert_no_leak(&out);
        out
    }

    /// A Harbor robot account file (as the web UI offers it), mode 0600.
    fn robot_file(&self, name: &str, secret: &str, expires_at: i64) -> PathBuf {
        self.env.watch_secret(secret);
        common::harbor::robot_file(self.files.path(), name, secret, expires_at)
    }

    fn write_file(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = self.files.path().join(name);
        std::fs::write(&p, text).expect("write a robot file");
        bin::set_mode(&p, mode);
        p
    }

    /// This home's directories, named.
    fn normal(&self) -> Normal {
        let files = self.files.path().display().to_string();
        Normal::env(&self.env).name(&files, "$FILES")
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = bin::run(&self.env, args, b"");
        self.assert_no_leak(&out);
        out
    }

    /// `status --json`, which must succeed: its rows.
    fn status_rows(&self) -> Vec<Value> {
        let out = self.run(&["status", "--json"]);
        assert_eq!(out.code(), 0, "status --json should succeed\n{out}");
        bin::status_rows(&out)
    }

    /// `status` (text), which must succeed.
    fn status_text(&self) -> String {
        let out = self.run(&["status"]);
        assert_eq!(out.code(), 0, "status should succeed\n{out}");
        out.stdout
    }

    /// Nothing for `key` anywhere: not for clients, not in `status`, not in the keyring.
    fn assert_nothing_stored(&self, key: &str) {
        bin::assert_not_found(&self.env, key);
        assert_eq!(
            self.status_rows(),
            Vec::<Value>::new(),
            "status --json lists nothing"
        );
        let text = self.status_text();
        assert!(
            text.contains("No registries stored"),
            "status should say nothing is stored, got:\n{text}"
        );
        assert!(
            !keychain::keyutils_has(key),
            "the kernel keyring holds an entry for {key}"
        );
        self.assert_no_secret_in_files();
    }

    /// No watched secret on the command's stdout or stderr, nor in any file
    /// under the Env (HOME, XDG data/config/cache, runtime dir).
    fn assert_no_leak(&self, out: &Output) {
        for s in self.env.watched_secrets() {
            assert!(
                !out.stdout.contains(&s),
                "the secret {s:?} appeared on stdout\n{out}"
            );
            assert!(
                !out.stderr.contains(&s),
                "the secret {s:?} appeared on stderr\n{out}"
            );
        }
        self.assert_no_secret_in_files();
    }

    fn assert_no_secret_in_files(&self) {
        let secrets = self.env.watched_secrets();
        assert!(
            !secrets.is_empty(),
            "no secret watched: the scan would prove nothing"
        );
        let mut files = Vec::new();
        bin::walk(self.env.root(), &mut files);
        for f in files {
            let bytes = std::fs::read(&f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
            for s in &secrets {
                assert!(
                    !bin::contains(&bytes, s.as_bytes()),
                    "the secret {s:?} is in plain text in {}",
                    f.display()
                );
            }
        }
    }
}

/// A Harbor: the stand-in (token service, systeminfo) and a real
/// docker-registry that trusts its tokens, plus a Home to log in from.
struct Fixture {
    home: Home,
    registry: Registry,
    standin: HarborStandin,
}

impl Fixture {
    fn new() -> Fixture {
        let Harbor { registry, standin } = Harbor::start(accounts());
        let home = Home::new();
        home.claim(&registry.addr());
        Fixture {
            home,
            registry,
            standin,
        }
    }

    /// `http://127.0.0.1:PORT`: what the user types.
    fn url(&self) -> String {
        self.registry.url()
    }

    /// `127.0.0.1:PORT`: what docker sends to `get`, and the key in `status`.
    fn key(&self) -> String {
        self.registry.addr()
    }

    /// The home's directories and the registry as `$REGISTRY`.
    fn normal(&self) -> Normal {
        self.home
            .normal()
            .name(&self.key(), "$REGISTRY")
            .name(&format!("127.0.0.1:{}", self.standin.port), "$HARBOR")
            .name(&format!(":{}", self.standin.port), ":$HARBOR_PORT")
    }

    fn login(&self, args: &[&str], stdin: &str) -> Output {
        self.home.login(&self.url(), args, stdin)
    }

    fn login_robot_file(&self, file: &Path) -> Output {
        self.home
            .login(&self.url(), &["--robot-file", path_str(file)], "")
    }

    fn get(&self) -> (String, String) {
        bin::get_ok(&self.home.env, &self.key())
    }

    fn assert_nothing_stored(&self) {
        self.home.assert_nothing_stored(&self.key());
    }

    /// The login never reached the token service.
    fn assert_token_service_untouched(&self) {
        let log = self.standin.token_log();
        assert!(log.is_empty(), "the token service was contacted: {log:?}");
    }
}

// ---------------------------------------------------------------------------
// Assertions

fn assert_succeeded(out: &Output) {
    assert_eq!(out.code(), 0, "login should succeed\n{out}");
    assert!(
        out.stdout.starts_with("Login Succeeded"),
        "stdout should start with \"Login Succeeded\"\n{out}"
    );
}

/// Exit 1, nothing on stdout, exactly one `error: ...` line on stderr: that line.
fn error_line(out: &Output) -> String {
    assert_eq!(out.code(), 1, "expected exit status 1\n{out}");
    assert_eq!(
        out.stdout, "",
        "a failed command prints nothing on stdout\n{out}"
    );
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected exactly one line on stderr\n{out}");
    assert!(
        lines[0].starts_with("error: "),
        "the stderr line should start with \"error: \"\n{out}"
    );
    lines[0].to_string()
}

/// A failed command, all of it: exit 1, nothing on stdout, and its one
/// stderr line, normalised, is `want`. Returns that line.
#[track_caller]
fn assert_error(out: &Output, normal: &Normal, want: &str) -> String {
    let line = error_line(out);
    text::assert_text(normal, &out.stderr, want);
    line
}

fn row_for<'a>(rows: &'a [Value], key: &str) -> &'a Value {
    assert_eq!(
        rows.len(),
        1,
        "status --json should list one registry: {rows:#?}"
    );
    assert_eq!(rows[0]["registry"], key, "{rows:#?}");
    &rows[0]
}

// ---------------------------------------------------------------------------
// Running a login with its stdin held open

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Like `bin::run`, but the child starts with an open, empty stdin: while it
/// waits for the secret, check that it is really waiting and that no process's
/// command line holds a secret; then write `input` and keep scanning the
/// process table until the login ends (a helper process given the secret as an
/// argument would show up there).
fn run_holding_stdin(env: &Env, args: &[&str], input: &[u8]) -> Output {
    let secrets = env.watched_secrets();
    assert!(
        !secrets.is_empty(),
        "no secret watched: the scan would prove nothing"
    );
    let command = std::iter::once(bin::BIN)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let start = Instant::now();
    let mut child = Command::new(bin::BIN)
        .args(args)
        .env_clear()
        .env("PATH", bin::system_path())
        .envs(env.vars())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
    let pid = child.id();
    let mut child_in = child.stdin.take().expect("child stdin");
    let child_out = child.stdout.take().expect("child stdout");
    let child_err = child.stderr.take().expect("child stderr");
    let out_reader = bin::drain(child_out);
    let err_reader = bin::drain(child_err);

    std::thread::sleep(Duration::from_millis(150));
    if let Some(status) = child.try_wait().expect("poll the login") {
        let err = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
        panic!("`{command}` exited ({status}) before it got the secret on stdin:\n{err}");
    }
    let own = std::fs::read(format!("/proc/{pid}/cmdline")).expect("read the login's cmdline");
    assert!(
        bin::contains(&own, b"login"),
        "the /proc scan cannot see the waiting login (pid {pid}): it would prove nothing"
    );
    let hits = bin::procs_holding(&secrets, "cmdline");
    assert!(
        hits.is_empty(),
        "while `{command}` waited for stdin, a command line held a secret:\n{}",
        hits.join("\n")
    );

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = Arc::clone(&stop);
        let secrets = secrets.clone();
        std::thread::spawn(move || {
            let mut hits = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                hits.extend(bin::procs_holding(&secrets, "cmdline"));
                std::thread::sleep(Duration::from_millis(2));
            }
            hits
        })
    };
    let _ = child_in.write_all(input);
    drop(child_in);
    let deadline = Instant::now() + bin::RUN_LIMIT;
    let status = loop {
        match child.try_wait().expect("wait for the login") {
            Some(st) => break st,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                stop.store(true, Ordering::SeqCst);
                panic!("`{command}` did not finish within {:?}", bin::RUN_LIMIT);
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let elapsed = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    let hits = watcher.join().expect("cmdline watcher");
    assert!(
        hits.is_empty(),
        "during `{command}`, a command line held a secret:\n{}",
        hits.join("\n")
    );
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    Output {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed,
        command,
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

// ---------------------------------------------------------------------------
// Users with a CLI secret

#[test]
fn user_cli_secret_is_verified_and_stored() {
    let fx = Fixture::new();
    let out = fx.login(&["-u", USER, "--password-stdin"], USER_SECRET);
    assert_succeeded(&out);
    // It names the account, its kind, the registry and the keychain.
    text::assert_text(&fx.normal(), &out.stdout, LOGGED_IN_USER);

    assert_eq!(fx.get(), (USER.to_string(), USER_SECRET.to_string()));
    assert!(
        keychain::keyutils_has(&fx.key()),
        "the secret should be in the kernel keyring"
    );

    let rows = fx.home.status_rows();
    let row = row_for(&rows, &fx.key());
    assert_eq!(row["username"], USER);
    assert_eq!(row["kind"], "user");
    assert_eq!(row["keychain"], "keyutils");
    assert_eq!(row["expired"], false);
    assert!(
        row.get("expires_at").is_none(),
        "a user has no expiry: {row}"
    );

    // Checked as docker login does: the token service, this account, no scope.
    let log = fx.standin.token_log();
    assert!(
        log.iter()
            .any(|e| e.account.as_deref() == Some(USER) && e.scopes.is_empty() && e.status == 200),
        "expected a scope-less token request for {USER}: {log:?}"
    );
    assert!(
        log.iter().all(|e| e.scopes.is_empty()),
        "login must never ask for a scope (anonymous callers pass then): {log:?}"
    );
    fx.home.assert_no_secret_in_files();
}

/// `login` has just asked the registry: that is the secret's first check, in
/// `status` and `status --json`, and not "not since it was stored".
#[test]
fn status_after_login_shows_logins_check() {
    let fx = Fixture::new();
    let before = now();
    assert_succeeded(&fx.login(&["-u", USER, "--password-stdin"], USER_SECRET));
    let text = fx.home.status_text();
    let after = now();
    let checked: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  checked:"))
        .collect();
    let at_login: Vec<String> = (0..=after - before)
        .map(|n| {
            let unit = if n == 1 { "second" } else { "seconds" };
            format!("  checked:  accepted {n} {unit} ago")
        })
        .collect();
    assert!(
        checked.len() == 1 && at_login.iter().any(|l| l == checked[0]),
        "status should show login's check, one of {at_login:?}, got:\n{text}"
    );
    let rows = fx.home.status_rows();
    let check = &row_for(&rows, &fx.key())["last_check"];
    assert_eq!(check["verdict"], "accepted", "{check}");
    let at = check["at"].as_i64().unwrap_or_default();
    assert!((before..=after).contains(&at), "checked at login: {check}");
}

#[test]
fn wrong_user_secret_is_explained_and_nothing_stored() {
    let fx = Fixture::new();
    let out = fx.login(&["-u", USER, "--password-stdin"], WRONG_SECRET);
    let line = assert_error(
        &out,
        &fx.normal(),
        "error: $REGISTRY refused the CLI secret for jdoe@ucar.edu. This Harbor signs people in through Entra ID: use your Harbor username and the CLI secret from the web UI (your name > User Profile > CLI secret), not your password. If it worked before, your web session has expired: log in to the Harbor web UI once, then run login again\n",
    );
    assert!(
        !line.contains("e-mail"),
        "the username is an e-mail address already: no e-mail hint\n{out}"
    );
    let log = fx.standin.token_log();
    assert!(
        log.iter()
            .any(|e| e.account.as_deref() == Some(USER) && e.status == 401),
        "the secret should have been tried with the token service: {log:?}"
    );
    fx.assert_nothing_stored();
}

#[test]
fn wrong_username_hints_at_the_email_address() {
    let fx = Fixture::new();
    let out = fx.login(&["-u", "jdoe", "--password-stdin"], USER_SECRET);
    assert_error(
        &out,
        &fx.normal(),
        "error: $REGISTRY refused the CLI secret for jdoe. This Harbor signs people in through Entra ID: use your Harbor username (at UCAR your ucar.edu e-mail address, not a display name) and the CLI secret from the web UI (your name > User Profile > CLI secret), not your password. If it worked before, your web session has expired: log in to the Harbor web UI once, then run login again\n",
    );
    fx.assert_nothing_stored();
}

#[test]
fn expired_oidc_session_says_to_log_in_to_the_web_ui() {
    let fx = Fixture::new();
    let out = fx.login(&["-u", STALE_USER, "--password-stdin"], STALE_SECRET);
    assert_error(
        &out,
        &fx.normal(),
        "error: $REGISTRY refused the CLI secret for stale@ucar.edu. This Harbor signs people in through Entra ID: use your Harbor username and the CLI secret from the web UI (your name > User Profile > CLI secret), not your password. If it worked before, your web session has expired: log in to the Harbor web UI once, then run login again\n",
    );
    fx.assert_nothing_stored();
}

#[test]
fn password_stdin_trailing_newline_is_stripped() {
    let fx = Fixture::new();
    let out = fx.login(
        &["-u", USER, "--password-stdin"],
        &format!("{USER_SECRET}\n"),
    );
    // The stand-in accepted it, so the newline did not reach the registry...
    assert_succeeded(&out);
    // ...nor the keychain.
    assert_eq!(fx.get(), (USER.to_string(), USER_SECRET.to_string()));
}

#[test]
fn secret_as_an_argument_is_refused() {
    let fx = Fixture::new();
    // Only ever given in argv, so no other test scans for it.
    let argv_secret = "argv-only-secret-31337";
    fx.home.env.watch_secret(argv_secret);
    let url = fx.url();
    let joined = format!("--password={argv_secret}");
    let glued = format!("-p{argv_secret}");
    let variants: [&[&str]; 4] = [
        &["-p", argv_secret],
        &["--password", argv_secret],
        &[&joined],
        &[&glued],
    ];
    for extra in variants {
        let mut args = vec!["login", url.as_str(), "-u", USER];
        args.extend_from_slice(extra);
        let out = fx.home.run(&args);
        assert_error(
            &out,
            &fx.normal(),
            "error: a secret on the command line ends up in shell history and `ps`; use --password-stdin, or let login ask for it\n",
        );
    }
    fx.assert_token_service_untouched();
    fx.assert_nothing_stored();
}

#[test]
fn no_verify_stores_without_contacting_the_registry() {
    let fx = Fixture::new();
    let unchecked = "unchecked-secret-24680";
    let out = fx.login(&["-u", USER, "--password-stdin", "--no-verify"], unchecked);
    assert_succeeded(&out);
    fx.assert_token_service_untouched();
    assert_eq!(fx.get(), (USER.to_string(), unchecked.to_string()));
    let rows = fx.home.status_rows();
    assert_eq!(row_for(&rows, &fx.key())["username"], USER);
    assert_eq!(row_for(&rows, &fx.key())["last_check"], Value::Null);
    let text = fx.home.status_text();
    assert!(
        text.lines()
            .any(|l| l == "  checked:  not since it was stored"),
        "nothing checked this secret\n{text}"
    );
}

// ---------------------------------------------------------------------------
// Robot accounts

#[test]
fn robot_with_password_stdin_is_stored_as_robot() {
    let fx = Fixture::new();
    let out = fx.login(&["-u", ROBOT, "--password-stdin"], ROBOT_SECRET);
    assert_succeeded(&out);
    text::assert_text(&fx.normal(), &out.stdout, "\
Login Succeeded: robot$proj+ci (robot) for $REGISTRY, kept in the kernel keyring.
docker does not use this helper for $REGISTRY yet: run `docker-credential-harbor configure --registry $REGISTRY`.
");
    assert_eq!(fx.get(), (ROBOT.to_string(), ROBOT_SECRET.to_string()));
    let rows = fx.home.status_rows();
    let row = row_for(&rows, &fx.key());
    assert_eq!(row["username"], ROBOT);
    assert_eq!(row["kind"], "robot");
    assert_eq!(row["keychain"], "keyutils");
    assert!(row.get("expires_at").is_none(), "expiry unknown: {row}");
}

#[test]
fn robot_file_is_imported_with_its_expiry() {
    let fx = Fixture::new();
    let expires = now() + 5 * DAY;
    let file = fx.home.robot_file(ROBOT, ROBOT_SECRET, expires);
    let out = fx.login_robot_file(&file);
    assert_succeeded(&out);
    // It says when the robot expires (in 5 days, or 4 and some hours).
    assert!(
        out.stdout.contains("expires in 5 days") || out.stdout.contains("expires in 4 days"),
        "login should say when the robot expires\n{out}"
    );
    text::assert_text(&fx.normal().durations(), &out.stdout, "\
Login Succeeded: robot$proj+ci (robot) for $REGISTRY, kept in the kernel keyring.
The robot account expires in N days.
The secret is now in the keychain; you can delete $FILES/robot_proj_ci.json (it holds the secret in plain text).
docker does not use this helper for $REGISTRY yet: run `docker-credential-harbor configure --registry $REGISTRY`.
");
    // A 0600 file draws no warning (only the keyring's own line).
    text::assert_text(
        &fx.normal(),
        &out.stderr,
        "docker-credential-harbor: no Secret Service in this session: the secret is kept in the Linux kernel keyring, which a reboot empties (and logout too, after a few days unused); a password store keeps it across reboots (`pass init KEYID`, README: headless Linux)\n",
    );
    assert_eq!(fx.get(), (ROBOT.to_string(), ROBOT_SECRET.to_string()));

    let rows = fx.home.status_rows();
    let row = row_for(&rows, &fx.key());
    assert_eq!(row["kind"], "robot");
    assert_eq!(row["expires_at"], expires, "{row}");
    assert_eq!(row["expired"], false);
    let text = fx.home.status_text();
    assert!(
        text.contains("expires in 5 days") || text.contains("expires in 4 days"),
        "status should show the expiry, got:\n{text}"
    );
    text::assert_text(
        &fx.normal().durations(),
        &text,
        "\
$REGISTRY
  account:  robot$proj+ci (robot)
  keychain: keyutils
  stored:   N seconds ago
  expiry:   expires in N days
  checked:  accepted N seconds ago
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
",
    );
}

#[test]
fn robot_file_that_never_expires_has_no_expiry() {
    let fx = Fixture::new();
    fx.home.env.watch_secret(ROBOT_SECRET);
    let text = json!({"id": 1, "name": ROBOT, "secret": ROBOT_SECRET,
                      "creation_time": rfc3339(now()), "expires_at": -1})
    .to_string();
    // Group/world-readable, as a browser download often is: a warning, no refusal.
    let file = fx.home.write_file("robot.json", &text, 0o644);
    let out = fx.login_robot_file(&file);
    assert_succeeded(&out);
    // Harbor's -1 means never, and login says so.
    text::assert_text(&fx.normal(), &out.stdout, "\
Login Succeeded: robot$proj+ci (robot) for $REGISTRY, kept in the kernel keyring.
The robot account never expires.
The secret is now in the keychain; you can delete $FILES/robot.json (it holds the secret in plain text).
docker does not use this helper for $REGISTRY yet: run `docker-credential-harbor configure --registry $REGISTRY`.
");
    // A world-readable robot file deserves a warning.
    text::assert_text(&fx.normal(), &out.stderr, "\
warning: $FILES/robot.json is readable by other users or otherwise open to them; delete it once imported
docker-credential-harbor: no Secret Service in this session: the secret is kept in the Linux kernel keyring, which a reboot empties (and logout too, after a few days unused); a password store keeps it across reboots (`pass init KEYID`, README: headless Linux)
");
    let rows = fx.home.status_rows();
    let row = row_for(&rows, &fx.key());
    assert_eq!(row["expires_at"], -1, "-1 (Harbor's never) is kept: {row}");
    assert_eq!(row["expired"], false);
    // No expiry warning for clients either.
    let got = bin::get(&fx.home.env, &fx.key());
    bin::parse_get(&got, &fx.key());
    assert!(got.stderr_lines().is_empty(), "{got}");
}

#[test]
fn status_does_not_call_a_never_expiring_robot_unknown() {
    let fx = Fixture::new();
    let file = fx.home.robot_file(ROBOT, ROBOT_SECRET, -1);
    assert_succeeded(&fx.login_robot_file(&file));
    let text = fx.home.status_text();
    text::assert_text(
        &fx.normal().seconds(),
        &text,
        "\
$REGISTRY
  account:  robot$proj+ci (robot)
  keychain: keyutils
  stored:   N seconds ago
  expiry:   never
  checked:  accepted N seconds ago
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
",
    );
    // The expiry is known: Harbor's file says -1, never.
    assert!(
        !text.contains("unknown") && !text.contains("import with --robot-file"),
        "status should not call the expiry of a robot imported with --robot-file \
         (expires_at -1) unknown, nor ask to import it with --robot-file:\n{text}"
    );
}

#[test]
fn robot_rejected_as_expired_by_harbor_is_not_stored() {
    let fx = Fixture::new();
    // The file claims a year; Harbor says it expired an hour ago.
    let file = fx
        .home
        .robot_file(OLD_ROBOT, OLD_ROBOT_SECRET, now() + 365 * DAY);
    let out = fx.login_robot_file(&file);
    assert_error(
        &out,
        &fx.normal(),
        "error: $REGISTRY refused robot account robot$proj+old: the secret is wrong, or the robot has expired or was disabled (a project admin can check under Project > Robot Accounts); in a shell, quote names with $ in single quotes; robot accounts are named robot$PROJECT+NAME, or robot-PROJECT+NAME on sites such as hub.k8s.ucar.edu (robot-proj+old)\n",
    );
    fx.assert_nothing_stored();
}

/// An admin extended the robot: Harbor moved its date and kept the secret,
/// and the file the user exported still says the old date (issue 32, item 1).
#[test]
fn robot_file_past_its_date_is_stored_when_harbor_accepts_it() {
    let fx = Fixture::new();
    let file = fx.home.robot_file(ROBOT, ROBOT_SECRET, now() - 3 * DAY);
    let out = fx.login_robot_file(&file);
    assert_succeeded(&out);
    text::assert_text(&fx.normal(), &out.stdout, "\
Login Succeeded: robot$proj+ci (robot) for $REGISTRY, kept in the kernel keyring.
Its file says the robot expired 3 days ago, but $REGISTRY accepts it: an admin probably extended it; its new expiry is unknown here (Harbor shows it under Project > Robot Accounts).
The secret is now in the keychain; you can delete $FILES/robot_proj_ci.json (it holds the secret in plain text).
docker does not use this helper for $REGISTRY yet: run `docker-credential-harbor configure --registry $REGISTRY`.
");
    assert_eq!(fx.get(), (ROBOT.to_string(), ROBOT_SECRET.to_string()));
    let rows = fx.home.status_rows();
    let row = row_for(&rows, &fx.key());
    assert!(
        row.get("expires_at").is_none(),
        "the old date is gone: {row}"
    );
    assert_eq!(row["expired"], false, "{row}");
    let text = fx.home.status_text();
    text::assert_text(
        &fx.normal().seconds(),
        &text,
        "\
$REGISTRY
  account:  robot$proj+ci (robot)
  keychain: keyutils
  stored:   N seconds ago
  expiry:   unknown (import with --robot-file to track it)
  checked:  accepted N seconds ago
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
",
    );
}

#[test]
fn robot_refused_past_its_file_date_names_the_expiry_as_the_likely_cause() {
    let fx = Fixture::new();
    let file = fx
        .home
        .robot_file(OLD_ROBOT, OLD_ROBOT_SECRET, now() - 3 * DAY);
    let out = fx.login_robot_file(&file);
    let line = error_line(&out);
    assert_eq!(
        line,
        format!(
            "error: {} refused robot account {OLD_ROBOT}, whose file says it expired 3 days ago: that is the likely \
             cause; ask a project admin to extend it or refresh its secret (Project > Robot Accounts), then import \
             the new file",
            fx.key()
        ),
        "{out}"
    );
    assert!(
        fx.standin.token_log().len() == 1,
        "the registry was asked once"
    );
    fx.assert_nothing_stored();
}

#[test]
fn no_verify_cannot_tell_a_robot_file_past_its_date_and_refuses_it() {
    let fx = Fixture::new();
    let file = fx.home.robot_file(ROBOT, ROBOT_SECRET, now() - 3 * DAY);
    let out = fx.home.login(
        &fx.url(),
        &["--robot-file", path_str(&file), "--no-verify"],
        "",
    );
    let line = error_line(&out);
    assert_eq!(
        line,
        format!(
            "error: the file of robot account {ROBOT} says it expired 3 days ago; an admin may have extended it, \
             and only the registry can tell: drop --no-verify"
        ),
        "{out}"
    );
    fx.assert_token_service_untouched();
    fx.assert_nothing_stored();
}

/// Move the recorded expiry of the index entry for `key` to `expires_at`:
/// the date a robot imported long ago has reached by now.
fn set_recorded_expiry(home: &Home, key: &str, expires_at: i64) {
    let path = home.env.index_path();
    let mut idx: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    idx["registries"][key]["expires_at"] = json!(expires_at);
    std::fs::write(&path, idx.to_string()).unwrap();
}

#[test]
fn status_leaves_a_passed_robot_date_to_the_registry() {
    let fx = Fixture::new();
    let file = fx.home.robot_file(ROBOT, ROBOT_SECRET, now() + 30 * DAY);
    assert_succeeded(&fx.login_robot_file(&file));
    set_recorded_expiry(&fx.home, &fx.key(), now() - 2 * DAY);

    // Not checked since the date: no verdict, no failure.
    let out = fx.home.run(&["status"]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&fx.normal().seconds(), &out.stdout, "\
$REGISTRY
  account:  robot$proj+ci (robot)
  keychain: keyutils
  stored:   N seconds ago
  expiry:   its recorded date passed 2 days ago; the registry decides (run `docker-credential-harbor status --check`)
  checked:  accepted N seconds ago
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
");
    let row = fx.home.status_rows().remove(0);
    assert_eq!(row["expired"], false, "{row}");

    // Refused since the date: expired, as a fact.
    fx.standin.update_account(ROBOT, |a| a.disabled = true);
    let out = fx.home.run(&["status", "--check"]);
    assert_eq!(out.code(), 1, "{out}");
    let out = fx.home.run(&["status"]);
    assert_eq!(out.code(), 1, "{out}");
    text::assert_text(
        &fx.normal().seconds(),
        &out.stdout,
        "\
$REGISTRY
  account:  robot$proj+ci (robot)
  keychain: keyutils
  stored:   N seconds ago
  expiry:   expired 2 days ago (refused by the registry since)
  checked:  refused N seconds ago
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
",
    );

    // Extended (the same secret works again): the old file is imported
    // again, and the old date is not kept from the earlier import.
    fx.standin.update_account(ROBOT, |a| a.disabled = false);
    let file = fx.home.robot_file(ROBOT, ROBOT_SECRET, now() - 2 * DAY);
    assert_succeeded(&fx.login_robot_file(&file));
    let row = fx.home.status_rows().remove(0);
    assert!(row.get("expires_at").is_none(), "{row}");
    assert_eq!(row["expired"], false, "{row}");
}

#[test]
fn status_check_forgets_a_passed_robot_date_once_accepted() {
    let fx = Fixture::new();
    let file = fx.home.robot_file(ROBOT, ROBOT_SECRET, now() + 30 * DAY);
    assert_succeeded(&fx.login_robot_file(&file));
    set_recorded_expiry(&fx.home, &fx.key(), now() - 2 * DAY);
    let out = fx.home.run(&["status", "--check"]);
    assert_eq!(out.code(), 0, "{out}");
    // Accepted, and the extended robot's old date is gone.
    text::assert_text(&fx.normal().seconds(), &out.stdout, ROBOT_CHECKED);
    let row = fx.home.status_rows().remove(0);
    assert!(row.get("expires_at").is_none(), "{row}");
}

#[test]
fn robot_name_without_prefix_in_a_file_hints_at_the_prefix() {
    let fx = Fixture::new();
    let file = fx
        .home
        .robot_file("proj+ci", ROBOT_SECRET, now() + 30 * DAY);
    let out = fx.login_robot_file(&file);
    assert_error(
        &out,
        &fx.normal(),
        "error: $REGISTRY refused robot account proj+ci: the secret is wrong, or the robot has expired or was disabled (a project admin can check under Project > Robot Accounts); the name must include the robot prefix: robot$proj+ci (Harbor's default), or robot-proj+ci on sites such as hub.k8s.ucar.edu\n",
    );
    fx.assert_nothing_stored();
}

#[test]
fn robot_name_without_prefix_on_the_command_line_hints_at_the_prefix() {
    let fx = Fixture::new();
    let out = fx.login(&["-u", "proj+ci", "--password-stdin"], ROBOT_SECRET);
    assert_error(
        &out,
        &fx.normal(),
        "error: $REGISTRY refused the CLI secret for proj+ci. This Harbor signs people in through Entra ID: use your Harbor username (at UCAR your ucar.edu e-mail address, not a display name) and the CLI secret from the web UI (your name > User Profile > CLI secret), not your password. If it worked before, your web session has expired: log in to the Harbor web UI once, then run login again. If proj+ci is a robot account, its name needs the robot prefix: robot$proj+ci (Harbor's default), or robot-proj+ci on sites such as hub.k8s.ucar.edu\n",
    );
    fx.assert_nothing_stored();
}

/// The robot prefix is a per-site setting: hub.k8s.ucar.edu uses `robot-`,
/// Harbor's default is `robot$` (issue 32, item 4).
#[test]
fn a_refused_project_plus_name_login_names_both_robot_prefixes() {
    let fx = Fixture::new();
    let out = fx.login(&["-u", "proj+ci", "--password-stdin"], ROBOT_SECRET);
    let line = error_line(&out);
    assert_eq!(
        line,
        format!(
            "error: {} refused the CLI secret for proj+ci. This Harbor signs people in through Entra ID: use your \
             Harbor username (at UCAR your ucar.edu e-mail address, not a display name) and the CLI secret from \
             the web UI (your name > User Profile > CLI secret), not your password. If it worked before, your web \
             session has expired: log in to the Harbor web UI once, then run login again. If proj+ci is a robot \
             account, its name needs the robot prefix: robot$proj+ci (Harbor's default), or robot-proj+ci on \
             sites such as hub.k8s.ucar.edu",
            fx.key()
        ),
        "{out}"
    );
    fx.assert_nothing_stored();
}

#[test]
fn a_refused_robot_name_is_offered_the_other_prefix() {
    let fx = Fixture::new();
    let out = fx.login(&["-u", "robot$proj+nope", "--password-stdin"], ROBOT_SECRET);
    assert_error(
        &out,
        &fx.normal(),
        "error: $REGISTRY refused robot account robot$proj+nope: the secret is wrong, or the robot has expired or was disabled (a project admin can check under Project > Robot Accounts); in a shell, quote names with $ in single quotes; robot accounts are named robot$PROJECT+NAME, or robot-PROJECT+NAME on sites such as hub.k8s.ucar.edu (robot-proj+nope)\n",
    );
    let out = fx.login(&["-u", "robot-proj+ci", "--password-stdin"], ROBOT_SECRET);
    assert_error(
        &out,
        &fx.normal(),
        "error: $REGISTRY refused robot account robot-proj+ci: the secret is wrong, or the robot has expired or was disabled (a project admin can check under Project > Robot Accounts); robot accounts are named robot-PROJECT+NAME on sites such as hub.k8s.ucar.edu, and robot$PROJECT+NAME with Harbor's default prefix (robot$proj+ci; in a shell, in single quotes)\n",
    );
    fx.assert_nothing_stored();
}

#[test]
fn robot_name_mangled_by_the_shell_hints_at_quoting() {
    let fx = Fixture::new();
    // `-u robot$proj+ci` unquoted in sh/bash: `$proj` expands to nothing.
    let out = fx.login(&["-u", "robot+ci", "--password-stdin"], ROBOT_SECRET);
    let line = assert_error(
        &out,
        &fx.normal(),
        "error: $REGISTRY refused robot account robot+ci: the secret is wrong, or the robot has expired or was disabled (a project admin can check under Project > Robot Accounts); the shell may have swallowed the $project part of the name: quote it in single quotes, e.g. 'robot$project+ci'\n",
    );
    assert!(
        !line.contains("robot$robot+ci"),
        "suggesting robot$robot+ci is wrong advice: {line}\n{out}"
    );
    fx.assert_nothing_stored();
}

#[test]
fn malformed_robot_file_is_one_clear_line() {
    let fx = Fixture::new();
    let secret = "robot-secret-in-bad-file-777";
    fx.home.env.watch_secret(secret);
    // (file, what it holds, what the parser says of it)
    let cases = [
        (
            "truncated.json",
            format!(r#"{{"name":"{ROBOT}","secret":"{secret}""#),
            "EOF while parsing an object",
        ),
        (
            "no-secret.json",
            format!(r#"{{"name":"{ROBOT}","expires_at":-1}}"#),
            "missing field `secret`",
        ),
        (
            "yaml.json",
            format!("name: {ROBOT}\nsecret: {secret}\n"),
            "expected ident",
        ),
        (
            "number-secret.json",
            format!(r#"{{"name":"{ROBOT}","secret":42}}"#),
            "\"secret\" is not a string",
        ),
    ];
    for (name, text, why) in cases {
        let file = fx.home.write_file(name, &text, 0o600);
        let out = fx.login_robot_file(&file);
        let want = format!(
            "error: $FILES/{name} is not a Harbor robot account file (expected JSON with \"name\" and \"secret\"): {why}\n"
        );
        assert_error(&out, &fx.normal(), &want);
    }
    fx.assert_token_service_untouched();
    fx.assert_nothing_stored();
}

#[test]
fn malformed_robot_file_error_does_not_echo_the_secret() {
    let fx = Fixture::new();
    let secret = "robot-secret-echoed-888";
    // Just the secret, as a JSON string (e.g. copied from the web UI and quoted).
    let file = fx
        .home
        .write_file("only-secret.json", &format!("\"{secret}\"\n"), 0o600);
    let url = fx.url();
    // Run directly, before the secret is watched, so that this test's own
    // assertion (not the rig's) reports the echo.
    let out = bin::run(
        &fx.home.env,
        &["login", &url, "--robot-file", path_str(&file)],
        b"",
    );
    let line = assert_error(
        &out,
        &fx.normal(),
        "error: $FILES/only-secret.json is not a Harbor robot account file (expected JSON with \"name\" and \"secret\"): a value has the wrong type (line 1, column 25)\n",
    );
    assert!(
        !line.contains(secret),
        "the error line echoes the secret from the robot file: {line}"
    );
    fx.home.env.watch_secret(secret);
    fx.assert_nothing_stored();
}

#[test]
fn robot_expiring_within_a_week_warns_clients_once_a_day() {
    let fx = Fixture::new();
    let file = fx.home.robot_file(ROBOT, ROBOT_SECRET, now() + 3 * DAY);
    assert_succeeded(&fx.login_robot_file(&file));

    let first = bin::get(&fx.home.env, &fx.key());
    assert_eq!(
        bin::parse_get(&first, &fx.key()),
        (ROBOT.to_string(), ROBOT_SECRET.to_string())
    );
    let warnings = first.stderr_lines();
    assert_eq!(warnings.len(), 1, "one warning line on stderr\n{first}");
    // The warning says which robot expires, and when.
    text::assert_text(
        &fx.normal().durations(),
        &first.stderr,
        "docker-credential-harbor: warning: robot account robot$proj+ci for $REGISTRY expires in N days; ask a project admin to refresh it\n",
    );

    let second = bin::get(&fx.home.env, &fx.key());
    assert_eq!(
        second.stdout, first.stdout,
        "stdout stays the one JSON line"
    );
    assert!(
        second.stderr_lines().is_empty(),
        "the warning is shown once a day, not at every get\n{second}"
    );
    fx.home.assert_no_secret_in_files();
}

// ---------------------------------------------------------------------------
// Reaching the registry

#[test]
fn closed_port_is_reported_as_refused() {
    let home = Home::new();
    let port = closed_port();
    let key = format!("127.0.0.1:{port}");
    home.claim(&key);
    let out = home.login(
        &format!("http://{key}"),
        &["-u", USER, "--password-stdin"],
        USER_SECRET,
    );
    assert_error(
        &out,
        &home.normal().name(&key, "$REGISTRY"),
        "error: $REGISTRY refused the connection; is the registry address and port right?\n",
    );
    home.assert_nothing_stored(&key);
}

#[test]
fn unresolvable_host_is_reported_quickly() {
    let home = Home::new();
    home.claim("nonexistent.invalid");
    let out = home.login(
        "https://nonexistent.invalid",
        &["-u", USER, "--password-stdin"],
        USER_SECRET,
    );
    assert_error(
        &out,
        &home.normal(),
        "error: cannot resolve the host name of nonexistent.invalid; check the spelling and your DNS or VPN\n",
    );
    assert!(
        out.elapsed < Duration::from_secs(20),
        "a name that does not resolve should fail fast\n{out}"
    );
    home.assert_nothing_stored("nonexistent.invalid");
}

#[test]
fn plain_http_to_a_remote_name_needs_insecure() {
    let home = Home::new();
    home.claim("registry.example.com");
    let out = home.login(
        "http://registry.example.com",
        &["-u", USER, "--password-stdin"],
        USER_SECRET,
    );
    assert_error(
        &out,
        &home.normal(),
        "error: refusing http:// to registry.example.com: the secret would cross the network unencrypted; use https://, or pass --insecure for registry.example.com if you really mean it\n",
    );
    home.assert_nothing_stored("registry.example.com");

    // --insecure lifts that refusal (this name then fails on DNS instead).
    home.claim("nonexistent.invalid");
    let out = home.login(
        "http://nonexistent.invalid",
        &["-u", USER, "--password-stdin", "--insecure"],
        USER_SECRET,
    );
    assert_error(
        &out,
        &home.normal(),
        "error: cannot resolve the host name of nonexistent.invalid; check the spelling and your DNS or VPN\n",
    );
}

#[test]
fn private_ca_registry_needs_ca_file() {
    let (user, secret) = ("tlsuser", "tls-basic-secret-8642");
    let registry = Registry::start_tls_basic(user, secret);
    let ca = registry.ca_cert().expect("the TLS registry has a CA");
    let home = Home::new();
    let key = registry.addr();
    home.claim(&key);

    let out = home.login(&registry.url(), &["-u", user, "--password-stdin"], secret);
    assert_error(
        &out,
        &home.normal().name(&key, "$REGISTRY"),
        "error: the TLS certificate of $REGISTRY is not trusted: it is signed by an unknown CA; if the registry uses a private CA, pass --ca-file CA.pem, or put it in /etc/docker/certs.d/$REGISTRY/ca.crt (docker and podman read it there too)\n",
    );
    home.assert_nothing_stored(&key);

    let out = home.login(
        &registry.url(),
        &["-u", user, "--password-stdin", "--ca-file", path_str(&ca)],
        secret,
    );
    assert_succeeded(&out);
    assert_eq!(
        bin::get_ok(&home.env, &key),
        (user.to_string(), secret.to_string())
    );
}

// ---------------------------------------------------------------------------
// logout and status --check

#[test]
fn logout_removes_what_login_stored() {
    let fx = Fixture::new();
    assert_succeeded(&fx.login(&["-u", USER, "--password-stdin"], USER_SECRET));
    assert_eq!(fx.get().0, USER);

    let out = fx.home.run(&["logout", &fx.url()]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(
        &fx.normal(),
        &out.stdout,
        "Removed the credentials for $REGISTRY.\n",
    );
    fx.assert_nothing_stored();

    let out = fx.home.run(&["logout", &fx.url()]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&fx.normal(), &out.stdout, "Not logged in to $REGISTRY.\n");
}

#[test]
fn status_check_notices_a_changed_user_secret() {
    let fx = Fixture::new();
    assert_succeeded(&fx.login(&["-u", USER, "--password-stdin"], USER_SECRET));

    let out = fx.home.run(&["status", "--check"]);
    assert_eq!(out.code(), 0, "the secret is still accepted\n{out}");
    text::assert_text(
        &fx.normal().seconds(),
        &out.stdout,
        "\
$REGISTRY
  account:  jdoe@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  accepted N seconds ago
  check:    accepted
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
",
    );

    // The user regenerates the CLI secret in the web UI.
    fx.standin
        .update_account(USER, |a| a.secret = "regenerated-secret-1111".into());
    let out = fx.home.run(&["status", "--check"]);
    assert_eq!(out.code(), 1, "a refused secret fails the check\n{out}");
    text::assert_text(&fx.normal().seconds(), &out.stdout, "\
$REGISTRY
  account:  jdoe@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  refused N seconds ago
  check:    refused: $REGISTRY refused the CLI secret for jdoe@ucar.edu. This Harbor signs people in through Entra ID: use your Harbor username and the CLI secret from the web UI (your name > User Profile > CLI secret), not your password. If it worked before, your web session has expired: log in to the Harbor web UI once, then run login again (or run `docker-credential-harbor renew $REGISTRY`)
  lived:    N seconds (from its store or renewal until Harbor refused it)
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
");
    let out = fx.home.run(&["status", "--check", "--json"]);
    assert_eq!(out.code(), 1, "{out}");
    let rows: Vec<Value> = bin::status_rows(&out);
    let check = row_for(&rows, &fx.key())["check"]
        .as_str()
        .unwrap_or_default();
    assert!(check.starts_with("refused"), "{out}");
}

#[test]
fn status_check_notices_an_expired_robot() {
    let fx = Fixture::new();
    assert_succeeded(&fx.login(&["-u", ROBOT, "--password-stdin"], ROBOT_SECRET));
    let out = fx.home.run(&["status", "--check"]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&fx.normal().seconds(), &out.stdout, ROBOT_CHECKED);

    fx.standin
        .update_account(ROBOT, |a| a.expires_at = Some(now() - 60));
    let out = fx.home.run(&["status", "--check"]);
    assert_eq!(out.code(), 1, "an expired robot fails the check\n{out}");
    text::assert_text(&fx.normal().seconds(), &out.stdout, "\
$REGISTRY
  account:  robot$proj+ci (robot)
  keychain: keyutils
  stored:   N seconds ago
  expiry:   unknown (import with --robot-file to track it)
  checked:  refused N seconds ago
  check:    refused: $REGISTRY refused robot account robot$proj+ci: the secret is wrong, or the robot has expired or was disabled (a project admin can check under Project > Robot Accounts); in a shell, quote names with $ in single quotes; robot accounts are named robot$PROJECT+NAME, or robot-PROJECT+NAME on sites such as hub.k8s.ucar.edu (robot-proj+ci)
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
");
}

/// A WAF, a rate limiter or a proxy in front of Harbor answering 403 is no
/// refusal (Harbor's token service never answers 403): login says what
/// answered, in one line, and stores nothing (issue 31 item 2).
#[test]
fn a_403_in_front_of_the_token_service_is_blocked_not_refused() {
    let fx = Fixture::new();
    fx.standin.set_waf_block(Some(
        "Request blocked by the web application firewall (ref \u{1b}[31m42)\r\n<html>more</html>\n",
    ));
    let out = fx.login(&["-u", USER, "--password-stdin"], USER_SECRET);
    let line = assert_error(
        &out,
        &fx.normal(),
        "error: $HARBOR answered HTTP 403 (\"Request blocked by the web application firewall (ref \\u{1b}[31m42)\") to the credential check: something in front of the registry (a firewall, a rate limiter or a proxy) stopped it, so it says nothing about the secret, which is kept; try again later, or ask the registry's administrators\n",
    );
    for wrong in ["refused", "web session", "CLI secret", "<html>"] {
        assert!(!line.contains(wrong), "no refusal, no {wrong:?}\n{out}");
    }
    fx.assert_nothing_stored();
}

/// A registry with Basic auth behind a WAF: `/v2/` asks for credentials,
/// and the WAF answers 403 when they come.
fn basic_registry_behind_a_waf(_: u16, head: &str) -> String {
    if head.to_ascii_lowercase().contains("\nauthorization:") {
        let body = "Access denied by policy\n";
        format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Basic realm=\"r\"\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
            .into()
    }
}

#[test]
fn a_403_at_a_basic_registry_is_blocked_not_refused() {
    let server = Recorder::start(basic_registry_behind_a_waf);
    let home = Home::new();
    let key = format!("127.0.0.1:{}", server.port);
    home.claim(&key);
    let out = home.login(
        &format!("http://{key}"),
        &["-u", USER, "--password-stdin"],
        USER_SECRET,
    );
    let line = assert_error(
        &out,
        &home.normal().name(&key, "$REGISTRY"),
        "error: $REGISTRY answered HTTP 403 (\"Access denied by policy\") to the credential check: something in front of the registry (a firewall, a rate limiter or a proxy) stopped it, so it says nothing about the secret, which is kept; try again later, or ask the registry's administrators\n",
    );
    assert!(!line.contains("refused"), "{out}");
    home.assert_nothing_stored(&key);
}

#[test]
fn login_says_when_docker_is_not_configured_to_use_the_helper() {
    let fx = Fixture::new();
    let out = fx.login(&["-u", USER, "--password-stdin"], USER_SECRET);
    assert_succeeded(&out);
    // No credHelpers entry yet: it says how to add one.
    text::assert_text(&fx.normal(), &out.stdout, LOGGED_IN_USER);
    let conf = bin::run(
        &fx.home.env,
        &["configure", "--docker", "--registry", &fx.key()],
        b"",
    );
    assert_eq!(conf.code(), 0, "{conf}");
    let out = fx.login(&["-u", USER, "--password-stdin"], USER_SECRET);
    assert_succeeded(&out);
    // Configured now: no hint.
    text::assert_text(
        &fx.normal(),
        &out.stdout,
        "Login Succeeded: jdoe@ucar.edu (user) for $REGISTRY, kept in the kernel keyring.\n",
    );
}

#[test]
fn default_registry_comes_from_env_then_settings_file_then_hub() {
    let home = Home::new();
    let logout =
        |changes: &[(&str, Option<&str>)]| bin::run_with(&home.env, changes, &["logout"], b"");
    let normal = home.normal();
    let out = logout(&[("DOCKER_CREDENTIAL_HARBOR_REGISTRY", None)]);
    // The built-in default.
    text::assert_text(&normal, &out.stdout, "Not logged in to hub.k8s.ucar.edu.\n");
    let settings = home
        .env
        .config_home
        .join("docker-credential-harbor/config.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"registry": "harbor.example.org"}"#).unwrap();
    let out = logout(&[("DOCKER_CREDENTIAL_HARBOR_REGISTRY", None)]);
    // The settings file's.
    text::assert_text(
        &normal,
        &out.stdout,
        "Not logged in to harbor.example.org.\n",
    );
    let out = logout(&[(
        "DOCKER_CREDENTIAL_HARBOR_REGISTRY",
        Some("https://Env.Example:8443/"),
    )]);
    // The variable wins.
    text::assert_text(&normal, &out.stdout, "Not logged in to env.example:8443.\n");
    std::fs::write(&settings, "{broken").unwrap();
    let out = logout(&[("DOCKER_CREDENTIAL_HARBOR_REGISTRY", None)]);
    assert_error(
        &out,
        &normal,
        "error: $XDG_CONFIG_HOME/docker-credential-harbor/config.json is not valid: key must be a string at line 1 column 2\n",
    );
}

/// `status` names the settings file it reads (a file placed elsewhere is
/// ignored: issue 33, item 4), in its text and in `--json`.
#[test]
fn status_names_the_settings_file() {
    let home = Home::new();
    let settings = home
        .env
        .config_home
        .join("docker-credential-harbor/config.json");
    let out = bin::run(&home.env, &["status"], b"");
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(
        &home.normal(),
        &out.stdout,
        "\
No registries stored. Run `docker-credential-harbor login` to add one.
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
",
    );
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"registry": "harbor.example.org"}"#).unwrap();
    let out = bin::run(&home.env, &["status"], b"");
    text::assert_text(
        &home.normal(),
        &out.stdout,
        "\
No registries stored. Run `docker-credential-harbor login` to add one.
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json
",
    );
    let out = bin::run(&home.env, &["status", "--json"], b"");
    let v: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(v["settings"], settings.to_str().unwrap(), "{v}");
}

// ---------------------------------------------------------------------------
// Where a secret may go: plain HTTP only between loopback ends or with
// --insecure; loopback never through a proxy; later checks reach the
// registry the way login did.

/// Runs the helper in a private mount namespace whose `/etc/hosts` maps
/// `names` to 127.0.0.1: names the tool must treat as remote, while every
/// byte stays on this machine.
fn run_resolving(
    env: &Env,
    names: &[&str],
    changes: &[(&str, Option<&str>)],
    args: &[&str],
    stdin: &str,
) -> Output {
    let text = format!("127.0.0.1 localhost {}\n::1 localhost\n", names.join(" "));
    run_with_hosts(env, &text, changes, args, stdin)
}

/// Runs the helper in a private mount namespace whose `/etc/hosts` is `text`.
fn run_with_hosts(
    env: &Env,
    text: &str,
    changes: &[(&str, Option<&str>)],
    args: &[&str],
    stdin: &str,
) -> Output {
    let hosts = tempfile::NamedTempFile::new().expect("a temp hosts file");
    std::fs::write(hosts.path(), text).expect("write the hosts file");
    bin::run_via(
        env,
        changes,
        &[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            r#"mount --bind "$0" /etc/hosts && exec "$@""#,
            path_str(hosts.path()),
        ],
        args,
        stdin.as_bytes(),
    )
}

/// A tiny HTTP server on 127.0.0.1: records the head of every request it
/// gets (request line and headers) and answers with `answer(port, head)`.
struct Recorder {
    port: u16,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Recorder {
    fn start(answer: fn(u16, &str) -> String) -> Recorder {
        use std::io::{BufRead, BufReader};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a recorder");
        let port = listener.local_addr().expect("recorder address").port();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut stream) = conn else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream.try_clone().expect("clone a stream"));
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => head.push_str(&line),
                    }
                }
                let _ = stream.write_all(answer(port, &head).as_bytes());
                log.lock().expect("recorder log").push(head);
            }
        });
        Recorder { port, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("recorder log").clone()
    }
}

fn proxy_answer(_: u16, _: &str) -> String {
    "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
}

#[test]
fn a_plain_http_token_service_elsewhere_never_gets_the_secret() {
    let fx = Fixture::new();
    // The registry is on loopback; its token realm names a host that is not
    // (though it resolves to the stand-in here, so a sent secret would arrive).
    let realm = format!(
        "http://tokens.example.test:{}/service/token",
        fx.standin.port
    );
    let registry = Registry::start_token_at(&fx.standin, &realm);
    let key = registry.addr();
    fx.home.claim(&key);
    fx.home.env.watch_secret(USER_SECRET);
    let names = ["tokens.example.test"];
    for address in [registry.url(), key.clone()] {
        let out = run_resolving(
            &fx.home.env,
            &names,
            &[],
            &["login", &address, "-u", USER, "--password-stdin"],
            USER_SECRET,
        );
        assert_error(
            &out,
            &fx.normal().name(&key, "$OTHER"),
            "error: refusing http:// to tokens.example.test:$HARBOR_PORT (where $OTHER sends us): plain HTTP stays on this machine only when both ends are loopback; use https://, or pass --insecure for $OTHER if you really mean it\n",
        );
        fx.assert_token_service_untouched();
        fx.home.assert_nothing_stored(&key);
    }
    // Said explicitly, it goes there, and the login remembers it.
    let out = run_resolving(
        &fx.home.env,
        &names,
        &[],
        &[
            "login",
            &registry.url(),
            "-u",
            USER,
            "--password-stdin",
            "--insecure",
        ],
        USER_SECRET,
    );
    assert_succeeded(&out);
    let log = fx.standin.token_log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].account.as_deref(), Some(USER));
    let index: Value = serde_json::from_slice(&fx.home.env.index_bytes().expect("an index"))
        .expect("the index is JSON");
    assert_eq!(
        index["registries"][&key]["net"]["insecure"], true,
        "{index}"
    );
}

#[test]
fn an_insecure_login_is_checked_later_the_way_it_was_made() {
    let fx = Fixture::new();
    // A registry by a name that is not loopback: plain HTTP needs --insecure.
    let host = format!("registry.example.test:{}", fx.registry.port());
    let names = ["registry.example.test"];
    fx.home.claim(&host);
    fx.home.env.watch_secret(USER_SECRET);
    let run = |args: &[&str], stdin: &str| run_resolving(&fx.home.env, &names, &[], args, stdin);
    let url = format!("http://{host}");
    let out = run(
        &["login", &url, "-u", USER, "--password-stdin"],
        USER_SECRET,
    );
    assert_error(
        &out,
        &fx.normal().name(&host, "$HOST"),
        "error: refusing http:// to $HOST: the secret would cross the network unencrypted; use https://, or pass --insecure for $HOST if you really mean it\n",
    );
    let out = run(
        &["login", &url, "-u", USER, "--password-stdin", "--insecure"],
        USER_SECRET,
    );
    assert_succeeded(&out);

    let verdict = |fx: &Fixture| {
        let rows = fx.home.status_rows();
        row_for(&rows, &host)["last_check"]["verdict"]
            .as_str()
            .unwrap_or("none")
            .to_string()
    };
    let out = run(&["background-check", &host], "");
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        verdict(&fx),
        "accepted",
        "the check used the login's --insecure"
    );

    fx.standin
        .update_account(USER, |a| a.oidc_session_expired = true);
    let out = run(&["background-check", &host], "");
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        verdict(&fx),
        "refused",
        "a dead secret is noticed, not 'unreachable'"
    );
    let out = run(&["status", "--check", &host], "");
    assert_eq!(out.code(), 1, "{out}");
    let normal = fx.normal().name(&host, "$HOST").seconds();
    text::assert_text(&normal, &out.stdout, "\
$HOST
  account:  jdoe@ucar.edu (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  refused N seconds ago
  check:    refused: $HOST refused the CLI secret for jdoe@ucar.edu. This Harbor signs people in through Entra ID: use your Harbor username and the CLI secret from the web UI (your name > User Profile > CLI secret), not your password. If it worked before, your web session has expired: log in to the Harbor web UI once, then run login again (or run `docker-credential-harbor renew $HOST`)
  lived:    N seconds (from its store or renewal until Harbor refused it)
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
");
}

#[test]
fn a_ca_file_login_is_checked_with_that_ca_and_an_untrusted_one_is_blocked() {
    let (user, secret) = ("tlsuser", "tls-basic-secret-1357");
    let registry = Registry::start_tls_basic(user, secret);
    let ca = registry.ca_cert().expect("the TLS registry has a CA");
    let home = Home::new();
    let key = registry.addr();
    home.claim(&key);
    let verdict = |home: &Home| {
        let rows = home.status_rows();
        let row = row_for(&rows, &key);
        (
            row["last_check"]["verdict"]
                .as_str()
                .unwrap_or("none")
                .to_string(),
            row["last_check"]["detail"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    };

    // Stored without the CA: the check cannot trust the registry. Nothing is
    // sent, and that is neither "refused" nor "unreachable".
    let out = home.login(
        &registry.url(),
        &["-u", user, "--password-stdin", "--no-verify"],
        secret,
    );
    assert_succeeded(&out);
    let out = home.run(&["background-check", &key]);
    assert_eq!(out.code(), 0, "{out}");
    let (v, why) = verdict(&home);
    assert_eq!(v, "blocked", "{why}");
    assert!(
        why.contains("not trusted") && why.contains("--ca-file"),
        "{why}"
    );
    // status names the verdict and its fix.
    let text = home.status_text();
    let normal = home.normal().name(&key, "$REGISTRY").seconds();
    text::assert_text(&normal, &text, "\
$REGISTRY
  account:  tlsuser (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  blocked N seconds ago
            nothing was sent: the TLS certificate of $REGISTRY is not trusted: it is signed by an unknown CA; if the registry uses a private CA, pass --ca-file CA.pem, or put it in /etc/docker/certs.d/$REGISTRY/ca.crt (docker and podman read it there too)
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
");

    // Logged in with --ca-file: the check trusts the same CA.
    let out = home.login(
        &registry.url(),
        &["-u", user, "--password-stdin", "--ca-file", path_str(&ca)],
        secret,
    );
    assert_succeeded(&out);
    let out = home.run(&["background-check", &key]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(verdict(&home).0, "accepted");
    let out = home.run(&["status", "--check", &key]);
    assert_eq!(out.code(), 0, "{out}");
}

#[test]
fn loopback_registries_never_go_through_a_proxy() {
    let fx = Fixture::new();
    let proxy = Recorder::start(proxy_answer);
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    fx.home.env.watch_secret(USER_SECRET);
    let proxied: Vec<(&str, Option<&str>)> = vec![
        ("HTTP_PROXY", Some(&proxy_url)),
        ("HTTPS_PROXY", Some(&proxy_url)),
        ("http_proxy", Some(&proxy_url)),
        ("https_proxy", Some(&proxy_url)),
        ("NO_PROXY", None),
        ("no_proxy", None),
    ];
    for address in [fx.url(), fx.key()] {
        let out = bin::run_with(
            &fx.home.env,
            &proxied,
            &["login", &address, "-u", USER, "--password-stdin"],
            USER_SECRET.as_bytes(),
        );
        assert_succeeded(&out);
        assert_eq!(
            proxy.seen(),
            Vec::<String>::new(),
            "the proxy saw loopback traffic"
        );
    }
    // Any other host goes through the proxy, as docker's does (the proxy is a
    // recorder on loopback: nothing leaves this machine)...
    let remote = "registry.example.test";
    fx.home.claim(remote);
    let out = bin::run_with(
        &fx.home.env,
        &proxied,
        &[
            "login",
            &format!("http://{remote}"),
            "--insecure",
            "-u",
            USER,
            "--password-stdin",
        ],
        USER_SECRET.as_bytes(),
    );
    assert_error(
        &out,
        &fx.normal(),
        "error: registry.example.test answered HTTP 502 at /v2/; is this a container registry?\n",
    );
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("GET http://registry.example.test/v2/ "),
        "{seen:?}"
    );
    // ...unless NO_PROXY names it.
    let mut exempt = proxied.clone();
    exempt.push(("NO_PROXY", Some(remote)));
    let out = bin::run_with(
        &fx.home.env,
        &exempt,
        &[
            "login",
            &format!("http://{remote}"),
            "--insecure",
            "-u",
            USER,
            "--password-stdin",
        ],
        USER_SECRET.as_bytes(),
    );
    assert_error(
        &out,
        &fx.normal(),
        "error: cannot resolve the host name of registry.example.test; check the spelling and your DNS or VPN\n",
    );
    assert_eq!(proxy.seen().len(), 1, "NO_PROXY was ignored");
}

/// A registry whose token service redirects to plain HTTP on another host.
fn redirecting_registry(port: u16, request: &str) -> String {
    if request.starts_with("GET /v2/ ") {
        format!(
            "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"s\"\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    } else if request.starts_with("GET /token") {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://tokens.example.test:{port}/elsewhere\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    } else {
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".into()
    }
}

#[test]
fn a_redirect_to_plain_http_elsewhere_is_not_followed() {
    let server = Recorder::start(redirecting_registry);
    let home = Home::new();
    let key = format!("127.0.0.1:{}", server.port);
    home.claim(&key);
    home.env.watch_secret(USER_SECRET);
    let out = run_resolving(
        &home.env,
        &["tokens.example.test"],
        &[],
        &[
            "login",
            &format!("http://{key}"),
            "-u",
            USER,
            "--password-stdin",
        ],
        USER_SECRET,
    );
    assert_error(
        &out,
        &home
            .normal()
            .name(&key, "$REGISTRY")
            .name(&format!(":{}", server.port), ":$PORT"),
        "error: refusing http:// to tokens.example.test:$PORT (where $REGISTRY sends us): plain HTTP stays on this machine only when both ends are loopback; use https://, or pass --insecure for $REGISTRY if you really mean it\n",
    );
    let seen = server.seen();
    assert!(
        seen.iter().all(|h| !h.contains("/elsewhere")),
        "the redirect was followed: {seen:?}"
    );
    assert!(seen.iter().any(|h| h.starts_with("GET /token")), "{seen:?}");
    home.assert_nothing_stored(&key);
}

#[test]
fn the_index_keeps_what_a_newer_version_wrote_and_a_newer_format_is_left_alone() {
    let home = Home::new();
    let (a, b) = ("keep-fields.example.test", "newer-index.example.test");
    home.claim(a);
    home.claim(b);
    home.env.watch_secret("s3cret-index-1");
    let path = home.env.index_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        json!({
            "version": 1,
            "future_top": {"x": 1},
            "registries": {"old.example.test": {
                "username": "u", "kind": "user", "store": "keyutils", "stored_at": 5,
                "future_field": [1, 2]
            }}
        })
        .to_string(),
    )
    .unwrap();
    bin::store(&home.env, a, "u", "s3cret-index-1").assert_silent_success();
    let index: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(index["future_top"], json!({"x": 1}), "{index}");
    assert_eq!(
        index["registries"]["old.example.test"]["future_field"],
        json!([1, 2]),
        "{index}"
    );
    assert_eq!(index["registries"][a]["username"], "u");

    let mut newer = index.clone();
    newer["version"] = json!(2);
    let text = serde_json::to_vec_pretty(&newer).unwrap();
    std::fs::write(&path, &text).unwrap();
    let out = bin::try_store(&home.env, b, "u", "s3cret-index-1");
    // One clear line.
    assert_eq!(out.code(), 1, "{out}");
    text::assert_text(
        &home.normal(),
        &out.stdout,
        "$XDG_DATA_HOME/docker-credential-harbor/index.json is version 2, written by a newer docker-credential-harbor; left untouched: upgrade this one (it understands version 1)\n",
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        text,
        "the index was rewritten"
    );
    bin::assert_not_found(&home.env, b);
    // Reading still works: a newer index never breaks a pull.
    assert_eq!(bin::get_ok(&home.env, a).0, "u");

    // A newer index this version cannot even parse (a kind it does not know)
    // is not damaged: neither get nor store moves it aside or rewrites it.
    newer["registries"][a]["kind"] = json!("passkey");
    let text = serde_json::to_vec_pretty(&newer).unwrap();
    std::fs::write(&path, &text).unwrap();
    let out = bin::get(&home.env, a);
    assert_eq!(bin::parse_get(&out, a).0, "u", "{out}");
    let out = bin::try_store(&home.env, b, "u", "s3cret-index-1");
    assert_eq!(out.code(), 1, "{out}");
    text::assert_text(
        &home.normal(),
        &out.stdout,
        "$XDG_DATA_HOME/docker-credential-harbor/index.json is version 2, written by a newer docker-credential-harbor; left untouched: upgrade this one (it understands version 1)\n",
    );
    assert_eq!(std::fs::read(&path).unwrap(), text, "left as it was");
    let beside: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert!(beside.is_empty(), "nothing moved aside: {beside:?}");
}

/// `localhost` is trusted as loopback by its name (plain HTTP, no proxy), so
/// it must be loopback: a hosts file that sends it to another address is not
/// followed. (Nothing listens on 127.0.0.2, so following it fails the login.)
#[test]
fn localhost_is_this_machine_whatever_the_hosts_file_says() {
    let fx = Fixture::new();
    let port = fx.key().rsplit_once(':').expect("host:port").1.to_string();
    let key = format!("localhost:{port}");
    fx.home.claim(&key);
    fx.home.env.watch_secret(USER_SECRET);
    let out = run_with_hosts(
        &fx.home.env,
        "127.0.0.2 localhost\n",
        &[],
        &[
            "login",
            &format!("http://{key}"),
            "-u",
            USER,
            "--password-stdin",
        ],
        USER_SECRET,
    );
    assert_succeeded(&out);
    assert_eq!(
        bin::get_ok(&fx.home.env, &key),
        (USER.to_string(), USER_SECRET.to_string())
    );
    assert_eq!(
        fx.standin.token_log().len(),
        1,
        "checked once, on 127.0.0.1"
    );
}

/// The secret goes only to the host its key names. A backslash ends the host
/// for URL parsers, so it ends it for the key too; and a stored address that
/// names another registry than its key (a hand-edited index, or one written
/// by an older parser) is refused with one line, nothing sent.
#[test]
fn a_stored_address_of_another_host_never_gets_the_secret() {
    let fx = Fixture::new();
    let key = fx.key();
    // Through the protocol: the key is the host a connection would reach.
    let sneaky = format!("http://127.0.0.2:9\\@{key}");
    fx.home.claim("127.0.0.2:9");
    fx.home.env.watch_secret(USER_SECRET);
    bin::store(&fx.home.env, &sneaky, USER, USER_SECRET).assert_silent_success();
    let listed = bin::list(&fx.home.env);
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        ["127.0.0.2:9"],
        "kept under the host the address reaches"
    );
    bin::erase(&fx.home.env, "127.0.0.2:9").assert_silent_success();

    assert_succeeded(&fx.login(&["-u", USER, "--password-stdin"], USER_SECRET));
    let log_before = fx.standin.token_log().len();
    let path = fx.home.env.index_path();
    let mut index: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    index["registries"][&key]["server_url"] = json!(sneaky);
    std::fs::write(&path, serde_json::to_vec_pretty(&index).unwrap()).unwrap();
    for args in [
        &["status", "--check"][..],
        &["renew", &key, "--no-browser", "--wait", "1"],
    ] {
        let out = fx.home.run(args);
        assert_eq!(out.code(), 1, "{out}");
        assert!(
            out.stdout.contains("names another registry")
                || out.stderr.contains("names another registry"),
            "one line that says why\n{out}"
        );
        assert_eq!(
            fx.standin.token_log().len(),
            log_before,
            "nothing was sent\n{out}"
        );
    }
}

/// Text from a registry or a file is shown, never obeyed by the terminal:
/// Harbor's provider name with an escape sequence, an account name with a
/// newline that would forge a `status` line, and a Docker Hub key with
/// control bytes in its path (security review 2, item 9).
#[test]
fn control_characters_from_registries_and_files_are_escaped() {
    let Harbor {
        registry,
        standin: _standin,
    } = Harbor::start_with(StandinOptions {
        accounts: accounts(),
        oidc_provider_name: "Entra\u{1b}]0;pwned\u{7}\u{1b}[2J ID".into(),
        ..StandinOptions::default()
    });
    let home = Home::new();
    home.claim(&registry.addr());
    let out = home.login(
        &registry.url(),
        &["-u", USER, "--password-stdin"],
        WRONG_SECRET,
    );
    assert_eq!(out.code(), 1, "{out}");
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(!all.contains('\u{1b}') && !all.contains('\u{7}'), "{out:?}");
    assert!(
        all.contains(r"Entra\u{1b}]0;pwned\u{7}\u{1b}[2J ID"),
        "{out}"
    );

    let forged = "jdoe\n  account:  root (user)";
    let key = "forged.example.test";
    home.claim(key);
    home.env.watch_secret("forged-line-secret-1");
    bin::store(&home.env, key, forged, "forged-line-secret-1").assert_silent_success();
    let text = home.status_text();
    assert!(
        text.contains(r"  account:  jdoe\n  account:  root (user) (user)"),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("account:"))
            .count(),
        1,
        "no forged line\n{text}"
    );

    for bad in ["docker.io/\u{1b}[2J", "index.docker.io/a\nb"] {
        let out = bin::try_store(&home.env, bad, "u", "forged-line-secret-1");
        assert_eq!(out.code(), 1, "{out}");
        assert_eq!(out.stdout.lines().count(), 1, "{out}");
        assert!(!out.stdout.contains('\u{1b}'), "{out:?}");
        assert!(
            out.stdout.contains("a Docker Hub path may hold only"),
            "{out}"
        );
    }
    bin::erase(&home.env, key).assert_silent_success();
}
