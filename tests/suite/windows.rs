//! The Windows build, run for real under Wine: the x86_64-pc-windows-gnu
//! binary (default features, TLS included) against Wine's Credential Manager.
//! The rig (the exe, credtool, one Wine prefix per test) is common::wine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::bin::{self, NAME, NOT_FOUND, Output};
use common::docs;
use common::harbor::Account;
use common::keychain::SecretService;
use common::peer_table::{Expect, table};
use common::registry::Harbor;
use common::wine::{Prefix, rig};
use serde_json::Value;

/// The service name the helper files entries under (src/keychain/mod.rs).
const SERVICE: &str = "docker-credential-harbor";
/// CRED_MAX_CREDENTIAL_BLOB_SIZE.
const BLOB_CAP: usize = 2560;

// ---------------------------------------------------------------------------
// One Windows machine per test: a private copy of the template prefix.

struct Win {
    pc: Prefix,
    /// Secrets that must never appear on stderr.
    secrets: Vec<String>,
    /// The helper command lines run, for the README check.
    ran: Mutex<Vec<Vec<String>>>,
}

impl Win {
    fn new() -> Win {
        Win {
            pc: Prefix::new(),
            secrets: Vec::new(),
            ran: Mutex::new(Vec::new()),
        }
    }

    /// `%USERPROFILE%` as a Unix path.
    fn profile(&self) -> PathBuf {
        self.pc.profile()
    }

    fn set(&mut self, key: &str, value: &str) {
        self.pc.vars.insert(key.into(), value.into());
    }

    fn watch(&mut self, secret: &str) {
        // Short values (and "") would match by accident.
        if secret.len() >= 8 {
            self.secrets.push(secret.into());
        }
    }

    fn run_program(&self, exe: &Path, args: &[&str], stdin: &[u8]) -> Output {
        let out = self.pc.run(exe, args, stdin);
        for s in &self.secrets {
            assert!(
                !out.stderr.contains(s.as_str()),
                "a secret appeared on stderr\n{out}"
            );
        }
        out
    }

    /// The helper, as docker on Windows runs it.
    fn helper(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.ran
            .lock()
            .unwrap()
            .push(args.iter().map(|a| a.to_string()).collect());
        self.run_program(&rig().exe, args, stdin)
    }

    fn store(&mut self, url: &str, user: &str, secret: &str) -> Output {
        self.watch(secret);
        self.helper(&["store"], bin::store_json(url, user, secret).as_bytes())
    }

    fn store_ok(&mut self, url: &str, user: &str, secret: &str) {
        let out = self.store(url, user, secret);
        out.assert_silent_success();
        assert_eq!(out.stderr, "", "store prints nothing on stderr\n{out}");
    }

    fn get(&self, url: &str) -> Output {
        self.helper(&["get"], url.as_bytes())
    }

    fn get_ok(&self, url: &str) -> (String, String) {
        bin::parse_get(&self.get(url), url)
    }

    fn assert_not_found(&self, url: &str) {
        let out = self.get(url);
        assert_eq!(out.error_line(), NOT_FOUND, "get {url:?}\n{out}");
    }

    fn list(&self) -> BTreeMap<String, String> {
        bin::parse_list(&self.helper(&["list"], b"unused\n"))
    }

    /// A generic credential as Windows holds it: (UserName, blob), or `None`.
    fn credential(&self, target: &str) -> Option<(String, Vec<u8>)> {
        self.pc.credential(target)
    }

    /// Write a generic credential the way another program would.
    fn write_credential(&self, target: &str, user: &str, blob: &[u8]) {
        let out = self.run_program(&rig().credtool, &["write", target, user, &hex(blob)], b"");
        assert_eq!(out.code(), 0, "credtool write {target}\n{out}");
    }

    /// Our entry for registry key `key`, decoded as UTF-8 JSON.
    fn our_entry(&self, key: &str) -> (String, Value) {
        let (user, blob) = self
            .credential(&target_name(key))
            .unwrap_or_else(|| panic!("no credential {:?}", target_name(key)));
        let text = String::from_utf8(blob).expect("our blob is UTF-8");
        (user, serde_json::from_str(&text).expect("our blob is JSON"))
    }

