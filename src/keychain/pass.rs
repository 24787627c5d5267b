//! The `pass` password store, in docker-credential-pass's layout: one login
//! is one GPG-encrypted file,
//! `${PASSWORD_STORE_DIR:-~/.password-store}/docker-credential-helpers/<base64url(key)>/<username>.gpg`,
//! that holds the secret alone. It survives a reboot and follows a shared
//! home (HPC login nodes share HOME, not the kernel keyring), and `pass` and
//! docker-credential-pass read it, as this reads theirs.
//!
//! `pass` itself is not needed: gpg is run as `pass` runs it (its options,
//! the recipients of the nearest `.gpg-id` or `PASSWORD_STORE_KEY`, a signed
//! `.gpg-id` when `PASSWORD_STORE_SIGNING_KEY` asks, a commit when the store
//! is a git repository), plus `--batch --pinentry-mode error` in a session of
//! its own: never a prompt, and a key whose passphrase gpg-agent does not
//! hold fails at once, with a line that says how to unlock it. Every child
//! is killed at the keychain's time limit. The secret goes to gpg on stdin
//! and comes back on a pipe into wiped memory; no plaintext touches a disk.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use zeroize::Zeroizing;

use super::{Keychain, KeychainKind, MAX_SECRET, Stored};
use crate::env_vars;
use crate::error::{Error, Result};
use crate::secret::Secret;

const KIND: KeychainKind = KeychainKind::Pass;
/// docker-credential-pass's folder in the store (its `PASS_FOLDER`).
pub const FOLDER: &str = "docker-credential-helpers";
/// What to do when there is no store to use.
const INIT_HINT: &str = "make a key once (`gpg --quick-gen-key \"Your Name <you@example.org>\"`) \
    and run `pass init KEYID` (README: headless Linux)";
const TIMEOUT_HINT: &str = "gpg or git did not finish and was stopped; check that \
    `gpg -d` of an entry of the password store works in a terminal";
/// The largest ciphertext read back from gpg (many recipients, big keys).
const MAX_SEALED: usize = 1024 * 1024;

/// The password store as a keychain; every call ends within `limit`.
pub struct Pass {
    limit: Duration,
}

/// When the call that started at `start` must end: every child it runs
/// shares the one limit.
#[derive(Clone, Copy)]
struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    fn left(self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

impl Pass {
    pub fn new(limit: Duration) -> Pass {
        Pass { limit }
    }

    fn deadline(&self) -> Deadline {
        Deadline {
            at: Instant::now() + self.limit,
            limit: self.limit,
        }
    }
}

/// The store's root, as `pass` finds it.
pub fn store_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(env_vars::PASSWORD_STORE_DIR).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".password-store"))
        .ok_or_else(|| unavailable("HOME is not set, so there is no ~/.password-store".into()))
}

/// docker-credential-pass's folder name for `key`: base64, URL alphabet,
/// padded (Go's `base64.URLEncoding`).
pub fn encode_key(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(key)
}

/// The folder that holds `key`'s login.
fn entry_dir(prefix: &Path, key: &str) -> PathBuf {
    prefix.join(FOLDER).join(encode_key(key))
}

/// The `.gpg-id` `pass` encrypts entries in `dir` to: the first one from
/// `dir` up to the store's root.
fn nearest_gpg_id(prefix: &Path, dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .take_while(|d| d.starts_with(prefix))
        .map(|d| d.join(".gpg-id"))
        .find(|f| f.is_file())
}

/// gpg as `pass` picks it: `gpg2` when there is one, else `gpg`.
fn gpg_program() -> Option<PathBuf> {
    crate::clients::find_on_path("gpg2").or_else(|| crate::clients::find_on_path("gpg"))
}

/// Whether new logins can go here without being told to: gpg is installed
/// and the store is initialised (a `.gpg-id` covers its folder).
pub fn initialised() -> bool {
    gpg_program().is_some()
        && store_dir().is_ok_and(|prefix| nearest_gpg_id(&prefix, &prefix.join(FOLDER)).is_some())
}

