//! Real container clients for the end-to-end tests: a private Docker engine
//! (`dockerd` from the Debian package `docker.io`), and the docker, podman and
//! skopeo CLIs run in an [`Env`] whose config names `docker-credential-harbor`
//! in `credHelpers`, with the helper under test first on `PATH`.
//!
//! The engine listens only on a unix socket in its own temp dir, with no
//! iptables, no bridge and the `vfs` storage driver, and treats every
//! 127.0.0.0/8 registry as plain-HTTP ("insecure"). It is started once and
//! shared by the tests of a binary ([`Dockerd::shared`]); the last user to let
//! go stops it (by its own pid) and removes its files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde_json::json;

use super::bin::{self, Env, Output};

/// The suffix in `credHelpers` (`docker-credential-<suffix>` on PATH).
pub const HELPER_SUFFIX: &str = "harbor";
/// Longest one docker / podman / skopeo command may take.
pub const CLIENT_LIMIT: Duration = Duration::from_secs(180);
/// Longest the engine may take to answer after start.
const START_LIMIT: Duration = Duration::from_secs(60);
/// Longest the engine may take to stop after SIGTERM before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(20);

/// `PATH` for the engine: it finds containerd, runc and docker-init there.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything on 127.0.0.1 is reached directly, never through a proxy.
const NO_PROXY: &str = "127.0.0.1,localhost,::1";

fn find_program(name: &str, package: &str) -> PathBuf {
    for dir in SYSTEM_PATH.split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` is not installed (looked in {SYSTEM_PATH}): install the Debian package `{package}` \
         (apt-get install -y {package}); the end-to-end tests cannot run without it"
    );
}

/// A private Docker engine.
pub struct Dockerd {
    child: Mutex<Child>,
    pid: u32,
    socket: PathBuf,
    log_path: PathBuf,
    // Last, so it is removed after the engine has stopped.
    dir: tempfile::TempDir,
}

/// The engine the tests of this binary share; see [`Dockerd::shared`].
static SHARED: Mutex<Weak<Dockerd>> = Mutex::new(Weak::new());

impl Dockerd {
    /// The engine shared by the tests of this binary: started by the first
    /// caller, stopped when the last `Arc` is dropped.
    pub fn shared() -> Arc<Dockerd> {
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = slot.upgrade() {
            return d;
        }
        let d = Arc::new(Dockerd::start());
        *slot = Arc::downgrade(&d);
        d
    }

    /// Start a new engine in a temp dir and wait until it answers.
    pub fn start() -> Dockerd {
        let dockerd = find_program("dockerd", "docker.io");
        find_program("containerd", "containerd");
        find_program("runc", "runc");
        let docker = docker_cli();
        // Short: the containerd socket under exec-root must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("dch-dockerd-")
            .tempdir_in("/tmp")
            .expect("create a temp dir for dockerd");
        let d = dir.path();
        let config = d.join("daemon.json");
        // Its own (empty) daemon config, so /etc/docker/daemon.json is never read.
        std::fs::write(&config, "{}\n").expect("write daemon.json");
        let socket = d.join("docker.sock");
        let log_path = d.join("dockerd.log");
        let log = std::fs::File::create(&log_path).expect("create dockerd log");
        let p = |name: &str| d.join(name).to_str().expect("UTF-8 temp path").to_string();
        let args = dockerd_args(
            &p("daemon.json"),
            &p("data"),
            &p("exec"),
            &p("pid"),
            &p("docker.sock"),
        );
        let child = Command::new(&dockerd)
            .args(&args)
            .env_clear()
            .env("PATH", bin::without_helper(SYSTEM_PATH))
            .env("HOME", d)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", dockerd.display()));
        let pid = child.id();
        let engine = Dockerd {
            child: Mutex::new(child),
            pid,
            socket,
            log_path,
            dir,
        };
        // From here on, a failed start still stops and cleans up (Drop).
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Some(status) = engine
                .child
                .lock()
                .unwrap()
                .try_wait()
                .expect("wait for dockerd")
            {
                panic!(
                    "dockerd exited during start with {status}\nargs: {args:?}\n--- dockerd log ---\n{}",
                    engine.log()
                );
            }
            if engine.socket.exists() {
                let out = Command::new(&docker)
                    .args([
                        "-H",
                        &engine.host(),
                        "version",
                        "--format",
                        "{{.Server.Version}}",
                    ])
                    .env_clear()
                    .env("PATH", bin::without_helper(SYSTEM_PATH))
                    .env("HOME", engine.dir.path())
                    .output()
                    .expect("run docker version");
                if out.status.success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer on {} within {START_LIMIT:?}\n--- dockerd log ---\n{}",
                engine.host(),
                engine.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        engine
    }

    /// `unix:///tmp/.../docker.sock`
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Everything the engine has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `docker ARGS` as the user of `env` runs it.
    pub fn docker(&self, env: &Env, args: &[&str]) -> Output {
        self.docker_with(env, &[], &[], args, b"")
    }

    /// `docker ARGS` with `stdin` (e.g. `login --password-stdin`).
    pub fn docker_stdin(&self, env: &Env, args: &[&str], stdin: &[u8]) -> Output {
        self.docker_with(env, &[], &[], args, stdin)
    }

    /// `[wrapper...] docker ARGS` with the Env's variables changed for this
    /// run (`None` removes one), e.g. wrapper `["keyctl", "session", "_uid_ses.0"]`.
    pub fn docker_with(
        &self,
        env: &Env,
        changes: &[(&str, Option<&str>)],
        wrapper: &[&str],
        args: &[&str],
        stdin: &[u8],
    ) -> Output {
        let mut vars = client_vars(env, changes);
        vars.insert("DOCKER_HOST".into(), self.host());
        run_client(
            env,
            &vars,
            wrapper,
            docker_cli().to_str().unwrap(),
            &[],
            args,
            stdin,
        )
    }
}

