//! The .deb and .rpm (issue 25) that `.ci/packages` makes from the release
//! archives: the .deb installed with the real `dpkg -i` into a clean Debian 12
//! root answers `version`, `man` and bash's TAB there, and `dpkg -r` takes
//! every file away again; the .rpm's file list, requirements and contents
//! checked with the real `rpm`, its static binary run in an empty root; each
//! with a sha256 file that `sha256sum -c` accepts; and the release workflow's
//! job that publishes them.
//!
//! The artifacts come from `$DCH_DIST_DIR` (common::dist), the Debian root
//! from `$DCH_DEBIAN_ROOT` (`.ci/run` builds both in the background); without
//! them this file builds them itself (minutes, debootstrap needs the
//! network). Needs root (chroot), dpkg and rpm.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use common::bin::{self, Env, NAME, VERSION};
use common::completion;
use common::dist::{DebianRoot, deb, dist_dir, elf_interpreter, rpm, sha256_file, unpack_binary};

const MUSL: &str = "x86_64-unknown-linux-musl";
const LIMIT: Duration = Duration::from_secs(300);

/// What both packages install, but for zsh's directory, which differs.
const FILES: &[&str] = &[
    "/usr/bin/docker-credential-harbor",
    "/usr/share/man/man1/docker-credential-harbor.1.gz",
    "/usr/share/bash-completion/completions/docker-credential-harbor",
    "/usr/share/fish/vendor_completions.d/docker-credential-harbor.fish",
    "/usr/share/doc/docker-credential-harbor/README.md",
    "/usr/share/doc/docker-credential-harbor/LICENSE-MIT",
    "/usr/share/doc/docker-credential-harbor/LICENSE-APACHE",
];
const DEB_ZSH: &str = "/usr/share/zsh/vendor-completions/_docker-credential-harbor";
const RPM_ZSH: &str = "/usr/share/zsh/site-functions/_docker-credential-harbor";

/// Run a program (bounded), with the inherited environment; `vars` added.
fn run(program: &str, args: &[&str], vars: &[(&str, &str)]) -> bin::Output {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    bin::run_bounded(program, args.iter().copied(), &env, b"", LIMIT)
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args, &[]);
    assert_eq!(out.code(), 0, "{program} {args:?}\n{out}");
    out.stdout
}

/// What bash in the root offers for `docker-credential-harbor WORD<TAB>`:
/// bash-completion's loader finds the script by the command's name in its
/// system directory, as an interactive shell does on the first TAB.
fn bash_offers(root: &DebianRoot, word: &str) -> Vec<String> {
    let load = format!(". /usr/share/bash-completion/bash_completion\n_completion_loader {NAME}");
    // The root's bash, from a file: no quoting of the driver through sh.
    std::fs::write(
        root.path().join("tmp/complete.sh"),
        completion::bash_driver(&load, word),
    )
    .unwrap();
    completion::offers(&root.sh_ok("bash --norc --noprofile /tmp/complete.sh"))
}

