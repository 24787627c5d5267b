//! The Windows build under Wine, shared by tests/suite/windows.rs and tests/suite/wsl.rs.
//!
//! The test binary builds the exe itself, once, with mingw-w64 into its own
//! target directory (`<target>/wine`, so it never waits on the outer cargo),
//! builds three small C helpers from tests/wine (the `bcryptprimitives.dll` shim
//! Wine 8 lacks, `credtool.exe`, "another program" that reads and writes
//! generic credentials directly, and `pipecaller.exe`, docker's side of a
//! helper call: inheritable pipes read to EOF), and prepares one Wine prefix per suite. Every
//! test then gets its own [`Prefix`], a copy of that one (the large system DLLs
//! hard-linked, the registry and the user profile copied), so it has its own
//! wineserver, Credential Manager, %USERPROFILE% and %APPDATA%, and the tests
//! can run in parallel. A missing Wine, mingw-w64 or rustup target fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::bin::{self, NAME, Output};

pub const WINE64: &str = "/usr/lib/wine/wine64";
pub const WINESERVER: &str = "/usr/lib/wine/wineserver";
const MINGW_GCC: &str = "x86_64-w64-mingw32-gcc";
const TARGET: &str = "x86_64-pc-windows-gnu";
/// Longest one run under Wine may take (a fresh prefix starts its wineserver).
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// The rig: the exe, the C helpers and a template prefix, made once.

pub struct Rig {
    /// The Windows build of the helper.
    pub exe: PathBuf,
    pub credtool: PathBuf,
    pub pipecaller: PathBuf,
    template: PathBuf,
    /// The Windows user name Wine gave the profile (drive_c/users/<user>).
    pub user: String,
    /// Unix HOME for Wine, so it never touches the real one.
    pub home: PathBuf,
}

pub fn rig() -> &'static Rig {
    static RIG: OnceLock<Result<Rig, String>> = OnceLock::new();
    RIG.get_or_init(Rig::prepare)
        .as_ref()
        .unwrap_or_else(|e| panic!("the Wine rig could not be prepared: {e}"))
}

fn require(path: &str, package: &str) -> Result<(), String> {
    let found = if path.contains('/') {
        Path::new(path).exists()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(path).is_file()))
    };
    if found {
        Ok(())
    } else {
        Err(format!(
            "{path} is missing: install the Debian package `{package}` (.ci/run does)"
        ))
    }
}

/// `<target dir>/wine`: beside the outer build, from this test binary's own
/// path (`<target>/debug/deps/windows-HASH`).
fn wine_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps");
    target.join("wine")
}

/// Run a rig-building command (program, arguments and the variables set on
/// it; nothing else of `cmd` is used) to completion; its output on failure.
fn step(what: &str, cmd: &mut Command, limit: Duration) -> Result<(), String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let vars: BTreeMap<String, String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
        .collect();
    let out = bin::run_bounded(&program, args.iter().map(|s| s.as_str()), &vars, b"", limit);
    if out.code() == 0 {
        Ok(())
    } else {
        Err(format!("{what} failed\n{out}"))
    }
}

