//! WSL: Windows Credential Manager through the Windows build. Inside WSL the
//! Linux build runs `docker-credential-harbor.exe` (through WSL interop) with
//! its own protocol actions `store`, `get` and `erase` over stdin/stdout, so
//! one login serves Windows and the distro, and it survives the WSL VM
//! stopping. The secret goes over stdin only, never argv or the environment.
//!
//! Outside WSL nothing here runs: an `.exe` on PATH is never started.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use super::{Keychain, KeychainKind, Stored};
use crate::error::{Error, NOT_FOUND, Result};
use crate::secret::Secret;
use crate::state::config::Config;
use zeroize::Zeroizing;

const KIND: KeychainKind = KeychainKind::WindowsViaWsl;
/// The Windows build as it is installed on Windows (and seen on WSL's PATH).
pub const EXE: &str = "docker-credential-harbor.exe";
/// What WSL's init registers for running Windows programs (`-late` on newer WSL).
const BINFMT: [&str; 2] = [
    "/proc/sys/fs/binfmt_misc/WSLInterop",
    "/proc/sys/fs/binfmt_misc/WSLInterop-late",
];
/// How to get the shared login, for every line that says it is not in use.
pub const HOW: &str = "to share one login with Windows, install docker-credential-harbor.exe on \
    Windows and put it on PATH, or name it as \"windows_helper\" in the settings file (README: WSL)";
/// Longest wait for the pipes to close once the .exe has exited (a process
/// it left behind may hold them).
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Whether this is WSL. The rule: WSL's interop binfmt entry is registered,
/// or the session has both variables WSL puts into it (`WSL_DISTRO_NAME` and
/// `WSL_INTEROP`). Either alone (`WSL_DISTRO_NAME` is also set by WSL 1 and
/// by some tools) is not enough without the binfmt entry.
pub fn detected() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    BINFMT.iter().any(|p| Path::new(p).exists()) || (set("WSL_DISTRO_NAME") && set("WSL_INTEROP"))
}

/// The Windows build to run: the settings file's `windows_helper`, else
/// `docker-credential-harbor.exe` on PATH (Windows' PATH is appended to WSL's).
/// The error says why there is none, or why the one found is not run.
pub fn exe(config: &Config) -> std::result::Result<PathBuf, String> {
    let configured = config.windows_helper().map_err(|e| e.one_line())?;
    if let Some(path) = configured {
        let named = || {
            format!(
                "\"windows_helper\" in {} names {}",
                config
                    .settings_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                crate::text::escape(&path.display().to_string())
            )
        };
        // A relative name would run whatever the caller's working directory
        // (a checkout, a download) holds under it.
        if !path.is_absolute() {
            return Err(format!("{}, which is not an absolute path", named()));
        }
        if !executable(&path) {
            return Err(format!("{}, which is not an executable file", named()));
        }
        return match trusted(&path) {
            Ok(()) => Ok(path),
            Err(why) => Err(format!("{}: {why}", named())),
        };
    }
    let found = std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .filter(|d| d.is_absolute())
                .map(|d| d.join(EXE))
                .find(|f| executable(f))
        })
        .ok_or_else(|| format!("{EXE} is not on PATH and no \"windows_helper\" is set"))?;
    // The first on PATH is the one a shell would run: refused, not skipped.
    trusted(&found).map(|()| found.clone()).map_err(|why| {
        format!(
            "{} (from PATH): {why}",
            crate::text::escape(&found.display().to_string())
        )
    })
}

