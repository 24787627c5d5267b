//! Keychain round trip through the real binary and the OS's own keychain: the
//! macOS login Keychain, the Windows Credential Manager, or (on Linux) the
//! kernel keyring. `.github/workflows/ci.yml` runs this file on macOS and
//! Windows runners (it cannot run here); `.ci/run` runs it on Linux.
//!
//! Self-contained on purpose, and a binary of its own rather than a module of
//! tests/suite: tests/common is Linux-only and this file must build on macOS
//! and Windows. Each step also asks the OS's own tool (`security`,
//! `cmdkey`, `keyctl`) whether the entry is there, so the round trip cannot
//! pass through a file or a cache instead of the keychain.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_docker-credential-harbor");
const SERVICE: &str = "docker-credential-harbor";
const LIMIT: Duration = Duration::from_secs(60);

/// The keychain this OS's build uses, as `status` and the index name it.
#[cfg(target_os = "macos")]
const STORE: &str = "macos-keychain";
#[cfg(windows)]
const STORE: &str = "windows-credential-manager";
#[cfg(target_os = "linux")]
const STORE: &str = "keyutils";

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A temporary home for the helper's index and settings (on macOS the real
/// HOME stays: the login Keychain is found through it).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("dch-roundtrip-")
                .tempdir()
                .unwrap(),
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let d = self.dir.path();
        c.env_remove("HARBOR_USERNAME")
            .env_remove("HARBOR_PASSWORD")
            .env("DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL", "off")
            .env("DOCKER_CREDENTIAL_HARBOR_CACHE_TTL", "0");
        if cfg!(target_os = "linux") {
            c.env("HOME", d)
                .env("XDG_DATA_HOME", d.join("data"))
                .env("XDG_CONFIG_HOME", d.join("config"))
                .env("DOCKER_CREDENTIAL_HARBOR_STORE", STORE);
        }
        if cfg!(windows) {
            c.env("APPDATA", d.join("appdata"))
                .env("LOCALAPPDATA", d.join("localappdata"));
        }
        c
    }

    fn helper(&self, args: &[&str], stdin: &str) -> Out {
        let mut c = self.command(BIN);
        c.args(args);
        run(c, stdin)
    }
}

/// Runs `c` with `stdin`, killed after [`LIMIT`].
fn run(mut c: Command, stdin: &str) -> Out {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {c:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(LIMIT) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            kill(id);
            panic!("{c:?} did not finish within {LIMIT:?}");
        }
    };
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn kill(pid: u32) {
    let _ = if cfg!(windows) {
        Command::new("taskkill")
            .args(["/F", "/PID", &pid.to_string()])
            .output()
    } else {
        Command::new("kill").args(["-9", &pid.to_string()]).output()
    };
}

/// Whether the OS's own tool sees the helper's entry for `key`.
fn os_tool_sees(home: &Home, key: &str) -> bool {
    let (program, args): (&str, Vec<String>) = if cfg!(target_os = "macos") {
        (
            "security",
            vec![
                "find-generic-password".into(),
                "-s".into(),
                SERVICE.into(),
                "-a".into(),
                key.into(),
            ],
        )
    } else if cfg!(windows) {
        ("cmdkey", vec![format!("/list:{key}.{SERVICE}")])
    } else {
        (
            "keyctl",
            vec![
                "search".into(),
                "@s".into(),
                "user".into(),
                format!("keyring:{key}@{SERVICE}"),
            ],
        )
    };
    let mut c = home.command(program);
    c.args(&args);
    let out = run(c, "");
    if cfg!(windows) {
        // cmdkey exits 0 either way; it names the target only when it exists.
        assert_eq!(out.code, Some(0), "cmdkey failed\n{out}");
        out.stdout.contains(&format!("{key}.{SERVICE}"))
    } else {
        out.code == Some(0)
    }
}

fn store(home: &Home, key: &str, user: &str, secret: &str) {
    let body = serde_json::json!({"ServerURL": key, "Username": user, "Secret": secret});
    let out = home.helper(&["store"], &body.to_string());
    assert_eq!(out.code, Some(0), "store\n{out}");
    assert!(!out.stderr.contains(secret), "secret on stderr\n{out}");
}

fn get(home: &Home, key: &str) -> Value {
    let out = home.helper(&["get"], key);
    assert_eq!(out.code, Some(0), "get\n{out}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("get printed no JSON ({e})\n{out}"))
}

fn list(home: &Home) -> Value {
    let out = home.helper(&["list"], "");
    assert_eq!(out.code, Some(0), "list\n{out}");
    serde_json::from_str(&out.stdout).unwrap()
}

/// Erases `key` when dropped, so a failed test leaves no entry behind.
struct EraseOnDrop<'a>(&'a Home, &'a str);

impl Drop for EraseOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.helper(&["erase"], self.1);
    }
}

#[test]
fn store_get_list_erase_through_the_os_keychain() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let key = format!("roundtrip-{}-{nanos}.example", std::process::id());
    let home = Home::new();
    let _cleanup = EraseOnDrop(&home, &key);
    assert!(!os_tool_sees(&home, &key), "no entry before the test");

    let user = "jdöe@ucar.edu";
    let secret = "s3cret \"quoted\" \\ ünïcode ✓";
    store(&home, &key, user, secret);
    assert!(os_tool_sees(&home, &key), "the OS keychain holds {key}");
    let got = get(&home, &key);
    assert_eq!(got["Username"], user);
    assert_eq!(got["Secret"], secret);
    assert_eq!(list(&home)[&key], user);

    // The index names the keychain it went to.
    let status = home.helper(&["status"], "");
    assert_eq!(status.code, Some(0), "status\n{status}");
    assert!(
        status.stdout.contains(&key) && status.stdout.contains(STORE),
        "status names {key} in {STORE}\n{status}"
    );

    // Replacing keeps one entry, with the new secret.
    let secret2 = "second-secret-8c1f";
    store(&home, &key, user, secret2);
    assert_eq!(get(&home, &key)["Secret"], secret2);

    let out = home.helper(&["erase"], &key);
    assert_eq!(out.code, Some(0), "erase\n{out}");
    assert!(!os_tool_sees(&home, &key), "erase removed {key}");
    let out = home.helper(&["get"], &key);
    assert_eq!(out.code, Some(1), "get after erase\n{out}");
    assert_eq!(
        out.stdout.trim(),
        "credentials not found in native keychain"
    );
    assert!(list(&home).get(&key).is_none(), "list after erase");
}
