//! `login`: ask for (or read) a Harbor secret, check it with the registry the
//! way `docker login` would, and keep it in the keychain. A 401 is explained
//! for the kind of account at hand instead of a bare "unauthorized".

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::NetArgs;
use crate::account::AccountKind;
use crate::error::{Error, Result};
use crate::protocol::actions::{self, LoginFacts};
use crate::protocol::{self, Credentials};
use crate::registry::NetOptions;
use crate::secret::Secret;
use crate::state::config::Config;
use crate::state::index;
use crate::text::{escape, say};
use crate::verdict::Verdict;

#[derive(Args)]
#[command(after_help = "\
Examples:
  docker-credential-harbor login                         # asks for username and CLI secret
  docker-credential-harbor login -u jdoe@ucar.edu --password-stdin < secret.txt
  docker-credential-harbor login --robot-file robot-myproj+ci.json

Robot names carry the site's prefix: robot-myproj+ci at UCAR, robot$myproj+ci with Harbor's default.
A robot file's expiry is advice: past it, login asks the registry (an admin may have extended the robot),
and with --no-verify refuses, since only the registry can tell.
A secret is never accepted as an argument: it would end up in shell history and `ps`.")]
pub struct LoginArgs {
    /// Registry (default: $DOCKER_CREDENTIAL_HARBOR_REGISTRY, the settings file, or hub.k8s.ucar.edu).
    registry: Option<String>,
    /// Harbor username: at UCAR your ucar.edu e-mail address, or a robot name such as robot-proj+ci.
    #[arg(short, long)]
    username: Option<String>,
    /// Read the secret from standard input (for scripts).
    #[arg(long)]
    password_stdin: bool,
    /// Import a robot account from the JSON file Harbor offers when the robot is created.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["username", "password_stdin"])]
    robot_file: Option<PathBuf>,
    /// Store without checking the secret with the registry.
    #[arg(long)]
    no_verify: bool,
    #[command(flatten)]
    net: NetArgs,
    /// Refused: a secret in argv leaks. Use --password-stdin.
    #[arg(short, long, hide = true, num_args = 0..=1)]
    password: Option<Option<String>>,
}

pub(crate) struct Login {
    pub username: String,
    pub secret: Secret<String>,
    pub kind: AccountKind,
    pub expires_at: Option<i64>,
}

pub fn run(config: &Arc<Config>, a: LoginArgs) -> Result<ExitCode> {
    if a.password.is_some() {
        return Err(Error::Usage(
            "a secret on the command line ends up in shell history and `ps`; use --password-stdin, or let login ask for it".into(),
        ));
    }
    let registry = super::registry_or_default(config, a.registry.clone())?;
    let key = crate::registry::normalize(&registry)?;
    let login = credentials(config, &a, &key)?;
    if login.secret.is_empty() {
        return Err(Error::BadInput("the secret is empty".into()));
    }
    let now = index::now();
    // A file's expiry is advice: an admin who extends a robot keeps its
    // secret and moves the date, so past it the registry decides.
    let passed = passed_expiry(&login, now);
    let net = a.net.options(None);
    let verified_at = verified_at(&a, &registry, &net, &login, passed.as_deref())?;
    let username = login.username.clone();
    let kind = login.kind;
    // Accepted past its date: extended, to a date nobody tells a robot.
    let expires_at = login.expires_at.filter(|_| passed.is_none());
    let stored_in = actions::store_with(
        &actions::Context::system(config),
        Credentials {
            server_url: registry.trim().to_string(),
            username: login.username,
            secret: login.secret,
        },
        LoginFacts {
            kind: Some(kind),
            expires_at,
            verified_at,
            net: Some(net),
            adopted_from: None,
        },
        &mut std::io::stderr(),
    )?;
    say_kept(stored_in, &username, kind, &key);
    if let Some(ago) = &passed {
        say!(
            "Its file says the robot expired {ago}, but {key} accepts it: an admin probably extended it; \
             its new expiry is unknown here (Harbor shows it under Project > Robot Accounts)."
        );
    }
    match (expires_at, index::robot_time_left(expires_at, now)) {
        (_, Some(left)) => println!("The robot account expires {}.", crate::text::within(left)),
        (Some(_), None) => println!("The robot account never expires."),
        (None, None) => {}
    }
    if let Some(file) = &a.robot_file {
        say!(
            "The secret is now in the keychain; you can delete {} (it holds the secret in plain text).",
            file.display()
        );
    }
    hint_if_docker_does_not_ask_us(&key);
    Ok(ExitCode::SUCCESS)
}

/// When the registry accepted the secret (now), or `None` with
/// `--no-verify`, which a robot file past its date does not allow.
fn verified_at(
    a: &LoginArgs,
    registry: &str,
    net: &crate::registry::NetOptions,
    login: &Login,
    passed: Option<&str>,
) -> Result<Option<i64>> {
    if !a.no_verify {
        verify(registry, net, login, passed)?;
        return Ok(Some(index::now()));
    }
    match passed {
        Some(ago) => Err(Error::Usage(format!(
            "the file of robot account {} says it expired {ago}; an admin may have extended it, and only the \
             registry can tell: drop --no-verify",
            login.username
        ))),
        None => Ok(None),
    }
}