#[test]
fn deb_installs_into_a_clean_debian_root_and_answers_version_man_and_tab() {
    let deb = deb();
    let root = DebianRoot::copy();
    std::fs::copy(&deb, root.path().join("tmp/pkg.deb")).unwrap();
    // Nothing of ours is there before.
    // (dash, the root's sh, says 127 for a command it cannot find.)
    assert_eq!(root.sh(&format!("command -v {NAME}")).code(), 127);

    root.sh_ok("dpkg -i /tmp/pkg.deb");
    let listed: BTreeSet<String> = root
        .sh_ok(&format!("dpkg -L {NAME}"))
        .lines()
        .map(str::to_string)
        .collect();
    for f in FILES.iter().chain([&DEB_ZSH]) {
        assert!(listed.contains(*f), "dpkg -L lists {f}: {listed:?}");
    }
    // Debian's own copyright file, beside the licence texts.
    assert!(listed.contains("/usr/share/doc/docker-credential-harbor/copyright"));

    // The installed binary is the archive's, found on a login's PATH.
    let unpacked = tempfile::tempdir().unwrap();
    assert_eq!(
        sha256_file(&root.path().join("usr/bin").join(NAME)),
        sha256_file(&unpack_binary(MUSL, unpacked.path())),
        "the .deb carries the static archive's binary"
    );
    assert_eq!(
        root.sh_ok(&format!("{NAME} version")),
        format!("{NAME} ({NAME}) {VERSION}\n")
    );

    // man finds the page in the system directory and renders it.
    assert_eq!(
        root.sh_ok(&format!("man -w {NAME}")).trim(),
        format!("/usr/share/man/man1/{NAME}.1.gz")
    );
    let page = root.sh_ok(&format!("MANPAGER=cat MANWIDTH=80 man {NAME}"));
    let name_section = page.split("NAME").nth(1).unwrap_or_default();
    assert!(
        name_section.trim_start().starts_with(NAME),
        "the rendered page's NAME section names the command:\n{page}"
    );
    assert!(page.contains("configure"), "{page}");

    // TAB completes from the system directory.
    assert_eq!(bash_offers(&root, "logi"), ["login"]);
    assert_eq!(bash_offers(&root, "lo"), ["login", "logout"]);

    // Removal takes every file away and the completion with it.
    root.sh_ok(&format!("dpkg -r {NAME}"));
    for f in FILES.iter().chain([&DEB_ZSH]) {
        let left = root.path().join(f.trim_start_matches('/'));
        // dpkg -r keeps nothing of ours: no conffiles, so no purge needed.
        assert!(!left.exists(), "{} left after dpkg -r", left.display());
    }
    let out = root.sh(&format!("command -v {NAME}"));
    assert_eq!(out.code(), 127, "{out}");
}

#[test]
fn deb_metadata_names_the_package_and_its_licence_and_depends_on_nothing() {
    let deb = deb();
    let field = |f: &str| {
        ok("dpkg-deb", &["-f", deb.to_str().unwrap(), f])
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), NAME);
    assert_eq!(field("Version"), format!("{VERSION}-1"));
    assert_eq!(field("Architecture"), "amd64");
    // The static build needs no shared library: it depends on nothing.
    let depends = field("Depends");
    assert_eq!(depends, "", "Depends: {depends}");
    let copyright = {
        let dir = tempfile::tempdir().unwrap();
        ok(
            "dpkg-deb",
            &["-x", deb.to_str().unwrap(), dir.path().to_str().unwrap()],
        );
        std::fs::read_to_string(
            dir.path()
                .join("usr/share/doc")
                .join(NAME)
                .join("copyright"),
        )
        .unwrap()
    };
    assert!(
        copyright.contains("License: MIT OR Apache-2.0"),
        "{copyright}"
    );
}