/// Where `key`'s login for `username` is kept, for people.
pub fn entry_file(key: &str, username: &str) -> Result<PathBuf> {
    Ok(entry_dir(&store_dir()?, key).join(format!("{username}.gpg")))
}

fn unavailable(reason: String) -> Error {
    Error::KeychainUnavailable {
        store: KIND,
        reason,
        hint: INIT_HINT,
    }
}

fn failed(reason: String) -> Error {
    Error::Keychain {
        store: KIND,
        reason,
    }
}

/// The entry's file name for `username`; refused with one line when it
/// cannot be one file name in the store (docker-credential-pass would make
/// subfolders of it that it then cannot read).
fn user_file(username: &str) -> Result<String> {
    let bad = if username.is_empty() || username == "." || username == ".." {
        Some("is not a file name")
    } else if username.contains(['/', '\0']) {
        Some("holds a '/' or a NUL byte")
    } else if username.len() > 250 {
        Some("is longer than a file name may be")
    } else {
        None
    };
    match bad {
        Some(why) => Err(Error::BadInput(format!(
            "the username \"{username}\" {why}, and the password store keeps the username as \
             a file name"
        ))),
        None => Ok(format!("{username}.gpg")),
    }
}

/// The login in `dir` as docker-credential-pass reads it: the first `.gpg`
/// file by name (its username and path); `None` when there is none.
fn first_entry(dir: &Path) -> Result<Option<(String, PathBuf)>> {
    let read = match fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound) => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(None),
        Err(e) => return Err(Error::file("cannot read", dir, e)),
    };
    let mut names: Vec<String> = read
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.len() > 4 && n.ends_with(".gpg"))
        .filter(|n| dir.join(n).is_file())
        .collect();
    names.sort();
    Ok(names.into_iter().next().map(|n| {
        let path = dir.join(&n);
        (n[..n.len() - 4].to_string(), path)
    }))
}

impl Keychain for Pass {
    fn kind(&self) -> KeychainKind {
        KIND
    }

    fn set(&self, key: &str, stored: Stored) -> Result<()> {
        let deadline = self.deadline();
        let name = user_file(&stored.username)?;
        let prefix = store_dir()?;
        let dir = entry_dir(&prefix, key);
        let recipients = self.recipients(&prefix, &dir, deadline)?;
        let sealed = self.encrypt(&recipients, stored.secret.expose().as_bytes(), deadline)?;
        crate::state::private_file::ensure_private_dir(&dir)?;
        crate::state::private_file::write_atomic(&dir.join(&name), &sealed, 0o600)?;
        // One login per registry: another username's file would be read
        // first by docker-credential-pass when its name sorts first.
        for other in fs::read_dir(&dir).map_err(|e| Error::file("cannot read", &dir, e))? {
            let other = other.map_err(|e| Error::file("cannot read", &dir, e))?;
            let other_name = other.file_name();
            if other_name != name.as_str() && other_name.to_string_lossy().ends_with(".gpg") {
                fs::remove_file(other.path())
                    .map_err(|e| Error::file("cannot remove", other.path(), e))?;
            }
        }
        let what = format!("{FOLDER}/{}/{}", encode_key(key), stored.username);
        self.commit(
            &prefix,
            &dir,
            &format!("Add given password for {what} to store."),
            deadline,
        );
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Option<Stored>> {
        let deadline = self.deadline();
        let dir = entry_dir(&store_dir()?, key);
        let Some((username, file)) = first_entry(&dir)? else {
            return Ok(None);
        };
        let secret = self.decrypt(&file, deadline)?;
        Ok(Some(Stored { username, secret }))
    }

    fn delete(&self, key: &str) -> Result<bool> {
        let deadline = self.deadline();
        let prefix = store_dir()?;
        let dir = entry_dir(&prefix, key);
        let had = first_entry(&dir)?.is_some();
        // As `pass rm -rf`: the registry's whole folder.
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::file("cannot remove", &dir, e)),
        }
        let what = format!("{FOLDER}/{}", encode_key(key));
        self.commit(
            &prefix,
            &dir,
            &format!("Remove {what} from store."),
            deadline,
        );
        Ok(had)
    }
}

