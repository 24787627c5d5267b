//! The one writer of the tool's files, safe as root in a user's directories:
//! private directories, atomic replacement through an unguessable temporary
//! file, lock files, and damaged files moved aside. Every file the tool
//! writes goes through here; everything it creates is 0600 in 0700 directories,
//! and what root creates in a directory of HOME's owner belongs to that owner
//! (see [`heir_in`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether a file is its owner's alone (no group or other permission bits):
/// the one rule for files that hold a secret. Windows has no such bits.
pub fn is_private(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o077 == 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}

/// Create `dir` and its missing parents; directories this creates are 0700.
/// An existing directory must be one this process may write into safely
/// (see [`check_dir`]).
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        // Making a directory is a write into the nearest one that exists.
        if let Some(existing) = dir.ancestors().skip(1).find(|a| a.is_dir()) {
            check_dir(existing)?;
        }
        create_dirs(dir).map_err(|e| Error::file("cannot create directory", dir, e))?;
    }
    check_dir(dir)
}

/// `dir` and its missing parents, 0700, one level at a time: each new level
/// is opened and handed to its heir (see [`heir_in`]) through its own
/// descriptor, which a recursive `DirBuilder` gives no chance to do.
#[cfg(unix)]
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    let missing: Vec<&Path> = dir
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        // Stops at a file too: mkdir under it then fails "not a directory".
        .take_while(|a| !a.exists())
        .collect();
    for level in missing.into_iter().rev() {
        let heir = heir_in(parent_of(level));
        match fs::DirBuilder::new().mode(0o700).create(level) {
            Ok(()) => {}
            // Another process made it meanwhile: not ours to hand over.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && level.is_dir() => continue,
            Err(e) => return Err(e),
        }
        if heir.is_none() {
            continue;
        }
        let made = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(level)?;
        // Root's own: what this mkdir made, not one the user put in its place.
        if made.metadata()?.uid() == 0 {
            hand_over(&made, heir)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

/// The directory a file is created in.
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Who gets what this process creates in `dir` (uid, gid): HOME's owner, with
/// HOME's group, when root creates it in a directory of that (non-root) owner
/// (`sudo -E`), or the user could no longer open their own lock, index or
/// drop-in. `None`: the creator keeps it, as everywhere else.
#[cfg(unix)]
fn heir_in(dir: &Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    if !is_root() {
        return None;
    }
    let (uid, gid) = home_account()?;
    let owner = fs::metadata(dir).ok()?.uid();
    (uid != 0 && owner == uid).then_some((uid, gid))
}

#[cfg(not(unix))]
fn heir_in(_dir: &Path) -> Option<(u32, u32)> {
    None
}

/// Give `file`, which this process has just created, to `heir`: through its
/// descriptor (fchown), never by path, so nothing put at that name meanwhile
/// changes owner. Only ever for an entry this process created: one that was
/// there could be a hard link to any file of root's.
fn hand_over(file: &fs::File, heir: Option<(u32, u32)>) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some((uid, gid)) = heir {
        return std::os::unix::fs::fchown(file, Some(uid), Some(gid));
    }
    let _ = (file, heir);
    Ok(())
}

/// As root (`sudo -E`, `su` without `-`), the tool may be pointed into
/// directories another user controls by HOME, XDG_*, DOCKER_CONFIG and the
/// like. There it writes only into a directory owned by root or by the
/// user whose HOME it is, that no group or other user may write to, and that
/// is reached through no symlink but root's: otherwise that user could make
/// root replace or create a file anywhere. Other users are limited by the
/// kernel already, so this checks nothing for them.
pub fn check_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    if is_root() {
        return root_may_write_in(dir, home_owner());
    }
    let _ = dir;
    Ok(())
}

#[cfg(unix)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    (unsafe { libc::geteuid() }) == 0
}

#[cfg(unix)]
fn home_owner() -> Option<u32> {
    home_account().map(|(uid, _)| uid)
}