fn executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether the .exe may be given secrets: a Windows program (PE files start
/// with `MZ`), and, off DrvFs, neither it nor its directory writable by
/// anyone else (DrvFs shows Windows files with made-up modes, often 0777;
/// Windows' own ACLs guard them there).
fn trusted(exe: &Path) -> std::result::Result<(), String> {
    let mut magic = [0u8; 2];
    std::fs::File::open(exe)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|e| format!("cannot read it: {e}"))?;
    if &magic != b"MZ" {
        return Err("it is not a Windows program (no MZ header)".into());
    }
    let real = std::fs::canonicalize(exe).map_err(|e| format!("cannot resolve it: {e}"))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if on_drvfs(&mountinfo, &real) {
        return Ok(());
    }
    let writable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| {
            let mode = m.permissions().mode();
            // A sticky directory (/tmp) lets no one else replace the file.
            mode & 0o022 != 0 && !(m.is_dir() && mode & 0o1000 != 0)
        })
    };
    if writable(&real) {
        return Err("others can write to it (chmod go-w, or keep it on the Windows drive)".into());
    }
    if let Some(dir) = real.parent().filter(|d| writable(d)) {
        return Err(format!(
            "others can write to its directory {}",
            crate::text::escape(&dir.display().to_string())
        ));
    }
    Ok(())
}

/// Whether `path` (canonical) lies on a Windows drive as WSL mounts it:
/// `drvfs` on WSL 1, 9p with `aname=drvfs` on WSL 2. `mountinfo` is
/// /proc/self/mountinfo; the longest mount point containing `path` wins.
fn on_drvfs(mountinfo: &str, path: &Path) -> bool {
    let unescape = |s: &str| s.replace("\\040", " ").replace("\\011", "\t");
    let mut best: Option<(usize, bool)> = None;
    for line in mountinfo.lines() {
        let Some((head, tail)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = head.split(' ').nth(4).map(unescape) else {
            continue;
        };
        if !path.starts_with(&point) {
            continue;
        }
        let mut t = tail.split(' ');
        let (fstype, _source, options) = (t.next(), t.next(), t.next().unwrap_or(""));
        let drvfs = match fstype {
            Some("drvfs") => true,
            Some("9p") => options.split(',').any(|o| o.starts_with("aname=drvfs")),
            _ => false,
        };
        if best.is_none_or(|(len, _)| point.len() >= len) {
            best = Some((point.len(), drvfs));
        }
    }
    best.is_some_and(|(_, drvfs)| drvfs)
}

/// Whether `e` says the Windows side cannot be reached at all (no .exe,
/// interop down): the caller may then use the Linux keychain.
pub fn unusable(e: &Error) -> bool {
    matches!(e, Error::KeychainUnavailable { store, .. } if *store == KIND)
}

fn unavailable(reason: String) -> Error {
    Error::KeychainUnavailable {
        store: KIND,
        reason,
        hint: HOW,
    }
}

/// The `store` payload for the Windows build. Sized for the worst case
/// (every character escaped as `\u00XX`), so it never grows and leaves no
/// copy of the secret behind.
fn store_payload(key: &str, stored: &Stored) -> Secret<String> {
    let escaped = 6 * (key.len() + stored.username.len() + stored.secret.expose().len());
    let mut input = crate::secret::SecretBuf::with_capacity(64 + escaped);
    input.push_str("{\"ServerURL\":");
    crate::protocol::push_go_json_string(&mut input, key);
    input.push_str(",\"Username\":");
    crate::protocol::push_go_json_string(&mut input, &stored.username);
    input.push_str(",\"Secret\":");
    crate::protocol::push_go_json_string(&mut input, stored.secret.expose());
    input.push_str("}\n");
    input.into_secret()
}

/// What running one protocol action of the Windows build gave: its stdout
/// (exit 0), its own answer (exit 1), or why it could not be run.
type Ran = Result<std::result::Result<Secret<String>, Answer>>;
/// Runs one action of the Windows build with its stdin.
type Runner = dyn Fn(&str, Secret<String>) -> Ran + Send + Sync;

/// The Windows side as a keychain. `run` is how one action of the Windows
/// build is run ([`run`] in use, a stand-in in tests), as d-c-h's
/// `ProgramFunc`.
pub struct Bridge {
    run: Box<Runner>,
}

impl Bridge {
    /// The Windows build `config` names or PATH holds, run at a program's
    /// limit (the Windows side shows no dialog).
    pub fn new(config: &Arc<Config>) -> Bridge {
        let config = Arc::clone(config);
        Bridge {
            run: Box::new(move |action, input| run(&config, action, input)),
        }
    }
}

impl Keychain for Bridge {
    fn kind(&self) -> KeychainKind {
        KIND
    }

    fn set(&self, key: &str, stored: Stored) -> Result<()> {
        match (self.run)("store", store_payload(key, &stored))? {
            Ok(_) => Ok(()),
            Err(Answer::Failed(e)) => Err(e),
            Err(Answer::NotFound) => Err(Error::Keychain {
                store: KIND,
                reason: format!("{EXE} store answered \"{NOT_FOUND}\""),
            }),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Stored>> {
        match (self.run)("get", Secret::new(key.to_string()))? {
            Ok(out) => {
                // The answer has the shape of a `store` payload.
                let creds =
                    crate::protocol::parse_store(out.expose()).map_err(|_| Error::Keychain {
                        store: KIND,
                        reason: format!(
                            "{EXE} answered `get` with something other than credentials"
                        ),
                    })?;
                // An answer for another registry is not this one's login.
                let answered = crate::registry::normalize(&creds.server_url).ok();
                if answered.as_deref() != Some(key) {
                    return Err(Error::Keychain {
                        store: KIND,
                        reason: format!(
                            "{EXE} answered `get` for {} with credentials for \"{}\"",
                            key,
                            crate::text::escape(&creds.server_url)
                        ),
                    });
                }
                Ok(Some(Stored {
                    username: creds.username,
                    secret: creds.secret,
                }))
            }
            Err(Answer::NotFound) => Ok(None),
            Err(Answer::Failed(e)) => Err(e),
        }
    }

    fn delete(&self, key: &str) -> Result<bool> {
        match (self.run)("erase", Secret::new(key.to_string()))? {
            Ok(_) => Ok(true),
            Err(Answer::NotFound) => Ok(false),
            Err(Answer::Failed(e)) => Err(e),
        }
    }
}

/// A protocol error from the Windows build: exit 1 and one line.
enum Answer {
    NotFound,
    Failed(Error),
}

/// Run one protocol action of the Windows build, bounded by the keychain
/// timeout (its whole process group is killed when it runs over). `Ok(Err)`
/// is the helper's own answer (exit 1, one line); `Err` means it could not
/// be run: not found, did not start, died, or did not answer in time.
fn run(config: &Config, action: &str, input: Secret<String>) -> Ran {
    let exe = exe(config).map_err(unavailable)?;
    let shown = exe.display().to_string();
    let mut cmd = command(&exe, action);
    let limit = config.keychain_limit(super::Waiter::Program);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| unavailable(format!("cannot run {shown}: {e}")))?;
    let pid = child.id() as libc::pid_t;
    let kill_group = || {
        // SAFETY: signals only the process group this function started.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    };
    let mut stdin = child.stdin.take();
    // Not joined: a process the .exe left behind may hold the pipe unread.
    std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            // A helper that exits without reading all of it is not an error here.
            let _ = s.write_all(input.expose().as_bytes());
        }
        drop(stdin);
    });
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                kill_group();
                let _ = child.wait();
                return Err(unavailable(format!(
                    "{shown} did not answer within {} s (WSL interop may be broken in this \
                     session; `wsl --shutdown` on Windows restarts it)",
                    limit.as_secs().max(1)
                )));
            }
            Err(e) => {
                kill_group();
                return Err(unavailable(format!("cannot wait for {shown}: {e}")));
            }
        }
    };
    let grace = Instant::now() + PIPE_GRACE;
    let stdout = collect(&out, grace);
    let stderr = collect(&err, grace);
    answer(action, &shown, status, stdout, &stderr)
}