#[test]
fn rpm_lists_every_file_and_carries_the_static_binary() {
    let rpm = rpm();
    let rpm = rpm.to_str().unwrap();
    let listed: BTreeSet<String> = ok("rpm", &["-qlp", rpm])
        .lines()
        .map(str::to_string)
        .collect();
    let want: BTreeSet<String> = FILES
        .iter()
        .chain([&RPM_ZSH])
        .map(|f| f.to_string())
        .collect();
    assert_eq!(listed, want, "rpm -qlp");

    let info = ok(
        "rpm",
        &[
            "-qp",
            "--qf",
            "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}",
            rpm,
        ],
    );
    assert_eq!(info, format!("{NAME} {VERSION} 1 x86_64 MIT OR Apache-2.0"));
    // gzip, which every RHEL 8 and 9 rpm reads (not zstd).
    assert_eq!(
        ok("rpm", &["-qp", "--qf", "%{PAYLOADCOMPRESSOR}", rpm]),
        "gzip"
    );
    let modes = ok(
        "rpm",
        &["-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]", rpm],
    );
    assert!(
        modes.contains(&format!("-rwxr-xr-x /usr/bin/{NAME}\n")),
        "{modes}"
    );
    // A static binary needs nothing: no libc.so.6 to match on RHEL 8's
    // glibc 2.28 or 9's 2.34, no loader, no shell; only rpm's own features.
    let requires = ok("rpm", &["-qpR", rpm]);
    for r in requires.lines() {
        assert!(
            r.starts_with("rpmlib("),
            "requires nothing but rpmlib: {requires}"
        );
    }

    // Installed with rpm into an empty root: the archive's static binary,
    // which runs there with nothing else beside it.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let root_s = root.to_str().unwrap();
    ok("rpm", &["--root", root_s, "--initdb"]);
    let out = run(
        "rpm",
        &["--root", root_s, "-i", "--nodeps", "--force-debian", rpm],
        &[],
    );
    assert_eq!(out.code(), 0, "rpm -i\n{out}");
    let installed = root.join("usr/bin").join(NAME);
    let bytes = std::fs::read(&installed).unwrap();
    assert_eq!(elf_interpreter(&bytes), None, "static: no dynamic loader");
    let unpacked = tempfile::tempdir().unwrap();
    assert_eq!(
        sha256_file(&installed),
        sha256_file(&unpack_binary(MUSL, unpacked.path())),
        "the .rpm carries the static archive's binary"
    );
    let version = bin::run_bounded(
        "chroot",
        [root_s, &format!("/usr/bin/{NAME}"), "version"],
        &BTreeMap::new(),
        b"",
        LIMIT,
    );
    assert_eq!(version.code(), 0, "{version}");
    assert_eq!(version.stdout, format!("{NAME} ({NAME}) {VERSION}\n"));

    // The page and completions are the binary's own output.
    let env = Env::new();
    let page = ok(
        "zcat",
        &[root
            .join("usr/share/man/man1")
            .join(format!("{NAME}.1.gz"))
            .to_str()
            .unwrap()],
    );
    assert_eq!(page, bin::run(&env, &["man"], b"").stdout);
    let bash = std::fs::read_to_string(
        root.join("usr/share/bash-completion/completions")
            .join(NAME),
    )
    .unwrap();
    assert_eq!(bash, bin::run(&env, &["completions", "bash"], b"").stdout);
}

#[test]
fn each_package_has_a_sha256_that_sha256sum_accepts() {
    for pkg in [deb(), rpm()] {
        let name = pkg.file_name().unwrap().to_str().unwrap().to_string();
        let sum_file = dist_dir().join(format!("{name}.sha256"));
        let listed = std::fs::read_to_string(&sum_file)
            .unwrap_or_else(|e| panic!("{}: {e}", sum_file.display()));
        assert_eq!(
            listed,
            format!("{} *{name}\n", sha256_file(&pkg)),
            "dist's form, as the archives' .sha256"
        );
        let out = Command::new("sha256sum")
            .args(["-c", sum_file.file_name().unwrap().to_str().unwrap()])
            .current_dir(dist_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{name}: OK\n")
        );
    }
}

/// The release workflow publishes both: dist's plan calls the packages job
/// (dist-workspace.toml; tests/suite/release.rs checks the generated workflow with
/// `dist generate --check`), and that job runs `.ci/packages` on the
/// archives the build jobs made and uploads the packages and their sums as
/// an `artifacts-*` artifact, which the host job attaches to the release.
#[test]
fn the_release_workflow_publishes_both_packages_with_their_sums() {
    let read = |p: &str| std::fs::read_to_string(bin::repo().join(p)).unwrap();
    let dist_config = read("dist-workspace.toml");
    assert!(
        dist_config.contains(r#"global-artifacts-jobs = ["./packages"]"#),
        "{dist_config}"
    );
    let release = read(".github/workflows/release.yml");
    assert!(
        release.contains("uses: ./.github/workflows/packages.yml"),
        "release.yml calls it"
    );
    let job = read(".github/workflows/packages.yml");
    for line in [
        "pattern: artifacts-build-local-*",
        "run: bash .ci/packages target/distrib",
        "name: artifacts-packages",
        "target/distrib/*.deb",
        "target/distrib/*.rpm",
        "target/distrib/*.deb.sha256",
        "target/distrib/*.rpm.sha256",
    ] {
        assert!(job.contains(line), "packages.yml has {line:?}:\n{job}");
    }
    // The job installs what .ci/packages needs and nothing is pinned twice.
    assert!(
        !job.contains("cargo-deb@"),
        "pins live in .ci/packages only"
    );
}