/// Whom an entry is encrypted to, and where that was said.
struct Recipients {
    ids: Vec<String>,
    from: String,
}

impl Pass {
    /// The recipients for entries in `dir`, as `pass` finds them:
    /// `PASSWORD_STORE_KEY`, else the nearest `.gpg-id` (one id a line,
    /// `#` starts a comment), checked against its signature when
    /// `PASSWORD_STORE_SIGNING_KEY` is set.
    fn recipients(&self, prefix: &Path, dir: &Path, deadline: Deadline) -> Result<Recipients> {
        if let Ok(keys) = std::env::var(env_vars::PASSWORD_STORE_KEY)
            && !keys.trim().is_empty()
        {
            return Ok(Recipients {
                ids: keys.split_whitespace().map(str::to_string).collect(),
                from: env_vars::PASSWORD_STORE_KEY.into(),
            });
        }
        let Some(file) = nearest_gpg_id(prefix, dir) else {
            return Err(unavailable(format!(
                "the password store {} is not initialised (it has no .gpg-id)",
                prefix.display()
            )));
        };
        self.verify_signed(&file, deadline)?;
        let text = fs::read_to_string(&file).map_err(|e| Error::file("cannot read", &file, e))?;
        let ids: Vec<String> = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if ids.is_empty() {
            return Err(unavailable(format!("{} names no key", file.display())));
        }
        Ok(Recipients {
            ids,
            from: file.display().to_string(),
        })
    }

    /// With `PASSWORD_STORE_SIGNING_KEY` set, `pass` uses a `.gpg-id` only
    /// when `.gpg-id.sig` is a good signature by one of those keys: whoever
    /// can write the file could otherwise add their own key.
    fn verify_signed(&self, file: &Path, deadline: Deadline) -> Result<()> {
        let Ok(keys) = std::env::var(env_vars::PASSWORD_STORE_SIGNING_KEY) else {
            return Ok(());
        };
        if keys.trim().is_empty() {
            return Ok(());
        }
        let sig = PathBuf::from(format!("{}.sig", file.display()));
        let refuse = |why: &str| {
            failed(format!(
                "{} {why}, and PASSWORD_STORE_SIGNING_KEY asks for a signature",
                file.display()
            ))
        };
        if !sig.is_file() {
            return Err(refuse("has no .sig beside it"));
        }
        let mut cmd = gpg_command()?;
        cmd.arg("--verify").arg(&sig).arg(file);
        let ran = run(cmd, None, 0, deadline, "gpg --verify")?;
        let signers: Vec<&str> = status_lines(&ran.stderr)
            .filter_map(|l| l.strip_prefix("VALIDSIG "))
            .flat_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                [f.first().copied(), f.last().copied()]
            })
            .flatten()
            .collect();
        // As `pass`: full fingerprints, upper case.
        let mut wanted = keys.split_whitespace().filter(|k| {
            k.len() == 40
                && k.bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        });
        if wanted.any(|k| signers.contains(&k)) {
            Ok(())
        } else {
            Err(refuse("is not signed by one of those keys"))
        }
    }

    /// `secret` encrypted to `to`, as `pass insert` encrypts it.
    fn encrypt(&self, to: &Recipients, secret: &[u8], deadline: Deadline) -> Result<Vec<u8>> {
        let mut cmd = gpg_command()?;
        // Only keys already in the keyring: a recipient gpg does not know is
        // an error here, never a key looked up on the network (WKD).
        cmd.args(["--auto-key-locate", "local", "-e"]);
        for id in &to.ids {
            cmd.arg("-r").arg(id);
        }
        let ran = run(cmd, Some(secret), MAX_SEALED, deadline, "gpg -e")?;
        if ran.ok && !ran.stdout.is_empty() {
            return Ok(ran.stdout.to_vec());
        }
        let status: Vec<&str> = status_lines(&ran.stderr).collect();
        let refused = status.iter().find_map(|l| l.strip_prefix("INV_RECP "));
        Err(match refused.and_then(|r| r.split_once(' ')) {
            Some((code, id)) => failed(format!(
                "gpg cannot encrypt to {id} (from {}): {}",
                to.from,
                match code {
                    "1" => "no such public key in GnuPG's keyring".to_string(),
                    "4" => "the key is revoked".into(),
                    "5" => "the key has expired".into(),
                    "10" => format!("the key is not trusted (`gpg --edit-key {id} trust`)"),
                    _ => last_gpg_line(&ran.stderr),
                }
            )),
            None => failed(format!("gpg -e failed: {}", last_gpg_line(&ran.stderr))),
        })
    }

    /// The secret in `file`, as docker-credential-pass reads it (trailing
    /// line ends dropped).
    fn decrypt(&self, file: &Path, deadline: Deadline) -> Result<Secret<String>> {
        let mut cmd = gpg_command()?;
        cmd.arg("-d").arg("--").arg(file);
        // Room for a registry secret and line ends: a larger entry is not one.
        let cap = MAX_SECRET + 16;
        let ran = run(cmd, None, cap, deadline, "gpg -d")?;
        if !ran.ok {
            return Err(decrypt_error(&ran.stderr, file));
        }
        let mut bytes = ran.stdout;
        while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
            bytes.pop();
        }
        if bytes.len() > MAX_SECRET {
            return Err(failed(format!(
                "{} is longer than a registry secret",
                file.display()
            )));
        }
        // Moved, not copied: the String takes the wiped buffer's allocation.
        let taken = std::mem::take(&mut *bytes);
        match String::from_utf8(taken) {
            Ok(text) => Ok(Secret::new(text)),
            Err(e) => {
                zeroize::Zeroize::zeroize(&mut e.into_bytes());
                Err(failed(format!("{} does not hold text", file.display())))
            }
        }
    }
}

