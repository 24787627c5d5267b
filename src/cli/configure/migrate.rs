//! Moving plaintext secrets out of the clients' files, without ever losing
//! or taking over a credential. A Harbor robot's secret is shown once: one
//! overwritten or deleted on a guess is gone for good. So:
//!
//! - a login the keychain holds is never replaced: a plaintext entry equal
//!   to it is a copy (removed); a different one is removed only when the
//!   registry refuses it (a 401), else kept where it is, with one line;
//! - with nothing stored, the first entry the registry accepts is stored
//!   (only if no login was stored meanwhile); the others follow the rule
//!   above, so of several different entries at most one is moved;
//! - an entry this tool cannot check (an identity token) is kept;
//! - a file entry is stripped only if it still holds what was checked,
//!   compared under the file's lock just before the rename ([`AuthFile`]).
//!
//! Every check runs before any file is opened for writing ([`decide`]);
//! [`Plan::apply`] then strips while each file is open for its edit.

use std::path::PathBuf;
use std::sync::Arc;

use crate::clients::auth_file::{AuthFile, Login, Plaintext};
use crate::error::{Error, Result};
use crate::protocol::Credentials;
use crate::protocol::actions::{self, LoginFacts};
use crate::registry::NetOptions;
use crate::state::config::Config;
use crate::state::index;
use crate::text::{escape, say, say_err};
use crate::verdict::Verdict;

/// A login found for a registry configure routes to the helper.
pub struct Found {
    pub who: &'static str,
    pub key: String,
    pub from: From,
}

/// Where a login was found.
pub enum From {
    /// A plaintext entry in a client's file.
    File { path: PathBuf, entry: Plaintext },
    /// The credential helper that served the registry before
    /// (`docker-credential-<name>`; see [`super::adopt`]): never changed.
    Helper { name: String, login: Login },
}

impl Found {
    fn path(&self) -> Option<&PathBuf> {
        match &self.from {
            From::File { path, .. } => Some(path),
            From::Helper { .. } => None,
        }
    }

    fn entry(&self) -> Option<&Plaintext> {
        match &self.from {
            From::File { entry, .. } => Some(entry),
            From::Helper { .. } => None,
        }
    }
}

/// Why an entry goes.
enum Why {
    /// Stored in the keychain, read back equal.
    Moved,
    /// Equal to the login the keychain holds.
    Copy,
    /// The registry refused it (a 401).
    Refused,
}

struct Strip {
    found: Found,
    username: String,
    why: Why,
}

/// The entries to strip, each file's when it is open for its edit.
pub struct Plan {
    strips: Vec<Strip>,
    /// False when a secret stays that configure should have moved (CI
    /// mode, a keychain that failed): configure exits 1.
    pub ok: bool,
}

/// How configure was asked to check.
pub struct Checking {
    pub verify: bool,
    pub net: NetOptions,
    pub config: Arc<Config>,
}

/// Decide each entry's fate, registry by registry, in the order found
/// (docker's file first). Keeps print their line now; strips print theirs
/// once the file is saved ([`Plan::report`]).
pub fn decide(found: Vec<Found>, how: &Checking) -> Plan {
    let mut plan = Plan::nothing();
    let mut stored: Vec<(String, Option<Login>)> = Vec::new();
    for f in found {
        if how.config.ci_for(&f.key).is_some() {
            warn_kept(
                &f,
                &format!(
                    "{} and {} are set (CI mode), so the keychain is not used; unset them and run configure again to move it",
                    crate::env_vars::HARBOR_USERNAME,
                    crate::env_vars::HARBOR_PASSWORD
                ),
            );
            plan.ok = false;
            continue;
        }
        let held = match stored.iter().position(|(k, _)| *k == f.key) {
            Some(i) => &mut stored[i].1,
            None => match held_login(&how.config, &f.key) {
                Ok(h) => {
                    stored.push((f.key.clone(), h));
                    &mut stored.last_mut().expect("just pushed").1
                }
                Err(e) => {
                    warn_kept(
                        &f,
                        &format!("the keychain could not be read ({})", e.one_line()),
                    );
                    plan.ok = false;
                    continue;
                }
            },
        };
        match fate(&f, held, how) {
            // Nothing to strip in another helper's store: said now.
            Ok(Some((username, why))) if f.path().is_none() => adopted(&f, &username, &why),
            Ok(Some((username, why))) => plan.strips.push(Strip {
                found: f,
                username,
                why,
            }),
            Ok(None) => {}
            Err(()) => plan.ok = false,
        }
    }
    plan
}

