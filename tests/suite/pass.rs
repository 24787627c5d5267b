//! The password store (`pass`) as the keychain, with the real parts from
//! Debian: gpg and gpg-agent (gnupg), `pass`, and
//! `/usr/bin/docker-credential-pass` (golang-docker-credential-helpers 0.6.4)
//! reading what the helper stored and the other way round. Each test makes
//! its own GnuPG home and key (with or without a passphrase) and its own
//! store, with no D-Bus session: the headless machine the store is for.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use common::bin::{self, CACHE_TTL_ENV, Env, NOT_FOUND, Output, STORE_ENV, TIMEOUT_ENV};
use common::commands::Login;
use common::keychain::require_own_session_keyring;
use common::rig::{CacheCleanup, cache_has};

const PEER: &str = "/usr/bin/docker-credential-pass";
const PASSPHRASE: &str = "gpg-passphrase-7c1e";
const FOLDER: &str = "docker-credential-helpers";

/// A GnuPG home with one key and a password store initialised to it with
/// `pass init`, under the Env's root; its gpg-agent is stopped when dropped.
struct GpgStore {
    gnupg: PathBuf,
    store: PathBuf,
}

impl GpgStore {
    /// A key without a passphrase (`None`) or with one; gpg-agent then
    /// accepts a preset passphrase, as `gpg-preset-passphrase` gives it.
    fn new(env: &mut Env, passphrase: Option<&str>) -> GpgStore {
        for tool in ["gpg", "gpgconf", "pinentry-curses", "pass", PEER, PRESET] {
            assert!(
                which(tool),
                "{tool} is missing: install the Debian packages gnupg, pinentry-curses, pass \
                 and golang-docker-credential-helpers"
            );
        }
        let gnupg = env.root().join("gnupg");
        let store = env.root().join("password-store");
        std::fs::create_dir(&gnupg).unwrap();
        bin::set_mode(&gnupg, 0o700);
        if passphrase.is_some() {
            // The terminal pinentry (gpg-agent's Debian dependency), whatever
            // the desktop's is: the one a prompt on the caller's terminal
            // would come from.
            std::fs::write(
                gnupg.join("gpg-agent.conf"),
                "allow-preset-passphrase\npinentry-program /usr/bin/pinentry-curses\n",
            )
            .unwrap();
        }
        let s = GpgStore { gnupg, store };
        s.point(env);
        let out = s.tool(
            env,
            "gpg",
            &[
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase.unwrap_or(""),
                "--quick-gen-key",
                "Helper Test <helper-test@example.invalid>",
                "future-default",
                "default",
                "never",
            ],
        );
        assert!(out.success(), "gpg --quick-gen-key\n{out}");
        let out = s.tool(env, "pass", &["init", &s.fingerprint(env)]);
        assert!(out.success(), "pass init\n{out}");
        s
    }

    /// Let `env` use this GnuPG home and store (another home on the same
    /// shared file system, in the HPC case).
    fn point(&self, env: &mut Env) {
        env.set("GNUPGHOME", self.gnupg.to_str().unwrap());
        env.set("PASSWORD_STORE_DIR", self.store.to_str().unwrap());
    }

    fn fingerprint(&self, env: &Env) -> String {
        let out = self.tool(env, "gpg", &["--list-keys", "--with-colons"]);
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').nth(8))
            .expect("a fingerprint")
            .to_string()
    }

    /// Run gpg, pass or the peer helper as `env`'s user.
    fn tool(&self, env: &Env, program: &str, args: &[&str]) -> Output {
        bin::run_program(env, env.vars(), program, &[], args, b"")
    }

    /// The file the login for `key` and `user` is kept in.
    fn entry(&self, key: &str, user: &str) -> PathBuf {
        self.store
            .join(FOLDER)
            .join(folder(key))
            .join(format!("{user}.gpg"))
    }

    /// gpg-agent forgets every passphrase (a locked agent).
    fn forget(&self, env: &Env) {
        let out = self.tool(env, "gpgconf", &["--reload", "gpg-agent"]);
        assert!(out.success(), "{out}");
    }