/// gpg with `pass`'s options (`PASSWORD_STORE_GPG_OPTS` first), in batch
/// mode with no pinentry at all: gpg-agent either holds the passphrase or
/// the call fails at once. Status lines go to stderr with its messages,
/// which are never shown whole. Without `pass`'s `--quiet`: with it, gpg
/// 2.2 leaves out the status line that tells a locked key from a missing one.
fn gpg_command() -> Result<Command> {
    let program =
        gpg_program().ok_or_else(|| unavailable("gpg is not installed (Debian: gnupg)".into()))?;
    let mut cmd = Command::new(program);
    if let Ok(opts) = std::env::var(env_vars::PASSWORD_STORE_GPG_OPTS) {
        cmd.args(opts.split_whitespace());
    }
    cmd.args([
        "--yes",
        "--compress-algo=none",
        "--no-encrypt-to",
        "--batch",
        "--pinentry-mode",
        "error",
        "--status-fd",
        "2",
    ]);
    Ok(cmd)
}

/// gpg's status lines (`[GNUPG:] ...`) without their prefix.
fn status_lines(stderr: &str) -> impl Iterator<Item = &str> {
    stderr.lines().filter_map(|l| l.strip_prefix("[GNUPG:] "))
}

/// gpg's last message line, for a failure nothing better describes.
fn last_gpg_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("gpg: "))
        .map(|l| l.trim_start_matches("gpg: ").trim().to_string())
        .unwrap_or_else(|| "no reason given".into())
}

