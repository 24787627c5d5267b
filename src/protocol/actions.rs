//! The credential-helper actions (`store`, `get`, `erase`, `list`, `version`):
//! protocol in, keychain and index out. Kept free of argument parsing and
//! terminal handling, and run against a [`Context`] (the keychains, the
//! index, the cache), so that `main` and the unit tests below drive the same
//! code: the tests over keychains in memory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::account::AccountKind;
use crate::error::{Error, Result};
use crate::keychain::cache::{self, Cache};
use crate::keychain::{self, KeychainKind, Keychains, Stored};
use crate::protocol;
use crate::protocol::ci_env::CiCredentials;
use crate::registry;
use crate::secret::Secret;
use crate::state::config::Config;
use crate::state::index;

use crate::NAME;
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const ACTIONS: [&str; 5] = ["store", "get", "erase", "list", "version"];

pub fn usage() -> String {
    format!("Usage: {NAME} <store|get|erase|list|version>")
}

pub fn version_line() -> String {
    format!("{NAME} ({NAME}) {VERSION}\n")
}

/// What the actions work on. [`Context::system`] is this process's; unit
/// tests build one over memory in a temporary directory.
pub struct Context {
    keychains: Box<dyn Keychains>,
    cache: Box<dyn Cache>,
    /// The directories, the variables and the settings, read once.
    config: Arc<Config>,
    /// Whether `get` may start a background check (see [`crate::check`]).
    checks: bool,
    /// Which requests are meant for this helper (see [`Context::served`]).
    scope: Scope,
}

/// Which registries a client's request is meant for this helper.
pub enum Scope {
    /// Asked only through a `credHelpers` entry, or by this tool's own
    /// commands: every request is.
    Everything,
    /// Asked about every registry (containers/image with the drop-in): the
    /// function says, from files alone, whom a request for a key is for.
    Asked(Box<dyn Fn(&str) -> Asked>),
}

/// Whom a request about one registry is for (see [`Scope::Asked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    /// A registry this helper is configured for (the default registry, a
    /// client's `credHelpers`, or the caller's own auth file routes it here).
    Configured,
    /// The caller was given an auth file of its own (`--authfile`,
    /// `REGISTRY_AUTH_FILE`) that does not route it here: as if this helper
    /// were not installed.
    Elsewhere,
    /// Neither: served when the index holds it (a login of this tool's).
    Unknown,
}

impl Context {
    /// This machine's keychains, the user's index and the kernel-keyring
    /// cache, for this tool's own commands run by a person (login, logout,
    /// configure, kube-secret): every registry they name is theirs, and a
    /// keychain call waits as long as a person needs to answer a dialog.
    pub fn system(config: &Arc<Config>) -> Context {
        Context::waited_on_by(config, keychain::Waiter::Person)
    }

    /// [`Context::system`] for a program waiting on the answer (kubelet):
    /// every keychain call keeps a program's time limit.
    pub fn unattended(config: &Arc<Config>) -> Context {
        Context::waited_on_by(config, keychain::Waiter::Program)
    }

    /// [`Context::unattended`] for a client's protocol request: what it is
    /// meant for is decided from files alone, before any keychain call.
    pub fn for_clients(config: &Arc<Config>) -> Context {
        Context {
            scope: clients_scope(config),
            ..Context::unattended(config)
        }
    }

    fn waited_on_by(config: &Arc<Config>, waiter: keychain::Waiter) -> Context {
        Context {
            keychains: Box::new(keychain::System::new(waiter, config)),
            cache: Box::new(cache::KernelKeyring::new(config.cache_ttl())),
            config: Arc::clone(config),
            checks: true,
            scope: Scope::Everything,
        }
    }

