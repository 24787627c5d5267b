//! Runs `docker-credential-harbor` (or a peer helper) the way docker does, in a
//! sealed environment: a cleared environment with only `PATH` and the [`Env`]'s
//! own temporary `HOME`, XDG directories and chosen variables, so the
//! developer's real keychain session, index and config are never touched.
//! Every run is bounded: a helper that hangs is killed and the test fails.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("RIG_BIN");

/// The checkout under test (this rig crate lives in its `tests/common`).
pub fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
/// The program name the helper prints in its usage and version lines.
pub const NAME: &str = "docker-credential-harbor";
/// The package version (Cargo.toml), as `version` prints it.
pub const VERSION: &str = env!("RIG_PKG_VERSION");
/// Longest a single helper run may take before the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// Texts clients compare literally (docker/docker-credential-helpers credentials/error.go).
pub const NOT_FOUND: &str = "credentials not found in native keychain";
pub const NO_SERVER_URL: &str = "no credentials server URL";
pub const NO_USERNAME: &str = "no credentials username";

/// The environment variables that steer the helper.
pub const STORE_ENV: &str = "DOCKER_CREDENTIAL_HARBOR_STORE";
pub const TIMEOUT_ENV: &str = "DOCKER_CREDENTIAL_HARBOR_TIMEOUT";
/// Seconds a cached copy lives; 0 turns the kernel-keyring cache off.
pub const CACHE_TTL_ENV: &str = "DOCKER_CREDENTIAL_HARBOR_CACHE_TTL";

/// The `PATH` every helper run and client gets unless a test sets its own:
/// the machine's (the test's own, so `keyctl`, docker and the other tools
/// resolve) with no docker-credential-harbor on it, see [`without_helper`].
/// A test that wants the helper on PATH puts its directory first.
pub fn system_path() -> String {
    let machine = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    without_helper(&machine)
}

/// `path` with each directory that holds a docker-credential-harbor (or the
/// Windows build's `.exe`) replaced by a copy without it: symlinks to all
/// its other entries, so every other program there still resolves. A helper
/// installed on the machine (`./install.sh` puts one in /usr/local/bin, the
/// .deb in /usr/bin) then changes no test's outcome: no test runs it by
/// mistake, and `doctor` and `configure` do not find it.
pub fn without_helper(path: &str) -> String {
    let dirs = std::env::split_paths(path).map(|dir| {
        if HELPER_NAMES.iter().any(|n| dir.join(n).exists()) {
            shadow_without_helper(&dir)
        } else {
            dir
        }
    });
    std::env::join_paths(dirs)
        .expect("PATH entries hold no ':'")
        .into_string()
        .expect("PATH is UTF-8")
}

const HELPER_NAMES: [&str; 2] = [NAME, "docker-credential-harbor.exe"];

/// The copy of `dir` without the helper, in the build directory (not in a
/// /tmp that others can write: root runs what it holds), shared by every
/// test process: named by `dir` and its modification time, so a change to
/// `dir` makes a new one; built aside and renamed into place, so a process
/// never sees half of one. Readable by all: tests run clients as other users.
fn shadow_without_helper(dir: &Path) -> PathBuf {
    let modified = std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH);
    let id = crate::dist::sha256_hex(format!("{}\0{modified:?}", dir.display()).as_bytes());
    // BIN is <build directory>/<profile>/docker-credential-harbor.
    let base = Path::new(BIN)
        .ancestors()
        .nth(2)
        .unwrap()
        .join("tmp/path-copies");
    let shadow = base.join(&id[..16]);
    if shadow.is_dir() {
        return shadow;
    }
    std::fs::create_dir_all(&base).expect("make the PATH copies' directory");
    let aside = tempfile::tempdir_in(&base).expect("a temp dir for a PATH copy");
    set_mode(aside.path(), 0o755);
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !HELPER_NAMES.iter().any(|n| name == *n) {
            std::os::unix::fs::symlink(entry.path(), aside.path().join(&name))
                .expect("symlink into a PATH copy");
        }
    }
    // Fails when another process was first: its copy is as good, and
    // `aside` is removed when dropped.
    let _ = std::fs::rename(aside.path(), &shadow);
    shadow
}