/// The Windows build, set up to run `action` (not started).
fn command(exe: &std::path::Path, action: &str) -> Command {
    let mut cmd = Command::new(exe);
    // A Windows directory: a Linux one reaches it as a \\wsl$ path, and one
    // deleted under the caller would fail the start.
    if let Some(dir) = exe.parent().filter(|d| d.is_dir()) {
        cmd.current_dir(dir);
    }
    cmd.arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout kills whatever it started too.
        .process_group(0)
        // Settings for this side only; the CI variables would be secrets in
        // its environment.
        .env_remove(crate::env_vars::STORE)
        .env_remove(crate::env_vars::HARBOR_USERNAME)
        .env_remove(crate::env_vars::HARBOR_PASSWORD)
        .env_remove(crate::env_vars::HARBOR_HOST)
        // This side runs the background checks; the bridge's gets must not
        // start a second one on Windows. WSLENV carries it across interop.
        .env(crate::env_vars::CHECK_INTERVAL, "off")
        .env(crate::env_vars::BRIDGED, "1")
        .env("WSLENV", wslenv());
    cmd
}

/// What the Windows build's exit status and output mean.
fn answer(
    action: &str,
    shown: &str,
    status: std::process::ExitStatus,
    stdout: impl AsRef<[u8]>,
    stderr: &[u8],
) -> Ran {
    let text = Secret::new(
        String::from_utf8(stdout.as_ref().to_vec()).unwrap_or_else(|e| {
            let mut bytes = e.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            String::new()
        }),
    );
    let first_line = |s: &str| s.lines().next().unwrap_or("").trim().to_string();
    match status.code() {
        Some(0) => Ok(Ok(text)),
        Some(1) if !text.expose().trim().is_empty() => {
            let line = first_line(text.expose());
            if line == NOT_FOUND {
                Ok(Err(Answer::NotFound))
            } else {
                Ok(Err(Answer::Failed(Error::Keychain {
                    store: KIND,
                    reason: format!("{EXE} {action}: {line}"),
                })))
            }
        }
        // Not the protocol's answer: interop failed to start it (its own
        // message is on stderr, never a secret there), or it died.
        _ => {
            let why = String::from_utf8_lossy(stderr)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(|l| format!(": {}", l.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            Err(unavailable(format!(
                "{shown} failed to run ({status}){why}"
            )))
        }
    }
}

/// `WSLENV` with the check interval and the bridge's mark added, so interop
/// passes them on.
fn wslenv() -> String {
    let var = format!(
        "{}/w:{}/w",
        crate::env_vars::CHECK_INTERVAL,
        crate::env_vars::BRIDGED
    );
    match std::env::var("WSLENV") {
        Ok(v) if !v.is_empty() => format!("{v}:{var}"),
        _ => var,
    }
}

type Chunks = mpsc::Receiver<Zeroizing<Vec<u8>>>;

/// Read a pipe on a thread, in chunks, at most about 1 MiB.
fn reader(pipe: Option<impl Read + Send + 'static>) -> Chunks {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut total = 0;
            let mut buf = Zeroizing::new(vec![0u8; 4096]);
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                total += n;
                if tx.send(Zeroizing::new(buf[..n].to_vec())).is_err()
                    || total > crate::protocol::MAX_INPUT
                {
                    break;
                }
            }
        });
    }
    rx
}

