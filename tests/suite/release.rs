//! The release as cargo-dist makes it (`dist-workspace.toml`, the generated
//! `.github/workflows/release.yml`), tested as far as Linux allows: the config
//! matches the workflow and plans every target; the Linux archive (the static
//! musl build, non-PIE: issue 34), installers, Homebrew formula and checksums that `.ci/release`
//! builds; the README's shell-installer line run against a loopback HTTPS
//! server into a fresh HOME without cargo, then `configure`, `login` and a real
//! `docker pull`; a tampered archive refused; the static binary chosen on
//! every Linux, whatever its C library, and run in an empty root.
//!
//! The artifacts come from `$DCH_DIST_DIR` (`.ci/run` builds them once with
//! `.ci/release`); without it this file runs `.ci/release` itself (minutes).
//! Needs `dist` on PATH, root (chroot) and its own session keyring:
//! `keyctl session - cargo test --test suite release::`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::bin::{self, Env, NAME, Output};
use common::dist::{
    ET_EXEC, archive, dist_dir, elf_interpreter, elf_type, sha256_file, unpack_binary,
};
use common::docker::{self, Dockerd, assert_ok, skopeo};
use common::harbor::Account;
use common::keychain::{self, KeyutilsCleanup};
use common::oci::make_oci_layout_with_digest;
use common::registry::{Harbor, openssl};

const MUSL: &str = "x86_64-unknown-linux-musl";
/// The x86_64 Linux archives the release has: the static build alone.
const LINUX_ARCHIVES: &[&str] = &[MUSL];
/// Every target the release builds (issue 18), and where each is built.
const TARGETS: &[(&str, &str)] = &[
    ("x86_64-unknown-linux-musl", "ubuntu-"),
    ("aarch64-unknown-linux-musl", "ubuntu-"),
    ("x86_64-apple-darwin", "macos-"),
    ("aarch64-apple-darwin", "macos-"),
    ("x86_64-pc-windows-msvc", "windows-"),
];
const USER: &str = "jdoe@ucar.edu";
const SECRET: &str = "cli-secret-release-7e2b9c41d0";
/// A user's PATH on a machine without Rust: the system's directories only,
/// with no helper installed on the machine.
fn system_path() -> String {
    bin::without_helper("/usr/bin:/bin")
}
const INSTALL_LIMIT: Duration = Duration::from_secs(180);

/// The one place the project's home is named: Cargo.toml's `repository`.
fn repository() -> String {
    let toml = std::fs::read_to_string(bin::repo().join("Cargo.toml")).unwrap();
    let line = toml
        .lines()
        .find_map(|l| l.strip_prefix("repository = "))
        .expect("Cargo.toml names a repository");
    line.trim_matches('"').to_string()
}

/// The README's release-install line for Linux and macOS.
fn readme_install_line() -> String {
    let readme = common::docs::page("README.md");
    let want = format!(
        "curl --proto '=https' --tlsv1.2 -LsSf {}/releases/latest/download/{NAME}-installer.sh | sh",
        repository()
    );
    assert!(
        readme.lines().any(|l| l.trim() == want),
        "README.md gives the installer line {want:?}"
    );
    want
}

// ---------------------------------------------------------------------------
// A loopback HTTPS server for the release directory