/// A private home for one helper "user": temp `HOME`, `XDG_DATA_HOME`,
/// `XDG_CONFIG_HOME`, `XDG_CACHE_HOME`, `XDG_RUNTIME_DIR` (0700), an optional
/// D-Bus session address, and extra variables. Removed when dropped.
pub struct Env {
    pub home: PathBuf,
    pub data_home: PathBuf,
    pub config_home: PathBuf,
    pub cache_home: PathBuf,
    pub runtime_dir: PathBuf,
    vars: BTreeMap<String, String>,
    /// Every secret handed to the helper through this Env; none of them may
    /// ever show up on stderr or in a file under `root`.
    secrets: Mutex<Vec<String>>,
    // Last, so it is removed after everything else is dropped.
    root: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let root = tempfile::Builder::new()
            .prefix("dch-env-")
            .tempdir()
            .expect("create temp dir for the helper's HOME");
        let r = root.path().to_path_buf();
        let home = r.join("home");
        // XDG_DATA_HOME deliberately differs from $HOME/.local/share, so a test
        // can tell that the helper honours it.
        let data_home = r.join("xdg-data");
        let config_home = r.join("xdg-config");
        let cache_home = r.join("xdg-cache");
        let runtime_dir = r.join("run");
        for d in [&home, &data_home, &config_home, &cache_home, &runtime_dir] {
            std::fs::create_dir_all(d).expect("create Env directory");
        }
        set_mode(&runtime_dir, 0o700);
        set_mode(&home, 0o700);
        let mut vars = BTreeMap::new();
        vars.insert("HOME".into(), path_str(&home));
        vars.insert("XDG_DATA_HOME".into(), path_str(&data_home));
        vars.insert("XDG_CONFIG_HOME".into(), path_str(&config_home));
        vars.insert("XDG_CACHE_HOME".into(), path_str(&cache_home));
        vars.insert("XDG_RUNTIME_DIR".into(), path_str(&runtime_dir));
        vars.insert("LANG".into(), "C.UTF-8".into());
        Env {
            home,
            data_home,
            config_home,
            cache_home,
            runtime_dir,
            vars,
            secrets: Mutex::new(Vec::new()),
            root,
        }
    }

    /// The temp directory that holds everything of this Env.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Point the helper at a D-Bus session bus.
    pub fn set_bus(&mut self, address: &str) {
        self.set("DBUS_SESSION_BUS_ADDRESS", address);
    }

    pub fn bus(&self) -> Option<&str> {
        self.vars
            .get("DBUS_SESSION_BUS_ADDRESS")
            .map(|s| s.as_str())
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.vars.insert(key.to_string(), value.to_string());
    }

    pub fn unset(&mut self, key: &str) {
        self.vars.remove(key);
    }

    /// A copy of this Env's variables with changes, for one run.
    pub fn with(&self, changes: &[(&str, Option<&str>)]) -> BTreeMap<String, String> {
        let mut v = self.vars.clone();
        for (k, val) in changes {
            match val {
                Some(x) => {
                    v.insert(k.to_string(), x.to_string());
                }
                None => {
                    v.remove(*k);
                }
            }
        }
        v
    }

    /// The variables a helper run gets (besides `PATH`).
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Remember a secret that must never leak to stderr or into a file.
    pub fn watch_secret(&self, secret: &str) {
        // Short values (and "") would match by accident.
        if secret.len() >= 8 {
            self.secrets.lock().unwrap().push(secret.to_string());
        }
    }

    pub fn watched_secrets(&self) -> Vec<String> {
        self.secrets.lock().unwrap().clone()
    }

    /// `$XDG_DATA_HOME/docker-credential-harbor`.
    pub fn index_dir(&self) -> PathBuf {
        match self.vars.get("XDG_DATA_HOME") {
            Some(d) => PathBuf::from(d).join(NAME),
            None => self.home.join(".local/share").join(NAME),
        }
    }

    pub fn index_path(&self) -> PathBuf {
        self.index_dir().join("index.json")
    }

    /// The index file's bytes, `None` when there is none.
    pub fn index_bytes(&self) -> Option<Vec<u8>> {
        match std::fs::read(self.index_path()) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("read {}: {e}", self.index_path().display()),
        }
    }

    /// `$XDG_CACHE_HOME/docker-credential-harbor/checks` (`~/.cache` without
    /// it): where `get` puts a
    /// `KEY.running` marker before it starts a background check, and where
    /// the check removes it once its verdict is recorded.
    pub fn checks_dir(&self) -> PathBuf {
        let cache = match self.vars.get("XDG_CACHE_HOME") {
            Some(d) => PathBuf::from(d),
            None => self.home.join(".cache"),
        };
        cache.join(NAME).join("checks")
    }

    /// The background checks of this Env that are running (their markers).
    pub fn running_checks(&self) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(self.checks_dir()) else {
            return Vec::new();
        };
        rd.flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "running"))
            .collect()
    }

    /// Waits until no background check of this Env runs. The marker is made
    /// by `get` before it exits, so once the `get`s that could start a check
    /// have returned, this is the event "every check they started is done
    /// (its request sent, its verdict written)", or "none was started".
    pub fn wait_for_checks_done(&self) {
        wait_until("the background checks to finish", CHECK_LIMIT, || {
            self.running_checks().is_empty()
        });
    }

    /// Waits until no check of `key` runs, this Env's or not (docker's and
    /// podman's own `get`s start checks too), and this Env's are done.
    pub fn wait_for_no_check(&self, key: &str) {
        self.wait_for_checks_done();
        wait_until(&format!("the check of {key} to exit"), CHECK_LIMIT, || {
            pids_running(&[NAME, "background-check", key]).is_empty()
        });
    }

    /// Every regular file under this Env.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        walk(self.root(), &mut files);
        files
    }

    /// Fail if any regular file under this Env (HOME, XDG dirs, runtime dir)
    /// holds a watched secret in plain text.
    pub fn assert_no_secret_in_files(&self) {
        let secrets = self.watched_secrets();
        assert!(
            !secrets.is_empty(),
            "no secrets were watched: the scan would prove nothing"
        );
        let files = self.files();
        assert!(
            !files.is_empty(),
            "the Env holds no files at all: the scan would prove nothing"
        );
        for f in files {
            let Ok(bytes) = std::fs::read(&f) else {
                continue;
            };
            for s in &secrets {
                assert!(
                    !contains(&bytes, s.as_bytes()),
                    "secret {s:?} found in plain text in {}",
                    f.display()
                );
            }
        }
    }
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