    /// The configuration this context was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether this helper serves `key` (see [`Scope`]). For any other,
    /// `store` fails so the client's auth file keeps the secret, `get` says
    /// not found and `erase` succeeds, all without asking a keychain.
    fn served(&self, key: &str, indexed: bool) -> bool {
        if self.ci_for(key).is_some() {
            return true;
        }
        match &self.scope {
            Scope::Everything => true,
            Scope::Asked(asked) => match asked(key) {
                Asked::Configured => true,
                Asked::Elsewhere => false,
                Asked::Unknown => indexed,
            },
        }
    }

    fn index_dir(&self) -> Result<&Path> {
        self.config.data_dir()
    }

    fn ci_for(&self, key: &str) -> Option<&CiCredentials> {
        self.config.ci_for(key)
    }

    fn transact<T, U>(
        &self,
        change: impl FnOnce(&mut index::Index) -> Result<T>,
        apply: impl FnOnce(&T) -> Result<U>,
    ) -> Result<(T, U, Option<String>)> {
        index::transact(self.index_dir()?, change, apply)
    }

    fn load_index(&self) -> Result<(index::Index, Option<String>)> {
        index::load_lenient(self.index_dir()?)
    }

    fn load_entry(&self, key: &str) -> Result<(Option<index::Entry>, Option<String>)> {
        index::load_entry_lenient(self.index_dir()?, key)
    }

    fn notice_due(&self, name: &str, period_secs: u64) -> bool {
        crate::state::notice::due(self.config.cache_dir().ok(), name, period_secs)
    }
}

/// Only the drop-in makes containers/image ask about every registry;
/// without it this is a helper like any other, which keeps what it is
/// given (and the WSL bridge's Linux side chose for its Windows build).
fn clients_scope(config: &Arc<Config>) -> Scope {
    if config.bridged() || !crate::clients::containers_dropin_path().is_ok_and(|p| p.exists()) {
        return Scope::Everything;
    }
    let caller = crate::protocol::caller::Caller::parent();
    let config = Arc::clone(config);
    Scope::Asked(Box::new(move |key| {
        if let Some(files) = caller.as_ref().and_then(|c| c.auth_files_for(key)) {
            return match files
                .iter()
                .any(|f| crate::clients::file_routes_to_helper(f, key))
            {
                true => Asked::Configured,
                false => Asked::Elsewhere,
            };
        }
        let default = config
            .default_registry()
            .ok()
            .and_then(|d| registry::normalize(&d).ok());
        if default.is_some_and(|d| d == key) || crate::clients::routes_to_helper(key) {
            Asked::Configured
        } else {
            Asked::Unknown
        }
    }))
}

/// Run one protocol action. What it returns goes to stdout; an error's
/// one-line text goes to stdout too, as the Go helpers do.
pub fn run(
    cx: &Context,
    action: &str,
    stdin: impl std::io::Read,
    stderr: &mut dyn Write,
) -> Result<Secret<String>> {
    match action {
        "store" => {
            let input = protocol::read_input(stdin)?;
            let creds = protocol::parse_store(input.expose())?;
            store_as(cx, creds, LoginFacts::default(), Only::Served, stderr)?;
            Ok(Secret::default())
        }
        "get" => {
            let input = protocol::read_input(stdin)?;
            get(cx, &protocol::parse_server_url(input.expose())?, stderr)
        }
        "erase" => {
            let input = protocol::read_input(stdin)?;
            let url = protocol::parse_server_url(input.expose())?;
            // A key nobody could have stored stays "not found", as for get.
            registry::normalize(&url).map_err(|_| Error::NotFound)?;
            match erase(cx, &url, stderr) {
                // A valid key with nothing stored is nothing to erase.
                // containers/image <= 5.30 (podman 4.3 to 5.0, skopeo,
                // buildah) crashes with a stack overflow on any failed erase.
                Ok(()) | Err(Error::NotFound) => Ok(Secret::default()),
                Err(e) => Err(e),
            }
        }
        "list" => Ok(Secret::new(protocol::format_list(&list(cx, stderr)?))),
        "version" => Ok(Secret::new(version_line())),
        other => Err(Error::Usage(format!("{NAME}: unknown action: {other}"))),
    }
}

