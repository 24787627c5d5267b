//! Reliability: faults injected under the helper, many helpers at once, and a
//! final sweep for leaked secrets and loose file modes. Everything runs the
//! real binary against a private gnome-keyring (Secret Service) on a private
//! session bus, or against the real kernel keyring.
//!
//! Faults injected: 12 kinds, 16 injections.
//!  1. Secret Service daemon frozen (SIGSTOP), then killed (SIGKILL) while a
//!     `get`, a `store` and an `erase` wait on it; then restarted.
//!  2. Secret Service daemon stopped, bus still up (`get`, `erase`); restarted.
//!  3. `index.json` replaced by a directory (`list`, `status`, `get`, `store`).
//!  4. `index.json` a directory with a file system mounted on it, so it
//!     cannot be moved aside and the index cannot be repaired (`store`,
//!     `get`, `list`).
//!  5. Index directory on a read-only tmpfs (`get`, `list`, `store`, `erase`).
//!  6. Index directory on a full 16 KiB tmpfs, ENOSPC (`store` of a new and
//!     of a stored registry).
//!  7. `XDG_CACHE_HOME` a regular file, under the robot-expiry warning (`get`).
//!  8. `XDG_CONFIG_HOME` a regular file (`get`).
//!  9. `XDG_DATA_HOME` a regular file (`get`, `list`, `store`).
//! 10. Kernel-keyring cache copy made stale by a `store` from another session.
//! 11. Kernel-keyring cache copy made stale by an `erase` from another session.
//! 12. Kernel-keyring cache copy expired (`DOCKER_CREDENTIAL_HARBOR_CACHE_TTL=1`).
//!
//! Faults 4 and 6 are injected again under both keychains (4 more) to check
//! that a `store` which exits 1 leaves the keychain as it was.
//!
//! Parallel operations: 1000 helper processes, in bursts started at once.
//! Per keychain (Secret Service, kernel keyring):
//! - one burst of 200, after 44 sequential stores that set the scene: 100 on
//!   4 contended registries (per registry 10 `store`s, 5 `erase`s, 10 `get`s)
//!   and 100 on 80 distinct registries (40 `store`s of new ones, 20 `erase`s,
//!   40 `get`s of 20 untouched ones); then `list` and the keychain must agree
//!   exactly and every listed registry read back its own secret;
//! - three bursts of 100 on one registry with the cache off: 25 `erase`s,
//!   25 `store`s, 50 `get`s each.
//!
//! The secret sweep runs `store`, `get`, `list`, `erase`, `login
//! --password-stdin --no-verify`, `login --robot-file --no-verify`, `status`
//! (text, `--json`, one registry), `logout`, `configure --no-verify` (moving
//! plaintext out of docker's config.json and podman's auth.json) and
//! `configure --undo`, for both keychains, with 7 watched secrets each.
//!
//! Run as root (for the tmpfs mounts) with
//! `keyctl session - cargo test --test suite reliability::`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bin::CACHE_TTL_ENV;
use common::bin::{
    self, Env, NAME, NOT_FOUND, Output, TIMEOUT_ENV, assert_not_found, erase, get, get_ok, list,
    run, run_via, run_with, store, try_store, wait_until,
};
use common::commands::Login;
use common::keychain::{BusMonitor, keyutils_has};
use common::rig::{Backend, Rig, cache_has};
use serde_json::Value;

/// A new, anonymous session keyring: another login session of the same user.
const OTHER_SESSION: [&str; 3] = ["keyctl", "session", "-"];
/// The notice a store into the kernel keyring prints on stderr.
const KEYUTILS_NOTICE: &str =
    "no Secret Service in this session: the secret is kept in the Linux kernel keyring";

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on the gnome-keyring-daemon this test's fixture started.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Assert the protocol error shape and that the line mentions every word.
fn error_mentioning<'a>(out: &'a Output, words: &[&str], what: &str) -> &'a str {
    let line = out.error_line();
    for w in words {
        assert!(
            line.contains(w),
            "{what}: expected {w:?} in the error line\n{out}"
        );
    }
    assert!(
        !line.contains("internal error"),
        "{what}: the helper panicked\n{out}"
    );
    line
}

fn assert_quiet(out: &Output, what: &str) {
    assert!(
        out.stderr_lines().is_empty(),
        "{what}: nothing on stderr\n{out}"
    );
}

/// The helper's stderr: exactly one line, which mentions `word`.
fn assert_one_warning(out: &Output, word: &str, what: &str) {
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{what}: one line on stderr\n{out}");
    assert!(lines[0].contains(word), "{what}: {word:?} on stderr\n{out}");
    assert!(
        !out.stderr.contains("panicked"),
        "{what}: the helper panicked\n{out}"
    );
}

// ---------------------------------------------------------------------------
// tmpfs over the index directory

/// A tmpfs mounted over a directory; unmounted when dropped (declare it after
/// the Rig, so it goes before the Env's temp dirs are removed).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("create the mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount -t tmpfs -o {options} on {} failed (these tests need root): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }

    fn remount(&self, how: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{how}")])
            .arg(&self.dir)
            .output()
            .expect("run mount -o remount");
        assert!(
            out.status.success(),
            "remount,{how} {}: {}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Fill the file system: a file that takes every free byte.
    fn fill(&self) -> PathBuf {
        let p = self.dir.join("filler");
        let mut f = std::fs::File::create(&p).expect("create the filler");
        let chunk = [0x5au8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("fill {}: {e}", p.display()),
            }
        }
        let probe = self.dir.join("probe");
        let full = std::fs::write(&probe, b"x").is_err();
        let _ = std::fs::remove_file(&probe);
        assert!(full, "the tmpfs is not full");
        p
    }

    fn temp_files(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp."))
            .collect()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).output();
        }
    }
}

// ---------------------------------------------------------------------------
// 1. The Secret Service daemon dies in the middle of a call