/// "Login Succeeded", and where the secret is kept.
fn say_kept(
    stored_in: Option<crate::keychain::KeychainKind>,
    username: &str,
    kind: AccountKind,
    key: &str,
) {
    match stored_in {
        Some(store) => {
            say!(
                "Login Succeeded: {username} ({}) for {key}, kept in the {}.",
                kind.name(),
                store.display()
            );
            if let Some(note) = crate::keychain::kept_note(store, key, username) {
                say!("{note}");
            }
        }
        None => say!(
            "Login Succeeded: {username} for {key}; HARBOR_USERNAME/HARBOR_PASSWORD are set, so nothing was stored."
        ),
    }
}

/// A login docker never uses helps nobody: say how to connect the two.
fn hint_if_docker_does_not_ask_us(key: &str) {
    let configured = crate::clients::docker_config_path()
        .and_then(|p| crate::clients::auth_file::AuthFile::open(&p))
        .map(|f| f.cred_helper(key) == Some(crate::clients::HELPER))
        .unwrap_or(true);
    if !configured {
        println!(
            "docker does not use this helper for {key} yet: run {}.",
            crate::cmd(&format!("configure --registry {key}"))
        );
    }
}

fn credentials(config: &Config, a: &LoginArgs, key: &str) -> Result<Login> {
    if let Some(file) = &a.robot_file {
        let robot = crate::robot::read(file)?;
        warn_if_readable_by_others(file);
        return Ok(Login {
            username: robot.name,
            secret: robot.secret,
            kind: AccountKind::Robot,
            expires_at: robot.expires_at,
        });
    }
    let username = match &a.username {
        Some(u) => u.trim().to_string(),
        None if a.password_stdin => {
            return Err(Error::Usage("--password-stdin needs --username".into()));
        }
        None => ask_username(config, key)?,
    };
    if username.is_empty() {
        return Err(Error::BadInput("the username is empty".into()));
    }
    let secret = if a.password_stdin {
        let s = protocol::read_input(std::io::stdin().lock())?;
        Secret::new(s.expose().trim_end_matches(['\n', '\r']).to_string())
    } else {
        ask_secret(&username)?
    };
    let kind = AccountKind::guess(&username);
    Ok(Login {
        username,
        secret,
        kind,
        expires_at: None,
    })
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(m) = std::fs::metadata(path)
        && !crate::state::private_file::is_private(&m)
    {
        eprintln!(
            "warning: {} is readable by other users or otherwise open to them; delete it once imported",
            path.display()
        );
    }
}

fn ask_username(config: &Config, key: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "no terminal to ask for the username; pass --username (and --password-stdin), or --robot-file".into(),
        ));
    }
    let previous = config
        .data_dir()
        .and_then(index::load_lenient)
        .ok()
        .and_then(|(i, _)| i.registries.get(key).map(|e| e.username.clone()));
    let mut err = std::io::stderr();
    match &previous {
        Some(p) => write!(err, "Username for {key} [{}]: ", escape(p)),
        None => write!(
            err,
            "Username for {key} (at UCAR: your ucar.edu e-mail address; or a robot name): "
        ),
    }
    .and_then(|_| err.flush())
    .map_err(|e| Error::Usage(format!("cannot prompt: {e}")))?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Usage(format!("cannot read the username: {e}")))?;
    let typed = line.trim().to_string();
    Ok(if typed.is_empty() {
        previous.unwrap_or_default()
    } else {
        typed
    })
}

fn ask_secret(username: &str) -> Result<Secret<String>> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "no terminal to ask for the secret; use --password-stdin or --robot-file".into(),
        ));
    }
    let prompt = if AccountKind::guess(username) == AccountKind::Robot {
        "Robot secret: ".to_string()
    } else {
        "CLI secret (Harbor web UI: your name > User Profile > CLI secret): ".to_string()
    };
    rpassword::prompt_password(prompt)
        .map(Secret::new)
        .map_err(|e| Error::Usage(format!("cannot read the secret: {e}")))
}

/// How long ago a robot's file says it expired (`None`: not passed, or not known).
fn passed_expiry(login: &Login, now: i64) -> Option<String> {
    let left = index::robot_time_left(login.expires_at, now)?;
    (login.kind == AccountKind::Robot && left <= 0).then(|| crate::text::ago(-left))
}

/// Ask the registry; `passed`: how long ago the robot's file says it
/// expired, which is then the likely cause of a refusal.
fn verify(registry: &str, net: &NetOptions, login: &Login, passed: Option<&str>) -> Result<()> {
    let client = crate::harbor::Client::connect(registry, net)?;
    match client.verify(&login.username, &login.secret)? {
        (Verdict::Refused, api) => Err(Error::Unauthorized(match passed {
            Some(ago) => format!(
                "{} refused robot account {}, whose file says it expired {ago}: that is the likely cause; ask a \
                 project admin to extend it or refresh its secret (Project > Robot Accounts), then import the new file",
                client.target().host,
                login.username
            ),
            None => {
                client
                    .why_refused(api.as_deref(), &login.username, login.kind)
                    .why
            }
        })),
        _ => Ok(()),
    }
}