fn warn(stderr: &mut dyn Write, msg: &str) {
    // Warnings name keys and accounts from the index: no control bytes.
    let _ = writeln!(stderr, "{NAME}: {}", crate::text::escape(msg));
}

/// Facts about a login that `store` cannot learn from the protocol.
#[derive(Default)]
pub struct LoginFacts {
    pub kind: Option<AccountKind>,
    pub expires_at: Option<i64>,
    pub verified_at: Option<i64>,
    /// How login reached the registry; `None` keeps what the same account had.
    pub net: Option<crate::registry::NetOptions>,
    /// The credential helper `configure` took the login over from.
    pub adopted_from: Option<String>,
}

/// Keep credentials for the registry: keychain first, then the index, both
/// under the index lock.
pub fn store(
    cx: &Context,
    creds: protocol::Credentials,
    stderr: &mut dyn Write,
) -> Result<Option<KeychainKind>> {
    store_with(cx, creds, LoginFacts::default(), stderr)
}

pub fn store_with(
    cx: &Context,
    creds: protocol::Credentials,
    facts: LoginFacts,
    stderr: &mut dyn Write,
) -> Result<Option<KeychainKind>> {
    store_as(cx, creds, facts, Only::Any, stderr)
}

/// Which registries a store keeps: a client's protocol `store` only those
/// this helper serves (see [`Context::served`]); this tool's own `login`
/// any it is given; `configure`'s move of a plaintext secret only where no
/// keychain holds a login yet (never over another account or secret).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Served,
    Any,
    New,
}

/// [`store_with`] where no keychain holds a login for the registry yet,
/// decided under the index lock: `Err(Error::Taken)` when one does.
pub fn store_new(
    cx: &Context,
    creds: protocol::Credentials,
    facts: LoginFacts,
    stderr: &mut dyn Write,
) -> Result<Option<KeychainKind>> {
    store_as(cx, creds, facts, Only::New, stderr)
}

fn store_as(
    cx: &Context,
    creds: protocol::Credentials,
    facts: LoginFacts,
    only: Only,
    stderr: &mut dyn Write,
) -> Result<Option<KeychainKind>> {
    let key = registry::normalize(&creds.server_url)?;
    if cx.ci_for(&key).is_some() {
        // CI mode: the pipeline's variables are the credentials; keep nothing.
        return Ok(None);
    }
    // Refused from files alone, before a keychain is chosen (and decided
    // again under the lock below).
    if only == Only::Served && !cx.served(&key, cx.load_entry(&key)?.0.is_some()) {
        return Err(Error::NotServed(key));
    }
    let kind = cx.keychains.choose()?;
    let protocol::Credentials {
        server_url,
        username,
        secret,
    } = creds;
    let stored = Stored { username, secret };
    let keep = Keep {
        only,
        key: &key,
        server_url: &server_url,
        stored: &stored,
        facts: &facts,
    };
    let kind = match store_in(cx, kind, None, &keep, stderr) {
        Ok(()) => kind,
        // In WSL with the Windows side out of reach: the Linux keychain, said once.
        Err(e) => match cx.keychains.instead_of(kind, &e)? {
            Some((linux, why)) => {
                let other = linux[0];
                warn(
                    stderr,
                    &format!(
                        "warning: {why}; the secret is kept in the {} instead{}; {}",
                        other.display(),
                        if other == KeychainKind::Keyutils {
                            ", which WSL empties when its VM stops"
                        } else {
                            ""
                        },
                        keychain::SHARED_LOGIN
                    ),
                );
                store_in(cx, other, Some(kind), &keep, stderr)?;
                return Ok(Some(other));
            }
            None => return Err(e),
        },
    };
    if kind == KeychainKind::Keyutils {
        warn(
            stderr,
            "no Secret Service in this session: the secret is kept in the Linux kernel keyring, \
             which a reboot empties (and logout too, after a few days unused); a password store \
             keeps it across reboots (`pass init KEYID`, README: headless Linux)",
        );
    }
    Ok(Some(kind))
}