impl Rig {
    fn prepare() -> Result<Rig, String> {
        require(WINE64, "wine64")?;
        require(WINESERVER, "wine64")?;
        require(MINGW_GCC, "mingw-w64")?;
        let dir = wine_dir();
        let tools = dir.join("rig");
        std::fs::create_dir_all(&tools).map_err(|e| format!("create {}: {e}", tools.display()))?;
        let src = bin::repo();

        let started = Instant::now();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(&cargo);
        build
            .args(["build", "--locked", "--bin", NAME, "--target", TARGET])
            .arg("--manifest-path")
            .arg(src.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&dir);
        for var in ["HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
            if let Ok(v) = std::env::var(var) {
                build.env(var, v);
            }
        }
        step(
            &format!("building the Windows exe (needs `rustup target add {TARGET}` and mingw-w64)"),
            &mut build,
            Duration::from_secs(1800),
        )?;
        let exe = dir.join(TARGET).join("debug").join(format!("{NAME}.exe"));
        eprintln!(
            "windows: exe built in {:.1} s",
            started.elapsed().as_secs_f64()
        );

        let shim = tools.join("bcryptprimitives.dll");
        step(
            "building the bcryptprimitives shim",
            Command::new(MINGW_GCC)
                .args(["-shared", "-O2", "-o"])
                .arg(&shim)
                .arg(src.join("tests/wine/bcryptprimitives.c"))
                .arg("-ladvapi32"),
            Duration::from_secs(120),
        )?;
        let credtool = tools.join("credtool.exe");
        step(
            "building credtool.exe",
            Command::new(MINGW_GCC)
                .args(["-municode", "-O2", "-o"])
                .arg(&credtool)
                .arg(src.join("tests/wine/credtool.c"))
                .arg("-ladvapi32"),
            Duration::from_secs(120),
        )?;
        let pipecaller = tools.join("pipecaller.exe");
        step(
            "building pipecaller.exe",
            Command::new(MINGW_GCC)
                .args(["-municode", "-O2", "-o"])
                .arg(&pipecaller)
                .arg(src.join("tests/wine/pipecaller.c")),
            Duration::from_secs(120),
        )?;

        // One fresh prefix per test binary run: wineboot takes a while, and
        // every test copies it.
        let started = Instant::now();
        // Per test binary: the suites may share the exe, never a prefix.
        let suite = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .and_then(|s| s.split('-').next().map(str::to_string))
            .unwrap_or_default();
        let template = dir.join(format!("prefix-{suite}"));
        let home = dir.join("home");
        let _ = std::fs::remove_dir_all(&template);
        std::fs::create_dir_all(&home).map_err(|e| format!("create {}: {e}", home.display()))?;
        let vars = wine_vars(&template, &home);
        step(
            "wineboot --init",
            Command::new(WINE64)
                .arg("wineboot")
                .arg("--init")
                .envs(&vars),
            Duration::from_secs(600),
        )?;
        // Wait until the wineserver has written the registry and gone.
        step(
            "wineserver -w",
            Command::new(WINESERVER).arg("-w").envs(&vars),
            Duration::from_secs(120),
        )?;
        let system32 = template.join("drive_c/windows/system32");
        std::fs::copy(&shim, system32.join("bcryptprimitives.dll"))
            .map_err(|e| format!("install the shim into {}: {e}", system32.display()))?;
        let user = std::fs::read_dir(template.join("drive_c/users"))
            .map_err(|e| format!("wineboot made no drive_c/users: {e}"))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n != "Public")
            .ok_or("wineboot made no user profile")?;
        eprintln!(
            "windows: Wine prefix made in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(Rig {
            exe,
            credtool,
            pipecaller,
            template,
            user,
            home,
        })
    }
}

pub fn wine_vars(prefix: &Path, home: &Path) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("WINEPREFIX".into(), path_str(prefix).into()),
        ("WINEARCH".into(), "win64".into()),
        ("WINEDEBUG".into(), "-all".into()),
        ("HOME".into(), path_str(home).into()),
        ("LANG".into(), "C.UTF-8".into()),
    ])
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("rig paths are UTF-8")
}

// ---------------------------------------------------------------------------
// One Windows machine: a private copy of the template prefix.

pub struct Prefix {
    pub path: PathBuf,
    /// What every Wine run in it gets (WINEPREFIX and friends).
    pub vars: BTreeMap<String, String>,
    // Last: removed after the wineserver is gone.
    _dir: tempfile::TempDir,
}

impl Default for Prefix {
    fn default() -> Prefix {
        Prefix::new()
    }
}