/// HOME's owner and group.
#[cfg(unix)]
fn home_account() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let home = std::env::var_os("HOME")?;
    fs::metadata(home).ok().map(|m| (m.uid(), m.gid()))
}

/// The rule of [`check_dir`] for a root process; `user` is the uid whose
/// directories it may also write into.
#[cfg(unix)]
fn root_may_write_in(dir: &Path, user: Option<u32>) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: String| {
        Err(Error::Config(format!(
            "refusing to write as root in {}: {why}; run it as that user, or with a clean environment (sudo -i, su -)",
            dir.display()
        )))
    };
    let trusted = |uid: u32| uid == 0 || Some(uid) == user;
    // Walk the path as given, so a symlink on the way is seen before the
    // kernel follows it.
    let mut walked = PathBuf::new();
    for part in dir.components() {
        walked.push(part);
        let Ok(meta) = fs::symlink_metadata(&walked) else {
            continue;
        };
        if meta.file_type().is_symlink() && meta.uid() != 0 {
            return refuse(format!(
                "{} is a symlink of uid {}",
                walked.display(),
                meta.uid()
            ));
        }
    }
    let meta = fs::metadata(dir).map_err(|e| Error::file("cannot read", dir, e))?;
    if !trusted(meta.uid()) {
        return refuse(format!("it belongs to uid {}", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(format!(
            "group or other users may write to it (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Replace `path` with `contents` atomically: write a temporary file beside it,
/// flush it to disk, then rename over the target. Readers see the old or the
/// new file, never a half-written one. `mode` applies to the new file (unix).
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    Staged::write(path, contents, mode)?.commit()
}

/// New content for a file, written and flushed beside it but not yet in place.
/// [`Staged::commit`] renames it over the target; dropping it uncommitted
/// removes it. Writing first lets a caller learn that the disk is full or
/// read-only before it changes anything else.
///
/// This is the one writer of every file the tool keeps: the temporary file
/// is new (`O_EXCL`), is no symlink (`O_NOFOLLOW`), has a name nobody can
/// guess, and gets its mode through its own descriptor, never more than
/// `0o777` (no setuid, setgid or sticky bit).
pub struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Staged {
    pub fn write(path: &Path, contents: &[u8], mode: u32) -> Result<Staged> {
        let dir = parent_of(path);
        check_dir(dir)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let (tmp, mut f) = create_new(dir, name, mode)?;
        let staged = Staged {
            tmp,
            target: path.to_path_buf(),
            done: false,
        };
        let tmp = &staged.tmp;
        f.write_all(contents)
            .map_err(|e| Error::file("cannot write", tmp, e))?;
        f.sync_all()
            .map_err(|e| Error::file("cannot write", tmp, e))?;
        Ok(staged)
    }

    pub fn commit(mut self) -> Result<()> {
        replace(&self.tmp, &self.target)
            .map_err(|e| Error::file("cannot replace", &self.target, e))?;
        self.done = true;
        Ok(())
    }
}

/// Rename `from` over `to`. Windows refuses to replace a file another
/// process is reading at that instant (readers of the index take no lock):
/// "access denied" there is retried for up to about a second.
fn replace(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut tries = 0;
    loop {
        match fs::rename(from, to) {
            Err(e)
                if cfg!(windows)
                    && e.kind() == std::io::ErrorKind::PermissionDenied
                    && tries < 100 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A new file `.{name}.{random}.tmp` in `dir`, created exclusively and
/// without following a symlink, with its owner ([`heir_in`]) and `mode`
/// (masked to the permission bits) set through the new descriptor.
fn create_new(dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, fs::File)> {
    let mode = mode & 0o777;
    #[cfg(not(unix))]
    let _ = mode;
    let heir = heir_in(dir);
    let mut last = None;
    for _ in 0..8 {
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", unguessable()));
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        match opts.open(&tmp) {
            Ok(f) => {
                hand_over(&f, heir).map_err(|e| Error::file("cannot set the owner of", &tmp, e))?;
                // The umask may have taken bits off; fchmod sets exactly these.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    f.set_permissions(fs::Permissions::from_mode(mode))
                        .map_err(|e| Error::file("cannot set permissions on", &tmp, e))?;
                }
                return Ok((tmp, f));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some((tmp, e)),
            Err(e) => return Err(Error::file("cannot write", &tmp, e)),
        }
    }
    let (tmp, e) = last.expect("the loop ran");
    Err(Error::file("cannot write", &tmp, e))
}

/// 64 bits nobody outside this process can predict: std's hash keys are
/// seeded from the OS's random source, mixed with the time and a counter.
fn unguessable() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

/// Open (creating it 0600 if needed) a lock file in a directory made with
/// [`ensure_private_dir`]: never through a symlink, never truncated. A lock
/// this process creates goes to its heir ([`heir_in`]); one that was there
/// keeps its owner, so the two cases are told apart by `O_EXCL`.
pub fn open_lock(path: &Path) -> Result<fs::File> {
    use std::io::ErrorKind;
    let heir = heir_in(parent_of(path));
    let open = |create: bool| {
        let mut opts = fs::OpenOptions::new();
        opts.read(true).write(true).create_new(create);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        opts.open(path)
    };
    let fail = |e| Error::file("cannot open lock file", path, e);
    // Another process may create or remove it between the two opens.
    for _ in 0..8 {
        match open(false) {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            other => return other.map_err(fail),
        }
        match open(true) {
            Ok(f) => {
                hand_over(&f, heir).map_err(|e| Error::file("cannot set the owner of", path, e))?;
                return Ok(f);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail(e)),
        }
    }
    open(false).map_err(fail)
}

/// An exclusive advisory lock on the file `path` (made with [`open_lock`]),
/// released when the returned file is dropped. Waits at most `wait` for
/// another holder, then says who to blame.
pub fn lock(path: &Path, wait: std::time::Duration) -> Result<fs::File> {
    use std::time::{Duration, Instant};
    let f = open_lock(path)?;
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(1);
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::Config(format!(
                    "another program has held {} for over {} s; try again",
                    path.display(),
                    wait.as_secs()
                )));
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::file("cannot lock", path, e)),
        }
    }
}

/// Move a damaged file aside under a name of its own (`{path}.corrupt.{N}`,
/// never over an earlier one), made private: it may hold a secret.
pub fn move_aside(path: &Path, suffix: &str) -> Result<PathBuf> {
    let base = path.as_os_str().to_string_lossy().into_owned();
    for n in 1..1000 {
        let aside = PathBuf::from(format!("{base}.{suffix}.{n}"));
        if fs::symlink_metadata(&aside).is_ok() {
            continue;
        }
        // A hard link, then removing the old name: the link fails if the name
        // was taken meanwhile, where a rename would replace it.
        match fs::hard_link(path, &aside) {
            Ok(()) => fs::remove_file(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            // A file system without hard links: the name was free just now.
            Err(_) => fs::rename(path, &aside),
        }
        .map_err(|e| Error::file("cannot move aside", path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let f = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&aside)
                .map_err(|e| Error::file("cannot open", &aside, e))?;
            let dir = f.metadata().is_ok_and(|m| m.is_dir());
            f.set_permissions(fs::Permissions::from_mode(if dir { 0o700 } else { 0o600 }))
                .map_err(|e| Error::file("cannot set permissions on", &aside, e))?;
        }
        return Ok(aside);
    }
    Err(Error::Config(format!(
        "cannot move {} aside: 999 damaged copies are already beside it",
        path.display()
    )))
}

// Every case needs Unix modes, owners or symlinks.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// The temp name of the old writer (`.{name}.tmp.{pid}`), planted as a
    /// symlink: a write must neither follow it nor fail because of it.
    #[test]
    fn a_planted_symlink_at_a_temp_name_is_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        set_mode(&victim, 0o644);
        let target = t.path().join("config.json");
        std::os::unix::fs::symlink(
            &victim,
            t.path()
                .join(format!(".config.json.tmp.{}", std::process::id())),
        )
        .unwrap();
        write_atomic(&target, b"{}", 0o600).unwrap();
        write_atomic(&target, b"{ }", 0o600).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(mode(&victim), 0o644);
        assert_eq!(fs::read(&target).unwrap(), b"{ }");
        assert_eq!(mode(&target), 0o600);
        let left: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "no temp file left: {left:?}");
    }

    /// A mode with setuid, setgid or sticky bits is never given to a file.
    #[test]
    fn special_mode_bits_are_never_set() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        write_atomic(&p, b"x", 0o7755).unwrap();
        assert_eq!(mode(&p), 0o755);
    }

    /// A damaged file is kept under a name of its own each time, private.
    #[test]
    fn damaged_copies_are_kept_apart_and_private() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("index.json");
        let mut asides = Vec::new();
        for n in 0..3 {
            fs::write(&p, format!("damaged {n}")).unwrap();
            set_mode(&p, 0o644);
            asides.push(move_aside(&p, "corrupt").unwrap());
        }
        for (n, a) in asides.iter().enumerate() {
            assert_eq!(fs::read_to_string(a).unwrap(), format!("damaged {n}"));
            assert_eq!(mode(a), 0o600, "{}", a.display());
        }
        assert!(!p.exists());
    }

    /// As root: only directories of root or of HOME's owner, writable by
    /// nobody else, reached through no other user's symlink. The rule reads
    /// owners and modes only, so it runs as any user: as root, "HOME's
    /// owner" is a uid of nobody's (4242) given the directories; otherwise
    /// it is this user, who owns them already, and the two cases that need
    /// a root-owned entry (root's directory, root's symlink) run as root
    /// only (CI on Linux).
    #[test]
    fn root_writes_only_where_no_other_user_can_plant_a_file() {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        let as_root = me == 0;
        let user = if as_root { 4242 } else { me };
        let give = |p: &Path, uid: u32| {
            if as_root {
                let c = CString::new(p.as_os_str().as_bytes()).unwrap();
                assert_eq!(unsafe { libc::lchown(c.as_ptr(), uid, uid) }, 0);
            }
        };
        let t = tempfile::tempdir().unwrap();
        if as_root {
            let own = t.path().join("own");
            fs::create_dir(&own).unwrap();
            set_mode(&own, 0o700);
            assert!(root_may_write_in(&own, None).is_ok(), "root's own");
        }

        let theirs = t.path().join("theirs");
        fs::create_dir(&theirs).unwrap();
        set_mode(&theirs, 0o700);
        give(&theirs, user);
        assert!(
            root_may_write_in(&theirs, Some(user)).is_ok(),
            "HOME's owner's"
        );
        let e = root_may_write_in(&theirs, Some(user + 1)).unwrap_err();
        assert!(
            e.to_string().contains(&format!("belongs to uid {user}")),
            "{e}"
        );
        assert!(root_may_write_in(&theirs, None).is_err(), "no HOME owner");

        let open = t.path().join("open");
        fs::create_dir(&open).unwrap();
        set_mode(&open, 0o777);
        give(&open, user);
        let e = root_may_write_in(&open, Some(user)).unwrap_err();
        assert!(
            e.to_string().contains("group or other users may write"),
            "{e}"
        );
        assert!(
            e.to_string().starts_with("refusing to write as root in "),
            "{e}"
        );

        let link = t.path().join("link");
        std::os::unix::fs::symlink(&theirs, &link).unwrap();
        give(&link, user);
        let e = root_may_write_in(&link.join("."), Some(user)).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("is a symlink of uid {user}")),
            "{e}"
        );
        if as_root {
            give(&link, 0);
            assert!(
                root_may_write_in(&link, Some(user)).is_ok(),
                "root's symlink"
            );
        }
    }

    fn set_mode(p: &Path, m: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    }

    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }
}