/// One store's request: the same whichever keychain takes it.
#[derive(Clone, Copy)]
struct Keep<'a> {
    only: Only,
    key: &'a str,
    server_url: &'a str,
    stored: &'a Stored,
    facts: &'a LoginFacts,
}

/// Keychain first, then the index, both under the index lock. A copy left
/// in `unreachable` (which just failed) is not chased.
fn store_in(
    cx: &Context,
    kind: KeychainKind,
    unreachable: Option<KeychainKind>,
    keep: &Keep,
    stderr: &mut dyn Write,
) -> Result<()> {
    let Keep {
        only, key, stored, ..
    } = *keep;
    keychain::check_size(kind, stored)?;
    // What the first pull after this login is served from, without a
    // slow keychain's round trip (see `cache`).
    let cache_copy = kind.cached().then(|| Stored {
        username: stored.username.clone(),
        secret: stored.secret.clone(),
    });
    let generation = cache::new_generation();
    let (_, (), note) = cx.transact(
        |idx| {
            // Decided under the lock, on the index being replaced (a damaged
            // one leaves only the configuration to decide).
            if only == Only::Served && !cx.served(key, idx.registries.contains_key(key)) {
                return Err(Error::NotServed(key.to_string()));
            }
            let previous = idx.registries.get(key).cloned();
            let entry = new_entry(keep, kind, generation, previous.as_ref());
            idx.registries.insert(key.to_string(), entry);
            Ok(previous)
        },
        |previous| {
            if only == Only::New
                && let Some(p) = previous
                && cx.keychains.open(p.store).get(key)?.is_some()
            {
                return Err(Error::Taken(key.to_string()));
            }
            cx.keychains.open(kind).set(
                key,
                Stored {
                    username: stored.username.clone(),
                    secret: stored.secret.clone(),
                },
            )?;
            match &cache_copy {
                Some(copy) => cx.cache.put(key, generation, copy),
                None => cx.cache.invalidate(key),
            }
            if let Some(p) = previous
                && p.store != kind
                && Some(p.store) != unreachable
            {
                // The secret moved keychains: leave no copy behind.
                let _ = cx.keychains.open(p.store).delete(key);
            }
            Ok(())
        },
    )?;
    if let Some(n) = note {
        warn(stderr, &format!("warning: {n}"));
    }
    Ok(())
}

/// The index entry a store writes. What the registry's previous entry for
/// the same account knew and this store does not say is carried over.
fn new_entry(
    keep: &Keep,
    kind: KeychainKind,
    generation: u64,
    previous: Option<&index::Entry>,
) -> index::Entry {
    let Keep {
        server_url,
        stored,
        facts,
        ..
    } = *keep;
    let username = &stored.username;
    let same_account = previous.filter(|p| &p.username == username);
    index::Entry {
        kind: facts.kind.unwrap_or_else(|| AccountKind::guess(username)),
        username: username.clone(),
        store: kind,
        stored_at: index::now(),
        // A passed date is not kept: clients store only what the
        // registry accepted, so the robot was extended.
        expires_at: facts.expires_at.or_else(|| {
            same_account
                .and_then(|p| p.expires_at)
                .filter(|e| !index::robot_date_passed(Some(*e), index::now()))
        }),
        server_url: Some(server_url.to_string()),
        generation: Some(generation),
        verified_at: facts.verified_at,
        check: None,
        net: facts
            .net
            .clone()
            .or_else(|| same_account.map(|p| p.net.clone()))
            .unwrap_or_default(),
        lives: same_account
            .map(|p| p.lives.for_new_store())
            .unwrap_or_default(),
        adopted_from: facts.adopted_from.clone(),
        extra: same_account.map(|p| p.extra.clone()).unwrap_or_default(),
    }
}

