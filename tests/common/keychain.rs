//! Real OS keychains for the tests: a private D-Bus session bus with its own
//! gnome-keyring-daemon (Secret Service), and checks on the kernel keyring
//! (keyutils) that the test process runs in.
//!
//! The bus has no service directories, so nothing is ever D-Bus-activated
//! behind the tests' back: when the daemon is stopped, the Secret Service is
//! really gone.

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::bin::{self, Env};

/// The password of the login collection the daemon creates (non-empty: an
/// empty one makes gnome-keyring try to show a prompt, which fails headless).
pub const PASSWORD: &str = "test-password";
/// The keychain service name the helper files every entry under.
pub const SERVICE: &str = "docker-credential-harbor";

const DBUS_DAEMON: &str = "/usr/bin/dbus-daemon";
const GNOME_KEYRING: &str = "/usr/bin/gnome-keyring-daemon";
const TOOL_LIMIT: Duration = Duration::from_secs(20);
const READY_LIMIT: Duration = Duration::from_secs(15);

fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install the Debian package `{package}` (apt-get install -y {package}); \
         the keychain tests cannot run without it"
    );
}

/// A private session bus plus an unlocked gnome-keyring login collection,
/// using the HOME and XDG directories of an [`Env`]. Both processes are
/// killed when this is dropped.
pub struct SecretService {
    bus: Child,
    address: String,
    daemon_pid: Option<u32>,
    /// HOME, XDG_* and DBUS_SESSION_BUS_ADDRESS as the daemon and tools see them.
    vars: BTreeMap<String, String>,
    /// The home the daemon runs with: identifies its process.
    home: String,
    // Last: the bus socket and config live here.
    dir: tempfile::TempDir,
}

impl SecretService {
    /// Start a bus and an unlocked Secret Service for `env`; the caller then
    /// points `env` at [`SecretService::address`].
    pub fn start(env: &Env) -> SecretService {
        require(DBUS_DAEMON, "dbus");
        require(GNOME_KEYRING, "gnome-keyring");
        require("/usr/bin/secret-tool", "libsecret-tools");
        require("/usr/bin/dbus-send", "dbus");
        let dir = tempfile::Builder::new()
            .prefix("dch-bus-")
            .tempdir()
            .expect("temp dir for the bus");
        let socket = dir.path().join("bus");
        let config = dir.path().join("session.conf");
        std::fs::write(&config, bus_config(&socket)).expect("write bus config");
        let mut bus = Command::new(DBUS_DAEMON)
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // As root it warns "Failed to set fd limit"; harmless.
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dbus-daemon");
        let address = read_address(&mut bus);
        let mut vars = env.vars().clone();
        vars.retain(|k, _| k == "HOME" || k.starts_with("XDG_") || k == "LANG");
        vars.insert("DBUS_SESSION_BUS_ADDRESS".into(), address.clone());
        let home = vars.get("HOME").expect("Env has HOME").clone();
        let mut ss = SecretService {
            bus,
            address,
            daemon_pid: None,
            vars,
            home,
            dir,
        };
        ss.start_daemon();
        ss
    }

    /// `unix:path=...` of the private bus.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The gnome-keyring-daemon's pid (panics when stopped).
    pub fn daemon_pid(&self) -> u32 {
        self.daemon_pid
            .expect("the Secret Service daemon is not running")
    }