#[test]
fn secret_service_killed_during_calls() {
    let mut rig = Rig::new(Backend::SecretService, "killed");
    rig.env.set(TIMEOUT_ENV, "5");
    // Every get must really ask the daemon.
    rig.env.set(CACHE_TTL_ENV, "0");
    let (a, b, c) = (rig.host("a"), rig.host("b"), rig.host("c"));
    store(&rig.env, &a, "jdoe", "killed-secret-a-1234");
    store(&rig.env, &c, "cuser", "killed-secret-c-9012");
    let before = list(&rig.env);

    let monitor = BusMonitor::start(
        rig.ss().address(),
        &["type='method_call',destination='org.freedesktop.secrets'"],
    );
    rig.ss().freeze();
    let pid = rig.ss().daemon_pid();
    let env = &rig.env;
    // Each run, with the moment it ended.
    let timed = |out: Output| (out, Instant::now());
    let (g, s, e, killed_at) = std::thread::scope(|scope| {
        let g = scope.spawn(|| timed(get(env, &a)));
        let s = scope.spawn(|| timed(try_store(env, &b, "buser", "killed-secret-b-5678")));
        let e = scope.spawn(|| timed(erase(env, &c)));
        // Once all three have sent their call to the frozen daemon, kill it outright.
        wait_until(
            "get, store and erase to call the frozen Secret Service",
            Duration::from_secs(10),
            || monitor.callers_of("org.freedesktop.secrets").len() >= 3,
        );
        signal(pid, libc::SIGKILL);
        let killed_at = Instant::now();
        (
            g.join().unwrap(),
            s.join().unwrap(),
            e.join().unwrap(),
            killed_at,
        )
    });
    for (out, ended) in [&g, &s, &e] {
        assert!(
            *ended >= killed_at,
            "still waiting for the daemon when it was killed\n{out}"
        );
    }
    let (g, s, e) = (g.0, s.0, e.0);

    let line = error_mentioning(&g, &["Secret Service"], "get while the daemon dies");
    assert_ne!(line, NOT_FOUND, "a dead daemon is not 'not found'\n{g}");
    for (out, what) in [(&g, "get"), (&s, "store"), (&e, "erase")] {
        assert!(
            out.elapsed < Duration::from_millis(6500),
            "{what} ends within DOCKER_CREDENTIAL_HARBOR_TIMEOUT=5 ({:?})\n{out}",
            out.elapsed
        );
    }
    // The erase's own keychain must answer: it fails, and nothing is erased.
    let line = error_mentioning(&e, &["Secret Service"], "erase while the daemon dies");
    assert_ne!(line, NOT_FOUND, "{e}");

    // The store either failed with one line and left nothing, or (the
    // Secret Service having vanished) fell back to the kernel keyring with
    // its notice, and the index says so.
    let b_in_kernel = keyutils_has(&b);
    if s.code() == 0 {
        assert_eq!(s.stdout, "", "{s}");
        assert_one_warning(&s, "kernel keyring", "store fallback");
        assert!(
            b_in_kernel,
            "store succeeded, so b is in the kernel keyring\n{s}"
        );
        assert_eq!(rig.index()["registries"][&b]["store"], "keyutils");
    } else {
        error_mentioning(&s, &["Secret Service"], "store while the daemon dies");
        assert!(
            !b_in_kernel,
            "a failed store left b in the kernel keyring\n{s}"
        );
        assert!(rig.index()["registries"].get(&b).is_none(), "{s}");
    }

    // The index still lists what was stored before.
    let mut want = before.clone();
    if s.code() == 0 {
        want.insert(b.clone(), "buser".into());
    }
    assert_eq!(list(&rig.env), want, "list after the daemon died");

    // Same collection, same password: everything stored before is back.
    rig.ss_mut().restart_daemon();
    assert_eq!(
        get_ok(&rig.env, &a),
        ("jdoe".into(), "killed-secret-a-1234".into()),
        "a secret stored before the daemon died"
    );
    assert_eq!(
        get_ok(&rig.env, &c),
        ("cuser".into(), "killed-secret-c-9012".into()),
        "the interrupted erase erased nothing"
    );
    if s.code() == 0 {
        assert_eq!(
            get_ok(&rig.env, &b),
            ("buser".into(), "killed-secret-b-5678".into())
        );
        assert_eq!(rig.ss().count(&b), 0, "b only in the kernel keyring");
        erase(&rig.env, &b).assert_silent_success();
        assert!(!keyutils_has(&b));
    } else {
        assert_not_found(&rig.env, &b);
    }
    for k in [&a, &c] {
        erase(&rig.env, k).assert_silent_success();
        assert!(!rig.has(k));
    }
    rig.env.assert_no_secret_in_files();
}

// ---------------------------------------------------------------------------
// 2. The Secret Service is down (bus up, no daemon)

#[test]
fn secret_service_down_is_reported_not_not_found_and_recovers() {
    let mut rig = Rig::new(Backend::SecretService, "ss_down");
    rig.env.set(TIMEOUT_ENV, "5");
    rig.env.set(CACHE_TTL_ENV, "0");
    let a = rig.host("a");
    store(&rig.env, &a, "jdoe", "down-secret-a-1234");
    let index_before = rig.env.index_bytes().unwrap();
    rig.ss_mut().stop_daemon();

    let out = get(&rig.env, &a);
    let line = error_mentioning(&out, &["Secret Service"], "get with the daemon down");
    assert_ne!(line, NOT_FOUND, "a stored secret is not 'not found'\n{out}");
    assert!(
        out.elapsed < Duration::from_secs(5),
        "an absent daemon is known at once, no timeout ({:?})\n{out}",
        out.elapsed
    );
    assert_quiet(&out, "get with the daemon down");

    let out = erase(&rig.env, &a);
    let line = error_mentioning(&out, &["Secret Service"], "erase with the daemon down");
    assert_ne!(line, NOT_FOUND, "{out}");
    assert_eq!(
        rig.env.index_bytes().unwrap(),
        index_before,
        "a failed erase leaves the index alone"
    );
    assert_eq!(
        list(&rig.env),
        BTreeMap::from([(a.clone(), "jdoe".to_string())]),
        "list answers from the index"
    );
    assert!(!keyutils_has(&a), "nothing moved to the kernel keyring");

    rig.ss_mut().start_daemon();
    let out = get(&rig.env, &a);
    assert_eq!(
        bin::parse_get(&out, &a),
        ("jdoe".into(), "down-secret-a-1234".into()),
        "back once the daemon is"
    );
    assert_quiet(&out, "get after restart");
    erase(&rig.env, &a).assert_silent_success();
    assert!(!rig.has(&a));
    assert_not_found(&rig.env, &a);
}

// ---------------------------------------------------------------------------
// 3. index.json is a directory

#[test]
fn index_that_is_a_directory_is_survived_and_repaired() {
    let rig = Rig::new(Backend::Keyutils, "index_dir");
    let env = &rig.env;
    let (a, b) = (rig.host("a"), rig.host("b"));
    store(env, &a, "jdoe", "dir-index-secret-a-1");
    let p = env.index_path();
    std::fs::remove_file(&p).unwrap();
    std::fs::create_dir(&p).unwrap();
    std::fs::write(p.join("inside"), b"not the index").unwrap();

    let out = run(env, &["list"], b"unused\n");
    assert_eq!(bin::parse_list(&out), BTreeMap::new(), "{out}");
    assert_one_warning(&out, "index.json", "list with a directory for an index");

    let out = run(env, &["status"], b"");
    assert_eq!(out.code(), 0, "status survives it\n{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");

    let out = get(env, &a);
    assert_eq!(
        bin::parse_get(&out, &a),
        ("jdoe".into(), "dir-index-secret-a-1".into()),
        "get reads the keychain directly"
    );
    assert_one_warning(&out, "index.json", "get with a directory for an index");

    // Whatever get did to the index (it remembers a in a new one), store
    // works and leaves a valid index file.
    let out = store(env, &b, "buser", "dir-index-secret-b-2");
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert!(p.is_file(), "index.json is a file again\n{out}");
    let aside = env.index_dir().join("index.json.corrupt.1");
    assert!(
        aside.join("inside").is_file(),
        "the directory was moved aside, contents and all"
    );
    let listed = list(env);
    assert_eq!(
        listed.get(&b).map(String::as_str),
        Some("buser"),
        "{listed:?}"
    );
    assert_eq!(
        get_ok(env, &a),
        ("jdoe".into(), "dir-index-secret-a-1".into())
    );
    assert_eq!(
        list(env),
        BTreeMap::from([(a.clone(), "jdoe".into()), (b.clone(), "buser".into())]),
        "repaired: both listed"
    );
    let out = get(env, &b);
    assert_quiet(&out, "get after the repair");
    for k in [&a, &b] {
        erase(env, k).assert_silent_success();
        assert!(!keyutils_has(k));
    }
}