/// Longest a background check may take in the tests (the helper's own
/// limit is 40 s).
pub const CHECK_LIMIT: Duration = Duration::from_secs(45);

/// A bounded poll: checks `done` every 20 ms and fails the test, naming
/// `what` it waited for, if it does not hold within `limit`.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "waited {limit:?} for {what}, in vain"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every regular file under `dir`, recursively.
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&e.path(), out);
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("temp paths are UTF-8").to_string()
}

pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

pub fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// What one run printed and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The command line, for messages.
    pub command: String,
}

impl Output {
    /// The exit code; a death by signal fails the test.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or_else(|| {
            panic!(
                "{} died by a signal: {:?}\n{self}",
                self.command, self.status
            )
        })
    }

    pub fn success(&self) -> bool {
        self.code() == 0
    }

    /// Assert the protocol's error shape: exit 1 and exactly one non-empty line
    /// on stdout (with its newline). Returns that line without the newline.
    pub fn error_line(&self) -> &str {
        assert_eq!(self.code(), 1, "expected exit status 1\n{self}");
        one_line(&self.stdout, self)
    }

    /// Assert exit 0 and nothing on stdout (store/erase success).
    pub fn assert_silent_success(&self) {
        assert_eq!(self.code(), 0, "expected success\n{self}");
        assert_eq!(self.stdout, "", "expected nothing on stdout\n{self}");
    }

    /// Lines on stderr that the helper wrote (drops `keyctl session`'s
    /// "Joined session keyring" line when the run went through it).
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.starts_with("Joined session keyring:"))
            .collect()
    }
}