/// The flags the engine runs with here (no iptables, no bridge, vfs, private
/// dirs, every loopback registry plain-HTTP).
pub fn dockerd_args(
    config: &str,
    data: &str,
    exec: &str,
    pidfile: &str,
    socket: &str,
) -> Vec<String> {
    [
        format!("--config-file={config}"),
        "--iptables=false".into(),
        "--ip6tables=false".into(),
        "--bridge=none".into(),
        "--storage-driver=vfs".into(),
        format!("--data-root={data}"),
        format!("--exec-root={exec}"),
        format!("--pidfile={pidfile}"),
        "-H".into(),
        format!("unix://{socket}"),
        "--insecure-registry=127.0.0.0/8".into(),
    ]
    .into()
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(child.try_wait(), Ok(None)) {
            signal(self.pid, libc::SIGTERM);
            let deadline = Instant::now() + STOP_LIMIT;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
        }
        let _ = child.wait();
        // The containerd it started goes too if it outlived the engine.
        let marker = self.dir.path().join("exec").join("containerd");
        for pid in pids_with_arg_under(&marker) {
            signal(pid, libc::SIGKILL);
        }
        unmount_under(self.dir.path());
        // TempDir removes the rest.
    }
}

/// Names the docker CLI to use instead of the first on the system PATH, e.g.
/// `/usr/bin/docker` (Debian's 20.10) when a newer one is in /usr/local/bin.
pub const DOCKER_CLI_ENV: &str = "DCH_E2E_DOCKER_CLI";

/// The docker CLI: `$DCH_E2E_DOCKER_CLI`, else the first on the system PATH
/// (`/usr/local/bin/docker` when present, else Debian's `/usr/bin/docker`).
pub fn docker_cli() -> PathBuf {
    match std::env::var(DOCKER_CLI_ENV) {
        Ok(p) if !p.is_empty() => {
            assert!(
                Path::new(&p).is_file(),
                "{DOCKER_CLI_ENV}={p} is not a file"
            );
            PathBuf::from(p)
        }
        _ => find_program("docker", "docker.io"),
    }
}

