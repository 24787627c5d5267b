//! WSL: the Linux build keeps the secret in Windows Credential Manager by
//! running the Windows build. There is no WSL here, so interop is stood in
//! for the way WSL does it: a binfmt_misc entry for Windows programs (files
//! that start with `MZ`), whose handler logs every call and the environment
//! it got, then runs what the `.exe`'s directory says: the real Windows build
//! under Wine (tests/common/wine.rs: one private prefix, hence one Credential
//! Manager, per test), or a script for the cases that need no Windows build.
//! The entry is not named `WSLInterop`: WSL itself is detected through the
//! variables WSL sets (`WSL_DISTRO_NAME` + `WSL_INTEROP`), as a user's
//! session has them.
//!
//! Wine runs are slow (about a second each): the tests count them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::bin::{self, Env, NAME, NOT_FOUND, Output};
use common::docs;
use common::harbor::Account;
use common::keychain::{self, KeyutilsCleanup, SecretService};
use common::peer_table::{Expect, table};
use common::registry::Harbor;
use common::wine::{self, Prefix, rig};
use serde_json::Value;

const EXE: &str = "docker-credential-harbor.exe";
/// The keychain's name in the index and in `status`.
const WSL_STORE: &str = "windows-credential-manager-via-wsl";
/// How `login` names it.
const WSL_DISPLAY: &str = "Windows Credential Manager (through WSL interop)";

/// A WSL session as WSL sets it up.
fn wsl_vars(env: &mut Env) {
    env.set("WSL_DISTRO_NAME", "Debian");
    env.set("WSL_INTEROP", "/run/WSL/1_interop");
}