/// `python3 -m http.server`'s handler behind TLS on 127.0.0.1, with a
/// throw-away self-signed certificate that curl is told to trust
/// (`CURL_CA_BUNDLE`), so the README's `--proto '=https'` line runs as given.
struct Serve {
    child: Child,
    url: String,
    ca: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

const SERVER: &str = r#"
import functools, http.server, ssl, sys
root, cert, key = sys.argv[1:4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl Serve {
    fn start(root: &Path) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]);
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(root)
            .arg(&cert)
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run python3 (the loopback server)");
        let requests = Arc::new(Mutex::new(Vec::new()));
        // The request log: `127.0.0.1 - - [date] "GET /path HTTP/1.1" 200 -`.
        let log = requests.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let port = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(Ok(p))) => p.trim().parse::<u16>().expect("a port"),
            other => {
                let _ = child.kill();
                panic!(
                    "the loopback server did not start: {other:?}\n{:?}",
                    requests.lock().unwrap()
                );
            }
        };
        Serve {
            child,
            url: format!("https://127.0.0.1:{port}"),
            ca: cert,
            requests,
            _dir: dir,
        }
    }

    /// Paths fetched with status 200, in order.
    fn fetched(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| {
                let req = l.split('"').nth(1)?;
                let status = l.split('"').nth(2)?.split_whitespace().next()?;
                (status == "200").then(|| req.split_whitespace().nth(1).unwrap_or("").to_string())
            })
            .collect()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The README's installer line, from `serve` instead of the release page,
/// as a user whose HOME is `home` and whose PATH is `path`.
fn run_installer(serve: &Serve, home: &Path, path: &str) -> Output {
    run_installer_with(serve, home, path, &[])
}

fn run_installer_with(serve: &Serve, home: &Path, path: &str, extra: &[(&str, &str)]) -> Output {
    let line = readme_install_line().replace(
        &format!("{}/releases/latest/download", repository()),
        &serve.url,
    );
    let mut vars = BTreeMap::new();
    vars.insert("HOME".to_string(), home.display().to_string());
    vars.insert("PATH".to_string(), path.to_string());
    vars.insert("LANG".to_string(), "C.UTF-8".to_string());
    vars.insert("CURL_CA_BUNDLE".to_string(), serve.ca.display().to_string());
    // The installer's documented override of where the archives come from.
    vars.insert(
        "DOCKER_CREDENTIAL_HARBOR_DOWNLOAD_URL".to_string(),
        serve.url.clone(),
    );
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    bin::run_bounded("/bin/sh", ["-c", line.as_str()], &vars, b"", INSTALL_LIMIT)
}

