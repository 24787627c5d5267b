//! Named builders for the helper's human commands, for the runs many suites
//! make the same way: `Login::to(&env, &url).user(USER, SECRET).ok()` is
//! `docker-credential-harbor login URL -u USER --password-stdin` with the
//! secret and a newline on stdin (as a person pipes it), the secret watched
//! so that it must never reach stderr or a file, and success asserted.
//!
//! A suite that checks more of one login than its outcome (login.rs holds
//! its stdin open and scans the process table) keeps its own runner.
use std::path::Path;

use crate::bin::{self, Env, Output};

/// `docker-credential-harbor login URL ...`, built up, then run.
#[must_use = "a Login does nothing until run() or ok()"]
pub struct Login<'a> {
    env: &'a Env,
    args: Vec<String>,
    stdin: Vec<u8>,
    vars: Vec<(String, Option<String>)>,
}

impl<'a> Login<'a> {
    /// `login URL` for the home of `env`.
    pub fn to(env: &'a Env, url: &str) -> Login<'a> {
        Login {
            env,
            args: vec!["login".into(), url.into()],
            stdin: Vec::new(),
            vars: Vec::new(),
        }
    }

    /// `-u USER --password-stdin`, with `SECRET\n` on stdin.
    pub fn user(mut self, user: &str, secret: &str) -> Login<'a> {
        self.env.watch_secret(secret);
        self.args
            .extend(["-u".into(), user.into(), "--password-stdin".into()]);
        self.stdin = format!("{secret}\n").into_bytes();
        self
    }

    /// `--robot-file FILE` (Harbor's robot account file).
    pub fn robot_file(mut self, file: &Path) -> Login<'a> {
        let file = file.to_str().expect("temp paths are UTF-8");
        self.args.extend(["--robot-file".into(), file.into()]);
        self
    }

    /// More arguments: `--no-verify`, `--insecure`, `--ca-file CA`, ...
    pub fn args(mut self, more: &[&str]) -> Login<'a> {
        self.args.extend(more.iter().map(|a| a.to_string()));
        self
    }

    /// Set (`Some`) or remove (`None`) a variable for this run only.
    pub fn var(mut self, key: &str, value: Option<&str>) -> Login<'a> {
        self.vars.push((key.into(), value.map(str::to_string)));
        self
    }

    /// Run it, whatever the outcome.
    pub fn run(self) -> Output {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let vars: Vec<(&str, Option<&str>)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        bin::run_with(self.env, &vars, &args, &self.stdin)
    }

    /// Run it; it must succeed.
    #[track_caller]
    pub fn ok(self) -> Output {
        let out = self.run();
        assert_eq!(out.code(), 0, "login should succeed\n{out}");
        out
    }
}