/// Writes the client configs of `env` so that docker, podman and skopeo ask
/// the helper for each of `registries` (`host:port`): `$HOME/.docker/config.json`
/// and the containers auth file ([`auth_file`]), both with
/// `{"credHelpers": {"<registry>": "harbor", ...}}` and nothing else.
pub fn configure_clients(env: &Env, registries: &[&str]) {
    let helpers: serde_json::Map<String, serde_json::Value> = registries
        .iter()
        .map(|r| (r.to_string(), json!(HELPER_SUFFIX)))
        .collect();
    let config = json!({ "credHelpers": helpers });
    let text = serde_json::to_string_pretty(&config).unwrap() + "\n";
    for file in [docker_config_file(env), auth_file(env)] {
        std::fs::create_dir_all(file.parent().unwrap()).expect("create client config dir");
        std::fs::write(&file, &text).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    }
}

/// `$HOME/.docker` (DOCKER_CONFIG for the docker CLI).
pub fn docker_config_dir(env: &Env) -> PathBuf {
    env.home.join(".docker")
}

pub fn docker_config_file(env: &Env) -> PathBuf {
    docker_config_dir(env).join("config.json")
}

/// The containers auth file (REGISTRY_AUTH_FILE for podman and skopeo).
pub fn auth_file(env: &Env) -> PathBuf {
    env.config_home.join("containers").join("auth.json")
}

/// A directory holding only `docker-credential-harbor` (a symlink to the
/// binary under test); it comes first on the clients' PATH.
pub fn helper_dir(env: &Env) -> PathBuf {
    let dir = env.root().join("helper-bin");
    let link = dir.join(format!("docker-credential-{HELPER_SUFFIX}"));
    if !link.exists() {
        std::fs::create_dir_all(&dir).expect("create helper bin dir");
        match std::os::unix::fs::symlink(bin::BIN, &link) {
            // Another thread of the same test made it first.
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("symlink {} -> {}: {e}", link.display(), bin::BIN),
        }
    }
    dir
}

/// The variables a client runs with: the Env's (HOME, XDG_*, the bus, ...)
/// changed by `changes`, plus PATH with the helper first, DOCKER_CONFIG,
/// REGISTRY_AUTH_FILE and NO_PROXY.
pub fn client_vars(env: &Env, changes: &[(&str, Option<&str>)]) -> BTreeMap<String, String> {
    let mut vars = env.with(changes);
    let system = bin::system_path();
    vars.insert(
        "PATH".into(),
        format!("{}:{system}", helper_dir(env).display()),
    );
    vars.insert(
        "DOCKER_CONFIG".into(),
        docker_config_dir(env).display().to_string(),
    );
    vars.insert(
        "REGISTRY_AUTH_FILE".into(),
        auth_file(env).display().to_string(),
    );
    vars.insert("NO_PROXY".into(), NO_PROXY.into());
    vars.insert("no_proxy".into(), NO_PROXY.into());
    vars
}

fn run_client(
    env: &Env,
    vars: &BTreeMap<String, String>,
    wrapper: &[&str],
    program: &str,
    pre: &[&str],
    args: &[&str],
    stdin: &[u8],
) -> Output {
    let mut argv: Vec<&str> = wrapper.to_vec();
    argv.push(program);
    argv.extend_from_slice(pre);
    argv.extend_from_slice(args);
    let (first, rest) = argv.split_first().unwrap();
    let out = bin::run_bounded(first, rest.iter().copied(), vars, stdin, CLIENT_LIMIT);
    for s in env.watched_secrets() {
        assert!(
            !out.stderr.contains(&s),
            "a secret ({s:?}) appeared on stderr\n{out}"
        );
        assert!(
            !out.stdout.contains(&s),
            "a secret ({s:?}) appeared on stdout\n{out}"
        );
    }
    out
}

