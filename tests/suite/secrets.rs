//! Secrets stay out of core dumps and other processes' reach: the helper
//! marks itself non-dumpable on Linux before it reads anything.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_docker-credential-harbor");
const NOBODY: u32 = 65534;

/// The owner of /proc/PID once the process has settled. The kernel shows a
/// non-dumpable process's /proc entries as owned by root, whatever its uid.
fn proc_owner_while_waiting(program: &str, args: &[&str]) -> u32 {
    let mut child = Command::new("setpriv")
        .args([
            "--reuid",
            &NOBODY.to_string(),
            "--regid",
            &NOBODY.to_string(),
            "--clear-groups",
            program,
        ])
        .args(args)
        .env_clear()
        .env("PATH", common::bin::without_helper("/usr/bin:/bin"))
        .env("HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("setpriv (util-linux) must be installed");
    // Wait until the exec has happened (the uid switch is visible) and the
    // program has reached its stdin read.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = format!("/proc/{}/status", child.id());
    loop {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        let exe = std::fs::read_link(format!("/proc/{}/exe", child.id())).unwrap_or_default();
        if text.contains(&format!("Uid:\t{NOBODY}"))
            && exe
                .to_string_lossy()
                .contains(program.rsplit('/').next().unwrap())
        {
            break;
        }
        assert!(Instant::now() < deadline, "{program} never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The event: a thread blocked in read(0, ...), i.e. at its stdin read.
    let reading = format!("{} 0x0 ", libc::SYS_read);
    loop {
        if blocked_in(child.id(), &reading) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{program} never reached its stdin read"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let owner = std::fs::metadata(format!("/proc/{}/status", child.id()))
        .map(|m| m.uid())
        .expect("stat /proc/PID");
    let _ = child.kill();
    let _ = child.wait();
    owner
}

/// Whether a thread of `pid` is blocked in the system call that
/// `/proc/PID/task/TID/syscall` shows as starting with `prefix` (the number
/// and the first argument). Readable for a non-dumpable process only with
/// CAP_SYS_PTRACE: these tests run as root (setpriv needs it too).
fn blocked_in(pid: u32, prefix: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("syscall")).is_ok_and(|s| s.starts_with(prefix))
    })
}

#[test]
fn helper_is_not_dumpable_while_it_reads_a_secret() {
    // Control: an ordinary process run the same way is owned by nobody.
    assert_eq!(
        proc_owner_while_waiting("/bin/cat", &[]),
        NOBODY,
        "control: cat stays dumpable"
    );
    // The protocol path (store waits for its JSON on stdin) and the login path.
    assert_eq!(
        proc_owner_while_waiting(BIN, &["store"]),
        0,
        "store must be non-dumpable"
    );
    assert_eq!(
        proc_owner_while_waiting(
            BIN,
            &[
                "login",
                "-u",
                "u",
                "--password-stdin",
                "--no-verify",
                "h.example"
            ]
        ),
        0,
        "login must be non-dumpable"
    );
}