    /// `%APPDATA%\docker-credential-harbor`, where the README says.
    fn app_data(&self) -> PathBuf {
        self.profile().join("AppData/Roaming").join(NAME)
    }

    fn index(&self) -> Value {
        let p = self.app_data().join("data/index.json");
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
        serde_json::from_slice(&bytes).expect("the index is JSON")
    }
}

/// The Credential Manager target name for a registry key (README, "Windows").
fn target_name(key: &str) -> String {
    format!("{key}.{SERVICE}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

// ---------------------------------------------------------------------------
// The protocol

/// Every row of the peer-compatibility table answers under Wine exactly as
/// the Linux build answers it (which tests/suite/peer_compat.rs holds to the Go
/// helper's answers, or to the stated differences).
#[test]
fn protocol_table_answers_as_the_linux_build_does() {
    let win = Win::new();
    let mut linux_env = bin::Env::new();
    let ss = SecretService::start(&linux_env);
    linux_env.set_bus(ss.address());
    let mut failures = Vec::new();
    for (i, r) in table().iter().enumerate() {
        let w = win.helper(&r.args, r.stdin.as_bytes());
        let l = bin::run(&linux_env, &r.args, r.stdin.as_bytes());
        let what = format!(
            "row {i}: {:?} with {} bytes of stdin",
            r.args,
            r.stdin.len()
        );
        if (w.code(), &w.stdout) != (l.code(), &l.stdout) {
            failures.push(format!(
                "{what}: Windows and Linux differ\n{w}\n--- Linux ---\n{l}"
            ));
        }
        if let Expect::Differs { ours, .. } = &r.expect
            && (w.code(), &w.stdout) != (ours.code, &ours.stdout)
        {
            failures.push(format!("{what}: not the table's answer {ours:?}\n{w}"));
        }
        assert_eq!(w.stderr, "", "{what}: nothing on stderr\n{w}");
    }
    assert!(
        failures.is_empty(),
        "{} row(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // What list shows is exactly what the Credential Manager holds.
    let listed = win.list();
    assert_eq!(listed.len(), 6, "{listed:?}");
    for key in listed.keys() {
        assert!(
            win.credential(&target_name(key)).is_some(),
            "list shows {key} but the Credential Manager has no {:?}",
            target_name(key)
        );
    }
    for gone in ["registry.example", "token.example", "big.example"] {
        assert_eq!(win.credential(&target_name(gone)), None, "{gone}");
    }
}

/// Store then get, many times over: the bug this suite was written for.
#[test]
fn every_get_after_store_succeeds() {
    let mut win = Win::new();
    for (i, secret) in ["s3cret", "", "a-much-longer-secret-0123456789abcdef"]
        .iter()
        .enumerate()
    {
        let url = format!("r{i}.example");
        win.store_ok(&url, "jdoe", secret);
        assert_eq!(win.get_ok(&url), ("jdoe".into(), secret.to_string()));
        assert_eq!(win.get_ok(&url), ("jdoe".into(), secret.to_string()));
        // Written as the bytes it is read as: UTF-8 JSON, not UTF-16.
        let (_, v) = win.our_entry(&url);
        assert_eq!(
            (&v["Username"], &v["Secret"]),
            (&"jdoe".into(), &(*secret).into())
        );
    }
    // Re-store replaces.
    win.store_ok("r0.example", "other", "new-secret");
    assert_eq!(
        win.get_ok("r0.example"),
        ("other".into(), "new-secret".into())
    );
}

#[test]
fn non_ascii_and_html_characters_round_trip() {
    let mut win = Win::new();
    let user = "jürgen <ops> & \"co\" 日本";
    let secret = "pä$$ <script>&amp;</script> \\ \"q\" \u{2028} 😀 \t end";
    win.store_ok("intl.example", user, secret);
    let out = win.get("intl.example");
    assert_eq!(
        bin::parse_get(&out, "intl.example"),
        (user.into(), secret.into())
    );
    // Go's HTML-safe escaping on the wire, as docker's own helpers print it.
    assert!(
        out.stdout.contains("\\u003cscript\\u003e\\u0026amp;"),
        "{out}"
    );
    assert!(out.stdout.contains("\\u2028"), "{out}");
    // Kept as UTF-8 JSON under the documented target name, with the
    // registry key as the credential's user name.
    let (cred_user, blob) = win.our_entry("intl.example");
    assert_eq!(cred_user, "intl.example");
    assert_eq!(blob["Username"], user);
    assert_eq!(blob["Secret"], secret);
    assert_eq!(
        win.list().get("intl.example").map(|s| s.as_str()),
        Some(user)
    );
}

#[test]
fn registry_keys_are_normalised() {
    let mut win = Win::new();
    win.store_ok("https://Reg.Example:443/v2/", "jdoe", "norm-secret-1");
    for spelling in [
        "reg.example",
        "REG.EXAMPLE",
        "https://reg.example",
        "https://reg.example/",
        "reg.example:443",
        "  reg.example\n",
    ] {
        assert_eq!(
            win.get_ok(spelling),
            ("jdoe".into(), "norm-secret-1".into()),
            "{spelling:?}"
        );
    }
    assert!(win.credential(&target_name("reg.example")).is_some());
    assert_eq!(
        win.list(),
        BTreeMap::from([("reg.example".into(), "jdoe".into())])
    );
    // docker logout erases four spellings; the first one removes the entry.
    win.helper(&["erase"], b"http://reg.example")
        .assert_silent_success();
    // The later ones find nothing and succeed quietly (as on Linux).
    win.helper(&["erase"], b"reg.example")
        .assert_silent_success();
    win.assert_not_found("reg.example");
    assert_eq!(win.credential(&target_name("reg.example")), None);
    // Docker Hub: podman's docker.io finds docker's entry.
    win.store_ok("https://index.docker.io/v1/", "hubuser", "hub-secret-1");
    assert_eq!(
        win.get_ok("docker.io"),
        ("hubuser".into(), "hub-secret-1".into())
    );
}

// ---------------------------------------------------------------------------
// Entries other programs (or older versions) left

/// 0.1.0 wrote the blob as UTF-16LE (set_password); such logins keep working,
/// and the next store writes UTF-8.
#[test]
fn entries_written_by_0_1_0_still_read() {
    let mut win = Win::new();
    let key = "old.example";
    let blob = r#"{"Username":"jdoe","Secret":"old-secret-é-1"}"#;
    win.write_credential(&target_name(key), key, &utf16le(blob));
    assert_eq!(win.get_ok(key), ("jdoe".into(), "old-secret-é-1".into()));
    win.store_ok(key, "jdoe", "new-secret-2");
    let (_, v) = win.our_entry(key);
    assert_eq!(v["Secret"], "new-secret-2");
}

#[test]
fn an_entry_left_by_another_program_gives_one_clear_line() {
    let mut win = Win::new();
    let key = "foreign.example";
    let foreign_secret = "hunter2-foreign-secret";
    win.watch(foreign_secret);
    // Another program's generic credential under our exact target name: a
    // UTF-16 password, as most Windows programs write them.
    win.write_credential(&target_name(key), "someone", &utf16le(foreign_secret));
    let out = win.get(key);
    let line = out.error_line();
    assert!(line.starts_with("Windows Credential Manager: "), "{out}");
    assert!(line.contains(&format!("\"{}\"", target_name(key))), "{out}");
    assert!(line.contains("not written by this program"), "{out}");
    assert!(line.contains("docker-credential-harbor login"), "{out}");
    assert!(!line.contains(foreign_secret), "{out}");
    assert!(!line.contains("hunter"), "{out}");
    assert_eq!(out.stderr, "", "{out}");
    // Nothing was changed by reading it.
    assert_eq!(
        win.credential(&target_name(key)),
        Some(("someone".into(), utf16le(foreign_secret)))
    );
    // Raw bytes that are not text at all: the same line.
    win.write_credential(&target_name(key), "someone", &[0xff, 0x00, 0xd8]);
    assert_eq!(win.get(key).error_line(), line);

    // A store replaces the blob: the name is ours by construction, and the
    // error told the user to log in again. (Its other fields stay.)
    win.store_ok(key, "jdoe", "our-secret-3");
    assert_eq!(win.get_ok(key), ("jdoe".into(), "our-secret-3".into()));
    let (cred_user, v) = win.our_entry(key);
    assert_eq!(
        (cred_user.as_str(), &v["Secret"]),
        ("someone", &Value::from("our-secret-3"))
    );
    // Other programs' credentials under other names are never touched.
    win.write_credential(
        "git:https://foreign.example",
        "git",
        &utf16le(foreign_secret),
    );
    win.helper(&["erase"], key.as_bytes())
        .assert_silent_success();
    win.assert_not_found(key);
    assert_eq!(
        win.credential("git:https://foreign.example"),
        Some(("git".into(), utf16le(foreign_secret)))
    );
}

/// docker compose pulls in parallel and logins can overlap: concurrent helpers
/// share the index (its lock is LockFileEx here) and the Credential Manager.
#[test]
fn concurrent_stores_and_gets_lose_nothing() {
    let mut win = Win::new();
    let keys: Vec<String> = (0..8).map(|i| format!("par{i}.example")).collect();
    for k in &keys {
        win.watch(&format!("secret-for-{k}"));
    }
    std::thread::scope(|s| {
        let win = &win;
        let stores: Vec<_> = keys
            .iter()
            .map(|k| {
                s.spawn(move || {
                    let input = bin::store_json(k, "jdoe", &format!("secret-for-{k}"));
                    let out = win.helper(&["store"], input.as_bytes());
                    // Seen once in a loaded CI run: Wine itself SIGKILLed one of
                    // eight parallel wine64 processes 1.6 s in (the helper never
                    // dies by a signal, and a store cut short changes nothing).
                    // Store that one again; any other failure still fails here.
                    if out.status.code().is_none() {
                        eprintln!("wine killed a store ({:?}); storing {k} again", out.status);
                        return win.helper(&["store"], input.as_bytes());
                    }
                    out
                })
            })
            .collect();
        for h in stores {
            h.join().unwrap().assert_silent_success();
        }
        let gets: Vec<_> = keys
            .iter()
            .map(|k| s.spawn(move || (k, win.get(k))))
            .collect();
        for h in gets {
            let (k, out) = h.join().unwrap();
            assert_eq!(
                bin::parse_get(&out, k),
                ("jdoe".into(), format!("secret-for-{k}"))
            );
        }
    });
    let listed = win.list();
    assert_eq!(
        listed.keys().cloned().collect::<Vec<_>>(),
        keys,
        "the index lists every store"
    );
}

/// The Credential Manager holds at most 2,560 bytes per entry: a store that
/// would not fit is refused with one line and changes nothing.
#[test]
fn oversized_secret_is_refused_with_one_line() {
    let mut win = Win::new();
    let overhead = r#"{"Username":"u","Secret":""}"#.len();
    let fits = "f".repeat(BLOB_CAP - overhead);
    win.store_ok("fits.example", "u", &fits);
    assert_eq!(win.get_ok("fits.example"), ("u".into(), fits.clone()));

    win.store_ok("big.example", "u", "small-before-1");
    let too_big = "b".repeat(BLOB_CAP - overhead + 1);
    let out = win.store("big.example", "u", &too_big);
    let line = out.error_line().to_string();
    assert!(line.contains("Windows Credential Manager"), "{out}");
    assert!(line.contains("2560"), "{out}");
    assert!(!line.contains("bbbb"), "{out}");
    assert!(line.contains(&format!("{} bytes", BLOB_CAP + 1)), "{out}");
    // The entry escapes only what JSON must: 500 `<` take 528 bytes and fit,
    // 500 control characters (`\u0001`, 6 bytes each) take 3,028 and do not.
    win.store_ok("html.example", "u", &"<".repeat(500));
    assert_eq!(win.get_ok("html.example"), ("u".into(), "<".repeat(500)));
    let escaped = win.store("big.example", "u", &"\u{1}".repeat(500));
    assert!(escaped.error_line().contains("3028 bytes"), "{escaped}");
    assert_eq!(
        win.get_ok("big.example"),
        ("u".into(), "small-before-1".into()),
        "the refused stores changed nothing"
    );
}

// ---------------------------------------------------------------------------
// The README's Windows steps: configure, login, status, configure --undo

const USER: &str = "jdoe@ucar.edu";
const USER_SECRET: &str = "cli-secret-jdoe-0123456789";
const WRONG_SECRET: &str = "wrong-secret-000000000";

/// The steps a Windows user follows: the exe on PATH, `configure` (docker's
/// %USERPROFILE%\.docker\config.json), `login`, `status`, then `configure --undo`.
#[test]
fn readme_windows_steps_configure_login_status_undo() {
    let harbor = Harbor::start(vec![Account::user(USER, USER_SECRET)]);
    let key = harbor.registry.addr();
    let mut win = Win::new();
    win.watch(USER_SECRET);
    win.watch(WRONG_SECRET);
    // "Copy the exe into a folder on PATH": %USERPROFILE%\.local\bin, the
    // installer's folder too (one folder: issue 33, item 7).
    let bin_dir = win.profile().join(".local/bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::copy(&rig().exe, bin_dir.join(format!("{NAME}.exe"))).unwrap();
    win.set(
        "WINEPATH",
        &format!("C:\\users\\{}\\.local\\bin", rig().user),
    );
    let readme = docs::page("README.md");
    let windows = docs::section(&readme, "README.md", "Windows");
    assert!(
        windows
            .contains(r#"Copy-Item .\docker-credential-harbor.exe "$env:USERPROFILE\.local\bin\""#)
            && !windows.contains(r"$env:USERPROFILE\bin"),
        "the README's Windows steps copy into the installer's folder, and only there"
    );
    // The registry this company uses, as the README sets it for everyone.
    win.set("DOCKER_CREDENTIAL_HARBOR_REGISTRY", &harbor.registry.url());

    let docker_config = win.profile().join(".docker/config.json");
    std::fs::create_dir_all(docker_config.parent().unwrap()).unwrap();
    std::fs::write(&docker_config, r#"{"auths":{},"credsStore":"wincred"}"#).unwrap();

    let out = win.helper(&["configure"], b"");
    assert_eq!(out.code(), 0, "configure\n{out}");
    // (docker-credential-wincred, credsStore's, may be missing: only ours counts.)
    assert!(
        !out.stderr.contains(&format!("{NAME} is not on PATH")),
        "the exe is on PATH\n{out}"
    );
    let cfg: Value = serde_json::from_slice(&std::fs::read(&docker_config).unwrap()).unwrap();
    assert_eq!(cfg["credHelpers"][&key], "harbor", "{cfg}");
    assert_eq!(cfg["credsStore"], "wincred", "other settings stay: {cfg}");
    let auth_json = win.profile().join(".config/containers/auth.json");
    let auth: Value = serde_json::from_slice(&std::fs::read(&auth_json).unwrap()).unwrap();
    assert_eq!(auth["credHelpers"][&key], "harbor", "{auth}");

    // Wrong secret: one line, nothing stored.
    let out = win.helper(
        &["login", "-u", USER, "--password-stdin"],
        WRONG_SECRET.as_bytes(),
    );
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(out.stdout, "", "{out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("CLI secret"),
        "{out}"
    );
    win.assert_not_found(&key);
    assert_eq!(win.credential(&target_name(&key)), None);

    // Right secret.
    let out = win.helper(
        &["login", "-u", USER, "--password-stdin"],
        format!("{USER_SECRET}\r\n").as_bytes(),
    );
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.starts_with("Login Succeeded"), "{out}");
    assert!(out.stdout.contains("Windows Credential Manager"), "{out}");
    assert!(!out.stdout.contains(USER_SECRET), "{out}");
    assert!(
        harbor.standin.token_log().iter().any(|e| e.status == 200),
        "login checked the secret with the token service"
    );
    // What docker pull asks for, and where it lives.
    assert_eq!(win.get_ok(&key), (USER.into(), USER_SECRET.into()));
    let (_, v) = win.our_entry(&key);
    assert_eq!(v["Secret"], USER_SECRET);

    let out = win.helper(&["status"], b"");
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains(&key), "{out}");
    assert!(out.stdout.contains(USER), "{out}");
    assert!(out.stdout.contains("windows-credential-manager"), "{out}");
    let out = win.helper(&["status", "--check"], b"");
    assert_eq!(out.code(), 0, "status --check\n{out}");
    let rows = Value::from(bin::status_rows(&win.helper(&["status", "--json"], b"")));
    assert_eq!(rows[0]["registry"], key.as_str(), "{rows}");
    assert_eq!(
        win.index()["registries"][&key]["store"],
        "windows-credential-manager"
    );
    // The index never holds the secret; nothing in the profile does.
    let mut files = Vec::new();
    bin::walk(&win.profile(), &mut files);
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !bin::contains(&bytes, USER_SECRET.as_bytes()),
            "the secret is in plain text in {}",
            f.display()
        );
    }

    let out = win.helper(&["logout"], b"");
    assert_eq!(out.code(), 0, "{out}");
    win.assert_not_found(&key);
    let out = win.helper(&["configure", "--undo"], b"");
    assert_eq!(out.code(), 0, "configure --undo\n{out}");
    let cfg: Value = serde_json::from_slice(&std::fs::read(&docker_config).unwrap()).unwrap();
    assert_eq!(
        cfg,
        serde_json::json!({"auths": {}, "credsStore": "wincred"}),
        "undo leaves the file as it was"
    );
    // Every helper command of the README's Windows section ran above (the
    // prompting `login` as its --password-stdin form: Wine gives no console).
    let ran = win.ran.lock().unwrap().clone();
    let steps = readme_windows_commands();
    assert!(steps.len() >= 5, "the README's Windows commands: {steps:?}");
    for step in steps {
        let covered = ran.contains(&step)
            || (step == ["login"]
                && ran
                    .iter()
                    .any(|r| r[0] == "login" && r.contains(&"--password-stdin".to_string())));
        assert!(
            covered,
            "README step `{NAME} {}` is not run by this test",
            step.join(" ")
        );
    }
}

/// The `docker-credential-harbor` command lines in the README's "Windows"
/// section, as argument lists (a `< file` redirection dropped).
fn readme_windows_commands() -> Vec<Vec<String>> {
    let readme = docs::page("README.md");
    let section = docs::section(&readme, "README.md", "Windows");
    let mut in_code = false;
    let mut out = Vec::new();
    for line in section.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if let Some(rest) = t.strip_prefix(&format!("{NAME} ")).filter(|_| in_code) {
            let rest = rest.split(['<', '|', '#']).next().unwrap();
            out.push(rest.split_whitespace().map(|a| a.to_string()).collect());
        }
    }
    out
}

/// `configure` with no config.json at all creates it for the registry named
/// in the settings file, and `--undo` removes what it created; without the
/// exe on PATH it says so.
#[test]
fn configure_creates_and_undo_removes_the_docker_config() {
    let win = Win::new();
    let settings = win.app_data().join("config/config.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"registry": "harbor.example.org"}"#).unwrap();
    let docker_config = win.profile().join(".docker/config.json");
    assert!(!docker_config.exists());
    let out = win.helper(&["configure"], b"");
    assert_eq!(out.code(), 0, "{out}");
    let shown = format!(r"C:\users\{}\.docker\config.json", rig().user);
    assert!(
        out.stdout.contains(&format!(
            "docker: {shown}: added credHelpers[harbor.example.org]"
        )),
        "configure names the file it changed as people know it\n{out}"
    );
    assert!(out.stderr.contains("not on PATH"), "{out}");
    let cfg: Value = serde_json::from_slice(&std::fs::read(&docker_config).unwrap()).unwrap();
    assert_eq!(cfg["credHelpers"]["harbor.example.org"], "harbor", "{cfg}");
    let out = win.helper(&["configure", "--undo"], b"");
    assert_eq!(out.code(), 0, "{out}");
    assert!(!docker_config.exists(), "configure had created it\n{out}");
}

/// The background check on Windows: `get` starts it detached (no console, its
/// own process group), it reads Credential Manager itself, and its verdict
/// reaches `get`'s warning.
#[test]
fn background_checks_run_detached_and_name_renew() {
    let harbor = Harbor::start(vec![Account::user(USER, USER_SECRET)]);
    let key = harbor.registry.addr();
    let mut win = Win::new();
    win.watch(USER_SECRET);
    win.set("DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL", "1");
    // As docker login stores it: no scheme.
    win.store_ok(&key, USER, USER_SECRET);
    let wait_for = |verdict: &str, since: i64| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let e = win.index()["registries"][&key].clone();
            if e["check"]["verdict"] == verdict && e["check"]["at"].as_i64() >= Some(since) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {verdict} check within 60 s: {e}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    std::thread::sleep(Duration::from_millis(1100));
    let out = win.get(&key);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.stderr, "", "{out}");
    wait_for("accepted", 0);

    harbor
        .standin
        .update_account(USER, |a| a.oidc_session_expired = true);
    std::thread::sleep(Duration::from_millis(1100));
    let since = common::harbor::now();
    assert_eq!(win.get(&key).code(), 0);
    wait_for("refused", since);
    let out = win.get(&key);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stderr.contains("web session") && out.stderr.contains(&format!("renew {key}")),
        "{out}"
    );
}