/// Where the binfmt_misc handler lives; the entry's name.
const INTEROP_DIR: &str = "/run/docker-credential-harbor-test-interop";
const INTEROP_ENTRY: &str = "docker-credential-harbor-test-interop";
/// The handler: binfmt_misc runs it with the .exe's path, then its arguments.
const INTEROP: &str = r#"#!/bin/sh
exe=$1
shift
dir=${exe%/*}
printf '%s\n' "$*" >> "$dir/calls.log"
env >> "$dir/env.log"
. "$dir/interop.sh"
"#;

/// The binfmt_misc mount and the entry's file there.
const BINFMT: &str = "/proc/sys/fs/binfmt_misc";

/// How many [`ExeDir`]s need the stand-in for WSL interop now. The entry is
/// registered while there is one and removed with the last: binfmt_misc is
/// the kernel's, and other programs on this machine may run MZ files.
static USERS: std::sync::Mutex<usize> = std::sync::Mutex::new(0);

/// One user of the stand-in more; registers it for the first. Mounts
/// binfmt_misc when it is not (the tests run as root); fails, never skips,
/// when it cannot.
fn interop_acquire() {
    let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
    if *users == 0 {
        register_interop();
    }
    *users += 1;
}

fn interop_release() {
    let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
    *users -= 1;
    if *users == 0 {
        // Best effort: a test that failed still leaves the machine as it was.
        let _ = std::fs::write(Path::new(BINFMT).join(INTEROP_ENTRY), "-1");
    }
}

fn register_interop() {
    let fs = Path::new(BINFMT);
    if !fs.join("register").exists() {
        let out = std::process::Command::new("mount")
            .args(["-t", "binfmt_misc", "binfmt_misc"])
            .arg(fs)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "tests/suite/wsl.rs needs binfmt_misc (mount -t binfmt_misc): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = Path::new(INTEROP_DIR);
    std::fs::create_dir_all(dir).unwrap();
    bin::set_mode(dir, 0o755);
    let handler = dir.join("interop");
    let tmp = dir.join(format!("interop.{}", std::process::id()));
    std::fs::write(&tmp, INTEROP).unwrap();
    bin::set_mode(&tmp, 0o755);
    std::fs::rename(&tmp, &handler).unwrap();
    let entry = fs.join(INTEROP_ENTRY);
    if entry.exists() {
        // Left by a run that was killed, or with another handler.
        std::fs::write(&entry, "-1").unwrap();
    }
    let rule = format!(":{INTEROP_ENTRY}:M::MZ::{}:", handler.display());
    if let Err(e) = std::fs::write(fs.join("register"), rule) {
        panic!("cannot register the binfmt_misc stand-in for WSL interop: {e}");
    }
    let status = std::fs::read_to_string(&entry).unwrap_or_default();
    assert!(
        status.starts_with("enabled")
            && status.contains(&format!("interpreter {}", handler.display())),
        "{entry:?}: {status}"
    );
}

/// The smallest file binfmt_misc and the bridge take for a Windows program.
const PE_STUB: &[u8] = b"MZ\x90\x00 stand-in for a Windows program\n";

/// A directory put first on the Linux user's PATH, holding a
/// `docker-credential-harbor.exe`; every call of it is logged.
struct ExeDir {
    dir: PathBuf,
}

impl Drop for ExeDir {
    fn drop(&mut self) {
        interop_release();
    }
}

impl ExeDir {
    /// `body` (sh, with `$exe` and the call's arguments) is what interop
    /// runs for the .exe, after the call is logged.
    fn new(env: &mut Env, body: &str) -> ExeDir {
        ExeDir::with_exe(env, PE_STUB, body)
    }

    fn with_exe(env: &mut Env, exe_bytes: &[u8], body: &str) -> ExeDir {
        // A new directory each time: its log starts empty.
        let dir = (0..)
            .map(|n| env.root().join(format!("windows-bin-{n}")))
            .find(|d| !d.exists())
            .unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("interop.sh"), format!("{body}\n")).unwrap();
        let exe = dir.join(EXE);
        std::fs::write(&exe, exe_bytes).unwrap();
        bin::set_mode(&exe, 0o755);
        let path = format!("{}:{}", dir.display(), bin::system_path());
        env.set("PATH", &path);
        // Last: a failure above leaves no user counted.
        interop_acquire();
        ExeDir { dir }
    }

    /// The Windows build, run through interop under Wine in `pc`.
    fn wine(env: &mut Env, pc: &Prefix) -> ExeDir {
        let vars: String = pc.vars.iter().map(|(k, v)| format!("{k}='{v}' ")).collect();
        let exe = std::fs::read(&rig().exe).expect("the Windows build");
        ExeDir::with_exe(
            env,
            &exe,
            &format!("{vars}exec {} \"$exe\" \"$@\"", wine::WINE64),
        )
    }

    fn exe(&self) -> PathBuf {
        self.dir.join(EXE)
    }

    /// The actions the .exe was run with, in order.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Every environment the .exe got, concatenated.
    fn envs(&self) -> String {
        std::fs::read_to_string(self.dir.join("env.log")).unwrap_or_default()
    }
}

/// The Linux user in WSL with the Windows build on PATH, and the Windows
/// side it reaches.
struct Wsl {
    env: Env,
    exe: ExeDir,
    pc: Prefix,
    _keys: KeyutilsCleanup,
}

impl Wsl {
    fn new() -> Wsl {
        keychain::require_own_session_keyring();
        let pc = Prefix::new();
        let mut env = Env::new();
        wsl_vars(&mut env);
        let exe = ExeDir::wine(&mut env, &pc);
        Wsl {
            env,
            exe,
            pc,
            _keys: KeyutilsCleanup::default(),
        }
    }

    /// The Windows build run on Windows directly (not through the bridge).
    fn windows(&self, args: &[&str], stdin: &[u8]) -> Output {
        let out = self.pc.run(&rig().exe, args, stdin);
        for s in self.env.watched_secrets() {
            assert!(!out.stderr.contains(&s), "a secret on stderr\n{out}");
        }
        out
    }

    fn index_store(&self, key: &str) -> Value {
        let v: Value = serde_json::from_slice(&self.env.index_bytes().expect("an index")).unwrap();
        v["registries"][key]["store"].clone()
    }

    /// Our Credential Manager entry for `key`, decoded.
    fn credential(&self, key: &str) -> Option<Value> {
        let (_, blob) = self
            .pc
            .credential(&format!("{key}.docker-credential-harbor"))?;
        Some(serde_json::from_slice(&blob).expect("our blob is JSON"))
    }

    /// No secret in the .exe's argv or environment, and none in a Linux file
    /// or in the Linux kernel keyring's store.
    fn assert_secret_stays_on_windows(&self, key: &str) {
        for s in self.env.watched_secrets() {
            let argv = self.exe.calls().join("\n");
            assert!(!argv.contains(&s), "a secret in the .exe's argv: {argv}");
            assert!(
                !self.exe.envs().contains(&s),
                "a secret in the .exe's environment"
            );
        }
        self.env.assert_no_secret_in_files();
        assert!(
            !keychain::keyutils_has(key),
            "the secret is also in the Linux kernel keyring"
        );
    }
}

const USER: &str = "jdoe@ucar.edu";
const USER_SECRET: &str = "cli-secret-jdoe-wsl-0123456789";

// ---------------------------------------------------------------------------
// Through the bridge (Wine)

/// `login` in WSL keeps the secret in Credential Manager (as the Windows
/// build itself reads it) and nowhere on the Linux side; `status` and
/// `login` name that keychain; the first pulls after it never run the .exe.
#[test]
fn a_wsl_login_lands_in_credential_manager_and_warm_gets_skip_the_exe() {
    let harbor = Harbor::start(vec![Account::user(USER, USER_SECRET)]);
    let key = harbor.registry.addr();
    let w = Wsl::new();
    w.env.watch_secret(USER_SECRET);
    let out = bin::run(
        &w.env,
        &[
            "login",
            &harbor.registry.url(),
            "-u",
            USER,
            "--password-stdin",
        ],
        USER_SECRET.as_bytes(),
    );
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains(&format!("kept in the {WSL_DISPLAY}")),
        "login names the keychain\n{out}"
    );
    assert_eq!(out.stderr_lines(), Vec::<&str>::new(), "{out}");
    assert_eq!(w.exe.calls(), ["store"]);
    assert_eq!(w.index_store(&key), WSL_STORE);
    // The Windows side starts no background check of its own (this side
    // does), and interop is told to pass that on.
    let envs = w.exe.envs();
    assert!(
        envs.contains("\nDOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL=off\n"),
        "{envs}"
    );
    assert!(
        envs.lines()
            .any(|l| l.starts_with("WSLENV=")
                && l.contains("DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL/w")),
        "{envs}"
    );

    // Three gets (docker pull, push, ...): served from the kernel-keyring
    // cache that login filled; the .exe is run at most once.
    for _ in 0..3 {
        assert_eq!(bin::get_ok(&w.env, &key), (USER.into(), USER_SECRET.into()));
    }
    assert_eq!(w.exe.calls(), ["store"], "three warm gets ran the .exe");

    let out = bin::run(&w.env, &["status"], b"");
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains(&format!("keychain: {WSL_STORE}")),
        "status names Windows Credential Manager\n{out}"
    );

    // On the Windows side: Credential Manager holds it, under the name the
    // Windows build uses, and the Windows build serves it to Windows' docker.
    // Windows' own index has it too, so `status` on Windows shows it.
    let win_index =
        w.pc.profile()
            .join("AppData/Roaming")
            .join(NAME)
            .join("data/index.json");
    let v: Value = serde_json::from_slice(&std::fs::read(&win_index).unwrap()).unwrap();
    assert_eq!(v["registries"][&key]["store"], "windows-credential-manager");
    let blob = w.credential(&key).expect("a Credential Manager entry");
    assert_eq!(
        (&blob["Username"], &blob["Secret"]),
        (&USER.into(), &USER_SECRET.into())
    );
    w.assert_secret_stays_on_windows(&key);
}

/// A login made on Windows (`docker-credential-harbor.exe store`, as Docker
/// Desktop's `docker login` runs it) is served by the Linux `get`; `erase`
/// in WSL removes it on both sides.
#[test]
fn a_windows_side_store_is_served_in_wsl_and_erase_removes_it_everywhere() {
    let mut w = Wsl::new();
    // Not on PATH (appendWindowsPath = false): named in the settings file.
    w.env.unset("PATH");
    let settings = w.env.config_home.join(NAME).join("config.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    let named = serde_json::json!({"windows_helper": w.exe.dir.join(EXE)});
    std::fs::write(&settings, named.to_string()).unwrap();
    let key = "shared.example";
    let secret = "windows-side-secret-42";
    w.env.watch_secret(secret);
    w.windows(&["store"], bin::store_json(key, "jdoe", secret).as_bytes())
        .assert_silent_success();

    assert_eq!(bin::get_ok(&w.env, key), ("jdoe".into(), secret.into()));
    let first = w.exe.calls().len();
    // The first get of a key the Linux index did not know asks twice (the
    // second time under the index lock, before it remembers the key).
    assert!((1..=2).contains(&first), "{:?}", w.exe.calls());
    for _ in 0..3 {
        assert_eq!(bin::get_ok(&w.env, key), ("jdoe".into(), secret.into()));
    }
    assert_eq!(w.exe.calls().len(), first, "warm gets ran the .exe");
    assert_eq!(w.index_store(key), WSL_STORE);
    assert_eq!(bin::list(&w.env).get(key).map(|s| s.as_str()), Some("jdoe"));

    bin::erase(&w.env, key).assert_silent_success();
    let erase = w.exe.calls();
    assert_eq!(erase.last().map(|s| s.as_str()), Some("erase"), "{erase:?}");
    // Gone from Windows (its own get) and from WSL (cache included).
    let out = w.windows(&["get"], key.as_bytes());
    assert_eq!(out.error_line(), NOT_FOUND, "{out}");
    bin::assert_not_found(&w.env, key);
    assert_eq!(w.exe.calls().last().map(|s| s.as_str()), Some("get"));
    w.assert_secret_stays_on_windows(key);
}

/// Every row of the peer-compatibility table answers through the bridge
/// exactly as the Linux build answers it on its own (tests/suite/peer_compat.rs
/// holds that to the Go helper's answers).
#[test]
fn protocol_table_answers_through_the_bridge_as_on_linux() {
    let w = Wsl::new();
    // The plain Linux build, with its own Secret Service and (through a fresh
    // `keyctl session` per run) its own kernel-keyring cache.
    let mut linux = Env::new();
    let ss = SecretService::start(&linux);
    linux.set_bus(ss.address());
    let mut failures = Vec::new();
    for (i, r) in table().iter().enumerate() {
        let o = bin::run(&w.env, &r.args, r.stdin.as_bytes());
        let l = bin::run_via(
            &linux,
            &[],
            &["keyctl", "session", "-"],
            &r.args,
            r.stdin.as_bytes(),
        );
        let what = format!(
            "row {i}: {:?} with {} bytes of stdin",
            r.args,
            r.stdin.len()
        );
        if (o.code(), &o.stdout) != (l.code(), &l.stdout) {
            failures.push(format!(
                "{what}: WSL and Linux differ\n{o}\n--- Linux ---\n{l}"
            ));
        }
        if let Expect::Differs { ours, .. } = &r.expect
            && (o.code(), &o.stdout) != (ours.code, &ours.stdout)
        {
            failures.push(format!("{what}: not the table's answer {ours:?}\n{o}"));
        }
        assert_eq!(o.stderr, "", "{what}: nothing on stderr\n{o}");
    }
    assert!(
        failures.is_empty(),
        "{} row(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // What WSL lists is what the Windows side holds.
    let ours = bin::list(&w.env);
    let windows = bin::parse_list(&w.windows(&["list"], b"unused\n"));
    assert_eq!(ours, windows);
    let calls = w.exe.calls();
    assert!(
        calls.iter().any(|c| c == "store"),
        "the table went through the .exe"
    );
    eprintln!(
        "wsl: {} rows ran the .exe {} times",
        table().len(),
        calls.len()
    );
}

// ---------------------------------------------------------------------------
// Interop unusable: no Wine needed

/// The one line that says why the Windows side is not used, from `out`.
fn fallback_line(out: &Output) -> String {
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "one line on stderr\n{out}");
    let line = lines[0];
    assert!(
        line.starts_with(&format!("{NAME}: warning: {WSL_DISPLAY}: ")),
        "{out}"
    );
    assert!(
        line.contains("README: WSL"),
        "says how to share the login\n{out}"
    );
    line.to_string()
}

/// No .exe, one that does not start, one that hangs: the Linux keychain,
/// with one line saying why; a secret in neither is "not found", in bounded time.
#[test]
fn without_a_usable_exe_the_linux_keychain_is_used_and_says_why() {
    keychain::require_own_session_keyring();
    let keys = KeyutilsCleanup::default();
    let mut env = Env::new();
    wsl_vars(&mut env);

    // No docker-credential-harbor.exe anywhere.
    let key = "noexe.wsl.example";
    keys.add(key);
    let out = bin::try_store(&env, key, "jdoe", "fallback-secret-1");
    out.assert_silent_success();
    let line = fallback_line(&out);
    assert!(line.contains(&format!("{EXE} is not on PATH")), "{out}");
    assert!(line.contains("kernel keyring"), "{out}");
    assert_eq!(
        bin::get_ok(&env, key),
        ("jdoe".into(), "fallback-secret-1".into())
    );
    assert!(keychain::keyutils_has(key));

    // "windows_helper" naming a file that is not there.
    let settings = env.config_home.join(NAME).join("config.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"windows_helper": "/mnt/c/nowhere/x.exe"}"#).unwrap();
    let out = bin::try_store(&env, "helper.wsl.example", "jdoe", "fallback-secret-2");
    keys.add("helper.wsl.example");
    out.assert_silent_success();
    assert!(
        fallback_line(&out).contains("/mnt/c/nowhere/x.exe"),
        "{out}"
    );
    std::fs::remove_file(&settings).unwrap();

    // An .exe that interop cannot start (what a stale WSL_INTEROP socket gives).
    let exe = ExeDir::new(
        &mut env,
        "echo 'UtilConnectUnix: connect failed 111' >&2; exit 1",
    );
    let key = "broken.wsl.example";
    keys.add(key);
    let out = bin::try_store(&env, key, "jdoe", "fallback-secret-3");
    out.assert_silent_success();
    let line = fallback_line(&out);
    assert!(
        line.contains("failed to run") && line.contains("UtilConnectUnix"),
        "{out}"
    );
    assert_eq!(exe.calls(), ["store"]);
    assert!(keychain::keyutils_has(key));
    // A key in neither: not found, with the same kind of line.
    let out = bin::get(&env, "neither.wsl.example");
    assert_eq!(out.error_line(), NOT_FOUND, "{out}");
    fallback_line(&out);

    // An .exe that never answers: killed at the keychain timeout, with what
    // it started.
    let marker = format!("sleep 47{}", std::process::id() % 1000);
    let exe = ExeDir::new(&mut env, &format!("/bin/{marker}; exit 0"));
    env.set(bin::TIMEOUT_ENV, "1");
    let key = "hung.wsl.example";
    keys.add(key);
    let started = Instant::now();
    let out = bin::try_store(&env, key, "jdoe", "fallback-secret-4");
    out.assert_silent_success();
    assert!(
        fallback_line(&out).contains("did not answer within 1 s"),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(8), "{out}");
    assert_eq!(exe.calls(), ["store"]);
    let words: Vec<&str> = marker.split(' ').collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !bin::pids_running(&words).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the hung .exe's child was not killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A login the index says is on Windows, with interop down: one line, then
    // the Linux keychain; not there either, so not found.
    let index = env.index_path();
    let mut v: Value = serde_json::from_slice(&std::fs::read(&index).unwrap()).unwrap();
    v["registries"]["onwin.wsl.example"] = serde_json::json!({
        "username": "jdoe", "kind": "user", "store": WSL_STORE, "stored_at": 1
    });
    std::fs::write(&index, serde_json::to_vec(&v).unwrap()).unwrap();
    let started = Instant::now();
    let out = bin::get(&env, "onwin.wsl.example");
    assert_eq!(out.error_line(), NOT_FOUND, "{out}");
    fallback_line(&out);
    assert!(started.elapsed() < Duration::from_secs(8), "{out}");

    // Forced to the Windows side: no fallback, one clear line.
    let out = bin::run_with(
        &env,
        &[(bin::STORE_ENV, Some("windows"))],
        &["store"],
        bin::store_json("forced.wsl.example", "jdoe", "fallback-secret-5").as_bytes(),
    );
    let line = out.error_line();
    assert!(
        line.starts_with(WSL_DISPLAY) && line.contains("did not answer"),
        "{out}"
    );
    // Forced to the Linux side: the .exe is not run at all.
    let before = exe.calls().len();
    let out = bin::run_with(
        &env,
        &[(bin::STORE_ENV, Some("keyutils"))],
        &["store"],
        bin::store_json("linux.wsl.example", "jdoe", "fallback-secret-6").as_bytes(),
    );
    keys.add("linux.wsl.example");
    out.assert_silent_success();
    assert_eq!(exe.calls().len(), before);
    env.assert_no_secret_in_files();
}

/// An .exe that may not be given a secret is never run, and says why in
/// one line; the Linux keychain keeps the login. The cases: a relative
/// `windows_helper` (it would run from the caller's working directory), a
/// file that is not a Windows program, one that others can write to (or
/// whose directory they can), and an answer to `get` for another registry.
#[test]
fn an_exe_that_is_not_safe_to_give_the_secret_is_never_run() {
    keychain::require_own_session_keyring();
    let keys = KeyutilsCleanup::default();
    let mut env = Env::new();
    wsl_vars(&mut env);
    let secret = "unsafe-exe-secret-1";
    env.watch_secret(secret);
    let settings = env.config_home.join(NAME).join("config.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();

    // Relative: a checkout the user stands in holds an .exe by that name.
    let planted = ExeDir::new(&mut env, "exit 0");
    env.unset("PATH");
    std::fs::write(&settings, format!(r#"{{"windows_helper": "./{EXE}"}}"#)).unwrap();
    let in_checkout = format!("cd '{}' && exec \"$0\" \"$@\"", planted.dir.display());
    let key = "relative.wsl.example";
    keys.add(key);
    let out = bin::run_via(
        &env,
        &[("PATH", Some(&bin::without_helper("/usr/bin:/bin")))],
        &["sh", "-c", &in_checkout],
        &["store"],
        bin::store_json(key, "jdoe", secret).as_bytes(),
    );
    out.assert_silent_success();
    let line = fallback_line(&out);
    assert!(line.contains("which is not an absolute path"), "{out}");
    assert_eq!(
        planted.calls(),
        Vec::<String>::new(),
        "the planted .exe ran"
    );
    assert!(keychain::keyutils_has(key));
    std::fs::remove_file(&settings).unwrap();

    // Not a Windows program: a shell script named .exe.
    let script = ExeDir::with_exe(&mut env, b"#!/bin/sh\nexit 0\n", "exit 0");
    let out = bin::try_store(&env, "script.wsl.example", "jdoe", secret);
    keys.add("script.wsl.example");
    out.assert_silent_success();
    assert!(
        fallback_line(&out).contains("it is not a Windows program (no MZ header)"),
        "{out}"
    );
    assert_eq!(script.calls(), Vec::<String>::new());

    // Writable by others, off a Windows drive: the file, then its directory.
    let exe = ExeDir::new(&mut env, "exit 0");
    bin::set_mode(&exe.exe(), 0o757);
    let out = bin::try_store(&env, "writable.wsl.example", "jdoe", secret);
    keys.add("writable.wsl.example");
    out.assert_silent_success();
    assert!(
        fallback_line(&out).contains(": others can write to it"),
        "{out}"
    );
    bin::set_mode(&exe.exe(), 0o755);
    bin::set_mode(&exe.dir, 0o777);
    let out = bin::try_store(&env, "writable.wsl.example", "jdoe", secret);
    out.assert_silent_success();
    assert!(
        fallback_line(&out).contains(&format!(
            "others can write to its directory {}",
            exe.dir.display()
        )),
        "{out}"
    );
    assert_eq!(exe.calls(), Vec::<String>::new());
    bin::set_mode(&exe.dir, 0o755);

    // An answer for another registry is not served for this one.
    let other = ExeDir::new(
        &mut env,
        r#"[ "$1" = get ] && printf '{"ServerURL":"wrong.example","Username":"u","Secret":"other-registry-secret"}\n'; exit 0"#,
    );
    // (Not watched: the stand-in's script holds it.)
    let out = bin::get(&env, "asked.wsl.example");
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("other-registry-secret"),
        "{out}"
    );
    assert_eq!(
        out.error_line(),
        format!(
            "{WSL_DISPLAY}: {EXE} answered `get` for asked.wsl.example with credentials for \"wrong.example\""
        ),
        "{out}"
    );
    assert_eq!(other.calls().first().map(String::as_str), Some("get"));
    // Its answer for the key asked is served.
    let right = ExeDir::new(
        &mut env,
        r#"[ "$1" = get ] && printf '{"ServerURL":"https://Asked.wsl.example/","Username":"u","Secret":"right-secret"}\n'; exit 0"#,
    );
    assert_eq!(
        bin::get_ok(&env, "asked.wsl.example"),
        ("u".into(), "right-secret".into())
    );
    assert_eq!(right.calls().first().map(String::as_str), Some("get"));
    env.assert_no_secret_in_files();
}

/// Outside WSL nothing changes: an .exe on PATH is never run, whatever the
/// action; one of WSL's two variables alone is not WSL.
#[test]
fn outside_wsl_the_exe_is_never_run() {
    keychain::require_own_session_keyring();
    let keys = KeyutilsCleanup::default();
    for (i, vars) in [
        vec![],
        vec![("WSL_DISTRO_NAME", "Debian")],
        vec![("WSL_INTEROP", "/run/WSL/1_interop")],
    ]
    .into_iter()
    .enumerate()
    {
        let mut env = Env::new();
        for (k, v) in &vars {
            env.set(k, v);
        }
        let exe = ExeDir::new(&mut env, "exit 1");
        let key = format!("out{i}.wsl.example");
        keys.add(&key);
        let out = bin::try_store(&env, &key, "jdoe", "outside-secret-1");
        out.assert_silent_success();
        assert!(out.stderr.contains("kernel keyring"), "{out}");
        assert_eq!(
            bin::get_ok(&env, &key),
            ("jdoe".into(), "outside-secret-1".into())
        );
        bin::assert_not_found(&env, "unknown.wsl.example");
        bin::erase(&env, &key).assert_silent_success();
        // Gone: a second erase finds nothing and, for podman's sake, says nothing.
        bin::erase(&env, &key).assert_silent_success();
        bin::assert_not_found(&env, &key);
        let out = bin::run_with(
            &env,
            &[(bin::STORE_ENV, Some("wsl"))],
            &["get"],
            key.as_bytes(),
        );
        assert!(out.error_line().contains("needs WSL"), "{vars:?}\n{out}");
        assert_eq!(
            exe.calls(),
            Vec::<String>::new(),
            "{vars:?}: the .exe was run"
        );
    }
}

/// The README's WSL section exists and links to docs/wsl.md, which says what
/// could only be simulated (moved out of the README in issue 23, step 6).
#[test]
fn readme_has_a_wsl_section() {
    let readme = docs::page("README.md");
    let section = docs::section(&readme, "README.md", "WSL");
    for needle in [EXE, "windows_helper", WSL_STORE, "(docs/wsl.md)"] {
        assert!(
            section.contains(needle),
            "the README's WSL section mentions {needle}"
        );
    }
    let doc = docs::page("docs/wsl.md");
    let simulated = docs::section(&doc, "docs/wsl.md", "What could only be simulated here");
    for needle in ["tests/suite/wsl.rs", "Wine", "Not run:"] {
        assert!(
            simulated.contains(needle),
            "docs/wsl.md's simulated-here section mentions {needle}"
        );
    }
}
