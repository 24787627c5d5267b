//! `renew`: bring a refused CLI secret back to life. Harbor accepts a CLI
//! secret only while it can refresh the user's web (OIDC) session; signing in
//! to the web UI once revives it. So: print (and open) Harbor's sign-in
//! address, then ask the token service every 5 s until it accepts the
//! stored secret again. It stops at once when signing in cannot help:
//! Harbor cannot reach its identity provider, or something in front of
//! Harbor answers 403.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::NetArgs;
use crate::account::AccountKind;
use crate::check::{self, Finding};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::state::config::Config;
use crate::state::index;
use crate::text::{say, say_err};
use crate::verdict::Verdict;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Pause between two token-service checks while waiting for the sign-in:
/// each makes Harbor ask the identity provider about the user.
const POLL: Duration = Duration::from_secs(5);

#[derive(Args)]
#[command(after_help = "\
Harbor stops accepting a CLI secret when your web (OIDC) session can no longer be refreshed.
Signing in to the Harbor web UI once makes the same secret work again, unless you regenerated it.
The browser is $BROWSER if set, else xdg-open (Linux), open (macOS) or the default browser
(Windows); over SSH nothing is opened: open the printed address on any machine.")]
pub struct RenewArgs {
    /// Registry (default: $DOCKER_CREDENTIAL_HARBOR_REGISTRY, the settings file, or hub.k8s.ucar.edu).
    registry: Option<String>,
    /// Seconds to wait for Harbor to accept the CLI secret again.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    wait: u64,
    /// Print the sign-in address only; do not open a browser.
    #[arg(long)]
    no_browser: bool,
    #[command(flatten)]
    net: NetArgs,
}

pub fn run(config: &Arc<Config>, a: RenewArgs) -> Result<ExitCode> {
    use crate::harbor;
    let registry = super::registry_or_default(config, a.registry.clone())?;
    let key = crate::registry::normalize(&registry)?;
    if config.ci_for(&key).is_some() {
        return Err(Error::Usage(
            "HARBOR_USERNAME/HARBOR_PASSWORD are set: those CI credentials have no web session to renew"
                .into(),
        ));
    }
    let (idx, _) = index::load_lenient(config.data_dir()?)?;
    let entry = idx.registries.get(&key).cloned().ok_or_else(|| {
        Error::Config(format!(
            "not logged in to {key}; run {}",
            crate::cmd(&format!("login {key}"))
        ))
    })?;
    only_users(&key, &entry)?;
    let person = crate::keychain::System::new(crate::keychain::Waiter::Person, config);
    let stored = person.get(entry.store, &key)?.ok_or_else(|| {
        Error::Config(format!(
            "the {} no longer holds the secret for {key}; run {}",
            entry.store.display(),
            crate::cmd(&format!("login {key}"))
        ))
    })?;
    let opts = a.net.options(Some(&entry.net));
    let address = entry.server_url.clone().unwrap_or_else(|| key.clone());
    let client = harbor::Client::connect_key(&key, Some(&address), &opts)?;
    let user = &stored.username;
    let renewal = Renewal {
        config,
        key: &key,
        generation: entry.generation,
        user,
        secret: &stored.secret,
        client: &client,
    };
    let api = match client.verify(renewal.user, renewal.secret) {
        Ok((Verdict::Accepted, _)) => {
            renewal.record(Finding {
                renewed: true,
                ..Finding::of(Verdict::Accepted)
            })?;
            say!("{key} accepts the CLI secret of {user}; there is nothing to renew.");
            return Ok(ExitCode::SUCCESS);
        }
        Ok((_, api)) => api,
        Err(e) => return Err(renewal.recorded(e)),
    };
    // Harbor's web UI lives where its token service does.
    let origin = api.unwrap_or_else(|| client.target().origin());
    let provider = renewal.provider(&origin)?;
    let sign_in = format!("{origin}{}", harbor::SIGN_IN_PATH);
    say!("{key} refuses the CLI secret of {user}: your Harbor web session has expired.");
    say!("Sign in to Harbor through {provider} at:");
    say!("  {sign_in}");
    open_sign_in(a.no_browser, &sign_in);
    say!(
        "Waiting up to {} s for Harbor to accept the CLI secret again...",
        a.wait
    );
    if renewal.wait_for_acceptance(Duration::from_secs(a.wait))? {
        say!("{key} accepts the CLI secret of {user} again: docker pull and push work.");
        return Ok(ExitCode::SUCCESS);
    }
    renewal.idp_must_be_up(&origin)?;
    renewal.record(Finding::of(Verdict::Refused))?;
    let why = format!(
        "{key} still refuses the CLI secret of {user} after {} s. If you did sign in, the CLI secret was \
         probably regenerated: copy the new one (web UI: your name > User Profile > CLI secret) and run \
         {}",
        a.wait,
        crate::cmd(&format!("login {key}"))
    );
    if std::io::stdin().is_terminal() {
        say_err!("{why}");
        return take_new_secret(config, &key, &address, user, &opts, &client);
    }
    Err(Error::Unauthorized(why))
}

