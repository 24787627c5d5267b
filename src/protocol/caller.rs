//! Who asked: the auth files a containers/image client (podman, skopeo,
//! buildah) was told to use instead of its default ones.
//!
//! With `configure`'s registries.conf.d drop-in, containers/image asks this
//! helper first for every registry, whatever `--authfile` or
//! `REGISTRY_AUTH_FILE` says. A request from a client given such a file is
//! meant for that file (a pull secret, a CI job's robot): it is this
//! helper's only when the file itself routes the registry here (else the
//! helper would decline a store it is then handed again by that file, and
//! loop). The client is the helper's parent process; its command line is
//! in `/proc/<ppid>/cmdline`, and the helper inherits its environment.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::registry;

/// The programs built on containers/image that take `--authfile`.
// Off Linux there is no `/proc` to read the caller from (see `parent`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const CONTAINERS_CLIENTS: [&str; 4] = ["podman", "podman-remote", "skopeo", "buildah"];

/// A containers/image client's auth-file choices, read from its command
/// line and environment.
#[derive(Debug, Default, PartialEq)]
pub struct Caller {
    /// `--authfile` (every image), else `REGISTRY_AUTH_FILE`.
    both: Option<PathBuf>,
    /// skopeo's `--src-authfile` and `--dest-authfile`.
    src: Option<PathBuf>,
    dest: Option<PathBuf>,
    /// The registries of the `docker://` references, in order (skopeo's
    /// source, then destination).
    refs: Vec<String>,
}

impl Caller {
    /// The parent process, when it is a containers/image client (Linux:
    /// elsewhere there is no `/proc` to read, and nothing is known).
    pub fn parent() -> Option<Caller> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::ffi::OsStrExt;
            // SAFETY: getppid(2) has no preconditions and cannot fail.
            let ppid = unsafe { libc::getppid() };
            let cmdline = std::fs::read(format!("/proc/{ppid}/cmdline")).ok()?;
            let args: Vec<OsString> = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| std::ffi::OsStr::from_bytes(a).to_os_string())
                .collect();
            let env = std::env::var_os("REGISTRY_AUTH_FILE").filter(|f| !f.is_empty());
            Caller::from_args(&args, env)
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    /// The rule of [`Caller::parent`] over a command line and the
    /// `REGISTRY_AUTH_FILE` it ran with.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn from_args(args: &[OsString], env_file: Option<OsString>) -> Option<Caller> {
        let program = std::path::Path::new(args.first()?).file_name()?.to_str()?;
        if !CONTAINERS_CLIENTS.contains(&program) {
            return None;
        }
        let mut caller = Caller::default();
        let mut rest = args[1..].iter().map(|a| a.to_string_lossy());
        while let Some(arg) = rest.next() {
            if arg == "--" {
                break;
            }
            if let Some(r) = arg.strip_prefix("docker://") {
                caller
                    .refs
                    .extend(registry::normalize(r.split('/').next().unwrap_or("")).ok());
                continue;
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f, Some(v.to_string())),
                None => (arg.as_ref(), None),
            };
            let slot = match flag {
                "--authfile" => &mut caller.both,
                "--src-authfile" => &mut caller.src,
                "--dest-authfile" => &mut caller.dest,
                _ => continue,
            };
            let value = match inline {
                Some(v) => v,
                None => rest.next()?.into_owned(),
            };
            *slot = Some(absolute(value));
        }
        if caller.both.is_none() {
            caller.both = env_file.map(|f| absolute(f.to_string_lossy().into_owned()));
        }
        let any = caller.both.is_some() || caller.src.is_some() || caller.dest.is_some();
        any.then_some(caller)
    }

    /// The auth files that decide `key` for this caller; `None` when it
    /// reads its default files for it.
    pub fn auth_files_for(&self, key: &str) -> Option<Vec<PathBuf>> {
        let side = |own: &Option<PathBuf>| own.clone().or_else(|| self.both.clone());
        let (src, dest) = (side(&self.src), side(&self.dest));
        let is = |i: usize| self.refs.get(i).is_some_and(|r| r == key);
        let mut files: Vec<PathBuf> = match (is(0), is(1)) {
            (true, false) => src.into_iter().collect(),
            (false, true) => dest.into_iter().collect(),
            // Both sides, or a registry no reference names: every file given.
            _ => [src, dest].into_iter().flatten().collect(),
        };
        files.dedup();
        (!files.is_empty()).then_some(files)
    }
}