    /// gpg-agent is given the passphrase of every key, as a login script would.
    fn preset(&self, env: &Env, passphrase: &str) {
        let out = self.tool(
            env,
            "gpg",
            &["--list-secret-keys", "--with-colons", "--with-keygrip"],
        );
        let grips: Vec<&str> = out
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("grp:"))
            .filter_map(|l| l.split(':').nth(8))
            .collect();
        assert!(!grips.is_empty(), "keygrips\n{out}");
        for grip in grips {
            let out = bin::run_program(
                env,
                env.vars(),
                PRESET,
                &[],
                &["--preset", grip],
                format!("{passphrase}\n").as_bytes(),
            );
            assert!(out.success(), "gpg-preset-passphrase\n{out}");
        }
    }
}

impl Drop for GpgStore {
    fn drop(&mut self) {
        let _ = std::process::Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", &self.gnupg)
            .output();
    }
}

const PRESET: &str = "/usr/lib/gnupg/gpg-preset-passphrase";

fn which(tool: &str) -> bool {
    Path::new(tool).is_absolute() && Path::new(tool).exists()
        || std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .any(|d| d.join(tool).is_file())
}

/// docker-credential-pass's folder for `key`: Go's `base64.URLEncoding`.
fn folder(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(key)
}

/// A registry name of this test and run; its cached copy goes at the end.
fn host(cache: &CacheCleanup, name: &str, test: &str) -> String {
    let h = format!("{name}.{test}.p{}.example", std::process::id()).replace('_', "-");
    cache.add(&h);
    h
}

/// A headless user: no D-Bus session, a session keyring for the cache.
fn user() -> Env {
    require_own_session_keyring();
    Env::new()
}

fn index_entry(env: &Env, key: &str) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&env.index_bytes().expect("an index")).expect("index JSON");
    index["registries"][key].clone()
}

fn peer_get(env: &Env, key: &str) -> Output {
    bin::run_program(env, env.vars(), PEER, &[], &["get"], key.as_bytes())
}

#[test]
fn new_logins_go_to_an_initialised_password_store_without_a_secret_service() {
    let cache = CacheCleanup::default();
    let mut env = user();
    let key = host(&cache, "auto", "pass-auto");
    let doctor = |env: &Env| bin::run(env, &["doctor", "--registry", &key], b"");
    let out = doctor(&env);
    assert!(
        out.stdout
            .contains("keychain: new logins go to the kernel keyring\n"),
        "no store yet\n{out}"
    );
    let gpg = GpgStore::new(&mut env, None);
    let out = doctor(&env);
    let named = format!(
        "keychain: new logins go to the password store (pass) in {}\n",
        gpg.store.display()
    );
    assert!(out.stdout.contains(&named), "{out}");

    let out = bin::store(&env, &key, "robot$proj+ci", "pass-auto-secret-1f3a");
    assert!(
        out.stderr_lines().is_empty(),
        "no kernel-keyring notice\n{out}"
    );
    assert_eq!(index_entry(&env, &key)["store"], "pass");
    let file = gpg.entry(&key, "robot$proj+ci");
    assert_eq!(bin::mode_of(&file), 0o600);
    assert_eq!(bin::mode_of(file.parent().unwrap()), 0o700);
    // The file holds the secret alone, as docker-credential-pass writes it.
    let file_arg = file.to_str().unwrap();
    let out = gpg.tool(&env, "gpg", &["--batch", "-q", "-d", file_arg]);
    assert_eq!(out.stdout, "pass-auto-secret-1f3a", "{out}");
    let status = bin::run(&env, &["status", &key], b"");
    assert!(status.stdout.contains("  keychain: pass\n"), "{status}");
    assert_eq!(
        bin::get_ok(&env, &key),
        ("robot$proj+ci".into(), "pass-auto-secret-1f3a".into())
    );
    // Forced, it is the same keychain.
    let out = bin::run_with(&env, &[(STORE_ENV, Some("pass"))], &["get"], key.as_bytes());
    assert_eq!(out.code(), 0, "{out}");
    env.assert_no_secret_in_files();
}