/// Robots and identity tokens have no web session: say what helps instead.
fn only_users(key: &str, entry: &index::Entry) -> Result<()> {
    match entry.kind {
        AccountKind::User => Ok(()),
        AccountKind::Robot => Err(Error::Usage(format!(
            "{} is a robot account: robots have no web session to renew. If {key} refuses it, it expired, \
             was disabled or its secret was refreshed: ask a project admin for the new secret, then run \
             {}",
            entry.username,
            crate::cmd("login --robot-file FILE")
        ))),
        AccountKind::Token => Err(Error::Usage(format!(
            "the login for {key} is an identity token, not a Harbor CLI secret; log in again with docker login"
        ))),
    }
}

/// One renewal of the CLI secret stored for `key`.
struct Renewal<'a> {
    config: &'a Config,
    key: &'a str,
    generation: Option<u64>,
    user: &'a str,
    secret: &'a Secret<String>,
    client: &'a crate::harbor::Client,
}

impl Renewal<'_> {
    fn record(&self, found: Finding) -> Result<()> {
        check::record(self.config, self.key, self.generation, found).map(drop)
    }

    /// A check that could not be made, recorded (a 403 or a refused
    /// connection is no refusal): the command's error. Its reason matters
    /// more than a failure to record it.
    fn recorded(&self, e: Error) -> Error {
        let _ = self.record(check::verdict_of(&e));
        e
    }

    /// The identity provider Harbor at `origin` signs people in through;
    /// an error when renewing cannot help (not OIDC, or the provider is down).
    fn provider(&self, origin: &str) -> Result<String> {
        let (key, user) = (self.key, self.user);
        let info = self.client.system_info(Some(origin));
        match info.as_ref().and_then(|i| i.auth_mode.as_deref()) {
            Some("oidc_auth") => {}
            Some(mode) => {
                self.record(Finding::of(Verdict::Refused))?;
                return Err(Error::Unauthorized(format!(
                    "{key} refuses the password of {user}, and it signs people in with {mode}, not OIDC: \
                     renew does not apply; run {} with the right password",
                    crate::cmd(&format!("login {key}"))
                )));
            }
            None => {
                self.record(Finding::of(Verdict::Refused))?;
                return Err(Error::Unauthorized(format!(
                    "{key} refuses the secret of {user}, and {origin} does not say how it signs people in \
                     (no Harbor systeminfo): renew only helps with a Harbor that uses OIDC; \
                     run {} with a new secret",
                    crate::cmd(&format!("login {key}"))
                )));
            }
        }
        self.idp_must_be_up(origin)?;
        Ok(info
            .and_then(|i| i.oidc_provider_name)
            .unwrap_or_else(|| "your identity provider".into()))
    }

    /// An error, recorded, when Harbor at `origin` cannot reach its identity
    /// provider: signing in fails then, and every CLI secret is refused.
    fn idp_must_be_up(&self, origin: &str) -> Result<()> {
        let Some(status) = self.client.identity_provider_down(Some(origin)) else {
            return Ok(());
        };
        self.record(Finding {
            idp_down: true,
            ..Finding::of(Verdict::Refused)
        })?;
        Err(Error::Unauthorized(format!(
            "{} (its sign-in page {origin}{} answered HTTP {status}, so signing in cannot work now)",
            check::idp_down_text(self.key),
            crate::harbor::SIGN_IN_PATH
        )))
    }

    /// Ask the token service every [`POLL`] until it accepts the secret
    /// (`true`, recorded) or `wait` is over (`false`). A check that cannot
    /// be made at the end, or that something in front of Harbor blocks
    /// (polling on would only feed a rate limiter), is the error.
    fn wait_for_acceptance(&self, wait: Duration) -> Result<bool> {
        let deadline = Instant::now() + wait;
        let mut last_error = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(POLL.min(left));
            match self.client.verify(self.user, self.secret) {
                Ok((Verdict::Accepted, _)) => {
                    self.record(Finding {
                        renewed: true,
                        ..Finding::of(Verdict::Accepted)
                    })?;
                    return Ok(true);
                }
                Ok(_) => last_error = None,
                Err(e @ Error::Blocked(_)) => return Err(self.recorded(e)),
                Err(e) => last_error = Some(e),
            }
        }
        // Offline at the end: say so rather than blame the secret.
        match last_error {
            Some(e) => Err(e),
            None => Ok(false),
        }
    }
}