    /// Start gnome-keyring-daemon and unlock (or create) the login collection
    /// with [`PASSWORD`]; waits until it owns `org.freedesktop.secrets`.
    pub fn start_daemon(&mut self) {
        assert!(self.daemon_pid.is_none(), "the daemon is already running");
        let before = self.find_daemons();
        // The daemonized process inherits stdout/stderr: send them to a file,
        // not to a pipe that would never reach EOF.
        let log_path = self.dir.path().join("gnome-keyring.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open gnome-keyring log");
        let mut child = Command::new(GNOME_KEYRING)
            .args(["--unlock", "--components=secrets", "--daemonize"])
            .env_clear()
            .envs(&self.vars)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn gnome-keyring-daemon");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(PASSWORD.as_bytes());
        }
        let deadline = Instant::now() + READY_LIMIT;
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait for gnome-keyring-daemon") {
                break st;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("gnome-keyring-daemon --daemonize did not return within {READY_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let out = std::fs::read_to_string(&log_path).unwrap_or_default();
        assert!(
            status.success(),
            "gnome-keyring-daemon failed to start: {status:?}\n{out}"
        );
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            let now: Vec<u32> = self
                .find_daemons()
                .into_iter()
                .filter(|p| !before.contains(p))
                .collect();
            if now.len() == 1 && self.name_has_owner() {
                self.daemon_pid = Some(now[0]);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "gnome-keyring-daemon did not come up on the private bus (new pids {now:?})\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let deadline = Instant::now() + READY_LIMIT;
        while self.is_locked() != Some(false) {
            assert!(
                Instant::now() < deadline,
                "the login collection was not unlocked with the test password"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kill gnome-keyring-daemon: the bus stays, the Secret Service is gone.
    pub fn stop_daemon(&mut self) {
        let pid = self.daemon_pid.take().expect("the daemon is not running");
        signal(pid, libc::SIGCONT);
        signal(pid, libc::SIGTERM);
        if !wait_gone(pid, Duration::from_secs(5)) {
            signal(pid, libc::SIGKILL);
            assert!(
                wait_gone(pid, Duration::from_secs(5)),
                "gnome-keyring-daemon {pid} would not die"
            );
        }
        let deadline = Instant::now() + READY_LIMIT;
        while self.name_has_owner() {
            assert!(
                Instant::now() < deadline,
                "org.freedesktop.secrets still owned after the daemon died"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop and start the daemon: the login collection comes back unlocked
    /// with everything that was stored in it.
    pub fn restart_daemon(&mut self) {
        if self.daemon_pid.is_some() {
            self.stop_daemon();
        }
        self.start_daemon();
    }

    /// SIGSTOP the daemon: it keeps its bus name but never answers.
    pub fn freeze(&self) {
        signal(self.daemon_pid(), libc::SIGSTOP);
        let deadline = Instant::now() + Duration::from_secs(5);
        while proc_state(self.daemon_pid()) != Some('T') {
            assert!(
                Instant::now() < deadline,
                "gnome-keyring-daemon did not stop"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn thaw(&self) {
        signal(self.daemon_pid(), libc::SIGCONT);
    }

    /// Lock the login collection. `secret-tool lock` has been seen to crash
    /// right after locking, so its exit status is ignored and the collection's
    /// `Locked` property is checked instead.
    pub fn lock(&self) {
        let _ = self.tool("/usr/bin/secret-tool", &["lock", "--collection=login"]);
        assert_eq!(
            self.is_locked(),
            Some(true),
            "secret-tool lock did not lock the login collection"
        );
    }

    /// The login collection's `Locked` property (None if it cannot be read).
    pub fn is_locked(&self) -> Option<bool> {
        let out = self.tool(
            "/usr/bin/dbus-send",
            &[
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets/collection/login",
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Collection",
                "string:Locked",
            ],
        );
        if out.status.code() != Some(0) {
            return None;
        }
        if out.stdout.contains("boolean true") {
            Some(true)
        } else if out.stdout.contains("boolean false") {
            Some(false)
        } else {
            None
        }
    }

    fn name_has_owner(&self) -> bool {
        let out = self.tool(
            "/usr/bin/dbus-send",
            &[
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ],
        );
        out.status.code() == Some(0) && out.stdout.contains("boolean true")
    }

    /// Every item the helper filed in this Secret Service, as
    /// `secret-tool search --all service docker-credential-harbor` shows them:
    /// one map per item with `label` and its `attribute.*` entries (secrets
    /// are left out). The collection must be unlocked.
    pub fn items(&self) -> Vec<BTreeMap<String, String>> {
        self.search(&["service", SERVICE])
    }

    /// The registry keys of the helper's items (their `username` attribute).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .items()
            .into_iter()
            .map(|i| i.get("attribute.username").cloned().unwrap_or_default())
            .collect();
        keys.sort();
        keys
    }

    /// How many of the helper's items are filed under registry `key`.
    pub fn count(&self, key: &str) -> usize {
        self.search(&["service", SERVICE, "username", key]).len()
    }

    /// Items matching attribute pairs. secret-tool prints the label and the
    /// secret on stdout and the attributes on stderr, one block per item in
    /// the same order, so the two are zipped block by block.
    pub fn search(&self, attrs: &[&str]) -> Vec<BTreeMap<String, String>> {
        assert_ne!(
            self.is_locked(),
            Some(true),
            "items() needs an unlocked collection"
        );
        let mut args = vec!["search", "--all"];
        args.extend_from_slice(attrs);
        let out = self.tool("/usr/bin/secret-tool", &args);
        let mut items: Vec<BTreeMap<String, String>> = Vec::new();
        for line in out.stdout.lines() {
            if line.starts_with("[/") {
                items.push(BTreeMap::new());
            } else if let (Some(item), Some((k, v))) = (items.last_mut(), line.split_once(" = "))
                && k == "label"
            {
                item.insert(k.to_string(), v.to_string());
            }
        }
        let mut attr_blocks: Vec<BTreeMap<String, String>> = Vec::new();
        let mut seen_in_block: Vec<String> = Vec::new();
        for line in out.stderr.lines() {
            let Some((k, v)) = line.split_once(" = ") else {
                continue;
            };
            if !k.starts_with("attribute.") {
                continue;
            }
            if attr_blocks.is_empty() || seen_in_block.iter().any(|s| s == k) {
                attr_blocks.push(BTreeMap::new());
                seen_in_block.clear();
            }
            seen_in_block.push(k.to_string());
            attr_blocks
                .last_mut()
                .unwrap()
                .insert(k.to_string(), v.to_string());
        }
        assert!(
            out.status.code() == Some(0) || (out.status.code() == Some(1) && items.is_empty()),
            "secret-tool search failed\n{out}"
        );
        if attr_blocks.len() == items.len() {
            for (item, attrs) in items.iter_mut().zip(attr_blocks) {
                item.extend(attrs);
            }
        }
        items
    }

    /// Run a D-Bus / libsecret tool against this bus, bounded.
    pub fn tool(&self, program: &str, args: &[&str]) -> bin::Output {
        bin::run_bounded(program, args.iter().copied(), &self.vars, b"", TOOL_LIMIT)
    }

    /// gnome-keyring-daemon processes that run with this instance's HOME
    /// (zombies excluded).
    fn find_daemons(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return pids;
        };
        let want_home = format!("HOME={}", self.home);
        let want_bus = format!("DBUS_SESSION_BUS_ADDRESS={}", self.address);
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let base = PathBuf::from("/proc").join(pid.to_string());
            let Ok(cmdline) = std::fs::read(base.join("cmdline")) else {
                continue;
            };
            let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
            if !String::from_utf8_lossy(argv0).ends_with("gnome-keyring-daemon") {
                continue;
            }
            let Ok(environ) = std::fs::read(base.join("environ")) else {
                continue;
            };
            let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
            let has = |w: &str| vars.contains(&w.as_bytes());
            if has(&want_home)
                && has(&want_bus)
                && !matches!(proc_state(pid), Some('Z' | 'X') | None)
            {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        if let Some(pid) = self.daemon_pid.take() {
            signal(pid, libc::SIGCONT);
            signal(pid, libc::SIGKILL);
            wait_gone(pid, Duration::from_secs(5));
        }
        // Any daemon this instance left (a failed start) goes too.
        for pid in self.find_daemons() {
            signal(pid, libc::SIGKILL);
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
        let _ = &self.dir;
    }
}

/// `dbus-monitor` on a private bus, writing what matches its rules to a
/// file the test reads. [`BusMonitor::sync`] puts a marker signal through the
/// bus and waits for it: the bus forwards messages to a monitor in the order
/// it handled them, so everything the bus handled before (a finished
/// process's method calls, say) is in [`BusMonitor::text`] afterwards.
pub struct BusMonitor {
    child: Child,
    log: PathBuf,
    address: String,
    syncs: u32,
    _dir: tempfile::TempDir,
}

const SYNC_INTERFACE: &str = "org.example.RigMonitorSync";

impl BusMonitor {
    /// Watch `rules` (D-Bus match rules) on the bus at `address`; returns
    /// once the monitor is listening.
    pub fn start(address: &str, rules: &[&str]) -> BusMonitor {
        require("/usr/bin/dbus-monitor", "dbus");
        let dir = tempfile::Builder::new()
            .prefix("dch-monitor-")
            .tempdir()
            .expect("temp dir for dbus-monitor");
        let log = dir.path().join("monitor.txt");
        let sync_rule = format!("type='signal',interface='{SYNC_INTERFACE}'");
        let child = Command::new("/usr/bin/dbus-monitor")
            .args(["--address", address])
            .args(rules)
            .arg(&sync_rule)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("create the monitor log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("run dbus-monitor (Debian package dbus)");
        let mut monitor = BusMonitor {
            child,
            log,
            address: address.to_string(),
            syncs: 0,
            _dir: dir,
        };
        monitor.sync();
        monitor
    }

    /// Everything the monitor has written so far.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send a marker through the bus and wait until the monitor shows it.
    pub fn sync(&mut self) {
        self.syncs += 1;
        let member = format!("Sync{}", self.syncs);
        let bus = format!("--bus={}", self.address);
        let name = format!("{SYNC_INTERFACE}.{member}");
        let seen = format!("member={member}");
        let send = || {
            let args = [
                bus.as_str(),
                "--type=signal",
                "/org/example/RigMonitor",
                &name,
            ];
            let out = bin::run_bounded(
                "/usr/bin/dbus-send",
                args,
                &BTreeMap::new(),
                b"",
                TOOL_LIMIT,
            );
            assert_eq!(out.status.code(), Some(0), "dbus-send\n{out}");
        };
        // Sent again every 200 ms: right after start the monitor may not be
        // listening yet, and a signal sent before that is not kept for it.
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            send();
            let resend = Instant::now() + Duration::from_millis(200);
            while Instant::now() < resend {
                if self.text().contains(&seen) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(
                Instant::now() < deadline,
                "dbus-monitor did not show its sync marker within {READY_LIMIT:?}"
            );
        }
    }

    /// The unique names that sent a method call to `destination`.
    pub fn callers_of(&self, destination: &str) -> std::collections::BTreeSet<String> {
        let to = format!("destination={destination} ");
        self.text()
            .lines()
            .filter(|l| l.starts_with("method call ") && l.contains(&to))
            .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("sender=")))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for BusMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bus_config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

/// The first line dbus-daemon prints with `--print-address=1`.
fn read_address(bus: &mut Child) -> String {
    use std::io::BufRead;
    let stdout = bus.stdout.take().expect("dbus-daemon stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let mut r = std::io::BufReader::new(stdout);
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
        // Keep reading so the daemon never blocks on a full pipe.
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut r, &mut sink);
    });
    match rx.recv_timeout(READY_LIMIT) {
        Ok(line) if line.trim().starts_with("unix:") => line.trim().to_string(),
        other => {
            let _ = bus.kill();
            panic!("dbus-daemon did not print its address: {other:?}");
        }
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid this fixture started and found by its own HOME.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// The state letter from /proc/PID/stat (R, S, T, Z, ...), None if gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.trim_start().chars().next()
}

/// Wait until `pid` is gone or a zombie (its parent may not reap it).
fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if matches!(proc_state(pid), None | Some('Z' | 'X')) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Kernel keyring (keyutils)

const KEYCTL: &str = "/usr/bin/keyctl";

/// The kernel-keyring tests need the test process to own a session keyring:
/// `.ci/run` and the README run `keyctl session - cargo test`. Without one,
/// the process shares the user-session keyring, where adding keys is denied,
/// and every keyutils test would fail for the wrong reason. Fails (never skips)
/// with the command to use.
/// gnome-keyring-daemon (Debian 42.1) aborts in glib (a trap in libglib,
/// seen in dmesg) when two private daemons are each hammered by dozens to
/// hundreds of clients at the same moment; one at a time it holds. The
/// helper then reports the vanished service correctly, but a test would
/// measure gnome-keyring, so every burst of clients against a Secret
/// Service takes its turn: one lock for the whole test binary, whichever
/// module the burst is in (tests/suite is one process).
pub fn secret_service_burst() -> std::sync::MutexGuard<'static, ()> {
    static BURST: std::sync::Mutex<()> = std::sync::Mutex::new(());
    BURST.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn require_own_session_keyring() {
    require(KEYCTL, "keyutils");
    let out = Command::new(KEYCTL)
        .args(["show", "@s"])
        .output()
        .expect("run keyctl show @s");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "`keyctl show @s` failed: {}; run the tests under `keyctl session - cargo test`",
        String::from_utf8_lossy(&out.stderr)
    );
    let session = text.lines().nth(1).unwrap_or_default();
    assert!(
        !session.contains("_uid_ses"),
        "this test process has no session keyring of its own (it uses the shared user-session keyring: \
         {session:?}); run the tests under `keyctl session - cargo test`"
    );
}

/// The keyutils description the helper's entry for `key` has.
pub fn keyutils_description(key: &str) -> String {
    format!("keyring:{key}@{SERVICE}")
}

/// The serial of the helper's kernel-keyring entry for `key`, searched from
/// this process's session keyring (which the helper processes share).
pub fn keyutils_find(key: &str) -> Option<String> {
    let out = Command::new(KEYCTL)
        .args(["search", "@s", "user", &keyutils_description(key)])
        .output()
        .expect("run keyctl search");
    if out.status.success() {
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        None
    }
}

pub fn keyutils_has(key: &str) -> bool {
    keyutils_find(key).is_some()
}

/// Removes the helper's kernel-keyring entries for some keys when dropped, so
/// a failing test leaves nothing in the (shared, persistent) user keyrings.
#[derive(Default)]
pub struct KeyutilsCleanup {
    keys: std::sync::Mutex<Vec<String>>,
}

impl KeyutilsCleanup {
    pub fn add(&self, key: &str) {
        self.keys.lock().unwrap().push(key.to_string());
    }
}

impl Drop for KeyutilsCleanup {
    fn drop(&mut self) {
        for key in self.keys.lock().unwrap().iter() {
            while let Some(id) = keyutils_find(key) {
                let ok = Command::new(KEYCTL)
                    .args(["invalidate", &id])
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(false);
                if !ok {
                    break;
                }
            }
        }
    }
}