fn one_line<'a>(text: &'a str, out: &Output) -> &'a str {
    assert!(
        text.ends_with('\n'),
        "stdout must end with a newline\n{out}"
    );
    let line = &text[..text.len() - 1];
    assert!(
        !line.contains('\n') && !line.contains('\r'),
        "expected exactly one line on stdout\n{out}"
    );
    assert!(
        !line.trim().is_empty(),
        "expected a non-empty line on stdout\n{out}"
    );
    line
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nstatus: {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Run the helper with `args`, feeding `stdin`.
pub fn run(env: &Env, args: &[&str], stdin: &[u8]) -> Output {
    run_program(env, env.vars(), BIN, &[], args, stdin)
}

/// Run the helper with the Env's variables changed for this run only
/// (`None` removes a variable).
pub fn run_with(
    env: &Env,
    changes: &[(&str, Option<&str>)],
    args: &[&str],
    stdin: &[u8],
) -> Output {
    run_program(env, &env.with(changes), BIN, &[], args, stdin)
}

/// Run the helper through a wrapper, e.g. `["keyctl", "session", "_uid_ses.0"]`.
pub fn run_via(
    env: &Env,
    changes: &[(&str, Option<&str>)],
    wrapper: &[&str],
    args: &[&str],
    stdin: &[u8],
) -> Output {
    let (program, pre) = wrapper.split_first().expect("a wrapper command");
    let mut pre: Vec<&str> = pre.to_vec();
    pre.push(BIN);
    run_program(env, &env.with(changes), program, &pre, args, stdin)
}

/// Run `program pre... args...` with exactly `vars` (plus `PATH`), bounded by
/// [`RUN_LIMIT`]. Checks that no secret watched by `env` reaches stderr.
pub fn run_program(
    env: &Env,
    vars: &BTreeMap<String, String>,
    program: &str,
    pre: &[&str],
    args: &[&str],
    stdin: &[u8],
) -> Output {
    let out = run_bounded(
        program,
        pre.iter().chain(args).copied(),
        vars,
        stdin,
        RUN_LIMIT,
    );
    for s in env.watched_secrets() {
        assert!(
            !out.stderr.contains(&s),
            "a secret ({s:?}) appeared on stderr\n{out}"
        );
    }
    out
}

/// Run any program with a cleared environment (`PATH` + `vars`), killing it
/// and failing the test if it outlives `limit`.
pub fn run_bounded<'a>(
    program: &str,
    args: impl IntoIterator<Item = &'a str>,
    vars: &BTreeMap<String, String>,
    stdin: &[u8],
    limit: Duration,
) -> Output {
    let args: Vec<&str> = args.into_iter().collect();
    let command = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new(program);
    cmd.args(&args)
        .env_clear()
        .env("PATH", system_path())
        .envs(vars)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
    let mut child_in = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    // The helper may exit without reading everything (oversized input): a
    // broken pipe here is expected, not a failure.
    let writer = std::thread::spawn(move || {
        let _ = child_in.write_all(&input);
    });
    let child_out = child.stdout.take().unwrap();
    let child_err = child.stderr.take().unwrap();
    let out_reader = drain(child_out);
    let err_reader = drain(child_err);
    let deadline = start + limit;
    let status = loop {
        match child.try_wait().expect("wait for child") {
            Some(st) => break Some(st),
            None if Instant::now() >= deadline => break None,
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let elapsed = start.elapsed();
    let Some(status) = status else {
        let _ = child.kill();
        let status = child.wait().ok();
        let _ = writer.join();
        let out = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
        let err = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
        panic!(
            "`{command}` did not finish within {limit:?} and was killed ({status:?})\n--- stdout ---\n{out}\n--- stderr ---\n{err}"
        );
    };
    let _ = writer.join();
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    Output {
        status,
        stdout: String::from_utf8(stdout)
            .unwrap_or_else(|e| panic!("`{command}` wrote non-UTF-8 on stdout: {e}")),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed,
        command,
    }
}

/// Every process whose `/proc/PID/{file}` (`cmdline` or `environ`) holds one
/// of `secrets`, as "pid N: contents".
pub fn procs_holding(secrets: &[String], file: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return hits;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        // Processes come and go while we scan.
        let Ok(bytes) = std::fs::read(format!("/proc/{pid}/{file}")) else {
            continue;
        };
        if secrets.iter().any(|s| contains(&bytes, s.as_bytes())) {
            let shown = String::from_utf8_lossy(&bytes).replace('\0', " ");
            hits.push(format!("pid {pid}: {shown}"));
        }
    }
    hits
}

/// The pids of processes whose command line contains all of `words`.
pub fn pids_running(words: &[&str]) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| words.iter().all(|w| contains(&c, w.as_bytes())))
        })
        .collect()
}

/// Read all of a child's pipe on a thread, so neither pipe can fill and stall it.
pub fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = pipe.read_to_end(&mut v);
        v
    })
}

/// The JSON docker sends to `store` (with its trailing newline).
pub fn store_json(url: &str, user: &str, secret: &str) -> String {
    let mut s =
        serde_json::json!({"ServerURL": url, "Username": user, "Secret": secret}).to_string();
    s.push('\n');
    s
}

/// `store`, which must succeed silently.
pub fn store(env: &Env, url: &str, user: &str, secret: &str) -> Output {
    let out = try_store(env, url, user, secret);
    out.assert_silent_success();
    out
}

/// `store`, whatever the outcome.
pub fn try_store(env: &Env, url: &str, user: &str, secret: &str) -> Output {
    env.watch_secret(secret);
    run(env, &["store"], store_json(url, user, secret).as_bytes())
}