/// A login of another helper's, taken over or left: one line.
fn adopted(f: &Found, username: &str, why: &Why) {
    let From::Helper { name, .. } = &f.from else {
        return;
    };
    let key = &f.key;
    match why {
        Why::Moved => say!(
            "{key}: took over the login of {username} from docker-credential-{name} \
             (the registry accepts it; it stays there too)"
        ),
        Why::Copy => say!("{key}: docker-credential-{name} holds the same login as the keychain"),
        Why::Refused => say_err!(
            "warning: docker-credential-{name}'s login of {username} for {key} was not taken over: \
             the registry refused it; log in with {}",
            crate::cmd(&format!("login {key}"))
        ),
    }
}

/// What the keychain holds for `key` now.
fn held_login(config: &Arc<Config>, key: &str) -> Result<Option<Login>> {
    match actions::lookup(
        &actions::Context::system(config),
        key,
        &mut std::io::stderr(),
    ) {
        Ok((username, secret)) => Ok(Some(Login { username, secret })),
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One entry's fate against what the keychain holds (`held`, updated when
/// this one is stored): `Some` to strip it, `None` to keep it (its line
/// printed), `Err` when it stays though it should have moved.
fn fate(
    f: &Found,
    held: &mut Option<Login>,
    how: &Checking,
) -> std::result::Result<Option<(String, Why)>, ()> {
    let login = match &f.from {
        From::File { entry, .. } => match &entry.login {
            Ok(l) => l,
            Err(why) => {
                warn_kept(f, why);
                return Ok(None);
            }
        },
        From::Helper { login, .. } => login,
    };
    let username = login.username.clone();
    if let Some(h) = held.as_ref() {
        if h.username == login.username && h.secret.expose() == login.secret.expose() {
            return Ok(Some((username, Why::Copy)));
        }
        let other = escape(&h.username).into_owned();
        return Ok(match check(f, login, how) {
            Some(Verdict::Refused) => Some((username, Why::Refused)),
            Some(_) => {
                warn_kept(
                    f,
                    &format!(
                        "it differs from the login the keychain holds ({other}) and is not refused; to use it instead, \
                     log in with it ({}), then run configure again",
                        crate::cmd(&format!("login {}", f.key))
                    ),
                );
                None
            }
            None => None,
        });
    }
    match check(f, login, how) {
        Some(Verdict::Refused) => Ok(Some((username, Why::Refused))),
        Some(Verdict::Accepted) => match store(f, login, how) {
            Ok(()) => {
                *held = Some(Login {
                    username: login.username.clone(),
                    secret: login.secret.clone(),
                });
                Ok(Some((username, Why::Moved)))
            }
            Err(why) => {
                warn_kept(f, &why);
                Err(())
            }
        },
        _ => Ok(None),
    }
}

/// The registry's verdict on one entry: `Accepted` unchecked with
/// `--no-verify` when nothing is stored; `None` when it could not be asked
/// (its line printed).
fn check(f: &Found, login: &Login, how: &Checking) -> Option<Verdict> {
    if !how.verify {
        return Some(Verdict::Accepted);
    }
    let address = f.entry().map_or(f.key.as_str(), |e| e.auths_key.as_str());
    let verdict = crate::harbor::Client::connect(address, &how.net)
        .and_then(|c| c.verify(&login.username, &login.secret));
    match verdict {
        Ok((v @ (Verdict::Accepted | Verdict::Refused), _)) => Some(v),
        Ok((v, _)) => {
            warn_unchecked(f, &format!("the check was {}", v.name()));
            None
        }
        Err(e) => {
            warn_unchecked(f, &e.one_line());
            None
        }
    }
}

/// Store `login` where no keychain holds one yet, and read it back.
fn store(f: &Found, login: &Login, how: &Checking) -> std::result::Result<(), String> {
    let cx = actions::Context::system(&how.config);
    let creds = Credentials {
        server_url: f.key.clone(),
        username: login.username.clone(),
        secret: login.secret.clone(),
    };
    let facts = LoginFacts {
        verified_at: how.verify.then(index::now),
        // Checked later the way it was checked now.
        net: Some(how.net.clone()),
        adopted_from: match &f.from {
            From::Helper { name, .. } => Some(name.clone()),
            From::File { .. } => None,
        },
        ..LoginFacts::default()
    };
    let person = crate::keychain::System::new(crate::keychain::Waiter::Person, &how.config);
    match actions::store_new(&cx, creds, facts, &mut std::io::stderr()) {
        Ok(Some(kind)) => match person.get(kind, &f.key) {
            // Only a copy read back from the keychain lets the file's go.
            Ok(Some(s)) if s.username == login.username && s.secret == login.secret => Ok(()),
            _ => Err("the keychain did not give it back after the store".into()),
        },
        Ok(None) => Err("nothing was stored".into()),
        Err(e @ Error::Taken(_)) => Err(format!(
            "{}; run configure again to compare them",
            e.one_line()
        )),
        Err(e) => Err(format!("it could not be stored ({})", e.one_line())),
    }
}

fn warn_kept(f: &Found, why: &str) {
    match &f.from {
        From::File { path, .. } => say_err!(
            "warning: {}: {}: the plaintext secret for {} was left in the file: {why}",
            f.who,
            path.display(),
            f.key
        ),
        From::Helper { name, .. } => say_err!(
            "warning: docker-credential-{name}'s login for {} was not taken over (it stays there): {why}",
            f.key
        ),
    }
}

fn warn_unchecked(f: &Found, why: &str) {
    warn_kept(
        f,
        &format!(
            "it could not be checked ({why}); run configure again when the registry can be reached"
        ),
    );
}

impl Plan {
    /// Nothing to strip (`--undo`).
    pub fn nothing() -> Plan {
        Plan {
            strips: Vec::new(),
            ok: true,
        }
    }

    /// Strip, in `file`, the entries decided for it.
    pub fn apply(&self, file: &mut AuthFile) {
        let path = file.path.clone();
        for s in self.strips.iter().filter(|s| s.found.path() == Some(&path)) {
            if let Some(entry) = s.found.entry() {
                file.strip_secret(entry);
            }
        }
    }

    /// After `file` was saved: one line for each entry decided for it,
    /// saying whether it went (another program may have changed it).
    pub fn report(&self, file: &AuthFile) {
        for s in self
            .strips
            .iter()
            .filter(|s| s.found.path() == Some(&file.path))
        {
            let Some(entry) = s.found.entry() else {
                continue;
            };
            let (who, path, key) = (s.found.who, file.path.display(), &s.found.key);
            let user = escape(&s.username);
            if !file.was_stripped(&entry.auths_key) {
                say_err!(
                    "warning: {who}: {path}: auths[{}] was left in the file: another login was written there \
                     since it was checked; run configure again to check it",
                    escape(&entry.auths_key)
                );
                continue;
            }
            match s.why {
                Why::Moved => say!(
                    "{who}: {path}: moved the plaintext secret of {user} for {key} into the keychain and removed it from the file"
                ),
                Why::Copy => say!(
                    "{who}: {path}: removed the plaintext secret of {user} for {key}: the keychain holds the same login"
                ),
                Why::Refused => say!(
                    "{who}: {path}: removed the plaintext secret of {user} for {key}: the registry refused it; log in with {}",
                    crate::cmd(&format!("login {key}"))
                ),
            }
        }
    }
}