/// A path relative to the caller's directory, which the helper inherits.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn absolute(path: String) -> PathBuf {
    let p = PathBuf::from(path);
    match std::env::current_dir() {
        Ok(d) if p.is_relative() => d.join(p),
        _ => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(args: &[&str], env: Option<&str>) -> Option<Caller> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        Caller::from_args(&args, env.map(OsString::from))
    }

    fn files(c: &Option<Caller>, key: &str) -> Option<Vec<String>> {
        c.as_ref()?
            .auth_files_for(key)
            .map(|v| v.iter().map(|p| p.display().to_string()).collect())
    }

    #[test]
    fn only_a_containers_client_given_its_own_file_counts() {
        let login = [
            "skopeo",
            "login",
            "--authfile",
            "/t/robot.json",
            "h.example",
        ];
        assert_eq!(
            files(&caller(&login, None), "h.example"),
            Some(vec!["/t/robot.json".into()])
        );
        let inline = [
            "/usr/bin/podman",
            "logout",
            "--authfile=/t/ci.json",
            "h.example",
        ];
        assert_eq!(
            files(&caller(&inline, None), "h.example"),
            Some(vec!["/t/ci.json".into()])
        );
        // REGISTRY_AUTH_FILE when no flag says otherwise; the flag wins.
        let pull = ["buildah", "pull", "h.example/p/r"];
        assert_eq!(
            files(&caller(&pull, Some("/t/env.json")), "h.example"),
            Some(vec!["/t/env.json".into()])
        );
        assert_eq!(
            files(&caller(&inline, Some("/t/env.json")), "h.example"),
            Some(vec!["/t/ci.json".into()])
        );
        // The default files: nothing to decide here.
        assert_eq!(caller(&["podman", "login", "h.example"], None), None);
        // docker and Helm read no --authfile and no REGISTRY_AUTH_FILE.
        assert_eq!(
            caller(&["docker", "login", "h.example"], Some("/t/env.json")),
            None
        );
        assert_eq!(caller(&["helm", "pull", "--authfile", "/t/x"], None), None);
        // After `--` it is the container's command line, not podman's.
        assert_eq!(
            caller(
                &["podman", "run", "img", "--", "x", "--authfile", "/t/x"],
                None
            ),
            None
        );
        // A flag without its value is no file.
        assert_eq!(caller(&["skopeo", "login", "--authfile"], None), None);
    }

    #[test]
    fn skopeo_copy_sides_get_their_own_file() {
        let c = caller(
            &[
                "skopeo",
                "copy",
                "--src-authfile",
                "/t/src.json",
                "docker://src.example/a:1",
                "docker://dst.example:5000/b:1",
            ],
            None,
        );
        assert_eq!(files(&c, "src.example"), Some(vec!["/t/src.json".into()]));
        // The destination reads its default files.
        assert_eq!(files(&c, "dst.example:5000"), None);
        let c = caller(
            &[
                "skopeo",
                "copy",
                "--authfile=/t/both.json",
                "--dest-authfile",
                "/t/dst.json",
                "docker://s.example/a",
                "docker://d.example/b",
            ],
            None,
        );
        assert_eq!(files(&c, "s.example"), Some(vec!["/t/both.json".into()]));
        assert_eq!(files(&c, "d.example"), Some(vec!["/t/dst.json".into()]));
        assert_eq!(
            files(&c, "other.example"),
            Some(vec!["/t/both.json".into(), "/t/dst.json".into()])
        );
    }

    #[test]
    fn a_relative_file_is_the_callers_directorys() {
        let c = caller(
            &[
                "skopeo",
                "login",
                "--authfile",
                "robot-auth.json",
                "h.example",
            ],
            None,
        );
        let here = std::env::current_dir().unwrap().join("robot-auth.json");
        assert_eq!(
            files(&c, "h.example"),
            Some(vec![here.display().to_string()])
        );
    }
}