/// index.json a directory that is a mount point: it cannot be moved aside,
/// so the index cannot be repaired and store must fail with one line naming
/// the path.
#[test]
fn index_that_cannot_be_repaired_fails_store_with_one_line() {
    let rig = Rig::new(Backend::Keyutils, "index_stuck");
    let env = &rig.env;
    let (a, b) = (rig.host("a"), rig.host("b"));
    store(env, &a, "jdoe", "stuck-index-secret-a");
    let p = env.index_path();
    std::fs::remove_file(&p).unwrap();
    let stuck = Tmpfs::mount(&p, "size=16k,mode=0700");
    std::fs::write(p.join("inside"), b"x").unwrap();

    let out = try_store(env, &b, "buser", "stuck-index-secret-b");
    error_mentioning(&out, &["index.json"], "store with an unrepairable index");
    assert!(p.join("inside").is_file(), "nothing clobbered");
    for _ in 0..2 {
        let out = get(env, &a);
        assert_eq!(
            bin::parse_get(&out, &a),
            ("jdoe".into(), "stuck-index-secret-a".into())
        );
        assert_one_warning(&out, "index.json", "get with an unrepairable index");
    }
    let out = run(env, &["list"], b"unused\n");
    assert_eq!(bin::parse_list(&out), BTreeMap::new());
    assert_one_warning(&out, "index.json", "list");
    // Clean up the way a user would.
    drop(stuck);
    std::fs::remove_dir_all(&p).unwrap();
    for k in [&a, &b] {
        let _ = erase(env, k);
        assert!(!keyutils_has(k));
    }
}

// ---------------------------------------------------------------------------
// 4. The index directory is read-only

#[test]
fn read_only_index_directory() {
    let rig = Rig::new(Backend::Keyutils, "readonly");
    let env = &rig.env;
    let (a, b) = (rig.host("a"), rig.host("b"));
    let fs = Tmpfs::mount(&env.index_dir(), "size=1m,mode=0700");
    store(env, &a, "jdoe", "ro-secret-a-12345");
    fs.remount("ro");

    let out = get(env, &a);
    assert_eq!(
        bin::parse_get(&out, &a),
        ("jdoe".into(), "ro-secret-a-12345".into()),
        "get works on a read-only index"
    );
    assert_quiet(&out, "get read-only");
    assert_eq!(list(env), BTreeMap::from([(a.clone(), "jdoe".into())]));

    let out = try_store(env, &b, "buser", "ro-secret-b-67890");
    error_mentioning(&out, &["Read-only file system"], "store of a new registry");
    assert!(
        !keyutils_has(&b),
        "a failed store leaves nothing in the keychain"
    );
    let out = try_store(env, &a, "other", "ro-secret-a-replaced");
    error_mentioning(
        &out,
        &["Read-only file system"],
        "store over a stored registry",
    );
    let out = erase(env, &a);
    error_mentioning(&out, &["Read-only file system"], "erase");
    assert!(keyutils_has(&a), "a failed erase erases nothing");
    assert_eq!(
        get_ok(env, &a),
        ("jdoe".into(), "ro-secret-a-12345".into()),
        "the secret stored before is untouched"
    );
    assert_not_found(env, &b);

    fs.remount("rw");
    assert_eq!(get_ok(env, &a), ("jdoe".into(), "ro-secret-a-12345".into()));
    store(env, &b, "buser", "ro-secret-b-67890");
    assert_eq!(
        list(env),
        BTreeMap::from([(a.clone(), "jdoe".into()), (b.clone(), "buser".into())])
    );
    assert_eq!(
        get_ok(env, &b),
        ("buser".into(), "ro-secret-b-67890".into())
    );
    assert!(fs.temp_files().is_empty(), "{:?}", fs.temp_files());
    for k in [&a, &b] {
        erase(env, k).assert_silent_success();
        assert!(!keyutils_has(k));
    }
}

// ---------------------------------------------------------------------------
// 5. The index directory is full

#[test]
fn full_index_directory() {
    let rig = Rig::new(Backend::Keyutils, "full");
    let env = &rig.env;
    let (a, b) = (rig.host("a"), rig.host("b"));
    let fs = Tmpfs::mount(&env.index_dir(), "size=16k,mode=0700");
    store(env, &a, "jdoe", "full-secret-a-12345");
    let index_before = env.index_bytes().unwrap();
    let filler = fs.fill();

    let out = try_store(env, &b, "buser", "full-secret-b-67890");
    error_mentioning(
        &out,
        &["No space left on device"],
        "store of a new registry",
    );
    let out = try_store(env, &a, "jdoe", "full-secret-a-replaced");
    error_mentioning(
        &out,
        &["No space left on device"],
        "store over a stored registry",
    );
    assert!(
        fs.temp_files().is_empty(),
        "temp files left: {:?}",
        fs.temp_files()
    );
    assert_eq!(
        env.index_bytes().unwrap(),
        index_before,
        "the previous index is intact"
    );
    let idx: Value = serde_json::from_slice(&index_before).unwrap();
    assert_eq!(idx["registries"][&a]["username"], "jdoe");
    assert_eq!(
        list(env),
        BTreeMap::from([(a.clone(), "jdoe".into())]),
        "previous entries still listed"
    );
    // Readable; which secret it holds after the failed store over it is the
    // subject of `failed_store_leaves_the_keychain_as_it_was`.
    let (user, _) = get_ok(env, &a);
    assert_eq!(user, "jdoe", "a is still readable");

    std::fs::remove_file(filler).unwrap();
    store(env, &b, "buser", "full-secret-b-67890");
    assert_eq!(
        get_ok(env, &b),
        ("buser".into(), "full-secret-b-67890".into())
    );
    assert_eq!(
        list(env),
        BTreeMap::from([(a.clone(), "jdoe".into()), (b.clone(), "buser".into())])
    );
    assert!(fs.temp_files().is_empty(), "{:?}", fs.temp_files());
    for k in [&a, &b] {
        erase(env, k).assert_silent_success();
        assert!(!keyutils_has(k));
    }
}

