//! Taking over the login a registry's previous credential helper holds.
//!
//! A user whose docker kept the Harbor login in another helper
//! (`credsStore: desktop`, `osxkeychain`, `wincred`, `secretservice`,
//! `pass`, or an earlier `credHelpers` entry) would otherwise have to paste
//! the CLI secret again once `configure` routes the registry here. So
//! configure asks that helper (`docker-credential-NAME get`, under the
//! spellings docker stores: `host`, `https://host`, Docker Hub's), and
//! [`super::migrate`] keeps what it answers under the same rules as a
//! plaintext entry, except that nothing is ever deleted in the other
//! helper's store (`configure --undo` may go back to it). Each call is
//! bounded; a helper that is missing, hangs or fails costs one line.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::clients::auth_file::Login;
use crate::secret::Secret;
use crate::text::say_err;

/// How long another helper may take to answer one `get`.
const LIMIT: Duration = Duration::from_secs(10);

/// The keys docker may have stored `key`'s login under, in the order asked.
pub fn spellings(key: &str) -> Vec<String> {
    if key == "docker.io" {
        return vec!["https://index.docker.io/v1/".into(), "docker.io".into()];
    }
    vec![key.to_string(), format!("https://{key}")]
}

/// The login `helper` (a `docker-credential-<helper>` suffix) holds for
/// `key`, if it holds one this tool can use; its line said when it failed.
pub fn ask(helper: &str, key: &str) -> Option<Login> {
    let program = format!("docker-credential-{helper}");
    let Some(path) = crate::clients::find_on_path(&program) else {
        say_err!(
            "warning: {program} is not on PATH: its login for {key} (if any) was not taken over"
        );
        return None;
    };
    for spelling in spellings(key) {
        match get(&path, &spelling) {
            Ok(Some(login)) if login.username == "<token>" => {
                say_err!(
                    "warning: {program} holds an identity token for {key}, not a password: \
                     it was not taken over; log in with `{} login {key}`",
                    crate::NAME
                );
                return None;
            }
            Ok(Some(login)) => return Some(login),
            Ok(None) => continue,
            Err(why) => {
                say_err!("warning: {program} get {spelling}: {why}; its login was not taken over");
                return None;
            }
        }
    }
    None
}

/// One `get`: `Ok(None)` for the protocol's not-found answer.
fn get(program: &std::path::Path, server: &str) -> Result<Option<Login>, String> {
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run it ({e})"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let stdout = child.stdout.take().ok_or("no output")?;
    // Read while waiting: a helper that fills the pipe must not block.
    let reader = std::thread::spawn(move || crate::protocol::read_input(stdout));
    let status = wait(&mut child)?;
    let out = reader
        .join()
        .map_err(|_| "its output could not be read".to_string())?
        .map_err(|e| e.one_line())?;
    parse(status.success(), &out)
}

/// Wait for `child` at most [`LIMIT`]; one that runs over is killed.
fn wait(child: &mut std::process::Child) -> Result<std::process::ExitStatus, String> {
    let deadline = Instant::now() + LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {} s", LIMIT.as_secs()));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// A helper's answer: its JSON line, or the not-found text (any other
/// failure is an error whose first line is said, escaped).
fn parse(success: bool, out: &Secret<String>) -> Result<Option<Login>, String> {
    let text = out.expose().trim();
    if !success {
        if text == crate::error::NOT_FOUND {
            return Ok(None);
        }
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(120)
            .collect::<String>();
        return Err(format!("it failed ({})", crate::text::escape(&first)));
    }
    let creds =
        crate::protocol::parse_store(text).map_err(|_| "its answer is not a login".to_string())?;
    if creds.secret.expose().is_empty() {
        return Ok(None);
    }
    Ok(Some(Login {
        username: creds.username,
        secret: creds.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_and_other_registries_are_asked_as_docker_stores_them() {
        assert_eq!(
            spellings("hub.k8s.ucar.edu"),
            ["hub.k8s.ucar.edu", "https://hub.k8s.ucar.edu"]
        );
        assert_eq!(
            spellings("docker.io"),
            ["https://index.docker.io/v1/", "docker.io"]
        );
    }

    #[test]
    fn answers_are_read_as_the_protocol_says() {
        let out = |s: &str| Secret::new(s.to_string());
        let got = parse(
            true,
            &out(r#"{"ServerURL":"h","Username":"u","Secret":"s"}"#),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (got.username.as_str(), got.secret.expose().as_str()),
            ("u", "s")
        );
        assert!(
            parse(false, &out("credentials not found in native keychain\n"))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            parse(false, &out("boom\u{1b}[2J\nmore")).err().unwrap(),
            "it failed (boom\\u{1b}[2J)"
        );
        assert_eq!(
            parse(true, &out("not json")).err().unwrap(),
            "its answer is not a login"
        );
    }
}