/// `SUM -c --ignore-missing sha256.sum` in `dir`, as the README says.
fn check_sums(dir: &Path, sum: &[&str]) -> std::process::Output {
    Command::new(sum[0])
        .args(&sum[1..])
        .args(["-c", "--ignore-missing", "sha256.sum"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {sum:?}: {e}"))
}

fn assert_no_rust(path: &str) {
    for dir in path.split(':') {
        for tool in ["cargo", "rustc", "rustup"] {
            assert!(
                !Path::new(dir).join(tool).exists(),
                "{tool} in {dir}: the user must not have Rust"
            );
        }
    }
}

fn installed(home: &Path) -> PathBuf {
    home.join(".local/bin").join(NAME)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if dir.exists() {
        bin::walk(dir, &mut out);
    }
    out
}

// ---------------------------------------------------------------------------
// The config, the workflow and the plan

#[test]
fn dist_config_matches_the_workflow_and_plans_every_target() {
    let run = |args: &[&str]| {
        let out = Command::new("dist")
            .args(args)
            .current_dir(bin::repo())
            .output()
            .expect(
                "run `dist` (pip package astral-dev-toolchain-cargo-dist; .ci/run installs it)",
            );
        assert!(
            out.status.success(),
            "dist {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // The committed release.yml is what the config generates.
    run(&["generate", "--check"]);

    let plan: serde_json::Value =
        serde_json::from_str(&run(&["plan", "--output-format=json"])).unwrap();
    let artifacts = plan["artifacts"].as_object().unwrap();
    let matrix = plan["ci"]["github"]["artifacts_matrix"]["include"]
        .as_array()
        .unwrap();
    for (target, runner) in TARGETS {
        let ext = if target.contains("windows") {
            "zip"
        } else {
            "tar.xz"
        };
        let name = format!("{NAME}-{target}.{ext}");
        assert!(artifacts.contains_key(&name), "plan has {name}");
        assert!(
            artifacts.contains_key(&format!("{name}.sha256")),
            "plan has {name}.sha256"
        );
        let job = matrix
            .iter()
            .find(|j| j["targets"].as_array().unwrap().iter().any(|t| t == target))
            .unwrap_or_else(|| panic!("the workflow builds {target}"));
        assert!(
            job["runner"].as_str().unwrap().starts_with(runner),
            "{target} is built on a {runner}* runner: {job}"
        );
    }
    for name in [
        format!("{NAME}-installer.sh"),
        format!("{NAME}-installer.ps1"),
        format!("{NAME}.rb"),
        "sha256.sum".to_string(),
    ] {
        assert!(artifacts.contains_key(&name), "plan has {name}");
    }
    // No self-updater, and nothing else beyond these.
    assert!(
        !artifacts.keys().any(|k| k.contains("update")),
        "no updater: {:?}",
        artifacts.keys()
    );
    assert_eq!(
        artifacts.len(),
        TARGETS.len() * 2 + 4 + 2,
        "5 archives and their sums, 2 installers, the formula, sha256.sum, the source tarball and its sum: {:?}",
        artifacts.keys()
    );

    // Linux is the static build only: no glibc archive to pick by mistake.
    assert!(
        !artifacts.keys().any(|k| k.contains("linux-gnu")),
        "no glibc build: {:?}",
        artifacts.keys()
    );
    // The formula is an artifact only: no tap, so no publish job.
    let workflow =
        std::fs::read_to_string(bin::repo().join(".github/workflows/release.yml")).unwrap();
    assert!(!workflow.contains("homebrew"), "no Homebrew publishing");
    // The static Linux builds are linked non-PIE on the runners too: dist's
    // own RUSTFLAGS hide .cargo/config.toml's (.github/build-setup.yml).
    assert!(
        workflow
            .contains("echo \\\"RUSTFLAGS=-C relocation-model=static\\\" >> \\\"$GITHUB_ENV\\\"")
            && workflow.contains("contains(join(matrix.targets, ','), 'linux-musl')"),
        "the build jobs set the non-PIE link for musl only"
    );
    assert!(
        workflow.contains("dist host"),
        "the workflow publishes a release"
    );
}

// ---------------------------------------------------------------------------
// What .ci/release built

#[test]
fn archives_checksums_installers_and_formula_agree() {
    let dir = dist_dir();
    let sums = std::fs::read_to_string(dir.join("sha256.sum")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let base = format!("{}/releases/download/v{version}", repository());
    let formula = std::fs::read_to_string(dir.join(format!("{NAME}.rb"))).unwrap();
    let installer = std::fs::read_to_string(dir.join(format!("{NAME}-installer.sh"))).unwrap();
    let unpacked = tempfile::tempdir().unwrap();
    for &target in LINUX_ARCHIVES {
        let file = archive(target);
        let name = file.file_name().unwrap().to_str().unwrap();
        let sum = sha256_file(&file);
        // `sha256sum -c sha256.sum` format, and one .sha256 per archive.
        assert!(
            sums.lines().any(|l| l == format!("{sum} *{name}")),
            "sha256.sum lists {name} as {sum}:\n{sums}"
        );
        let single = std::fs::read_to_string(dir.join(format!("{name}.sha256"))).unwrap();
        assert_eq!(single.split_whitespace().next(), Some(sum.as_str()));
        // The installer pins the same sum; so does the formula on Linux.
        assert!(installer.contains(&sum), "installer.sh pins {name}");
        assert!(
            formula.contains(&format!("url \"{base}/{name}\"\n      sha256 \"{sum}\"")),
            "the formula fetches {name} from {base} and checks {sum}:\n{formula}"
        );
        let bin = std::fs::read(unpack_binary(target, unpacked.path())).unwrap();
        assert_eq!(
            elf_interpreter(&bin),
            None,
            "the musl binary is static (no loader)"
        );
        // Linked at a fixed address (.cargo/config.toml): a static PIE
        // would relocate itself at every start (issue 34).
        assert_eq!(elf_type(&bin), ET_EXEC, "the musl binary is not a PIE");
    }
    // The README's checks by hand, on Linux and (shasum) macOS.
    for sum in [&["sha256sum"][..], &["shasum", "-a", "256"]] {
        let out = check_sums(dir, sum);
        assert!(out.status.success(), "{sum:?} -c: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        for &target in LINUX_ARCHIVES {
            assert!(
                text.contains(&format!("{NAME}-{target}.tar.xz: OK")),
                "{text}"
            );
        }
    }
    for mac in ["aarch64-apple-darwin", "x86_64-apple-darwin"] {
        assert!(
            formula.contains(&format!("url \"{base}/{NAME}-{mac}.tar.xz\"")),
            "the formula has the {mac} archive"
        );
    }
    assert!(
        formula.contains(&format!("bin.install \"{NAME}\"")),
        "{formula}"
    );
    assert!(
        installer.contains(&base),
        "installer.sh downloads from {base} by default"
    );
    // No glibc build to choose: every Linux machine gets the static one
    // (installer_takes_the_static_binary_on_every_linux runs it).
    assert!(!installer.contains("linux-gnu.tar.xz"), "no glibc archive");
    // Installs into ~/.local/bin, as install.sh does.
    assert!(installer.contains("$HOME/.local/bin"), "install path");
    let ps1 = std::fs::read_to_string(dir.join(format!("{NAME}-installer.ps1"))).unwrap();
    assert!(ps1.contains(&format!("{NAME}-x86_64-pc-windows-msvc.zip")));
    assert!(
        ps1.contains(".local\\bin") || ps1.contains(".local/bin"),
        "ps1 install path"
    );
}

// ---------------------------------------------------------------------------
// The README's install line, then configure, login and docker pull (Done when)

#[test]
fn release_install_then_configure_login_and_docker_pull() {
    keychain::require_own_session_keyring();
    let serve = Serve::start(dist_dir());
    // A new user: a fresh HOME, no D-Bus (so the kernel keyring), no Rust.
    let env = Env::new();
    assert_no_rust(&system_path());
    let out = run_installer(&serve, &env.home, &system_path());
    assert_eq!(out.code(), 0, "the installer\n{out}");
    let bin_path = installed(&env.home);
    assert_eq!(bin::mode_of(&bin_path) & 0o111, 0o111, "executable");
    // The static build, on this glibc machine too, checked and unpacked.
    let fetched = serve.fetched();
    assert!(
        fetched.contains(&format!("/{NAME}-{MUSL}.tar.xz")),
        "fetched the static archive: {fetched:?}"
    );
    let unpacked = tempfile::tempdir().unwrap();
    assert_eq!(
        sha256_file(&bin_path),
        sha256_file(&unpack_binary(MUSL, unpacked.path())),
        "the installed binary is the archive's"
    );
    assert!(
        !env.home.join(format!(".local/bin/{NAME}-update")).exists(),
        "no updater installed"
    );

    // A new login shell finds it: the installer put ~/.local/bin on PATH.
    let shell = |cmd: &str, stdin: &[u8]| -> Output {
        let mut vars = env.vars().clone();
        vars.insert("PATH".into(), system_path());
        let script = format!(". \"$HOME/.profile\" && {cmd}");
        bin::run_bounded(
            "/bin/sh",
            ["-c", script.as_str()],
            &vars,
            stdin,
            INSTALL_LIMIT,
        )
    };
    let out = shell(&format!("command -v {NAME} && {NAME} version"), b"");
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.starts_with(&format!("{}\n", bin_path.display())),
        "{out}"
    );
    assert!(out.stdout.contains(&format!("{NAME} ({NAME}) ")), "{out}");

    // The Harbor stand-in and its registry.
    let Harbor { registry, standin } = Harbor::start(vec![Account::user(USER, SECRET)]);
    let addr = registry.addr();
    let cleanup = KeyutilsCleanup::default();
    cleanup.add(&addr);

    // The one configure command (for this registry instead of hub.k8s.ucar.edu).
    let out = shell(&format!("{NAME} configure --registry {addr}"), b"");
    assert_eq!(out.code(), 0, "configure\n{out}");
    for file in [docker::docker_config_file(&env), docker::auth_file(&env)] {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(v["credHelpers"][&addr], "harbor", "{}", file.display());
    }

    // Log in; docker already uses the helper, so login does not say otherwise.
    env.watch_secret(SECRET);
    let out = shell(
        &format!("{NAME} login {} -u {USER} --password-stdin", registry.url()),
        format!("{SECRET}\n").as_bytes(),
    );
    assert_eq!(out.code(), 0, "login\n{out}");
    assert!(!out.stderr.contains("does not use this helper"), "{out}");
    assert!(!out.stderr.contains(SECRET) && !out.stdout.contains(SECRET));
    assert!(
        keychain::keyutils_has(&addr),
        "the secret is in the kernel keyring"
    );

    // The clients run the installed binary, not the one cargo built: the
    // rig's helper directory points at it before anything else creates it.
    let helper_dir = env.root().join("helper-bin");
    std::fs::create_dir_all(&helper_dir).unwrap();
    std::os::unix::fs::symlink(&bin_path, helper_dir.join(NAME)).unwrap();
    assert_eq!(docker::helper_dir(&env), helper_dir);
    assert_eq!(std::fs::read_link(helper_dir.join(NAME)).unwrap(), bin_path);

    // An image in the registry (skopeo pushes through the helper), then the pull.
    let layout = env.root().join("layout");
    make_oci_layout_with_digest(&layout, "v1");
    let image = format!("{addr}/proj/release:v1");
    let out = skopeo(
        &env,
        &[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{image}"),
        ],
    );
    assert_ok(&out, "skopeo copy to the registry");
    standin.clear_token_log();
    let dockerd = Dockerd::shared();
    let out = dockerd.docker(&env, &["pull", &image]);
    assert_ok(&out, "docker pull");
    assert_ok(
        &dockerd.docker(&env, &["image", "inspect", &image]),
        "the image is there",
    );
    let pulls = standin
        .token_log()
        .iter()
        .filter(|e| e.account.as_deref() == Some(USER) && e.status == 200)
        .filter(|e| {
            e.scopes
                .iter()
                .any(|s| s.contains("proj/release") && s.contains("pull"))
        })
        .count();
    assert!(
        pulls >= 1,
        "docker pulled as {USER}: {:?}",
        standin.token_log()
    );
    env.assert_no_secret_in_files();
}

/// The shell installer carries a sha256 for every archive it can install,
/// the one the release lists: without them it would print "no checksums to
/// verify" and install whatever it downloaded.
#[test]
fn the_installer_embeds_the_sha256_of_every_archive() {
    let installer =
        std::fs::read_to_string(dist_dir().join(format!("{NAME}-installer.sh"))).unwrap();
    for &target in LINUX_ARCHIVES {
        let archive = format!("{NAME}-{target}.tar.xz");
        let listed = std::fs::read_to_string(dist_dir().join(format!("{archive}.sha256"))).unwrap();
        let sum = listed.split_whitespace().next().unwrap();
        assert_eq!(sum.len(), 64, "{listed}");
        // The archive's own case of the installer's table, with its sum.
        let case = installer
            .split(&format!("\"{archive}\")"))
            .nth(1)
            .unwrap_or_else(|| panic!("the installer has a case for {archive}"));
        let case = &case[..case.find(";;").unwrap()];
        assert!(
            case.contains("_checksum_style=\"sha256\""),
            "{archive}: {case}"
        );
        assert!(
            case.contains(&format!("_checksum_value=\"{sum}\"")),
            "{archive}: the installer's sum is the listed one\n{case}"
        );
    }
}

/// A valid archive with other contents (not one that merely fails to
/// decompress): the installer's checksum comparison itself refuses it, and
/// nothing is installed.
#[test]
fn tampered_archive_is_refused_and_nothing_is_installed() {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dist_dir()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, copy.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    // Unpack the archive this machine gets, change the binary, pack it again.
    let archive = format!("{NAME}-{MUSL}.tar.xz");
    let work = tempfile::tempdir().unwrap();
    let tar = |args: &[&str], dir: &Path| {
        let out = Command::new("tar")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tar {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    tar(
        &["-xJf", copy.path().join(&archive).to_str().unwrap()],
        work.path(),
    );
    let inner = format!("{NAME}-{MUSL}");
    let bin = work.path().join(&inner).join(NAME);
    let mut bytes = std::fs::read(&bin).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&bin, &bytes).unwrap();
    tar(
        &["-cJf", copy.path().join(&archive).to_str().unwrap(), &inner],
        work.path(),
    );
    // Still a valid archive.
    tar(
        &["-tJf", copy.path().join(&archive).to_str().unwrap()],
        work.path(),
    );
    let listed = std::fs::read_to_string(copy.path().join(format!("{archive}.sha256"))).unwrap();
    let want = listed.split_whitespace().next().unwrap().to_string();

    // The README's check by hand catches it too.
    for sum in [&["sha256sum"][..], &["shasum", "-a", "256"]] {
        let out = check_sums(copy.path(), sum);
        assert!(
            !out.status.success(),
            "{sum:?} -c refuses the tampered archive"
        );
    }

    let serve = Serve::start(copy.path());
    let home = tempfile::tempdir().unwrap();
    let out = run_installer(&serve, home.path(), &system_path());
    assert_eq!(out.code(), 1, "a tampered archive is refused\n{out}");
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("checksum mismatch") && text.contains(&format!("want: {want}")),
        "the checksum comparison refused it\n{out}"
    );
    assert!(!text.contains("no checksums to verify"), "{out}");
    assert!(
        serve.fetched().contains(&format!("/{archive}")),
        "it did download the archive: {:?}",
        serve.fetched()
    );
    assert_eq!(
        files_under(home.path()),
        Vec::<PathBuf>::new(),
        "nothing installed, no shell profile touched"
    );
}

#[test]
fn unmanaged_install_goes_to_the_named_dir_and_touches_no_profile() {
    let serve = Serve::start(dist_dir());
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("opt/bin");
    let out = run_installer_with(
        &serve,
        home.path(),
        &system_path(),
        &[(
            "DOCKER_CREDENTIAL_HARBOR_UNMANAGED_INSTALL",
            dir.to_str().unwrap(),
        )],
    );
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        files_under(home.path()),
        [dir.join(NAME)],
        "only the binary, no profile, no receipt"
    );
}

// ---------------------------------------------------------------------------
// The static binary is the universal one

/// A PATH where `ldd` says `ldd_says` (or, with `None`, where there is no
/// `ldd` at all): every other program of /usr/bin is there (but no helper
/// installed on the machine).
fn path_with_ldd(dir: &Path, ldd_says: Option<&str>) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for entry in std::fs::read_dir("/usr/bin").unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().unwrap() != "ldd" && p.file_name().unwrap() != NAME {
            std::os::unix::fs::symlink(&p, bin.join(p.file_name().unwrap())).unwrap();
        }
    }
    if let Some(text) = ldd_says {
        let script = bin.join("ldd");
        std::fs::write(&script, format!("#!/bin/sh\nprintf '%s\\n' '{text}'\n")).unwrap();
        bin::set_mode(&script, 0o755);
    }
    bin.display().to_string()
}

#[test]
fn installer_takes_the_static_binary_on_every_linux() {
    let serve = Serve::start(dist_dir());
    let unpacked = tempfile::tempdir().unwrap();
    let sums: BTreeMap<&str, String> = [MUSL]
        .into_iter()
        .map(|t| (t, sha256_file(&unpack_binary(t, unpacked.path()))))
        .collect();
    // What `ldd --version` says first (None: there is no ldd), and the build
    // the installer must take: the static one, old glibc or new (issue 34).
    for (case, ldd, want) in [
        (
            "glibc 2.34 (older than the build's)",
            Some("ldd (GNU libc) 2.34"),
            MUSL,
        ),
        ("glibc 2.17 (RHEL 7)", Some("ldd (GNU libc) 2.17"), MUSL),
        ("musl libc (Alpine)", Some("musl libc (x86_64)"), MUSL),
        ("no ldd, no glibc", None, MUSL),
        (
            "glibc 2.35 (Ubuntu 22.04)",
            Some("ldd (Ubuntu GLIBC 2.35-0ubuntu3.1) 2.35"),
            MUSL,
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let path = path_with_ldd(tmp.path(), ldd);
        assert_no_rust(&path);
        let home = tmp.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let before = serve.fetched().len();
        let out = run_installer(&serve, &home, &path);
        assert_eq!(out.code(), 0, "{case}: the installer\n{out}");
        let fetched = serve.fetched()[before..].to_vec();
        let archives: Vec<&String> = fetched.iter().filter(|f| f.ends_with(".tar.xz")).collect();
        assert_eq!(
            archives,
            [&format!("/{NAME}-{want}.tar.xz")],
            "{case}: fetched only the {want} archive"
        );
        assert_eq!(
            sha256_file(&installed(&home)),
            sums[want],
            "{case}: the {want} binary"
        );
        let v = bin::run_bounded(
            installed(&home).to_str().unwrap(),
            ["version"],
            &BTreeMap::from([("HOME".to_string(), home.display().to_string())]),
            b"",
            Duration::from_secs(30),
        );
        assert_eq!(v.code(), 0, "{case}\n{v}");
    }
}

#[test]
fn static_binary_runs_in_an_empty_root_and_uses_the_kernel_keyring() {
    keychain::require_own_session_keyring();
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "chroot needs root (CI runs as root)"
    );
    let unpacked = tempfile::tempdir().unwrap();
    let musl = unpack_binary(MUSL, unpacked.path());
    // The root holds the binary and an empty home: no libc, no /etc, no /proc.
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(&musl, root.path().join(NAME)).unwrap();
    std::fs::create_dir(root.path().join("home")).unwrap();
    let mut entries: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, [NAME, "home"]);

    let key = format!("release-chroot-{}.example", std::process::id());
    let cleanup = KeyutilsCleanup::default();
    cleanup.add(&key);
    // `env -i HOME=/home chroot ROOT /docker-credential-harbor ...`
    let vars = BTreeMap::from([
        ("PATH".to_string(), "/".to_string()),
        ("HOME".to_string(), "/home".to_string()),
        (
            "DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL".to_string(),
            "off".to_string(),
        ),
        (bin::CACHE_TTL_ENV.to_string(), "0".to_string()),
    ]);
    let run = |args: &[&str], stdin: &[u8]| {
        let mut all = vec![root.path().to_str().unwrap(), "/docker-credential-harbor"];
        all.extend_from_slice(args);
        bin::run_bounded(
            "/usr/sbin/chroot",
            all,
            &vars,
            stdin,
            Duration::from_secs(30),
        )
    };
    let out = run(&["version"], b"");
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.starts_with(&format!("{NAME} ({NAME}) ")),
        "{out}"
    );

    let out = run(&["store"], bin::store_json(&key, USER, SECRET).as_bytes());
    out.assert_silent_success();
    assert!(keychain::keyutils_has(&key), "stored in the kernel keyring");
    let out = run(&["get"], key.as_bytes());
    assert_eq!(
        bin::parse_get(&out, &key),
        (USER.to_string(), SECRET.to_string())
    );
    let out = run(&["erase"], key.as_bytes());
    out.assert_silent_success();
    assert!(!keychain::keyutils_has(&key), "erased");
}