/// A store that exits 1 must leave things as they were: the keychain keeps
/// the previous secret (or nothing), and `get` agrees with `list`. Checked
/// for both keychains under two index faults that make the index write fail
/// after the keychain was written: a full disk, and an index that is a
/// directory with a file system mounted on it (it cannot be moved aside).
#[test]
fn failed_store_leaves_the_keychain_as_it_was() {
    let mut problems = Vec::new();
    for kind in [Backend::Keyutils, Backend::SecretService] {
        for fault in [IndexFault::DiskFull, IndexFault::Unrepairable] {
            problems.extend(failed_store_problems(kind, fault));
        }
    }
    assert!(
        problems.is_empty(),
        "{} failed stores changed the keychain:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[derive(Clone, Copy, Debug)]
enum IndexFault {
    DiskFull,
    Unrepairable,
}

fn failed_store_problems(kind: Backend, fault: IndexFault) -> Vec<String> {
    let rig = Rig::new(
        kind,
        match fault {
            IndexFault::DiskFull => "failed_store_full",
            IndexFault::Unrepairable => "failed_store_stuck",
        },
    );
    let env = &rig.env;
    let (a, b) = (rig.host("a"), rig.host("b"));
    let fs = match fault {
        IndexFault::DiskFull => Some(Tmpfs::mount(&env.index_dir(), "size=16k,mode=0700")),
        IndexFault::Unrepairable => None,
    };
    let mut stuck = None;
    store(env, &a, "jdoe", "kept-secret-a-12345");
    assert_eq!(
        get_ok(env, &a),
        ("jdoe".into(), "kept-secret-a-12345".into())
    );
    let p = env.index_path();
    let filler = match fault {
        IndexFault::DiskFull => Some(fs.as_ref().unwrap().fill()),
        IndexFault::Unrepairable => {
            std::fs::remove_file(&p).unwrap();
            stuck = Some(Tmpfs::mount(&p, "size=16k,mode=0700"));
            std::fs::write(p.join("inside"), b"x").unwrap();
            None
        }
    };
    let what = format!("{kind:?}, {fault:?}");
    let mut problems = Vec::new();

    let out = try_store(env, &b, "buser", "unkept-secret-b-678");
    let line = out.error_line().to_string();
    if rig.has(&b) {
        let got = get(env, &b);
        problems.push(format!(
            "{what}: `store` of new registry {b} exited 1 ({line:?}) but left an entry in the \
             keychain: `get` prints {:?} while `list` shows {:?}",
            got.stdout.trim().replace("unkept-secret-b-678", "<secret>"),
            list(env).get(&b)
        ));
    }
    let out = try_store(env, &a, "robot$p+new", "unkept-secret-a-999");
    let line = out.error_line().to_string();
    let got = get_ok(env, &a);
    if got != ("jdoe".to_string(), "kept-secret-a-12345".to_string()) {
        problems.push(format!(
            "{what}: `store` over stored registry {a} (user jdoe) exited 1 ({line:?}) but replaced \
             the keychain entry: `get` now returns user {:?} and the new secret, while `list` \
             shows {:?}",
            got.0,
            list(env).get(&a)
        ));
    }
    if let Some(f) = filler {
        std::fs::remove_file(f).unwrap();
    }
    if let Some(fs) = &fs {
        assert!(fs.temp_files().is_empty(), "{what}: {:?}", fs.temp_files());
    }
    if stuck.take().is_some() {
        std::fs::remove_dir_all(&p).unwrap();
    }
    for k in [&a, &b] {
        let _ = erase(env, k);
        assert!(!rig.has(k), "{what}: cleanup of {k}");
    }
    drop(fs);
    problems
}

// ---------------------------------------------------------------------------
// 6. Config, cache and data directories that cannot be used

#[test]
fn unusable_config_cache_and_data_dirs_do_not_break_get() {
    let rig = Rig::new(Backend::Keyutils, "dirs");
    let env = &rig.env;
    let (a, b) = (rig.host("a"), rig.host("b"));
    // A robot that expires in two days: every get goes through the
    // once-a-day warning, which writes a stamp under the cache directory.
    let files = tempfile::tempdir().unwrap();
    let robot = files.path().join("robot.json");
    let secret = "dirs-robot-secret-12345";
    env.watch_secret(secret);
    let expires = now() + 2 * 86_400;
    std::fs::write(
        &robot,
        serde_json::json!({"name": "robot$proj+ci", "secret": secret, "expires_at": expires})
            .to_string(),
    )
    .unwrap();
    bin::set_mode(&robot, 0o600);
    Login::to(env, &a)
        .robot_file(&robot)
        .args(&["--no-verify"])
        .ok();

    let not_a_dir = files.path().join("plain-file");
    std::fs::write(&not_a_dir, b"not a directory").unwrap();
    let not_a_dir = not_a_dir.to_str().unwrap();

    for (var, what) in [
        ("XDG_CACHE_HOME", "cache dir is a file"),
        ("XDG_CONFIG_HOME", "config dir is a file"),
    ] {
        for round in 0..2 {
            let out = run_with(env, &[(var, Some(not_a_dir))], &["get"], a.as_bytes());
            assert_eq!(
                bin::parse_get(&out, &a),
                ("robot$proj+ci".into(), secret.into()),
                "{what}, get #{round}"
            );
            let lines = out.stderr_lines();
            assert!(
                lines.len() <= 1,
                "{what}: at most the expiry warning\n{out}"
            );
            assert!(
                lines.iter().all(|l| l.contains("expires")),
                "{what}: only the expiry warning\n{out}"
            );
            if var == "XDG_CACHE_HOME" {
                assert_eq!(lines.len(), 1, "without a stamp the warning shows\n{out}");
            }
        }
    }
    // The stamp never landed anywhere odd.
    assert!(std::fs::read(not_a_dir).unwrap() == b"not a directory");

    // The data directory unusable: get still answers from the keychain,
    // list warns, store fails with one line before touching the keychain.
    let data = [("XDG_DATA_HOME", Some(not_a_dir))];
    let out = run_with(env, &data, &["get"], a.as_bytes());
    assert_eq!(
        bin::parse_get(&out, &a),
        ("robot$proj+ci".into(), secret.into()),
        "data dir is a file\n{out}"
    );
    assert!(
        out.stderr_lines().iter().any(|l| l.contains("warning")),
        "{out}"
    );
    let out = run_with(env, &data, &["list"], b"unused\n");
    assert_eq!(out.code(), 0, "{out}");
    bin::parse_list(&out);
    env.watch_secret("dirs-secret-b-67890");
    let out = run_with(
        env,
        &data,
        &["store"],
        bin::store_json(&b, "buser", "dirs-secret-b-67890").as_bytes(),
    );
    error_mentioning(
        &out,
        &["Not a directory"],
        "store with a file for a data dir",
    );
    assert!(!keyutils_has(&b), "{out}");

    // With working directories again, everything is as before.
    let out = get(env, &a);
    assert_eq!(
        bin::parse_get(&out, &a),
        ("robot$proj+ci".into(), secret.into())
    );
    erase(env, &a).assert_silent_success();
    assert!(!keyutils_has(&a));
    env.assert_no_secret_in_files();
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------
// 7. The kernel-keyring cache is never stale

#[test]
fn cache_is_never_stale() {
    let rig = Rig::new(Backend::SecretService, "cache");
    let env = &rig.env;
    let a = rig.host("a");
    let timeout = [(TIMEOUT_ENV, Some("2"))];

    // A store seeds this session's copy, so the first pull after a login is warm.
    store(env, &a, "u1", "cache-secret-one-111");
    assert!(cache_has(&a), "store seeds the cache");
    // Proof that the copy is served: with the daemon frozen, get still answers.
    rig.ss().freeze();
    let out = run_with(env, &timeout, &["get"], a.as_bytes());
    rig.ss().thaw();
    assert_eq!(
        bin::parse_get(&out, &a),
        ("u1".into(), "cache-secret-one-111".into()),
        "served from the cache (the frozen daemon would time out)"
    );

    // A store in this session replaces the copy: the next get, served from
    // the cache, has the new secret.
    store(env, &a, "u2", "cache-secret-two-222");
    assert!(cache_has(&a));
    rig.ss().freeze();
    let out = run_with(env, &timeout, &["get"], a.as_bytes());
    rig.ss().thaw();
    assert_eq!(
        bin::parse_get(&out, &a),
        ("u2".into(), "cache-secret-two-222".into()),
        "the new secret, from the cache"
    );

    // A store from another session cannot reach this session's copy: the
    // generation check must keep it from being served.
    env.watch_secret("cache-secret-three-333");
    let out = run_via(
        env,
        &[],
        &OTHER_SESSION,
        &["store"],
        bin::store_json(&a, "u3", "cache-secret-three-333").as_bytes(),
    );
    out.assert_silent_success();
    assert!(cache_has(&a), "the old copy is still in this session");
    rig.ss().freeze();
    let out = run_with(env, &timeout, &["get"], a.as_bytes());
    rig.ss().thaw();
    assert!(
        !out.stdout.contains("cache-secret-two"),
        "a stale cached copy was served\n{out}"
    );
    error_mentioning(&out, &["did not answer"], "get must ask the frozen daemon");
    assert_eq!(
        get_ok(env, &a),
        ("u3".into(), "cache-secret-three-333".into())
    );

    // An erase from another session: the copy stays here, but is not served.
    assert!(cache_has(&a));
    let out = run_via(env, &[], &OTHER_SESSION, &["erase"], a.as_bytes());
    out.assert_silent_success();
    assert!(cache_has(&a), "the copy is still in this session");
    assert_not_found(env, &a);
    rig.ss().freeze();
    let out = run_with(env, &timeout, &["get"], a.as_bytes());
    rig.ss().thaw();
    assert!(
        !out.stdout.contains("cache-secret"),
        "stale after erase\n{out}"
    );
    assert_eq!(out.code(), 1, "{out}");

    // An erase in this session drops the copy at once.
    store(env, &a, "u4", "cache-secret-four-444");
    assert_eq!(
        get_ok(env, &a),
        ("u4".into(), "cache-secret-four-444".into())
    );
    assert!(cache_has(&a));
    erase(env, &a).assert_silent_success();
    assert!(!cache_has(&a), "erase invalidates this session's copy");
    assert_not_found(env, &a);

    // TTL: the kernel drops the copy; get then reads the Secret Service.
    let ttl1 = [(CACHE_TTL_ENV, Some("1"))];
    env.watch_secret("cache-secret-five-555");
    let json = bin::store_json(&a, "u5", "cache-secret-five-555");
    run_with(env, &ttl1, &["store"], json.as_bytes()).assert_silent_success();
    let out = run_with(env, &ttl1, &["get"], a.as_bytes());
    assert_eq!(
        bin::parse_get(&out, &a),
        ("u5".into(), "cache-secret-five-555".into())
    );
    assert!(cache_has(&a), "cached for one second");
    wait_until(
        "the cached copy to expire with its 1 s TTL",
        Duration::from_secs(5),
        || !cache_has(&a),
    );
    let out = run_with(env, &ttl1, &["get"], a.as_bytes());
    assert_eq!(
        bin::parse_get(&out, &a),
        ("u5".into(), "cache-secret-five-555".into()),
        "after the TTL, from the Secret Service"
    );
    // TTL 0: no copy at all, neither from store nor from get.
    env.watch_secret("cache-secret-six-666");
    let json = bin::store_json(&a, "u6", "cache-secret-six-666");
    run_with(
        env,
        &[(CACHE_TTL_ENV, Some("0"))],
        &["store"],
        json.as_bytes(),
    )
    .assert_silent_success();
    assert!(!cache_has(&a), "TTL 0: store seeds nothing");
    let out = run_with(env, &[(CACHE_TTL_ENV, Some("0"))], &["get"], a.as_bytes());
    assert_eq!(
        bin::parse_get(&out, &a),
        ("u6".into(), "cache-secret-six-666".into())
    );
    assert!(!cache_has(&a), "TTL 0 caches nothing");
    erase(env, &a).assert_silent_success();
    assert_eq!(rig.ss().count(&a), 0);
    env.assert_no_secret_in_files();
}

// ---------------------------------------------------------------------------
// 8. 200 helpers at once

#[derive(Clone, Debug)]
enum Op {
    Store {
        key: String,
        user: String,
        secret: String,
    },
    Erase {
        key: String,
    },
    Get {
        key: String,
    },
}

impl Op {
    fn action(&self) -> &'static str {
        match self {
            Op::Store { .. } => "store",
            Op::Erase { .. } => "erase",
            Op::Get { .. } => "get",
        }
    }

    fn key(&self) -> &str {
        match self {
            Op::Store { key, .. } | Op::Erase { key } | Op::Get { key } => key,
        }
    }

    fn stdin(&self) -> String {
        match self {
            Op::Store { key, user, secret } => bin::store_json(key, user, secret),
            Op::Erase { key } | Op::Get { key } => key.clone(),
        }
    }
}

struct Done {
    op: Op,
    code: Option<i32>,
    /// When it was seen to have exited, from the common start.
    elapsed: Duration,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} -> {:?} after {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.op.action(),
            self.op.key(),
            self.code,
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }
}

/// Start every op as its own helper process, all waiting on stdin; then
/// release them together and wait for all, bounded by `limit`.
fn run_all_at_once(env: &Env, ops: &[Op], limit: Duration) -> (Vec<Done>, Duration) {
    let outdir = tempfile::Builder::new()
        .prefix("dch-parallel-")
        .tempdir()
        .unwrap();
    let path = bin::system_path();
    let mut children = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let out = std::fs::File::create(outdir.path().join(format!("{i}.out"))).unwrap();
        let err = std::fs::File::create(outdir.path().join(format!("{i}.err"))).unwrap();
        let child = Command::new(bin::BIN)
            .arg(op.action())
            .env_clear()
            .env("PATH", &path)
            .envs(env.vars())
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn helper #{i}: {e}"));
        children.push(child);
    }
    let start = Instant::now();
    for (child, op) in children.iter_mut().zip(ops) {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(op.stdin().as_bytes()).unwrap();
    }
    let deadline = start + limit;
    let mut codes: Vec<Option<(Option<i32>, Duration)>> = vec![None; ops.len()];
    loop {
        let mut pending = 0;
        for (i, child) in children.iter_mut().enumerate() {
            if codes[i].is_some() {
                continue;
            }
            match child.try_wait().unwrap() {
                Some(st) => codes[i] = Some((st.code(), start.elapsed())),
                None => pending += 1,
            }
        }
        if pending == 0 {
            break;
        }
        if Instant::now() >= deadline {
            for child in children.iter_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
            panic!(
                "{pending} of {} helpers still running after {limit:?}",
                ops.len()
            );
        }
        // The poll interval of this bounded wait.
        sleep_ms(10);
    }
    let elapsed = start.elapsed();
    let done = ops
        .iter()
        .enumerate()
        .map(|(i, op)| Done {
            op: op.clone(),
            code: codes[i].unwrap().0,
            elapsed: codes[i].unwrap().1,
            stdout: std::fs::read_to_string(outdir.path().join(format!("{i}.out"))).unwrap(),
            stderr: std::fs::read_to_string(outdir.path().join(format!("{i}.err"))).unwrap(),
        })
        .collect();
    (done, elapsed)
}