impl Prefix {
    pub fn new() -> Prefix {
        let rig = rig();
        let dir = tempfile::Builder::new()
            .prefix("dch-wine-")
            .tempdir()
            .expect("temp dir for a Wine prefix");
        let path = dir.path().join("prefix");
        clone_prefix(&rig.template, &path);
        let vars = wine_vars(&path, &rig.home);
        // Start this prefix's wineserver and Wine's own services (services.exe,
        // explorer.exe) with no pipes attached: started by a test run, they
        // would hold its stdout open, and every run would wait for them to go.
        run_detached(WINESERVER, &["-p30"], &vars);
        run_detached(WINE64, &[path_str(&rig.credtool), "read", "warm-up"], &vars);
        Prefix {
            path,
            vars,
            _dir: dir,
        }
    }

    /// `%USERPROFILE%` as a Unix path.
    pub fn profile(&self) -> PathBuf {
        self.path.join("drive_c/users").join(&rig().user)
    }

    /// Run a Windows program in this prefix, bounded.
    pub fn run(&self, exe: &Path, args: &[&str], stdin: &[u8]) -> Output {
        let mut all = vec![path_str(exe)];
        all.extend_from_slice(args);
        bin::run_bounded(WINE64, all, &self.vars, stdin, RUN_LIMIT)
    }

    /// A generic credential as Windows holds it: (UserName, blob), or `None`.
    pub fn credential(&self, target: &str) -> Option<(String, Vec<u8>)> {
        let out = self.run(&rig().credtool, &["read", target], b"");
        match out.code() {
            2 => None,
            0 => {
                let field = |name: &str| {
                    out.stdout
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .unwrap_or_else(|| panic!("credtool printed no {name}\n{out}"))
                        .trim_end()
                        .to_string()
                };
                Some((field("user="), unhex(&field("blob="))))
            }
            _ => panic!("credtool read {target} failed\n{out}"),
        }
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        // Stop this prefix's wineserver (and any process left in it).
        let _ = bin::run_bounded(WINESERVER, ["-k"], &self.vars, b"", Duration::from_secs(30));
        let _ = bin::run_bounded(WINESERVER, ["-w"], &self.vars, b"", Duration::from_secs(30));
    }
}

/// Run `program` with no stdio to completion (bounded); its exit status is
/// not checked (credtool exits 2 for "no such credential").
fn run_detached(program: &str, args: &[&str], vars: &BTreeMap<String, String>) {
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", bin::system_path())
        .envs(vars)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    let deadline = Instant::now() + RUN_LIMIT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} did not finish within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Copy a prefix: the big, never-written DLL trees are hard-linked, everything
/// else (registry, profile, config) copied, so no test can change the template.
fn clone_prefix(from: &Path, to: &Path) {
    const LINKED: [&str; 3] = [
        "drive_c/windows/system32",
        "drive_c/windows/syswow64",
        "drive_c/windows/winsxs",
    ];
    fn walk(from: &Path, to: &Path, rel: &Path, link: bool) {
        std::fs::create_dir_all(to).expect("create prefix dir");
        for e in std::fs::read_dir(from)
            .expect("read template dir")
            .flatten()
        {
            let ft = e.file_type().expect("file type");
            let (src, dst, r) = (e.path(), to.join(e.file_name()), rel.join(e.file_name()));
            let link = link || LINKED.iter().any(|l| r == Path::new(l));
            if ft.is_symlink() {
                let target = std::fs::read_link(&src).expect("read link");
                std::os::unix::fs::symlink(target, &dst).expect("copy symlink");
            } else if ft.is_dir() {
                walk(&src, &dst, &r, link);
            } else if link {
                std::fs::hard_link(&src, &dst).expect("hard-link a DLL");
            } else {
                std::fs::copy(&src, &dst).expect("copy a prefix file");
            }
        }
    }
    walk(from, to, Path::new(""), false);
    // Wine wants the prefix owned by the user and untouched since boot.
    let stamp = from.join(".update-timestamp");
    if let Ok(t) = std::fs::metadata(&stamp).and_then(|m| m.modified()) {
        let f = std::fs::File::options()
            .write(true)
            .open(to.join(".update-timestamp"))
            .expect("open the copied timestamp");
        f.set_modified(t).expect("keep the timestamp's time");
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from credtool"))
        .collect()
}