#[test]
fn docker_credential_pass_and_pass_read_ours_and_we_read_theirs() {
    let cache = CacheCleanup::default();
    let mut env = user();
    let gpg = GpgStore::new(&mut env, None);
    let ours = host(&cache, "ours", "pass-peer");
    let theirs = host(&cache, "theirs", "pass-peer");

    bin::store(&env, &ours, "robot$proj+ci", "ours-secret-9d2e");
    let out = peer_get(&env, &ours);
    assert_eq!(
        out.stdout,
        format!(
            "{{\"ServerURL\":\"{ours}\",\"Username\":\"robot$proj+ci\",\"Secret\":\"ours-secret-9d2e\"}}\n"
        ),
        "{out}"
    );
    let out = gpg.tool(&env, PEER, &["list"]);
    assert!(
        out.stdout
            .contains(&format!("\"{ours}\":\"robot$proj+ci\"")),
        "{out}"
    );
    let name = format!("{FOLDER}/{}/robot$proj+ci", folder(&ours));
    let out = gpg.tool(&env, "pass", &["show", &name]);
    assert_eq!(out.stdout, "ours-secret-9d2e", "pass show\n{out}");

    // Theirs, read by us (the index never heard of it).
    let out = bin::run_program(
        &env,
        env.vars(),
        PEER,
        &[],
        &["store"],
        bin::store_json(&theirs, "jdoe", "theirs-secret-41ab").as_bytes(),
    );
    env.watch_secret("theirs-secret-41ab");
    assert!(out.success(), "{out}");
    assert_eq!(
        bin::get_ok(&env, &theirs),
        ("jdoe".into(), "theirs-secret-41ab".into())
    );

    // A new account replaces the old one: one file, which the peer reads.
    bin::store(&env, &ours, "other-user", "ours-secret-2-77c0");
    let dir = gpg.store.join(FOLDER).join(folder(&ours));
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        peer_get(&env, &ours)
            .stdout
            .contains("\"Username\":\"other-user\",\"Secret\":\"ours-secret-2-77c0\""),
    );

    // Erased by either, gone for the other.
    bin::erase(&env, &ours).assert_silent_success();
    assert!(
        !dir.exists(),
        "the registry's folder goes, as `pass rm -rf`"
    );
    assert!(peer_get(&env, &ours).stdout.contains("\"Secret\":\"\""));
    let out = bin::run_program(&env, env.vars(), PEER, &[], &["erase"], theirs.as_bytes());
    assert!(out.success(), "{out}");
    let out = bin::run_with(
        &env,
        &[(CACHE_TTL_ENV, Some("0"))],
        &["get"],
        theirs.as_bytes(),
    );
    assert_eq!(out.error_line(), NOT_FOUND);
    env.assert_no_secret_in_files();
}

#[test]
fn a_key_with_a_passphrase_works_through_gpg_agent_and_a_locked_one_says_how_to_unlock() {
    let cache = CacheCleanup::default();
    let mut env = user();
    let gpg = GpgStore::new(&mut env, Some(PASSPHRASE));
    env.watch_secret(PASSPHRASE);
    env.set(CACHE_TTL_ENV, "0");
    let key = host(&cache, "locked", "pass-locked");
    gpg.forget(&env);
    // Encrypting needs no passphrase.
    bin::store(&env, &key, "jdoe", "locked-secret-5e0b");

    // On the caller's terminal (a `docker pull` typed in a shell), with
    // GPG_TTY pointing at it as shells set it, and room for pinentry-curses
    // to draw: no prompt there, the same one line at once.
    let key_file = env.root().join("key.txt");
    std::fs::write(&key_file, &key).unwrap();
    let command = format!(
        "stty rows 24 cols 80; export GPG_TTY=$(tty); {} get < '{}'",
        bin::BIN,
        key_file.display()
    );
    let mut vars = env.vars().clone();
    vars.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
    vars.insert("TERM".into(), "xterm".into());
    let started = Instant::now();
    let (ok, shown) = bin::on_terminal(&command, &vars, &[]);
    assert!(!ok, "{shown}");
    assert!(started.elapsed() < Duration::from_secs(5), "{shown}");
    assert!(
        shown.contains("gpg-agent does not hold the passphrase"),
        "{shown}"
    );
    assert!(
        !shown.to_lowercase().contains("enter the passphrase"),
        "{shown}"
    );

    // Without a terminal (docker, cron, CI): one line that says how to unlock.
    let started = Instant::now();
    let out = bin::get(&env, &key);
    let line = out.error_line();
    assert!(started.elapsed() < Duration::from_secs(5), "{out}");
    let file = gpg.entry(&key, "jdoe");
    assert!(
        line.starts_with(
            "password store (pass): gpg-agent does not hold the passphrase of the key and \
             cannot ask for it here (no terminal); unlock it once in a terminal with `gpg -d '"
        ) && line.contains(&format!("gpg -d '{}' >/dev/null`", file.display())),
        "{out}"
    );

    // The line's command unlocks it, typed on a terminal as a person would.
    let unlock = line.split('`').nth(1).expect("a command in backquotes");
    let (ok, shown) = bin::on_terminal(
        // A terminal of a size pinentry-curses can draw its box in.
        &format!("stty rows 24 cols 80; export GPG_TTY=$(tty); {unlock}"),
        &vars,
        &[("Passphrase", PASSPHRASE)],
    );
    assert!(ok, "{shown}");
    assert_eq!(
        bin::get_ok(&env, &key),
        ("jdoe".into(), "locked-secret-5e0b".into())
    );

    // A passphrase preset into gpg-agent (a login script, a batch job) serves too.
    gpg.forget(&env);
    assert_eq!(bin::get(&env, &key).code(), 1);
    gpg.preset(&env, PASSPHRASE);
    assert_eq!(
        bin::get_ok(&env, &key),
        ("jdoe".into(), "locked-secret-5e0b".into())
    );
    env.assert_no_secret_in_files();
}