/// What a reader got until its pipe closed or `until`.
fn collect(rx: &Chunks, until: Instant) -> Zeroizing<Vec<u8>> {
    // Room for any answer up front: growing would leave copies behind.
    let mut out = Zeroizing::new(Vec::with_capacity(128 * 1024));
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(_) => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /proc/self/mountinfo lines as WSL 2 and WSL 1 write them.
    const MOUNTINFO: &str = "\
60 1 8:32 / / rw,relatime - ext4 /dev/sdc rw,discard
84 60 0:50 / /mnt/c rw,noatime - 9p C:\\134 rw,aname=drvfs;path=C:\\;uid=1000;gid=1000
85 84 0:51 / /mnt/c/Users/jdoe/linux rw - ext4 /dev/sdd rw
86 60 0:52 / /mnt/wsl rw - tmpfs none rw
87 60 0:53 / /mnt/d rw - drvfs D:\\ rw,case=off
88 60 0:54 / /mnt/my\\040disk rw - 9p E:\\ rw,aname=drvfs;path=E:\\
89 60 0:55 / /mnt/wslg rw - 9p wslg rw,aname=wslg
";

    #[test]
    fn windows_drives_are_drvfs_and_nothing_else_is() {
        let on = |p: &str| on_drvfs(MOUNTINFO, Path::new(p));
        assert!(on("/mnt/c/Users/jdoe/bin/docker-credential-harbor.exe"));
        assert!(on("/mnt/d/tools/x.exe"));
        assert!(on("/mnt/my disk/x.exe"));
        assert!(!on("/usr/local/bin/docker-credential-harbor.exe"));
        assert!(!on("/mnt/wsl/x.exe"));
        assert!(!on("/mnt/wslg/x.exe"), "9p, but not a Windows drive");
        assert!(
            !on("/mnt/c/Users/jdoe/linux/x.exe"),
            "a Linux disk mounted inside C:"
        );
        assert!(!on("/mnt/cx/x.exe"), "a mount point is a whole component");
        assert!(!on_drvfs("", Path::new("/mnt/c/x.exe")));
    }

    /// A bridge whose Windows build answers every action with `answer`,
    /// recording what it was given.
    fn bridge(
        answer: fn(&str, &str) -> Ran,
    ) -> (Bridge, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = calls.clone();
        let run = move |action: &str, input: Secret<String>| {
            seen.lock()
                .unwrap()
                .push(format!("{action} {}", input.expose()));
            answer(action, input.expose())
        };
        (Bridge { run: Box::new(run) }, calls)
    }

    fn out(text: &str) -> Ran {
        Ok(Ok(Secret::new(text.to_string())))
    }

    #[test]
    fn get_serves_only_an_answer_for_the_key_asked() {
        let (b, calls) = bridge(|_, key| {
            out(&format!(
                r#"{{"ServerURL":"https://{}/","Username":"u","Secret":"s"}}"#,
                key.to_ascii_uppercase()
            ))
        });
        let got = b.get("hub.example").unwrap().unwrap();
        assert_eq!(
            (got.username.as_str(), got.secret.expose().as_str()),
            ("u", "s")
        );
        assert_eq!(*calls.lock().unwrap(), ["get hub.example"]);

        let (b, _) =
            bridge(|_, _| out(r#"{"ServerURL":"wrong.example","Username":"u","Secret":"s"}"#));
        let e = b.get("hub.example").unwrap_err();
        assert_eq!(
            e.one_line(),
            "Windows Credential Manager (through WSL interop): docker-credential-harbor.exe \
             answered `get` for hub.example with credentials for \"wrong.example\""
        );
        let (b, _) = bridge(|_, _| out("not json"));
        assert!(
            b.get("hub.example")
                .unwrap_err()
                .one_line()
                .contains("something other than credentials")
        );
    }

    #[test]
    fn not_found_and_failures_map_to_the_keychain_answers() {
        let (b, _) = bridge(|_, _| Ok(Err(Answer::NotFound)));
        assert!(b.get("hub.example").unwrap().is_none());
        assert!(!b.delete("hub.example").unwrap());
        let stored = Stored {
            username: "u".into(),
            secret: Secret::new("s".into()),
        };
        let e = b.set("hub.example", stored).unwrap_err().one_line();
        assert!(
            e.ends_with("store answered \"credentials not found in native keychain\""),
            "{e}"
        );

        let (b, calls) = bridge(|_, _| out(""));
        assert!(b.delete("hub.example").unwrap());
        let stored = Stored {
            username: "jdoe".into(),
            secret: Secret::new("s3".into()),
        };
        b.set("hub.example", stored).unwrap();
        assert_eq!(
            calls.lock().unwrap()[1],
            "store {\"ServerURL\":\"hub.example\",\"Username\":\"jdoe\",\"Secret\":\"s3\"}\n"
        );
    }

    #[test]
    fn the_store_payload_never_grows() {
        let nasty = "\u{1}<>&\"\\".repeat(40);
        let stored = Stored {
            username: nasty.clone(),
            secret: Secret::new(nasty.clone()),
        };
        let key = "hub.example";
        let escaped = 6 * (key.len() + 2 * nasty.len());
        let payload = store_payload(key, &stored);
        assert_eq!(payload.expose().capacity(), 64 + escaped, "it grew");
        let parsed = crate::protocol::parse_store(payload.expose()).unwrap();
        assert_eq!(
            (parsed.server_url.as_str(), parsed.username.as_str()),
            (key, nasty.as_str())
        );
        assert_eq!(parsed.secret.expose(), &nasty);
    }
}