/// Look up the credentials for `server_url`; prints them as one JSON line.
/// Says on stderr when the registry refused them lately, and starts a
/// background check when one is due (see [`crate::check`]).
pub fn get(cx: &Context, server_url: &str, stderr: &mut dyn Write) -> Result<Secret<String>> {
    let found = find(cx, server_url, stderr)?;
    if let Some((key, entry)) = &found.known {
        warnings::refusal(cx, key, entry, stderr);
        if cx.checks {
            crate::check::background::maybe_start(&cx.config, key, entry, stderr);
        }
    }
    Ok(protocol::format_get(
        server_url,
        &found.username,
        &found.secret,
    ))
}

/// The stored username and secret for `server_url`, with no background
/// check (the kubelet provider and `kube-secret` use this).
pub fn lookup(
    cx: &Context,
    server_url: &str,
    stderr: &mut dyn Write,
) -> Result<(String, Secret<String>)> {
    let found = find(cx, server_url, stderr)?;
    Ok((found.username, found.secret))
}

struct Found {
    username: String,
    secret: Secret<String>,
    /// The key and index entry the answer came from; `None` in CI mode or
    /// for a keychain entry the index did not know.
    known: Option<(String, index::Entry)>,
}

/// docker's `Get`, in order: CI mode, the index entry, whether this helper
/// serves the key, the cache, the keychains, and what to remember.
fn find(cx: &Context, server_url: &str, stderr: &mut dyn Write) -> Result<Found> {
    // A key nobody could have stored is simply not found: clients then go on
    // anonymously instead of failing hard.
    let key = registry::normalize(server_url).map_err(|_| Error::NotFound)?;
    if let Some(ci) = cx.ci_for(&key) {
        return Ok(Found {
            username: ci.username.clone(),
            secret: ci.secret.clone(),
            known: None,
        });
    }
    let (known, damaged) = cx.load_entry(&key)?;
    // Asked about every registry (containers/image with the drop-in): one
    // this helper does not serve is not found at once, whatever state the
    // keychains are in (a prompt nobody sees, a mistyped store name).
    if !cx.served(&key, known.is_some()) {
        return Err(Error::NotFound);
    }
    // A mistyped DOCKER_CREDENTIAL_HARBOR_STORE is loud on every path.
    cx.keychains.forced()?;
    if let Some(why) = &damaged {
        warn(
            stderr,
            &format!("warning: {why}; reading the keychain directly and starting a new index"),
        );
    }
    // Warm path: a kernel-keyring copy made for this very index generation.
    let cached_generation = known.as_ref().and_then(cache_generation);
    if let (Some(e), Some(g)) = (&known, cached_generation)
        && let Some(hit) = cx.cache.get(&key, g)
    {
        warnings::expiry(cx, &key, e, stderr);
        return Ok(Found::of(hit, &key, known));
    }
    let home = known.as_ref().map(|e| e.store);
    let (kind, stored) = keychain::read(cx.keychains.as_ref(), &key, home, &mut |line| {
        warn(stderr, line)
    })?;
    match &known {
        Some(e) => {
            if let Some(g) = cached_generation
                && e.store == kind
            {
                cx.cache.put(&key, g, &stored);
            }
            warnings::expiry(cx, &key, e, stderr);
        }
        None => {
            if let Some(g) = remember(cx, &key, kind, &stored.username, server_url)
                && kind.cached()
            {
                cx.cache.put(&key, g, &stored);
            }
        }
    }
    Ok(Found::of(stored, &key, known))
}

/// The index generation a cached copy of `entry`'s secret is kept for,
/// when its keychain is one the cache sits in front of.
fn cache_generation(entry: &index::Entry) -> Option<u64> {
    entry.generation.filter(|_| entry.store.cached())
}

impl Found {
    fn of(stored: keychain::Stored, key: &str, known: Option<index::Entry>) -> Found {
        Found {
            username: stored.username,
            secret: stored.secret,
            known: known.map(|e| (key.to_string(), e)),
        }
    }
}