/// A directory `name` under the Env's root holding a `gpg` (and a `gpg2`,
/// which `pass` and the helper prefer) that runs `script`; PATH with it first.
fn stand_in_gpg(env: &Env, name: &str, script: &str) -> String {
    let dir = env.root().join(name);
    std::fs::create_dir(&dir).unwrap();
    for program in ["gpg", "gpg2"] {
        std::fs::write(dir.join(program), format!("#!/bin/sh\n{script}")).unwrap();
        bin::set_mode(&dir.join(program), 0o755);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{}:{path}", dir.display())
}

/// A `gpg` first on PATH that logs its arguments, then runs the real one.
fn logging_gpg(env: &mut Env) -> PathBuf {
    let log = env.root().join("gpg-argv.log");
    let script = format!(
        "printf '%s\\n' \"$*\" >> '{}'\nexec /usr/bin/gpg \"$@\"\n",
        log.display()
    );
    let path = stand_in_gpg(env, "gpg-wrapper", &script);
    env.set("PATH", &path);
    log
}

#[test]
fn warm_gets_ask_gpg_once_per_cache_period_and_the_secret_never_reaches_argv() {
    let cache = CacheCleanup::default();
    let mut env = user();
    let _gpg = GpgStore::new(&mut env, None);
    let log = logging_gpg(&mut env);
    let key = host(&cache, "warm", "pass-warm");
    bin::store(&env, &key, "jdoe", "warm-secret-c39d");
    // The first get after a store is served from the copy the store made.
    for _ in 0..4 {
        assert_eq!(
            bin::get_ok(&env, &key),
            ("jdoe".into(), "warm-secret-c39d".into())
        );
    }
    assert!(cache_has(&key), "a copy in the kernel keyring");
    let calls = std::fs::read_to_string(&log).unwrap();
    let decrypts = calls.lines().filter(|l| l.contains(" -d ")).count();
    let encrypts = calls.lines().filter(|l| l.contains(" -e ")).count();
    assert_eq!((encrypts, decrypts), (1, 0), "{calls}");
    // A cold get (no copy) asks gpg once.
    let out = bin::run_with(
        &env,
        &[(CACHE_TTL_ENV, Some("0"))],
        &["get"],
        key.as_bytes(),
    );
    assert_eq!(out.code(), 0, "{out}");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().filter(|l| l.contains(" -d ")).count(),
        1,
        "{calls}"
    );
    assert!(!calls.contains("warm-secret-c39d"), "{calls}");
    assert!(
        calls
            .lines()
            .all(|l| l.contains("--batch --pinentry-mode error")),
        "{calls}"
    );
}