/// `get` (docker sends the key without a newline).
pub fn get(env: &Env, url: &str) -> Output {
    run(env, &["get"], url.as_bytes())
}

/// `get`, which must succeed; returns (Username, Secret) after checking that
/// the line is the protocol's and `ServerURL` is the key as sent, trimmed.
pub fn get_ok(env: &Env, url: &str) -> (String, String) {
    parse_get(&get(env, url), url)
}

pub fn parse_get(out: &Output, url: &str) -> (String, String) {
    assert_eq!(out.code(), 0, "get {url:?} should succeed\n{out}");
    let line = one_line(&out.stdout, out);
    let v: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("get printed invalid JSON ({e})\n{out}"));
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("get printed a non-object\n{out}"));
    let keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys.len(),
        3,
        "get must print exactly ServerURL, Username, Secret\n{out}"
    );
    assert!(
        line.starts_with("{\"ServerURL\":"),
        "fields in the Go helpers' order: ServerURL, Username, Secret\n{out}"
    );
    assert_eq!(
        obj["ServerURL"],
        url.trim(),
        "ServerURL is the key as sent, trimmed\n{out}"
    );
    (
        obj["Username"]
            .as_str()
            .expect("Username is a string")
            .to_string(),
        obj["Secret"]
            .as_str()
            .expect("Secret is a string")
            .to_string(),
    )
}

/// `get` that must answer "not found" exactly.
pub fn assert_not_found(env: &Env, url: &str) {
    let out = get(env, url);
    assert_eq!(
        out.error_line(),
        NOT_FOUND,
        "get {url:?} should be not found\n{out}"
    );
}

pub fn erase(env: &Env, url: &str) -> Output {
    run(env, &["erase"], url.as_bytes())
}

/// `list`, which must succeed; the parsed map.
pub fn list(env: &Env) -> BTreeMap<String, String> {
    parse_list(&run(env, &["list"], b"unused\n"))
}

pub fn parse_list(out: &Output) -> BTreeMap<String, String> {
    assert_eq!(out.code(), 0, "list should succeed\n{out}");
    let line = one_line(&out.stdout, out);
    serde_json::from_str(line).unwrap_or_else(|e| panic!("list printed invalid JSON ({e})\n{out}"))
}

/// Run `command` with `sh -c` on a pseudo-terminal (`script`, Debian package
/// bsdutils), with exactly `vars`, typing each answer (then Enter) once its
/// prompt has appeared. Returns whether it succeeded and everything the
/// terminal showed. Bounded: a missing prompt or a hang fails the test.
pub fn on_terminal(
    command: &str,
    vars: &BTreeMap<String, String>,
    answers: &[(&str, &str)],
) -> (bool, String) {
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", command, "/dev/null"])
        .env_clear()
        .envs(vars)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script (Debian package bsdutils)");
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let mut out = child.stdout.take().expect("script's stdout");
    let sink = std::sync::Arc::clone(&seen);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .expect("terminal log")
                .extend_from_slice(&buf[..n]);
        }
    });
    let text = || String::from_utf8_lossy(&seen.lock().expect("terminal log")).into_owned();
    let mut stdin = child.stdin.take().expect("script's stdin");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut exited = None;
    for (prompt, answer) in answers {
        loop {
            if text().contains(prompt) {
                break;
            }
            if let Some(st) = child.try_wait().expect("wait for script") {
                exited = Some(st);
                break;
            }
            assert!(Instant::now() < deadline, "no {prompt:?}\n{}", text());
            std::thread::sleep(Duration::from_millis(20));
        }
        if exited.is_some() {
            break;
        }
        stdin
            .write_all(format!("{answer}\r").as_bytes())
            .expect("type on the terminal");
        stdin.flush().expect("type on the terminal");
    }
    let status = match exited {
        Some(st) => st,
        None => loop {
            if let Some(st) = child.try_wait().expect("wait for script") {
                break st;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("{command} did not finish\n{}", text());
            }
            std::thread::sleep(Duration::from_millis(20));
        },
    };
    drop(stdin);
    let _ = reader.join();
    (status.success(), text())
}

/// The rows of `status --json` (format version 1: `{"version": 1,
/// "registries": [...]}`), failing the test on any other shape.
pub fn status_rows(out: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json printed no JSON ({e})\n{out}"));
    assert_eq!(v["version"], 1, "status --json format version\n{out}");
    match &v["registries"] {
        serde_json::Value::Array(rows) => rows.clone(),
        _ => panic!("status --json has no registries array\n{out}"),
    }
}