/// Put a keychain entry that the index lacks back into the index, so `list`
/// shows it again; the new entry's generation. Best effort: `get` must not
/// fail because of the index.
fn remember(
    cx: &Context,
    key: &str,
    kind: KeychainKind,
    username: &str,
    server_url: &str,
) -> Option<u64> {
    let generation = cache::new_generation();
    let (inserted, (), _) = cx
        .transact(
            |idx| {
                if idx.registries.contains_key(key) {
                    return Ok(false);
                }
                idx.registries.insert(
                    key.to_string(),
                    index::Entry {
                        username: username.to_string(),
                        kind: AccountKind::guess(username),
                        store: kind,
                        stored_at: index::now(),
                        expires_at: None,
                        server_url: Some(server_url.to_string()),
                        generation: Some(generation),
                        verified_at: None,
                        check: None,
                        net: crate::registry::NetOptions::default(),
                        lives: index::Lives::default(),
                        adopted_from: None,
                        extra: serde_json::Map::new(),
                    },
                );
                Ok(true)
            },
            |inserted| {
                // The read above took no lock: an erase may have come since.
                // Under the lock (stores and erases change the keychain only
                // while holding it) the entry must still be there.
                if !*inserted {
                    return Ok(());
                }
                match cx.keychains.open(kind).get(key)? {
                    Some(s) if s.username == username => Ok(()),
                    _ => Err(Error::NotFound),
                }
            },
        )
        .ok()?;
    inserted.then_some(generation)
}

/// Remove the credentials for `server_url` from every keychain that has them.
pub fn erase(cx: &Context, server_url: &str, stderr: &mut dyn Write) -> Result<()> {
    let key = registry::normalize(server_url).map_err(|_| Error::NotFound)?;
    if cx.ci_for(&key).is_some() {
        return Ok(());
    }
    // Another's login (another auth file, a registry not served): as if
    // this helper were not installed, nothing here is erased.
    if !cx.served(&key, cx.load_entry(&key)?.0.is_some()) {
        return Ok(());
    }
    let order = cx.keychains.search_order()?;
    let (home, found, note) = cx.transact(
        |idx| Ok(idx.registries.remove(&key).map(|e| e.store)),
        |home| {
            let mut order = order;
            if let Some(h) = home {
                order.retain(|k| k != h);
                order.insert(0, *h);
            }
            cx.cache.invalidate(&key);
            let mut found = false;
            for kind in order {
                match cx.keychains.open(kind).delete(&key) {
                    Ok(deleted) => found |= deleted,
                    // The keychain that holds it must answer; the others are a sweep.
                    Err(e) if Some(kind) == *home => return Err(e),
                    Err(_) => {}
                }
            }
            Ok(found)
        },
    )?;
    let found = found || home.is_some();
    if let Some(n) = note {
        warn(stderr, &format!("warning: {n}"));
    }
    if found { Ok(()) } else { Err(Error::NotFound) }
}

/// Registry key to username, from the index alone.
pub fn list(cx: &Context, stderr: &mut dyn Write) -> Result<BTreeMap<String, String>> {
    let (idx, damaged) = cx.load_index()?;
    if let Some(why) = damaged {
        warn(
            stderr,
            &format!("warning: {why}; listing nothing until the next store repairs it"),
        );
    }
    // A client with auth files of its own (`logout --all --authfile F`)
    // sees only what those files route here.
    let mut out: BTreeMap<String, String> = idx
        .registries
        .iter()
        .filter(|(k, _)| cx.served(k, true))
        .map(|(k, e)| (k.clone(), e.username.clone()))
        .collect();
    if let Some(ci) = cx.config.ci() {
        out.insert(ci.registry.clone(), ci.username.clone());
    }
    Ok(out)
}

mod warnings;

#[cfg(test)]
mod tests;