/// On a terminal: take the regenerated secret right here, check it, keep it.
fn take_new_secret(
    config: &Arc<Config>,
    key: &str,
    address: &str,
    user: &str,
    opts: &crate::registry::NetOptions,
    client: &crate::harbor::Client,
) -> Result<ExitCode> {
    let secret = rpassword::prompt_password(
        "Paste the new CLI secret to check and keep it (or press Enter to stop): ",
    )
    .map(Secret::new)
    .map_err(|e| Error::Usage(format!("cannot read the secret: {e}")))?;
    if secret.expose().trim().is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    let (verdict, _) = client.verify(user, &secret)?;
    if verdict != Verdict::Accepted {
        return Err(Error::Unauthorized(format!(
            "{key} refuses that secret for {user} too; nothing was changed"
        )));
    }
    crate::protocol::actions::store_with(
        &crate::protocol::actions::Context::system(config),
        crate::protocol::Credentials {
            server_url: address.to_string(),
            username: user.to_string(),
            secret,
        },
        crate::protocol::actions::LoginFacts {
            kind: Some(AccountKind::User),
            expires_at: None,
            verified_at: Some(index::now()),
            net: Some(opts.clone()),
            adopted_from: None,
        },
        &mut std::io::stderr(),
    )?;
    say!("Login Succeeded: the new CLI secret of {user} for {key} is kept.");
    Ok(ExitCode::SUCCESS)
}

/// Open the sign-in address where a browser of the user's can show it.
fn open_sign_in(no_browser: bool, sign_in: &str) {
    if no_browser {
        // Printed already: the address is there to open anywhere.
    } else if over_ssh() {
        say!("(This is an SSH session: open the address in a browser on any machine.)");
    } else if !open_browser(sign_in) {
        say!("(No browser could be opened: open the address yourself.)");
    }
}

/// Whether this is an SSH session, where a browser would open on the wrong
/// machine (or nowhere).
fn over_ssh() -> bool {
    ["SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// Open `url` in a browser: `$BROWSER` first (a list of commands, `%s` for
/// the address, as xdg-utils and git read it), then the platform's opener.
/// Not waited for: some openers stay until the browser window closes.
fn open_browser(url: &str) -> bool {
    let sep = if cfg!(windows) { ';' } else { ':' };
    if let Ok(list) = std::env::var("BROWSER") {
        for cmd in list.split(sep) {
            if launch(cmd, url) {
                return true;
            }
        }
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "rundll32 url.dll,FileProtocolHandler"
    } else {
        "xdg-open"
    };
    launch(opener, url)
}

fn launch(cmd: &str, url: &str) -> bool {
    let mut words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        return false;
    }
    if words.iter().any(|w| w.contains("%s")) {
        for w in &mut words {
            *w = w.replace("%s", url);
        }
    } else {
        words.push(url.to_string());
    }
    std::process::Command::new(&words[0])
        .args(&words[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}