/// A fixed shuffle, so contended and distinct ops interleave.
fn shuffle<T>(v: &mut [T]) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

/// A Secret Service burst waits for any other (common::keychain says why).
fn burst_turn(kind: Backend) -> Option<std::sync::MutexGuard<'static, ()>> {
    (kind == Backend::SecretService).then(common::keychain::secret_service_burst)
}

fn parallel_mixed(kind: Backend) {
    let _turn = burst_turn(kind);
    let rig = Rig::new(kind, "parallel");
    let env = &rig.env;
    let secret_of =
        |key: &str, user: &str| format!("par-{user}-{}", &key[..key.find('.').unwrap()]);
    // (key, user) pairs ever stored, per key.
    let mut stored: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();

    let contended: Vec<String> = (0..4).map(|i| rig.host(&format!("hot{i}"))).collect();
    let fresh: Vec<String> = (0..40).map(|i| rig.host(&format!("new{i:02}"))).collect();
    let doomed: Vec<String> = (0..20).map(|i| rig.host(&format!("del{i:02}"))).collect();
    let stable: Vec<String> = (0..20).map(|i| rig.host(&format!("keep{i:02}"))).collect();

    // The scene: 44 sequential stores.
    for k in doomed.iter().chain(&stable).chain(&contended) {
        let user = "first".to_string();
        store(env, k, &user, &secret_of(k, &user));
        stored.entry(k.clone()).or_default().insert(user);
    }

    let mut ops = Vec::new();
    for (i, k) in contended.iter().enumerate() {
        for j in 0..10 {
            let user = format!("u{i}x{j}");
            env.watch_secret(&secret_of(k, &user));
            stored.entry(k.clone()).or_default().insert(user.clone());
            ops.push(Op::Store {
                key: k.clone(),
                secret: secret_of(k, &user),
                user,
            });
            ops.push(Op::Get { key: k.clone() });
        }
        for _ in 0..5 {
            ops.push(Op::Erase { key: k.clone() });
        }
    }
    for k in &fresh {
        let user = format!("n{}", &k[3..5]);
        env.watch_secret(&secret_of(k, &user));
        stored.entry(k.clone()).or_default().insert(user.clone());
        ops.push(Op::Store {
            key: k.clone(),
            secret: secret_of(k, &user),
            user,
        });
    }
    for k in &doomed {
        ops.push(Op::Erase { key: k.clone() });
    }
    for k in stable.iter().chain(&stable) {
        ops.push(Op::Get { key: k.clone() });
    }
    assert_eq!(ops.len(), 200);
    shuffle(&mut ops);

    let (done, elapsed) = run_all_at_once(env, &ops, Duration::from_secs(120));

    let secrets = env.watched_secrets();
    let mut failures = Vec::new();
    for d in &done {
        let key = d.op.key();
        let is_contended = contended.iter().any(|c| c == key);
        let err_lines: Vec<&str> = d
            .stderr
            .lines()
            .filter(|l| !l.starts_with("Joined session keyring:"))
            .collect();
        let stderr_ok = match (&d.op, kind) {
            (Op::Store { .. }, Backend::Keyutils) if d.code == Some(0) => {
                err_lines.len() == 1 && err_lines[0].contains(KEYUTILS_NOTICE)
            }
            _ => err_lines.is_empty(),
        };
        if !stderr_ok || secrets.iter().any(|s| d.stderr.contains(s)) {
            failures.push(format!("unexpected stderr: {d}"));
            continue;
        }
        let ok = match &d.op {
            Op::Store { .. } => d.code == Some(0) && d.stdout.is_empty(),
            Op::Erase { .. } if is_contended => {
                (d.code == Some(0) && d.stdout.is_empty())
                    || (d.code == Some(1) && d.stdout == format!("{NOT_FOUND}\n"))
            }
            Op::Erase { .. } => d.code == Some(0) && d.stdout.is_empty(),
            Op::Get { key } => {
                if d.code == Some(1) {
                    is_contended && d.stdout == format!("{NOT_FOUND}\n")
                } else {
                    d.code == Some(0)
                        && match serde_json::from_str::<Value>(d.stdout.trim_end()) {
                            Ok(v) if d.stdout.ends_with('\n') && d.stdout.lines().count() == 1 => {
                                let user = v["Username"].as_str().unwrap_or_default();
                                let secret = v["Secret"].as_str().unwrap_or_default();
                                v["ServerURL"] == key.as_str()
                                    && stored.get(key).is_some_and(|u| u.contains(user))
                                    && secret == secret_of(key, user)
                                    && (is_contended || user == "first")
                            }
                            _ => false,
                        }
                }
            }
        };
        if !ok {
            failures.push(format!("unexpected outcome: {d}"));
        }
    }
    let slowest = done.iter().map(|d| d.elapsed).max().unwrap();
    eprintln!(
        "{kind:?}: 200 helpers at once: all done after {elapsed:?}, slowest {slowest:?}, {} misbehaved",
        failures.len()
    );
    for f in &failures {
        eprintln!("{kind:?}: {f}");
    }

    // The index and the keychain agree exactly.
    let listed = list(env);
    let universe: Vec<&String> = contended
        .iter()
        .chain(&fresh)
        .chain(&doomed)
        .chain(&stable)
        .collect();
    match kind {
        Backend::SecretService => {
            let keys = rig.ss().keys();
            let want: Vec<String> = listed.keys().cloned().collect();
            assert_eq!(keys, want, "Secret Service items == index entries");
        }
        Backend::Keyutils => {
            for k in &universe {
                assert_eq!(
                    keyutils_has(k),
                    listed.contains_key(*k),
                    "kernel keyring and index disagree on {k}"
                );
            }
        }
    }
    assert!(
        listed.keys().all(|k| universe.contains(&k)),
        "unknown entries: {listed:?}"
    );
    for (k, user) in &listed {
        assert_eq!(
            get_ok(env, k),
            (user.clone(), secret_of(k, user)),
            "get agrees with list for {k}"
        );
        assert!(stored[k].contains(user), "{k}: {user} was never stored");
    }
    for k in &fresh {
        assert!(listed.contains_key(k), "stored {k} is listed");
    }
    for k in &doomed {
        assert!(!listed.contains_key(k), "erased {k} is gone");
        assert_not_found(env, k);
    }
    for k in &stable {
        assert_eq!(listed.get(k).map(String::as_str), Some("first"));
    }
    for k in &contended {
        if !listed.contains_key(k) {
            assert!(!rig.has(k), "{k} is in the keychain but not listed");
            assert_not_found(env, k);
        }
    }

    // Clean up (in parallel too), then nothing is left anywhere.
    let ops: Vec<Op> = listed
        .keys()
        .map(|k| Op::Erase { key: k.clone() })
        .collect();
    let (done, _) = run_all_at_once(env, &ops, Duration::from_secs(120));
    for d in &done {
        assert!(
            d.code == Some(0) && d.stdout.is_empty(),
            "cleanup erase: {d}"
        );
    }
    assert_eq!(list(env), BTreeMap::new());
    for k in &universe {
        assert!(!rig.has(k), "{k} left in the keychain");
    }
    // Last, so that the agreement checks above ran in any case.
    assert!(
        failures.is_empty(),
        "{kind:?}: {} of 200 helpers misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn two_hundred_at_once_secret_service() {
    parallel_mixed(Backend::SecretService);
}

#[test]
fn two_hundred_at_once_kernel_keyring() {
    parallel_mixed(Backend::Keyutils);
}

/// Bursts of [`erase_racing_get`].
const RACE_ROUNDS: usize = 3;

/// One registry, three rounds of 100 helpers at once: 25 `erase`s, 25
/// `store`s, 50 `get`s, with the cache off so every get asks the keychain. A
/// get that loses the race against an erase must say "not found", not that
/// the keychain failed; after each round the index and the keychain agree.
fn erase_racing_get(kind: Backend) {
    let _turn = burst_turn(kind);
    let rig = Rig::new(kind, "race");
    let env = &rig.env;
    let k = rig.host("hot");
    let secret_of = |user: &str| format!("race-secret-{user}-0123");
    store(env, &k, "first", &secret_of("first"));
    let mut ops = Vec::new();
    let mut users = BTreeSet::from(["first".to_string()]);
    for j in 0..25 {
        let user = format!("r{j:02}");
        env.watch_secret(&secret_of(&user));
        ops.push(Op::Erase { key: k.clone() });
        ops.push(Op::Get { key: k.clone() });
        ops.push(Op::Store {
            key: k.clone(),
            secret: secret_of(&user),
            user: user.clone(),
        });
        ops.push(Op::Get { key: k.clone() });
        users.insert(user);
    }
    assert_eq!(ops.len(), 100);
    let mut no_cache = Env::new();
    for (var, value) in env.vars() {
        no_cache.set(var, value);
    }
    no_cache.set(CACHE_TTL_ENV, "0");
    let mut failures = Vec::new();
    for round in 1..=RACE_ROUNDS {
        let (done, elapsed) = run_all_at_once(&no_cache, &ops, Duration::from_secs(120));
        let mut gets = BTreeMap::<&str, usize>::new();
        for d in &done {
            let not_found = d.code == Some(1) && d.stdout == format!("{NOT_FOUND}\n");
            let ok = match &d.op {
                Op::Store { .. } => d.code == Some(0) && d.stdout.is_empty(),
                Op::Erase { .. } => (d.code == Some(0) && d.stdout.is_empty()) || not_found,
                Op::Get { .. } if not_found => {
                    *gets.entry("not found").or_default() += 1;
                    true
                }
                Op::Get { .. } => {
                    *gets
                        .entry(if d.code == Some(0) { "found" } else { "failed" })
                        .or_default() += 1;
                    d.code == Some(0)
                        && serde_json::from_str::<Value>(d.stdout.trim_end()).is_ok_and(|v| {
                            let user = v["Username"].as_str().unwrap_or_default();
                            users.contains(user)
                                && v["Secret"].as_str() == Some(secret_of(user).as_str())
                        })
                }
            };
            if !ok {
                failures.push(format!("{d}"));
            }
        }
        eprintln!(
            "{kind:?}: round {round}: 100 racing helpers done after {elapsed:?}; gets: {gets:?}; {} misbehaved so far",
            failures.len()
        );
        // Whatever came last, index and keychain agree.
        let listed = list(env);
        match listed.get(&k) {
            Some(user) => {
                assert!(rig.has(&k), "listed but not in the keychain");
                assert_eq!(get_ok(env, &k), (user.clone(), secret_of(user)));
            }
            None => {
                assert!(!rig.has(&k), "in the keychain but not listed");
                assert_not_found(env, &k);
            }
        }
    }
    let _ = erase(env, &k);
    assert!(!rig.has(&k));
    assert!(
        failures.is_empty(),
        "{kind:?}: {} of {} racing helpers misbehaved:\n{}",
        failures.len(),
        RACE_ROUNDS * 100,
        failures.join("\n")
    );
}

#[test]
fn erase_racing_get_secret_service() {
    erase_racing_get(Backend::SecretService);
}

#[test]
fn erase_racing_get_kernel_keyring() {
    erase_racing_get(Backend::Keyutils);
}

// ---------------------------------------------------------------------------
// 9. Final sweep: no secret on stderr or in a file, private modes

fn secret_sweep(kind: Backend) {
    let rig = Rig::new(kind, "sweep");
    let env = &rig.env;
    let (a, b, c, d) = (rig.host("a"), rig.host("b"), rig.host("c"), rig.host("d"));
    let t = kind.tag();
    let s_store = format!("sweep-store-{t}-A1b2C3");
    let s_login = format!("sweep-login-{t}-D4e5F6");
    let s_robot = format!("sweep-robot-{t}-G7h8I9");
    let s_docker = format!("sweep-docker-{t}-J0k1L2");
    let s_again = format!("sweep-again-{t}-P6q7R8");
    use base64::Engine;
    // The same login in podman's file, as base64 `auth`: docker's (separate
    // fields) is moved, podman's is then a copy and goes too. (A different
    // login there would stay, with one line: configure never stores one
    // login over another; tests/suite/configure.rs covers that.)
    let podman_auth = base64::engine::general_purpose::STANDARD.encode(format!("duser:{s_docker}"));
    for s in [
        &s_store,
        &s_login,
        &s_robot,
        &s_docker,
        &s_again,
        &podman_auth,
    ] {
        env.watch_secret(s);
    }
    // Robot files hold the secret in plain text: outside the scanned Env.
    let files = tempfile::tempdir().unwrap();
    let robot = files.path().join("robot.json");
    std::fs::write(
        &robot,
        serde_json::json!({"name": "robot$sweep+ci", "secret": s_robot, "expires_at": now() + 3 * 86_400})
            .to_string(),
    )
    .unwrap();
    bin::set_mode(&robot, 0o600);
    // Plaintext for `configure` to move (the user's own files, 0600/0700).
    let docker_dir = env.home.join(".docker");
    std::fs::create_dir(&docker_dir).unwrap();
    bin::set_mode(&docker_dir, 0o700);
    let docker_cfg = docker_dir.join("config.json");
    std::fs::write(
        &docker_cfg,
        serde_json::json!({"auths": {&d: {"username": "duser", "password": s_docker}}}).to_string(),
    )
    .unwrap();
    bin::set_mode(&docker_cfg, 0o600);

    let mut outs: Vec<(Output, bool)> = Vec::new();
    let mut go = |out: Output, may_print_secret: bool| {
        outs.push((out.clone(), may_print_secret));
        out
    };
    go(store(env, &a, "jdoe", &s_store), false);
    let out = go(get(env, &a), true);
    assert_eq!(bin::parse_get(&out, &a), ("jdoe".into(), s_store.clone()));
    go(run(env, &["list"], b"unused\n"), false);
    let no_verify = ["--no-verify"];
    let login = Login::to(env, &b).user("jdoe@example.org", &s_login);
    go(login.args(&no_verify).ok(), false);
    let login = Login::to(env, &c).robot_file(&robot);
    go(login.args(&no_verify).ok(), false);
    // The robot expires within a week: get warns and writes a notice stamp.
    let out = go(get(env, &c), true);
    assert_eq!(
        bin::parse_get(&out, &c),
        ("robot$sweep+ci".into(), s_robot.clone())
    );
    assert_one_warning(&out, "expires", "robot expiry warning");
    let out = go(get(env, &b), true);
    assert_eq!(
        bin::parse_get(&out, &b),
        ("jdoe@example.org".into(), s_login.clone())
    );
    for args in [
        &["status"][..],
        &["status", "--json"][..],
        &["status", &c][..],
    ] {
        let out = go(run(env, args, b""), false);
        assert_eq!(out.code(), 0, "{out}");
    }
    // podman's auth.json with base64 `auth`, docker's with a plain password.
    let podman_cfg = env.config_home.join("containers/auth.json");
    std::fs::create_dir(podman_cfg.parent().unwrap()).unwrap();
    bin::set_mode(podman_cfg.parent().unwrap(), 0o700);
    std::fs::write(
        &podman_cfg,
        serde_json::json!({"auths": {&d: {"auth": podman_auth}}}).to_string(),
    )
    .unwrap();
    bin::set_mode(&podman_cfg, 0o600);
    let out = go(
        run(env, &["configure", "--registry", &d, "--no-verify"], b""),
        false,
    );
    assert_eq!(out.code(), 0, "{out}");
    let (files, _) = assert_private_modes(env, &docker_dir);
    assert!(
        files.contains(&env.index_dir().join("configure.json")),
        "configure's record was checked: {files:?}"
    );
    let (user, secret) = bin::parse_get(&go(get(env, &d), true), &d);
    assert_eq!(
        (user.as_str(), secret.as_str()),
        ("duser", s_docker.as_str()),
        "configure moved the plaintext secret into the keychain"
    );
    let out = go(run(env, &["logout", &b], b""), false);
    assert_eq!(out.code(), 0, "{out}");
    go(erase(env, &a), false).assert_silent_success();
    let out = go(
        run(env, &["configure", "--registry", &d, "--undo"], b""),
        false,
    );
    assert_eq!(out.code(), 0, "{out}");
    // With configure's registries.conf.d drop-in gone, a store of a registry
    // nobody configured is kept again (with it, such a store is refused).
    go(store(env, &a, "jdoe", &s_again), false);
    go(run(env, &["list"], b"unused\n"), false);

    // No secret on stderr (bin::run checks every run too), nor on stdout
    // outside `get`.
    let secrets = env.watched_secrets();
    for (out, may_print) in &outs {
        assert!(!out.stderr.contains("panicked"), "{out}");
        for s in &secrets {
            assert!(!out.stderr.contains(s), "secret on stderr\n{out}");
            if !may_print {
                assert!(!out.stdout.contains(s), "secret on stdout\n{out}");
            }
        }
    }
    env.assert_no_secret_in_files();

    let (checked_files, checked_dirs) = assert_private_modes(env, &docker_dir);
    let expect_files = [
        env.index_path(),
        env.index_dir().join("index.lock"),
        docker_dir.join("config.json.bak"),
        env.config_home.join("containers/auth.json.bak"),
    ];
    for f in &expect_files {
        assert!(
            checked_files.contains(f),
            "{} was checked: {checked_files:?}",
            f.display()
        );
    }
    let cache_dir = env.cache_home.join(NAME);
    assert!(
        checked_dirs.contains(&cache_dir) && checked_dirs.contains(&cache_dir.join("notices")),
        "the notice stamp's directories were checked: {checked_dirs:?}"
    );
    assert!(
        checked_files
            .iter()
            .any(|f| f.starts_with(cache_dir.join("notices"))),
        "a notice stamp was checked: {checked_files:?}"
    );
    assert!(
        checked_files
            .iter()
            .all(|f| !f.to_string_lossy().contains(".tmp.")),
        "temp files left: {checked_files:?}"
    );

    for k in [&a, &c, &d] {
        erase(env, k).assert_silent_success();
        assert!(!rig.has(k));
    }
    assert!(!rig.has(&b));
}

/// Every file under the Env's data, config and cache directories and `extra`
/// is 0600, every directory 0700 (gnome-keyring's own `keyrings` left out);
/// returns the files and directories checked.
fn assert_private_modes(env: &Env, extra: &Path) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
    let mut files = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    for root in [&env.data_home, &env.config_home, &env.cache_home, extra] {
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.starts_with(env.data_home.join("keyrings")) {
                    continue;
                }
                let mode = bin::mode_of(&p);
                if e.file_type().unwrap().is_dir() {
                    assert_eq!(mode, 0o700, "directory {} must be 0700", p.display());
                    dirs.insert(p.clone());
                    stack.push(p);
                } else {
                    assert_eq!(mode, 0o600, "file {} must be 0600", p.display());
                    files.insert(p);
                }
            }
        }
    }
    (files, dirs)
}

#[test]
fn secret_sweep_secret_service() {
    secret_sweep(Backend::SecretService);
}

#[test]
fn secret_sweep_kernel_keyring() {
    secret_sweep(Backend::Keyutils);
}