#[test]
fn a_hung_gpg_is_killed_at_the_time_limit() {
    let cache = CacheCleanup::default();
    let mut env = user();
    let _gpg = GpgStore::new(&mut env, None);
    let key = host(&cache, "hung", "pass-hung");
    bin::store(&env, &key, "jdoe", "hung-secret-0a8f");
    let marker = format!("{}.{}", 3_000_000 + std::process::id(), 5);
    let path = stand_in_gpg(
        &env,
        "hung-gpg",
        &format!("sleep {marker} &\nexec sleep {marker}\n"),
    );
    let started = Instant::now();
    let out = bin::run_with(
        &env,
        &[
            ("PATH", Some(&path)),
            (TIMEOUT_ENV, Some("1")),
            (CACHE_TTL_ENV, Some("0")),
        ],
        &["get"],
        key.as_bytes(),
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{out}");
    assert_eq!(
        out.error_line(),
        "password store (pass) did not answer within 1 s; gpg or git did not finish and was \
         stopped; check that `gpg -d` of an entry of the password store works in a terminal"
    );
    std::thread::sleep(Duration::from_millis(200));
    let left = bin::pids_running(&["sleep", &marker]);
    assert!(
        left.is_empty(),
        "gpg and what it started outlived the call: {left:?}"
    );
}

#[test]
fn two_homes_sharing_one_store_serve_one_login() {
    // HPC login nodes: one GnuPG home and password store on the shared
    // file system, a home (index, cache) per node.
    let cache = CacheCleanup::default();
    let mut node1 = user();
    let gpg = GpgStore::new(&mut node1, None);
    let mut node2 = user();
    gpg.point(&mut node2);
    for env in [&mut node1, &mut node2] {
        env.set(CACHE_TTL_ENV, "0");
    }
    let key = host(&cache, "hpc", "pass-hpc");
    bin::store(&node1, &key, "jdoe", "hpc-secret-1-e4d1");
    assert_eq!(
        bin::get_ok(&node2, &key),
        ("jdoe".into(), "hpc-secret-1-e4d1".into())
    );
    assert_eq!(index_entry(&node2, &key)["store"], "pass");
    assert_eq!(
        bin::list(&node2).get(&key).map(String::as_str),
        Some("jdoe")
    );
    bin::store(&node2, &key, "jdoe", "hpc-secret-2-7b3a");
    assert_eq!(
        bin::get_ok(&node1, &key),
        ("jdoe".into(), "hpc-secret-2-7b3a".into())
    );
    bin::erase(&node2, &key).assert_silent_success();
    assert_eq!(bin::get(&node1, &key).error_line(), NOT_FOUND);
    node1.assert_no_secret_in_files();
}

#[test]
fn a_store_in_git_gets_the_commits_pass_makes() {
    let cache = CacheCleanup::default();
    let mut env = user();
    for (var, value) in [
        ("GIT_AUTHOR_NAME", "Helper Test"),
        ("GIT_AUTHOR_EMAIL", "helper-test@example.invalid"),
        ("GIT_COMMITTER_NAME", "Helper Test"),
        ("GIT_COMMITTER_EMAIL", "helper-test@example.invalid"),
    ] {
        env.set(var, value);
    }
    let gpg = GpgStore::new(&mut env, None);
    assert!(gpg.tool(&env, "pass", &["git", "init"]).success());
    let git = |args: &[&str]| {
        let mut all = vec!["-C", gpg.store.to_str().unwrap()];
        all.extend_from_slice(args);
        gpg.tool(&env, "git", &all).stdout
    };
    let subject = || git(&["log", "-1", "--format=%s"]).trim().to_string();
    let ours = host(&cache, "git", "pass-git");
    let theirs = host(&cache, "git2", "pass-git");

    bin::store(&env, &ours, "robot$ci", "git-secret-6f1c");
    assert_eq!(
        subject(),
        format!(
            "Add given password for {FOLDER}/{}/robot$ci to store.",
            folder(&ours)
        )
    );
    assert_eq!(git(&["status", "--porcelain"]), "", "all committed");
    // pass's own wording, for comparison.
    let out = bin::run_program(
        &env,
        env.vars(),
        PEER,
        &[],
        &["store"],
        bin::store_json(&theirs, "robot$ci", "git-secret-2-0c9e").as_bytes(),
    );
    env.watch_secret("git-secret-2-0c9e");
    assert!(out.success(), "{out}");
    assert_eq!(
        subject(),
        format!(
            "Add given password for {FOLDER}/{}/robot$ci to store.",
            folder(&theirs)
        )
    );
    bin::erase(&env, &ours).assert_silent_success();
    assert_eq!(
        subject(),
        format!("Remove {FOLDER}/{} from store.", folder(&ours))
    );
    assert_eq!(git(&["status", "--porcelain"]), "", "all committed");
}

#[test]
fn login_says_where_the_secret_went() {
    let cache = CacheCleanup::default();
    let mut env = user();
    let gpg = GpgStore::new(&mut env, None);
    let key = host(&cache, "login", "pass-login");
    let out = Login::to(&env, &key)
        .user("jdoe", "login-secret-8a2d")
        .args(&["--no-verify"])
        .ok();
    assert!(
        out.stdout.contains(&format!(
            "for {key}, kept in the password store (pass).\nThe secret is in {}, encrypted \
             with GnuPG: it survives a reboot and follows the home directory",
            gpg.entry(&key, "jdoe").display()
        )),
        "{out}"
    );
}

#[test]
fn a_store_that_cannot_take_the_login_says_so_in_one_line_and_writes_nothing() {
    let cache = CacheCleanup::default();
    let mut env = user();
    let key = host(&cache, "unset", "pass-refused");
    let store_dir = env.root().join("no-store");
    env.set("PASSWORD_STORE_DIR", store_dir.to_str().unwrap());
    env.set(STORE_ENV, "pass");
    let out = bin::try_store(&env, &key, "jdoe", "refused-secret-3b7e");
    assert_eq!(
        out.error_line(),
        format!(
            "password store (pass): the password store {} is not initialised (it has no \
             .gpg-id); make a key once (`gpg --quick-gen-key \"Your Name <you@example.org>\"`) \
             and run `pass init KEYID` (README: headless Linux)",
            store_dir.display()
        )
    );
    assert!(!store_dir.exists());
    let gpg = GpgStore::new(&mut env, None);
    let out = bin::try_store(&env, &key, "a/b", "refused-secret-3b7e");
    assert!(out.error_line().contains("holds a '/'"), "{out}");
    assert!(!gpg.store.join(FOLDER).exists(), "nothing written");
    // The nearest .gpg-id rules, as in `pass`: one for the helpers' folder
    // naming a key this GnuPG home lacks (and that is never looked up).
    let nearest = gpg.store.join(FOLDER).join(".gpg-id");
    std::fs::create_dir(gpg.store.join(FOLDER)).unwrap();
    std::fs::write(&nearest, "# for the registries\nnobody@example.invalid\n").unwrap();
    let out = bin::try_store(&env, &key, "jdoe", "refused-secret-3b7e");
    assert_eq!(
        out.error_line(),
        format!(
            "password store (pass): gpg cannot encrypt to nobody@example.invalid (from {}): \
             no such public key in GnuPG's keyring",
            nearest.display()
        )
    );
    assert!(
        !gpg.store.join(FOLDER).join(folder(&key)).exists(),
        "nothing written"
    );
}

#[test]
fn with_a_signing_key_only_a_signed_gpg_id_is_used_as_pass_uses_it() {
    let cache = CacheCleanup::default();
    let mut env = user();
    let gpg = GpgStore::new(&mut env, None);
    let key = host(&cache, "signed", "pass-signed");
    let fpr = gpg.fingerprint(&env);
    env.set("PASSWORD_STORE_SIGNING_KEY", &fpr);
    let gpg_id = gpg.store.join(".gpg-id");
    let out = bin::try_store(&env, &key, "jdoe", "signed-secret-90ad");
    assert_eq!(
        out.error_line(),
        format!(
            "password store (pass): {} has no .sig beside it, and PASSWORD_STORE_SIGNING_KEY \
             asks for a signature",
            gpg_id.display()
        )
    );
    // `pass init` signs it when the variable is set.
    assert!(gpg.tool(&env, "pass", &["init", &fpr]).success());
    bin::store(&env, &key, "jdoe", "signed-secret-90ad");
    // Someone adds a key of theirs: the signature no longer holds.
    let mut ids = std::fs::read_to_string(&gpg_id).unwrap();
    ids.push_str("intruder@example.invalid\n");
    std::fs::write(&gpg_id, ids).unwrap();
    let out = bin::try_store(&env, &key, "jdoe", "signed-secret-2-1e5f");
    assert_eq!(
        out.error_line(),
        format!(
            "password store (pass): {} is not signed by one of those keys, and \
             PASSWORD_STORE_SIGNING_KEY asks for a signature",
            gpg_id.display()
        )
    );
    assert_eq!(
        bin::get_ok(&env, &key),
        ("jdoe".into(), "signed-secret-90ad".into()),
        "the login stays as it was"
    );
}
