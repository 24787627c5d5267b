//! The release artifacts `.ci/release` builds into `distrib` in cargo's
//! build directory ([`build_dir`])
//! (archives, installers, checksums, the .deb and .rpm), shared by
//! tests/suite/release.rs and tests/suite/packages.rs, and the digests and ELF facts
//! both check them with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::bin::{self, NAME};

/// Where the release artifacts are: `$DCH_DIST_DIR` (`.ci/run` builds them
/// once, in the background), else `.ci/release` runs now (minutes: the
/// source may have changed since the last build).
pub fn dist_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| made_by(".ci/release", "DCH_DIST_DIR", "distrib", false))
}

/// Cargo's build directory for the checkout, as the `.ci` scripts find it
/// (`.ci/target-dir`: `$CARGO_TARGET_DIR`, `build.target-dir`, else
/// `./target`): where they write, so where the tests look.
fn build_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = bin::repo().join(".ci/target-dir");
        let out = bin::run_bounded(
            "bash",
            [script.to_str().unwrap()],
            &std::env::vars().collect(),
            b"",
            bin::RUN_LIMIT,
        );
        assert!(out.success(), ".ci/target-dir failed\n{out}");
        PathBuf::from(out.stdout.trim_end())
    })
}

/// `dir` (in the build directory) as `script DIR` makes it, with a `.status`
/// that says "ok" when it is complete. `$var` names one `.ci/run` is making
/// in the background: wait (bounded) for it. Else the script runs now, unless `reuse` and an
/// earlier run completed.
fn made_by(script: &str, var: &str, dir: &str, reuse: bool) -> PathBuf {
    let name = script.trim_start_matches(".ci/");
    let (dir, background) = match std::env::var(var) {
        Ok(d) if !d.is_empty() => (PathBuf::from(d), true),
        _ => (build_dir().join(dir), false),
    };
    let status = dir.join(".status");
    let done = || std::fs::read_to_string(&status).ok();
    let reusable = reuse && done().is_some_and(|s| s.trim() == "ok");
    if !background && !reusable {
        let out = bin::run_bounded(
            "bash",
            [
                bin::repo().join(script).to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
            &std::env::vars().collect(),
            b"",
            Duration::from_secs(3600),
        );
        assert_eq!(out.code(), 0, "{script} failed\n{out}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(3600);
    let text = loop {
        if let Some(t) = done() {
            break t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} did not appear within an hour",
            status.display()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    let log = build_dir().join(format!("{name}.log"));
    assert_eq!(
        text.trim(),
        "ok",
        "{script} failed:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    dir
}

/// A file of the release, which must be there.
pub fn artifact(file: &str) -> PathBuf {
    let p = dist_dir().join(file);
    assert!(p.is_file(), "no {} (run .ci/release)", p.display());
    p
}

/// A target's archive.
pub fn archive(target: &str) -> PathBuf {
    artifact(&format!("{NAME}-{target}.tar.xz"))
}

/// The one file of the release whose name ends so.
fn the_one(suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dist_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {suffix} in {}: {found:?}",
        dist_dir().display()
    );
    found.into_iter().next().unwrap()
}

/// The .deb (`.ci/packages`).
pub fn deb() -> PathBuf {
    the_one("_amd64.deb")
}

/// The .rpm (`.ci/packages`).
pub fn rpm() -> PathBuf {
    the_one(".x86_64.rpm")
}

/// The binary inside a target's archive, unpacked into `dir`.
pub fn unpack_binary(target: &str, dir: &Path) -> PathBuf {
    let out = std::process::Command::new("tar")
        .arg("-xJf")
        .arg(archive(target))
        .arg("-C")
        .arg(dir)
        .output()
        .expect("run tar");
    assert!(out.status.success(), "tar: {out:?}");
    let bin = dir.join(format!("{NAME}-{target}")).join(NAME);
    assert!(bin.is_file(), "{} is in the archive", bin.display());
    bin
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn sha256_file(p: &Path) -> String {
    sha256_hex(&std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())))
}

/// `e_type` of an executable linked at a fixed address (a PIE is `ET_DYN`, 3).
pub const ET_EXEC: u16 = 2;

/// An ELF file's `e_type`.
pub fn elf_type(bytes: &[u8]) -> u16 {
    assert_eq!(&bytes[..4], b"\x7fELF", "an ELF file");
    u16::from_le_bytes([bytes[16], bytes[17]])
}

/// The ELF program interpreter (the dynamic loader) a binary asks for, if
/// any: none means a static binary.
pub fn elf_interpreter(bytes: &[u8]) -> Option<String> {
    assert_eq!(&bytes[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).find_map(|i| {
        let ph = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(bytes[ph..ph + 4].try_into().unwrap());
        (p_type == 3).then(|| {
            let (off, len) = (u64_at(ph + 8), u64_at(ph + 32));
            String::from_utf8_lossy(&bytes[off..off + len])
                .trim_end_matches('\0')
                .to_string()
        })
    })
}

/// A clean Debian 12 root (`.ci/debian-root`), made once and reused: it
/// does not depend on the source. Each test works in its own copy
/// ([`DebianRoot`]), so this one never sees a package.
fn debian_root() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| made_by(".ci/debian-root", "DCH_DEBIAN_ROOT", "debian-root", true))
}

/// A copy of the clean root, removed when dropped.
pub struct DebianRoot(tempfile::TempDir);

impl DebianRoot {
    /// A fresh copy of the clean root.
    pub fn copy() -> DebianRoot {
        let parent = build_dir().join("tmp");
        std::fs::create_dir_all(&parent).unwrap();
        let tmp = tempfile::tempdir_in(parent).unwrap();
        let copy = tmp.path().join("root");
        let out = std::process::Command::new("cp")
            .arg("-a")
            .arg(debian_root())
            .arg(&copy)
            .output()
            .expect("run cp");
        assert!(out.status.success(), "cp -a: {out:?}");
        DebianRoot(tmp)
    }

    pub fn path(&self) -> PathBuf {
        self.0.path().join("root")
    }

    /// `cmd` in the root, as root, with a login's minimal environment.
    pub fn sh(&self, cmd: &str) -> bin::Output {
        let root = self.path();
        bin::run_bounded(
            "chroot",
            [root.to_str().unwrap(), "/bin/sh", "-c", cmd],
            &BTreeMap::from([
                ("HOME".to_string(), "/root".to_string()),
                ("LANG".to_string(), "C.UTF-8".to_string()),
                (
                    "PATH".to_string(),
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
                ),
            ]),
            b"",
            Duration::from_secs(300),
        )
    }

    pub fn sh_ok(&self, cmd: &str) -> String {
        let out = self.sh(cmd);
        assert_eq!(out.code(), 0, "{cmd}\n{out}");
        out.stdout
    }
}