/// Private podman storage (vfs) for one test; removed when dropped.
pub struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    pub fn new() -> Podman {
        find_program("podman", "podman");
        Podman {
            dir: tempfile::Builder::new()
                .prefix("dch-podman-")
                .tempdir_in("/tmp")
                .expect("create a temp dir for podman"),
        }
    }

    /// The global flags that keep podman (as root, without systemd) in its
    /// own storage: vfs, private root/runroot/tmpdir, cgroupfs, file events.
    pub fn global_flags(&self) -> Vec<String> {
        let p = |n: &str| self.dir.path().join(n).display().to_string();
        vec![
            "--storage-driver=vfs".into(),
            format!("--root={}", p("storage")),
            format!("--runroot={}", p("runroot")),
            format!("--tmpdir={}", p("tmp")),
            "--cgroup-manager=cgroupfs".into(),
            "--events-backend=file".into(),
        ]
    }

    /// `podman GLOBAL-FLAGS ARGS` as the user of `env`.
    pub fn podman(&self, env: &Env, args: &[&str], stdin: &[u8]) -> Output {
        let flags = self.global_flags();
        let pre: Vec<&str> = flags.iter().map(|s| s.as_str()).collect();
        run_client(
            env,
            &client_vars(env, &[]),
            &[],
            "podman",
            &pre,
            args,
            stdin,
        )
    }
}

impl Podman {
    /// `buildah STORAGE-FLAGS ARGS` in the same private storage (buildah
    /// takes podman's first three flags: driver, root, runroot).
    pub fn buildah(&self, env: &Env, args: &[&str], stdin: &[u8]) -> Output {
        let flags: Vec<String> = self.global_flags().into_iter().take(3).collect();
        let pre: Vec<&str> = flags.iter().map(|s| s.as_str()).collect();
        run_client(
            env,
            &client_vars(env, &[]),
            &[],
            "buildah",
            &pre,
            args,
            stdin,
        )
    }
}

impl Default for Podman {
    fn default() -> Self {
        Podman::new()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        unmount_under(self.dir.path());
    }
}

/// `skopeo --insecure-policy ARGS` as the user of `env` (credentials come from
/// REGISTRY_AUTH_FILE, i.e. the helper).
pub fn skopeo(env: &Env, args: &[&str]) -> Output {
    skopeo_with(env, &[], &[], args)
}

/// `[wrapper...] skopeo --insecure-policy ARGS` with the Env's variables
/// changed for this run (`None` removes one).
pub fn skopeo_with(
    env: &Env,
    changes: &[(&str, Option<&str>)],
    wrapper: &[&str],
    args: &[&str],
) -> Output {
    find_program("skopeo", "skopeo");
    run_client(
        env,
        &client_vars(env, changes),
        wrapper,
        "skopeo",
        &["--insecure-policy"],
        args,
        b"",
    )
}

/// Asserts success with the whole output (and `context`) in the message.
#[track_caller]
pub fn assert_ok(out: &Output, context: &str) {
    assert!(out.success(), "{context}: expected success\n{out}");
}

#[track_caller]
pub fn assert_failed(out: &Output, context: &str) {
    assert!(!out.success(), "{context}: expected a failure\n{out}");
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a pid this fixture started (or its containerd child).
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Processes with an argument that starts with `dir` (the engine's containerd).
fn pids_with_arg_under(dir: &Path) -> Vec<u32> {
    let want = dir.to_str().unwrap_or_default().as_bytes().to_vec();
    let mut pids = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if cmdline.split(|b| *b == 0).any(|a| a.starts_with(&want)) {
            pids.push(pid);
        }
    }
    pids
}

/// Lazily unmounts everything mounted at or below `dir` (dockerd bind-mounts
/// its data root), deepest first, so the temp dir can be removed.
fn unmount_under(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let prefix = dir.to_str().unwrap_or_default().to_string();
    let mut points: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        if let Ok(c) = std::ffi::CString::new(p) {
            // SAFETY: umount2 on a path below this fixture's own temp dir.
            unsafe {
                libc::umount2(c.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}