/// `text` quoted for a POSIX shell (usernames such as `robot$ci` are common).
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Why gpg could not decrypt `file`, in one line that says what to do.
fn decrypt_error(stderr: &str, file: &Path) -> Error {
    // gpg-error codes (low 16 bits): bad passphrase, no pinentry, canceled,
    // and ENOTTY (a pinentry with no terminal).
    const LOCKED: [u32; 4] = [11, 85, 99, 32870];
    let pk_code = status_lines(stderr)
        .filter_map(|l| l.strip_prefix("ERROR pkdecrypt_failed "))
        .find_map(|c| c.trim().parse::<u32>().ok());
    if pk_code.is_some_and(|c| LOCKED.contains(&(c & 0xffff))) {
        return Error::KeychainUnavailable {
            store: KIND,
            reason: format!(
                "gpg-agent does not hold the passphrase of the key and cannot ask for it here \
                 (no terminal); unlock it once in a terminal with `gpg -d {} >/dev/null` \
                 (gpg-agent keeps it for its cache time, default-cache-ttl)",
                shell_quote(&file.display().to_string())
            ),
            hint: "",
        };
    }
    if pk_code.is_none() && status_lines(stderr).any(|l| l == "DECRYPTION_FAILED") {
        let home = std::env::var("GNUPGHOME").unwrap_or_else(|_| "~/.gnupg".into());
        return failed(format!(
            "no secret key for {} in GnuPG's home {home} (it is encrypted to another key)",
            file.display()
        ));
    }
    failed(format!(
        "gpg -d {} failed: {}",
        file.display(),
        last_gpg_line(stderr)
    ))
}

impl Pass {
    /// When the store is a git repository, commit the change to `dir` as
    /// `pass` does (`git add`, then `git commit -m message`). The login is
    /// kept either way: a failure is one line on stderr.
    fn commit(&self, prefix: &Path, dir: &Path, message: &str, deadline: Deadline) {
        // The nearest folder that exists (a removed entry's is gone), and a
        // repository at or above it within the store (as `pass`, which
        // stops git's search at the store's parent).
        let Some(work) = dir
            .ancestors()
            .take_while(|d| d.starts_with(prefix))
            .find(|d| d.is_dir())
        else {
            return;
        };
        let in_repo = work
            .ancestors()
            .take_while(|d| d.starts_with(prefix))
            .any(|d| d.join(".git").exists());
        if !in_repo {
            return;
        }
        if let Err(why) = git_commit(prefix, work, dir, message, deadline) {
            crate::text::say_err!(
                "warning: the password store is a git repository, but this change was not \
                 committed: {why}"
            );
        }
    }
}

fn git_commit(
    prefix: &Path,
    work: &Path,
    dir: &Path,
    message: &str,
    deadline: Deadline,
) -> std::result::Result<(), String> {
    let git = crate::clients::find_on_path("git").ok_or("git is not installed")?;
    // Relative to `work`: an absolute path through a symlink would be
    // "outside the repository" to git.
    let pathspec = match dir.strip_prefix(work) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let run_git = |args: &[&str], with_dir: bool| {
        let mut cmd = Command::new(&git);
        cmd.arg("-C").arg(work).args(args);
        if with_dir {
            cmd.arg("--").arg(&pathspec);
        }
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_NAMESPACE",
            "GIT_INDEX_FILE",
            "GIT_INDEX_VERSION",
            "GIT_OBJECT_DIRECTORY",
            "GIT_COMMON_DIR",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("GIT_CEILING_DIRECTORIES", prefix.join(".."));
        let what = format!("git {}", args[0]);
        match run(cmd, None, 64 * 1024, deadline, &what) {
            Ok(r) if r.ok => Ok(String::from_utf8_lossy(&r.stdout).into_owned()),
            Ok(r) => Err(format!(
                "{what}: {}",
                r.stderr.lines().last().unwrap_or("failed")
            )),
            Err(e) => Err(e.one_line()),
        }
    };
    // Nothing changed for git (an entry it never tracked, removed): no commit.
    if run_git(&["status", "--porcelain"], true)?.trim().is_empty() {
        return Ok(());
    }
    run_git(&["add", "-A"], true)?;
    let sign = run_git(&["config", "--bool", "--get", "pass.signcommits"], false)
        .is_ok_and(|v| v.trim() == "true");
    let mut commit = vec!["commit", "-m", message];
    if sign {
        commit.insert(1, "-S");
    }
    run_git(&commit, false).map(|_| ())
}