/// docker on Windows reads the helper's stdout and stderr to EOF, through
/// inheritable pipes; the background check `get` starts must not hold them,
/// or every pull waits for the check (here, for a token service that does
/// not answer within the check's 15 s request timeout, as an unreachable
/// Harbor). The read must end when `get` ends.
#[test]
fn a_background_check_holds_none_of_the_callers_pipes() {
    const TOKEN_DELAY: Duration = Duration::from_secs(20);
    /// How long the check then runs: src/harbor.rs's TIMEOUT.
    const CHECK_RUNS: Duration = Duration::from_secs(15);
    let harbor = Harbor::start(vec![Account::user(USER, USER_SECRET)]);
    let key = harbor.registry.addr();
    let mut win = Win::new();
    win.watch(USER_SECRET);
    win.set("DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL", "1");
    win.store_ok(&key, USER, USER_SECRET);
    harbor.standin.set_token_delay(TOKEN_DELAY);
    let arrivals = harbor.standin.token_arrivals();
    std::thread::sleep(Duration::from_millis(1100));

    // The exe as a Windows path (Wine's Z: is the Unix root).
    let exe = format!("Z:{}", rig().exe.display()).replace('/', "\\");
    let out = win.run_program(&rig().pipecaller, &[&key, &exe, "get"], b"");
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        bin::parse_get(&out, &key),
        (USER.to_string(), USER_SECRET.to_string())
    );
    let report = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("pipecaller: exit=0 eof_ms="))
        .unwrap_or_else(|| panic!("pipecaller reported no clean exit\n{out}"));
    let eof = Duration::from_millis(report.trim().parse().expect("eof_ms is a number"));
    // A generous bound, far from the check's life: this is about who holds
    // the pipes, not about speed.
    assert!(
        eof < CHECK_RUNS / 2,
        "docker's read of get's output ended only after {eof:?}: the background check held its pipes\n{out}"
    );
    // And a check did start (else the bound proves nothing).
    let deadline = Instant::now() + Duration::from_secs(30);
    while harbor.standin.token_arrivals() == arrivals {
        assert!(Instant::now() < deadline, "get started no check\n{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