/// What a child gave: whether it exited 0, its stdout (wiped when dropped:
/// it may be a secret) and its stderr.
struct Ran {
    ok: bool,
    stdout: Zeroizing<Vec<u8>>,
    stderr: String,
}

/// Run `cmd` in a session of its own (no controlling terminal, so nothing
/// can prompt on the caller's), `input` on its stdin (else /dev/null), at
/// most `cap` bytes read from its stdout into a buffer that never grows.
/// Past `deadline` its whole process group is killed; it also dies with
/// this process.
fn run(
    mut cmd: Command,
    input: Option<&[u8]>,
    cap: usize,
    deadline: Deadline,
    what: &str,
) -> Result<Ran> {
    cmd.stdin(match input {
        Some(_) => Stdio::piped(),
        None => Stdio::null(),
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // SAFETY: setsid and prctl are async-signal-safe and touch only the child.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| failed(format!("cannot run {what}: {e}")))?;
    let exchanged = exchange(&mut child, input.unwrap_or_default(), cap, deadline);
    let status = match exchanged {
        Ok(Some(_)) => wait_until(&mut child, deadline),
        _ => None,
    };
    let Some(status) = status else {
        // SAFETY: signals only the process group this function started.
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = child.wait();
        return Err(match exchanged {
            Err(Overflow::TooLong) => failed(format!("{what} wrote more than expected")),
            Err(Overflow::Io(e)) => failed(format!("cannot talk to {what}: {e}")),
            Ok(_) => Error::KeychainTimeout {
                store: KIND,
                secs: deadline.limit.as_secs().max(1),
                hint: TIMEOUT_HINT,
            },
        });
    };
    let (stdout, stderr) = exchanged.ok().flatten().unwrap_or_default();
    Ok(Ran {
        ok: status.success(),
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

enum Overflow {
    TooLong,
    Io(std::io::Error),
}

type Exchanged = (Zeroizing<Vec<u8>>, Vec<u8>);

/// Feed `input` and read stdout and stderr until all three pipes are
/// closed; `None` when `deadline` passed first. One `poll` loop, no
/// threads: a child that neither reads nor writes cannot stall it.
fn exchange(
    child: &mut Child,
    input: &[u8],
    cap: usize,
    deadline: Deadline,
) -> std::result::Result<Option<Exchanged>, Overflow> {
    let mut stdin = child.stdin.take().filter(|_| !input.is_empty());
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    if let Some(s) = &stdin {
        // SAFETY: F_GETFL/F_SETFL on a pipe this process owns.
        unsafe {
            let flags = libc::fcntl(s.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(s.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
    let mut out = Zeroizing::new(Vec::with_capacity(cap.min(MAX_SECRET + 16)));
    let mut err = Vec::new();
    let mut written = 0;
    let mut buf = Zeroizing::new([0u8; 4096]);
    while stdin.is_some() || stdout.is_some() || stderr.is_some() {
        let left = deadline.left();
        if left.is_zero() {
            return Ok(None);
        }
        let fd = |raw: Option<i32>| raw.unwrap_or(-1);
        let mut fds = [
            poll_fd(fd(stdin.as_ref().map(|s| s.as_raw_fd())), libc::POLLOUT),
            poll_fd(fd(stdout.as_ref().map(|s| s.as_raw_fd())), libc::POLLIN),
            poll_fd(fd(stderr.as_ref().map(|s| s.as_raw_fd())), libc::POLLIN),
        ];
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: `fds` is an array of three initialised pollfd.
        if unsafe { libc::poll(fds.as_mut_ptr(), 3, ms) } < 0 {
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::Interrupted => continue,
                _ => return Err(Overflow::Io(e)),
            }
        }
        if fds[0].revents != 0
            && let Some(s) = stdin.as_mut()
        {
            match s.write(&input[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // It closed its stdin: its exit status says why.
                Err(_) => written = input.len(),
            }
            if written >= input.len() {
                stdin = None;
            }
        }
        if fds[1].revents != 0 && !read_into(&mut stdout, &mut buf[..], &mut out, cap)? {
            stdout = None;
        }
        if fds[2].revents != 0 && !read_into(&mut stderr, &mut buf[..], &mut err, 64 * 1024)? {
            stderr = None;
        }
    }
    Ok(Some((out, err)))
}

fn poll_fd(fd: i32, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// One read from `pipe` into `out` (at most `cap` bytes in all); `false`
/// once the pipe is closed.
fn read_into(
    pipe: &mut Option<impl Read>,
    buf: &mut [u8],
    out: &mut Vec<u8>,
    cap: usize,
) -> std::result::Result<bool, Overflow> {
    let Some(p) = pipe.as_mut() else {
        return Ok(false);
    };
    match p.read(buf) {
        Ok(0) => Ok(false),
        Ok(n) if out.len() + n > cap => Err(Overflow::TooLong),
        Ok(n) => {
            out.extend_from_slice(&buf[..n]);
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(true),
        Err(e) => Err(Overflow::Io(e)),
    }
}

/// The child's exit status once it exits (its pipes are closed already),
/// `None` past `deadline`.
fn wait_until(child: &mut Child, deadline: Deadline) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if !deadline.left().is_zero() => {
                std::thread::sleep(Duration::from_millis(1));
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadline(secs: u64) -> Deadline {
        let limit = Duration::from_secs(secs);
        Deadline {
            at: Instant::now() + limit,
            limit,
        }
    }

    /// The error of a run that must fail (`Ran` has no `Debug`: its stdout
    /// may be a secret).
    fn fails(r: Result<Ran>) -> Error {
        match r {
            Ok(_) => panic!("the run succeeded"),
            Err(e) => e,
        }
    }

    /// What docker-credential-pass (Go's `base64.URLEncoding`) names the folders.
    #[test]
    fn folders_are_named_as_docker_credential_pass_names_them() {
        assert_eq!(encode_key("other.example.com"), "b3RoZXIuZXhhbXBsZS5jb20=");
        assert_eq!(encode_key("harbor.example.com"), "aGFyYm9yLmV4YW1wbGUuY29t");
        // The URL alphabet: `-` and `_`, never `/` (a subfolder) or `+`.
        assert_eq!(
            encode_key("https://index.docker.io/v1/"),
            "aHR0cHM6Ly9pbmRleC5kb2NrZXIuaW8vdjEv"
        );
        assert_eq!(encode_key("h.example:5000?>"), "aC5leGFtcGxlOjUwMDA_Pg==");
    }

    #[test]
    fn a_username_that_is_no_file_name_is_refused_with_one_line() {
        assert_eq!(user_file("robot$ci+x").unwrap(), "robot$ci+x.gpg");
        for bad in ["", ".", "..", "a/b", "a\0b", &"x".repeat(251)] {
            let e = user_file(bad).unwrap_err();
            assert!(matches!(e, Error::BadInput(_)), "{bad:?}: {e:?}");
            assert!(e.one_line().contains("as a file name"), "{e}");
        }
    }

    #[test]
    fn the_nearest_gpg_id_covers_a_folder_as_pass_finds_it() {
        let root = tempfile::tempdir().unwrap();
        let prefix = root.path().join("store");
        let entry = prefix.join(FOLDER).join("aA==");
        fs::create_dir_all(&entry).unwrap();
        assert_eq!(nearest_gpg_id(&prefix, &entry), None);
        // Above the store does not count.
        fs::write(root.path().join(".gpg-id"), "K\n").unwrap();
        assert_eq!(nearest_gpg_id(&prefix, &entry), None);
        fs::write(prefix.join(".gpg-id"), "K\n").unwrap();
        assert_eq!(
            nearest_gpg_id(&prefix, &entry),
            Some(prefix.join(".gpg-id"))
        );
        fs::write(prefix.join(FOLDER).join(".gpg-id"), "J\n").unwrap();
        assert_eq!(
            nearest_gpg_id(&prefix, &entry),
            Some(prefix.join(FOLDER).join(".gpg-id"))
        );
    }

    #[test]
    fn the_first_gpg_file_by_name_is_the_login() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        assert!(first_entry(&dir.join("none")).unwrap().is_none());
        for f in [".jdoe.gpg.1234.tmp", "zed.gpg", "notes.txt", "alice.gpg"] {
            fs::write(dir.join(f), "x").unwrap();
        }
        fs::create_dir(dir.join("bob.gpg")).unwrap();
        let (user, path) = first_entry(dir).unwrap().unwrap();
        assert_eq!((user.as_str(), path), ("alice", dir.join("alice.gpg")));
    }

    #[test]
    fn a_locked_key_is_told_from_a_missing_one() {
        let file = Path::new("/s/docker-credential-helpers/aA==/robot$ci.gpg");
        // As gpg 2.2.40 wrote them (--batch --pinentry-mode error --status-fd 2).
        let locked = "[GNUPG:] ENC_TO 9E021998FB1B909D 1 0\n\
            gpg: public key decryption failed: No pinentry\n\
            [GNUPG:] ERROR pkdecrypt_failed 67108949\n\
            [GNUPG:] BEGIN_DECRYPTION\n[GNUPG:] DECRYPTION_FAILED\n\
            gpg: decryption failed: No secret key\n[GNUPG:] END_DECRYPTION\n";
        let e = decrypt_error(locked, file).one_line();
        assert!(
            e.starts_with("password store (pass): gpg-agent does not hold"),
            "{e}"
        );
        assert!(
            e.contains("`gpg -d '/s/docker-credential-helpers/aA==/robot$ci.gpg' >/dev/null`"),
            "{e}"
        );
        let missing = "[GNUPG:] ENC_TO 91A1C1D5A0438632 1 0\n[GNUPG:] NO_SECKEY 91A1C1D5A0438632\n\
            [GNUPG:] BEGIN_DECRYPTION\n[GNUPG:] DECRYPTION_FAILED\n\
            gpg: decryption failed: No secret key\n[GNUPG:] END_DECRYPTION\n";
        let e = decrypt_error(missing, file).one_line();
        assert!(e.contains("no secret key for"), "{e}");
        let other = "gpg: no valid OpenPGP data found.\n";
        let e = decrypt_error(other, file).one_line();
        assert!(e.ends_with("failed: no valid OpenPGP data found."), "{e}");
    }

    #[test]
    fn shell_quoting_keeps_dollars_and_quotes() {
        assert_eq!(shell_quote("a$b"), "'a$b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    /// More than a pipe holds, both ways: the one poll loop neither
    /// deadlocks nor loses bytes.
    #[test]
    fn a_child_gets_all_its_input_and_gives_all_its_output() {
        let input: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let ran = run(
            Command::new("cat"),
            Some(&input),
            input.len(),
            deadline(20),
            "cat",
        )
        .unwrap();
        assert!(ran.ok);
        assert!(ran.stdout.as_slice() == input.as_slice());
        let e = fails(run(
            Command::new("cat"),
            Some(&input),
            1000,
            deadline(20),
            "cat",
        ));
        assert_eq!(
            e.one_line(),
            "password store (pass): cat wrote more than expected"
        );
    }

    /// A child that hangs, and what it started, is killed at the deadline.
    #[test]
    fn a_hung_child_and_its_children_are_killed_at_the_deadline() {
        let marker = format!("{}.{}", 4_000_000 + std::process::id(), 7);
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("sleep {marker} & sleep {marker}")]);
        let started = Instant::now();
        let e = fails(run(cmd, None, 100, deadline(1), "sh"));
        assert!(started.elapsed() < Duration::from_secs(5), "not stopped");
        assert!(matches!(e, Error::KeychainTimeout { secs: 1, .. }), "{e:?}");
        std::thread::sleep(Duration::from_millis(200));
        let left: Vec<_> = fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|p| {
                fs::read(p.path().join("cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
            })
            .collect();
        assert!(left.is_empty(), "still running: {left:?}");
    }
}
