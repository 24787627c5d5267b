//! The credential-helper actions (`store`, `get`, `erase`, `list`, `version`):
//! protocol in, keychain and index out. Kept free of argument parsing and
//! terminal handling, and run against a [`Context`] (the keychains, the
//! index, the cache), so that `main` and the unit tests below drive the same
//! code: the tests over keychains in memory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use crate::cache::{self, Cache};
use crate::ci_env::{self, CiCredentials};
use crate::error::{Error, Result};
use crate::index::{self, AccountKind};
use crate::paths;
use crate::protocol;
use crate::registry;
use crate::secret::Secret;
use crate::store::{self, Keychains, StoreKind, Stored};

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
    /// The index's directory; `None` without a home directory (CI mode
    /// needs none).
    data_dir: Option<PathBuf>,
    /// Where rate-limited warnings keep their stamps.
    notices: Option<PathBuf>,
    /// The pipeline's credentials in CI mode (see [`ci_env`]).
    ci: Option<CiCredentials>,
    /// Whether `get` may start a background check (see [`crate::check`]).
    checks: bool,
}

impl Context {
    /// This machine's keychains, the user's index and the kernel-keyring cache.
    pub fn system() -> Context {
        Context {
            keychains: Box::new(store::System),
            cache: Box::new(cache::KernelKeyring),
            data_dir: paths::data_dir().ok(),
            notices: paths::cache_dir().ok(),
            ci: ci_env::credentials(),
            checks: true,
        }
    }

    fn index_dir(&self) -> Result<PathBuf> {
        match &self.data_dir {
            Some(d) => Ok(d.clone()),
            // Its error says what is missing.
            None => paths::data_dir(),
        }
    }

    fn ci_for(&self, key: &str) -> Option<&CiCredentials> {
        self.ci.as_ref().filter(|c| c.registry == key)
    }

    fn transact<T, U>(
        &self,
        change: impl FnOnce(&mut index::Index) -> Result<T>,
        apply: impl FnOnce(&T) -> Result<U>,
    ) -> Result<(T, U, Option<String>)> {
        index::transact_in(&self.index_dir()?, change, apply)
    }

    fn load_index(&self) -> Result<(index::Index, Option<String>)> {
        index::load_lenient_in(&self.index_dir()?)
    }

    fn notice_due(&self, name: &str, period_secs: u64) -> bool {
        match &self.notices {
            Some(dir) => crate::notice::due_in(dir, name, period_secs),
            None => true,
        }
    }
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
            store(cx, protocol::parse_store(input.expose())?, stderr)?;
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
    pub net: Option<index::NetOptions>,
}

/// Keep credentials for the registry: keychain first, then the index, both
/// under the index lock.
pub fn store(
    cx: &Context,
    creds: protocol::Credentials,
    stderr: &mut dyn Write,
) -> Result<Option<StoreKind>> {
    store_with(cx, creds, LoginFacts::default(), stderr)
}

pub fn store_with(
    cx: &Context,
    creds: protocol::Credentials,
    facts: LoginFacts,
    stderr: &mut dyn Write,
) -> Result<Option<StoreKind>> {
    let key = registry::normalize(&creds.server_url)?;
    if cx.ci_for(&key).is_some() {
        // CI mode: the pipeline's variables are the credentials; keep nothing.
        return Ok(None);
    }
    let kind = cx.keychains.choose()?;
    let protocol::Credentials {
        server_url,
        username,
        secret,
    } = creds;
    let stored = Stored { username, secret };
    let kind = match store_in(cx, kind, None, &key, &server_url, &stored, &facts, stderr) {
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
                        if other == StoreKind::Keyutils {
                            ", which WSL empties when its VM stops"
                        } else {
                            ""
                        },
                        store::SHARED_LOGIN
                    ),
                );
                store_in(
                    cx,
                    other,
                    Some(kind),
                    &key,
                    &server_url,
                    &stored,
                    &facts,
                    stderr,
                )?;
                return Ok(Some(other));
            }
            None => return Err(e),
        },
    };
    if kind == StoreKind::Keyutils {
        warn(
            stderr,
            "no Secret Service in this session: the secret is kept in the Linux kernel keyring, \
             which a reboot empties (and logout too, after a few days unused)",
        );
    }
    Ok(Some(kind))
}

/// Keychain first, then the index, both under the index lock. A copy left
/// in `unreachable` (which just failed) is not chased.
#[allow(clippy::too_many_arguments)]
fn store_in(
    cx: &Context,
    kind: StoreKind,
    unreachable: Option<StoreKind>,
    key: &str,
    server_url: &str,
    stored: &Stored,
    facts: &LoginFacts,
    stderr: &mut dyn Write,
) -> Result<()> {
    store::check_size(kind, stored)?;
    let username = &stored.username;
    // What the first pull after this login is served from, without a
    // slow keychain's round trip (see `cache`).
    let cache_copy = kind.cached().then(|| Stored {
        username: stored.username.clone(),
        secret: stored.secret.clone(),
    });
    let generation = cache::new_generation();
    let (_, (), note) = cx.transact(
        |idx| {
            let previous = idx.registries.get(key).cloned();
            let same_account = previous.as_ref().filter(|p| &p.username == username);
            let entry = index::Entry {
                kind: facts.kind.unwrap_or_else(|| AccountKind::guess(username)),
                username: username.clone(),
                store: kind,
                stored_at: index::now(),
                expires_at: facts
                    .expires_at
                    .or_else(|| same_account.and_then(|p| p.expires_at)),
                server_url: Some(server_url.to_string()),
                generation: Some(generation),
                verified_at: facts.verified_at,
                check: None,
                net: facts
                    .net
                    .clone()
                    .or_else(|| same_account.map(|p| p.net.clone()))
                    .unwrap_or_default(),
                extra: same_account.map(|p| p.extra.clone()).unwrap_or_default(),
            };
            idx.registries.insert(key.to_string(), entry);
            Ok(previous)
        },
        |previous| {
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

/// Look up the credentials for `server_url`; prints them as one JSON line.
/// Says on stderr when the registry refused them lately, and starts a
/// background check when one is due (see [`crate::check`]).
pub fn get(cx: &Context, server_url: &str, stderr: &mut dyn Write) -> Result<Secret<String>> {
    let found = find(cx, server_url, stderr)?;
    if let Some((key, entry)) = &found.known {
        refusal_warning(key, entry, stderr);
        if cx.checks {
            crate::check::maybe_start(key, entry, stderr);
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
    // A mistyped DOCKER_CREDENTIAL_HARBOR_STORE is loud on every path.
    cx.keychains.forced()?;
    let (idx, damaged) = cx.load_index()?;
    if let Some(why) = &damaged {
        warn(
            stderr,
            &format!("warning: {why}; reading the keychain directly and starting a new index"),
        );
    }
    let known = idx.registries.get(&key);
    let with_entry = |username: String, secret: Secret<String>| Found {
        username,
        secret,
        known: known.map(|e| (key.clone(), e.clone())),
    };
    // Warm path: a kernel-keyring copy made for this very index generation.
    let cached_generation = known
        .filter(|e| e.store.cached())
        .and_then(|e| e.generation);
    if let (Some(e), Some(g)) = (known, cached_generation)
        && let Some(hit) = cx.cache.get(&key, g)
    {
        expiry_warning(cx, &key, e, stderr);
        return Ok(with_entry(hit.username, hit.secret));
    }
    let mut order = match known {
        Some(e) => vec![e.store],
        None => cx.keychains.search_order()?,
    };
    let mut first_error = None;
    let mut i = 0;
    while let Some(&kind) = order.get(i) {
        i += 1;
        let found = match cx.keychains.open(kind).get(&key) {
            Ok(f) => f,
            Err(e) => {
                // In WSL with the Windows side out of reach: the Linux
                // keychains, said once; a secret in neither is not found.
                if let Some((linux, why)) = cx.keychains.instead_of(kind, &e)? {
                    warn(
                        stderr,
                        &format!(
                            "warning: {why}; looking in the Linux keychain instead; {}",
                            store::SHARED_LOGIN
                        ),
                    );
                    for k in linux {
                        if !order.contains(&k) {
                            order.push(k);
                        }
                    }
                    continue;
                }
                match e {
                    _ if known.is_some() && order.len() == 1 => return Err(e),
                    // Searching for a key the index does not know: a keychain that
                    // cannot be used cannot hold it either; the kernel keyring
                    // refusing a process without a session keyring is no news at all.
                    Error::KeychainUnavailable {
                        store: StoreKind::Keyutils,
                        ..
                    } => {}
                    e => {
                        first_error.get_or_insert(e);
                    }
                }
                continue;
            }
        };
        if let Some(found) = found {
            let home = known.map(|e| e.store);
            if let Some(g) = cached_generation
                && home == Some(kind)
            {
                cx.cache.put(&key, g, &found);
            }
            match known {
                Some(e) => expiry_warning(cx, &key, e, stderr),
                None => {
                    if let Some(g) = remember(cx, &key, kind, &found.username, server_url)
                        && kind.cached()
                    {
                        cx.cache.put(&key, g, &found);
                    }
                }
            }
            return Ok(with_entry(found.username, found.secret));
        }
    }
    Err(first_error.unwrap_or(Error::NotFound))
}

/// One line on stderr on every `get` while the registry's last verdict on
/// this secret is a refusal: docker prints it next to its own bare
/// `unauthorized`, so the user learns what to do.
fn refusal_warning(key: &str, entry: &index::Entry, stderr: &mut dyn Write) {
    let Some(refused) = crate::check::refusal(entry) else {
        return;
    };
    let when = crate::notice::ago(index::now() - refused.at);
    let msg = match entry.kind {
        AccountKind::Robot => format!(
            "warning: {key} refused robot account {} ({when}): it expired, was disabled or its secret was refreshed; \
             import the new secret with {}",
            entry.username,
            crate::cmd("login --robot-file FILE")
        ),
        AccountKind::User => {
            let is_default = crate::settings::default_registry()
                .ok()
                .and_then(|d| registry::normalize(&d).ok())
                .is_some_and(|d| d == key);
            let target = if is_default {
                String::new()
            } else {
                format!(" {key}")
            };
            format!(
                "warning: {key} refused the CLI secret of {} ({when}); your Harbor web session has probably expired: \
                 run {}",
                entry.username,
                crate::cmd(&format!("renew{target}"))
            )
        }
        AccountKind::Token => return,
    };
    warn(stderr, &msg);
}

/// Put a keychain entry that the index lacks back into the index, so `list`
/// shows it again; the new entry's generation. Best effort: `get` must not
/// fail because of the index.
fn remember(
    cx: &Context,
    key: &str,
    kind: StoreKind,
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
                        net: index::NetOptions::default(),
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

/// One line on stderr (docker shows it during a pull) when a robot expires
/// within a week or has expired; at most once a day per registry.
fn expiry_warning(cx: &Context, key: &str, entry: &index::Entry, stderr: &mut dyn Write) {
    let Some(left) = index::robot_time_left(entry.expires_at, index::now()) else {
        return;
    };
    if left > 7 * 86_400 {
        return;
    }
    // "Expired" has its own daily slot: the "expires soon" reminder shown
    // yesterday must not hide the news that pulls now fail.
    let slot = if left <= 0 { "expired" } else { "expires-soon" };
    if !cx.notice_due(&format!("{slot}-{key}"), 86_400) {
        return;
    }
    let msg = if left <= 0 {
        format!(
            "warning: robot account {} for {key} expired {}; ask a project admin for a new secret, then run {}",
            entry.username,
            crate::notice::ago(-left),
            crate::cmd("login --robot-file FILE")
        )
    } else {
        format!(
            "warning: robot account {} for {key} expires {}; ask a project admin to refresh it",
            entry.username,
            crate::notice::within(left)
        )
    };
    warn(stderr, &msg);
}

/// Remove the credentials for `server_url` from every keychain that has them.
pub fn erase(cx: &Context, server_url: &str, stderr: &mut dyn Write) -> Result<()> {
    let key = registry::normalize(server_url).map_err(|_| Error::NotFound)?;
    if cx.ci_for(&key).is_some() {
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
    let mut out: BTreeMap<String, String> = idx
        .registries
        .into_iter()
        .map(|(k, e)| (k, e.username))
        .collect();
    if let Some(ci) = &cx.ci {
        out.insert(ci.registry.clone(), ci.username.clone());
    }
    Ok(out)
}

/// The actions in-process, over keychains and a cache in memory: each case
/// the integration suites drive through the binary, without spawning it.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Keychain;
    use crate::store::memory;
    use StoreKind::{Keyutils, SecretService, WindowsViaWsl};

    const KEY: &str = "hub.example.org";

    /// One session: keychains and cache shared by every context made from
    /// it (as processes share the real ones), the index in a temporary directory.
    struct Session {
        keychains: &'static memory::Keychains,
        cache: &'static cache::Memory,
        dir: tempfile::TempDir,
    }

    struct Out {
        result: Result<Secret<String>>,
        stderr: String,
    }

    impl Out {
        fn ok(&self) -> &str {
            match &self.result {
                Ok(s) => s.expose(),
                Err(e) => panic!("failed: {e}; stderr: {}", self.stderr),
            }
        }
        fn err(&self) -> String {
            match &self.result {
                Ok(_) => panic!("succeeded; stderr: {}", self.stderr),
                Err(e) => e.to_string(),
            }
        }
        fn quiet(&self) -> &Self {
            assert_eq!(self.stderr, "", "no warning expected");
            self
        }
    }

    impl Session {
        fn new(kinds: &[StoreKind]) -> Session {
            Session {
                keychains: Box::leak(Box::new(memory::Keychains::new(kinds))),
                cache: Box::leak(Box::default()),
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn cx(&self) -> Context {
            Context {
                keychains: Box::new(self.keychains),
                cache: Box::new(self.cache),
                data_dir: Some(self.dir.path().join("data")),
                notices: Some(self.dir.path().join("cache")),
                ci: None,
                checks: false,
            }
        }

        fn run_in(&self, cx: &Context, action: &str, input: &str) -> Out {
            let mut stderr = Vec::new();
            let result = run(cx, action, input.as_bytes(), &mut stderr);
            Out {
                result,
                stderr: String::from_utf8(stderr).unwrap(),
            }
        }

        fn run(&self, action: &str, input: &str) -> Out {
            self.run_in(&self.cx(), action, input)
        }

        fn store(&self, url: &str, username: &str, secret: &str) -> Out {
            let input =
                serde_json::json!({"ServerURL": url, "Username": username, "Secret": secret});
            self.run("store", &input.to_string())
        }

        fn store_robot(&self, username: &str, expires_at: i64) {
            let creds = protocol::Credentials {
                server_url: KEY.into(),
                username: username.into(),
                secret: Secret::new("s3cr3t".into()),
            };
            let facts = LoginFacts {
                kind: Some(AccountKind::Robot),
                expires_at: Some(expires_at),
                ..LoginFacts::default()
            };
            store_with(&self.cx(), creds, facts, &mut Vec::new()).unwrap();
        }

        fn get(&self, url: &str) -> Out {
            self.run("get", url)
        }

        fn index_path(&self) -> PathBuf {
            self.dir.path().join("data").join(index::FILE_NAME)
        }

        fn index(&self) -> index::Index {
            match index::load_in(&self.dir.path().join("data")).unwrap() {
                index::Loaded::Ok(i) => i,
                index::Loaded::Missing => index::Index::default(),
                _ => panic!("unreadable index"),
            }
        }

        fn entry(&self) -> index::Entry {
            self.index()
                .registries
                .get(KEY)
                .cloned()
                .expect("an index entry")
        }

        fn edit(&self, f: impl FnOnce(&mut index::Entry)) {
            index::transact_in(
                &self.dir.path().join("data"),
                |idx| {
                    f(idx.registries.get_mut(KEY).unwrap());
                    Ok(())
                },
                |_| Ok(()),
            )
            .unwrap();
        }

        fn in_keychain(&self, kind: StoreKind) -> Option<(String, String)> {
            let s = self.keychains.get(kind).get(KEY).unwrap()?;
            Some((s.username, s.secret.expose().clone()))
        }

        fn put_in_keychain(&self, kind: StoreKind, username: &str, secret: &str) {
            let stored = Stored {
                username: username.into(),
                secret: Secret::new(secret.into()),
            };
            self.keychains.get(kind).set(KEY, stored).unwrap();
        }
    }

    fn answer(url: &str, username: &str, secret: &str) -> String {
        format!("{{\"ServerURL\":\"{url}\",\"Username\":\"{username}\",\"Secret\":\"{secret}\"}}\n")
    }

    #[test]
    fn store_get_list_erase_round_trip() {
        let s = Session::new(&[SecretService, Keyutils]);
        s.store("https://hub.example.org", "alice", "s3cr3t")
            .quiet();
        assert_eq!(
            s.in_keychain(SecretService),
            Some(("alice".into(), "s3cr3t".into()))
        );
        assert_eq!(s.in_keychain(Keyutils), None);
        // Every spelling of the registry is one key.
        for url in [
            "hub.example.org",
            "https://hub.example.org/",
            "HUB.example.org:443",
        ] {
            assert_eq!(s.get(url).quiet().ok(), answer(url, "alice", "s3cr3t"));
        }
        assert_eq!(
            s.run("list", "").quiet().ok(),
            "{\"hub.example.org\":\"alice\"}\n"
        );
        let entry = s.entry();
        assert_eq!(
            (entry.store, entry.kind),
            (SecretService, AccountKind::User)
        );
        assert_eq!(entry.server_url.as_deref(), Some("https://hub.example.org"));

        s.run("erase", "hub.example.org").quiet().ok();
        assert_eq!(s.in_keychain(SecretService), None);
        assert_eq!(s.run("list", "").quiet().ok(), "{}\n");
        assert_eq!(s.get(KEY).err(), Error::NotFound.to_string());
        // Erasing what is not there is no failure (containers/image <= 5.30
        // crashes on one), though the action itself says not found.
        s.run("erase", KEY).quiet().ok();
        assert!(matches!(
            erase(&s.cx(), KEY, &mut Vec::new()),
            Err(Error::NotFound)
        ));
    }

    #[test]
    fn a_store_replaces_and_keeps_robot_facts_of_the_same_account() {
        let s = Session::new(&[SecretService]);
        let expires = index::now() + 90 * 86_400;
        s.store_robot("robot$proj+ci", expires);
        s.store(KEY, "robot$proj+ci", "second").quiet();
        let e = s.entry();
        assert_eq!((e.kind, e.expires_at), (AccountKind::Robot, Some(expires)));
        assert_eq!(s.in_keychain(SecretService).unwrap().1, "second");
        // Another account starts without the robot's expiry.
        s.store(KEY, "bob", "third").quiet();
        let e = s.entry();
        assert_eq!((e.kind, e.expires_at), (AccountKind::User, None));
    }

    #[test]
    fn bad_input_changes_nothing() {
        let s = Session::new(&[SecretService]);
        s.store(KEY, "alice", "s3cr3t").quiet();
        let before = std::fs::read(s.index_path()).unwrap();
        for (action, input) in [
            ("store", "not json"),
            (
                "store",
                "{\"ServerURL\":\"\",\"Username\":\"a\",\"Secret\":\"b\"}",
            ),
            (
                "store",
                "{\"ServerURL\":\"hub example org\",\"Username\":\"a\",\"Secret\":\"b\"}",
            ),
            ("erase", ""),
            ("frobnicate", ""),
        ] {
            let out = s.run(action, input);
            assert!(out.result.is_err(), "{action} {input:?} succeeded");
            assert!(!out.err().contains('\n'), "one line: {}", out.err());
        }
        assert_eq!(std::fs::read(s.index_path()).unwrap(), before);
        assert_eq!(
            s.in_keychain(SecretService),
            Some(("alice".into(), "s3cr3t".into()))
        );
        // A key nobody could have stored is simply not found.
        assert_eq!(s.get("not a registry").err(), Error::NotFound.to_string());
    }

    #[test]
    fn a_secret_too_big_for_the_keychain_is_refused_before_anything_changes() {
        let s = Session::new(&[Keyutils]);
        let big = "x".repeat(64 * 1024);
        let out = s.store(KEY, "alice", &big);
        assert!(out.err().contains("longer than 16 KiB"), "{}", out.err());
        assert!(!s.index_path().exists());
        assert_eq!(s.in_keychain(Keyutils), None);
    }

    #[test]
    fn cache_copy_only_for_slow_keychains_and_only_for_the_index_generation() {
        for (kind, cached) in [
            (SecretService, true),
            (WindowsViaWsl, true),
            (Keyutils, false),
        ] {
            let s = Session::new(&[kind]);
            s.store(KEY, "alice", "s3cr3t").ok();
            let generation = s.entry().generation.unwrap();
            let copy = s.cache.generation(KEY);
            if !cached {
                assert_eq!(copy, None, "{kind}: the kernel keyring is its own cache");
                continue;
            }
            assert_eq!(copy, Some(generation), "{kind}");
            // Served from the copy while the keychain cannot be reached.
            s.keychains.get(kind).set_down(true);
            assert_eq!(s.get(KEY).ok(), answer(KEY, "alice", "s3cr3t"), "{kind}");
            // A store by another process (its own context) makes a new
            // generation: the old copy is never served again.
            s.keychains.get(kind).set_down(false);
            let other = s.cx();
            s.run_in(
                &other,
                "store",
                &serde_json::json!({"ServerURL": KEY, "Username": "alice", "Secret": "new"})
                    .to_string(),
            )
            .ok();
            assert_ne!(s.entry().generation, Some(generation));
            assert_eq!(s.get(KEY).ok(), answer(KEY, "alice", "new"), "{kind}");
        }
    }

    #[test]
    fn a_copy_of_an_older_generation_is_not_served_and_a_get_refreshes_it() {
        let s = Session::new(&[SecretService]);
        s.store(KEY, "alice", "s3cr3t").ok();
        let g = s.entry().generation.unwrap();
        // A stale copy, as a crash between keychain and cache could leave.
        s.cache.put(
            KEY,
            g.wrapping_add(1),
            &Stored {
                username: "alice".into(),
                secret: Secret::new("stale".into()),
            },
        );
        assert_eq!(s.get(KEY).ok(), answer(KEY, "alice", "s3cr3t"));
        assert_eq!(
            s.cache.generation(KEY),
            Some(g),
            "refreshed for the index's generation"
        );
        s.keychains.get(SecretService).set_down(true);
        assert_eq!(s.get(KEY).ok(), answer(KEY, "alice", "s3cr3t"));
    }

    #[test]
    fn erase_drops_the_copy_and_a_down_home_keychain_fails_the_erase() {
        let s = Session::new(&[SecretService, Keyutils]);
        s.store(KEY, "alice", "s3cr3t").ok();
        assert!(s.cache.generation(KEY).is_some());
        s.run("erase", KEY).ok();
        assert_eq!(s.cache.generation(KEY), None);

        s.store(KEY, "alice", "s3cr3t").ok();
        let before = std::fs::read(s.index_path()).unwrap();
        s.keychains.get(SecretService).set_down(true);
        let out = s.run("erase", KEY);
        assert!(out.err().contains("not reachable"), "{}", out.err());
        // The index still names the secret the keychain still holds.
        assert_eq!(std::fs::read(s.index_path()).unwrap(), before);
        s.keychains.get(SecretService).set_down(false);
        assert!(s.in_keychain(SecretService).is_some());
    }

    #[test]
    fn erase_sweeps_every_keychain() {
        let s = Session::new(&[SecretService, Keyutils]);
        s.put_in_keychain(SecretService, "alice", "a");
        s.put_in_keychain(Keyutils, "alice", "b");
        s.run("erase", KEY).quiet().ok();
        assert_eq!(
            (s.in_keychain(SecretService), s.in_keychain(Keyutils)),
            (None, None)
        );
    }

    #[test]
    fn a_failed_keychain_write_leaves_the_index_as_it_was() {
        let s = Session::new(&[SecretService, Keyutils]);
        s.store(KEY, "alice", "s3cr3t").ok();
        let before = std::fs::read(s.index_path()).unwrap();
        let g = s.cache.generation(KEY);
        s.keychains.get(SecretService).set_down(true);
        let out = s.store(KEY, "alice", "new");
        assert!(out.err().contains("not reachable"), "{}", out.err());
        assert_eq!(std::fs::read(s.index_path()).unwrap(), before);
        assert_eq!(
            s.cache.generation(KEY),
            g,
            "the copy still matches the index"
        );
        // No quiet fallback to another keychain outside WSL.
        assert_eq!(s.in_keychain(Keyutils), None);
    }

    #[test]
    fn a_secret_that_moves_keychains_leaves_no_copy_behind() {
        let s = Session::new(&[SecretService, Keyutils]);
        s.store(KEY, "alice", "old").quiet();
        s.keychains.force(Some(Keyutils));
        s.store(KEY, "alice", "new").ok();
        assert_eq!(s.entry().store, Keyutils);
        assert_eq!(s.in_keychain(SecretService), None);
        assert_eq!(
            s.cache.generation(KEY),
            None,
            "the kernel keyring needs no copy"
        );
        assert_eq!(s.get(KEY).ok(), answer(KEY, "alice", "new"));
    }

    #[test]
    fn the_kernel_keyring_store_says_what_empties_it() {
        let s = Session::new(&[Keyutils]);
        let out = s.store(KEY, "alice", "s3cr3t");
        out.ok();
        assert!(
            out.stderr
                .contains("kernel keyring, which a reboot empties"),
            "{}",
            out.stderr
        );
        assert_eq!(out.stderr.lines().count(), 1);
    }

    #[test]
    fn a_key_missing_from_the_index_is_found_in_any_keychain_and_remembered() {
        let s = Session::new(&[SecretService, Keyutils]);
        s.put_in_keychain(Keyutils, "robot$proj+ci", "s3cr3t");
        assert_eq!(
            s.get(KEY).quiet().ok(),
            answer(KEY, "robot$proj+ci", "s3cr3t")
        );
        let e = s.entry();
        assert_eq!((e.store, e.kind), (Keyutils, AccountKind::Robot));
        assert_eq!(
            s.run("list", "").ok(),
            "{\"hub.example.org\":\"robot$proj+ci\"}\n"
        );

        // From a keychain that keeps a copy, the copy is made for the new entry.
        let s = Session::new(&[SecretService, Keyutils]);
        s.put_in_keychain(SecretService, "alice", "s3cr3t");
        s.get(KEY).ok();
        assert_eq!(s.cache.generation(KEY), s.entry().generation);
    }

    #[test]
    fn searching_past_a_down_keychain_finds_the_secret_or_reports_the_keychain() {
        let s = Session::new(&[SecretService, Keyutils]);
        s.keychains.get(SecretService).set_down(true);
        s.put_in_keychain(Keyutils, "alice", "s3cr3t");
        assert_eq!(s.get(KEY).ok(), answer(KEY, "alice", "s3cr3t"));
        // Not found anywhere: the keychain that could not answer is named,
        // not "not found" (it may hold the secret).
        let s = Session::new(&[SecretService, Keyutils]);
        s.keychains.get(SecretService).set_down(true);
        assert!(s.get(KEY).err().contains("Secret Service"));
        // The kernel keyring refusing is no news while searching.
        let s = Session::new(&[SecretService, Keyutils]);
        s.keychains.get(Keyutils).set_down(true);
        assert_eq!(s.get(KEY).err(), Error::NotFound.to_string());
        // A key the index knows is asked of its keychain only.
        let s = Session::new(&[SecretService, Keyutils]);
        s.store(KEY, "alice", "s3cr3t").ok();
        s.cache.invalidate(KEY);
        s.keychains.get(SecretService).set_down(true);
        s.put_in_keychain(Keyutils, "mallory", "other");
        assert!(s.get(KEY).err().contains("not reachable"));
    }

    #[test]
    fn wsl_with_windows_out_of_reach_uses_the_linux_keychain_and_says_so() {
        let s = Session::new(&[WindowsViaWsl, SecretService]);
        s.keychains.get(WindowsViaWsl).set_down(true);
        let out = s.store(KEY, "alice", "s3cr3t");
        out.ok();
        assert!(
            out.stderr
                .contains("the secret is kept in the Secret Service instead"),
            "{}",
            out.stderr
        );
        assert_eq!(s.entry().store, SecretService);
        assert_eq!(
            s.in_keychain(SecretService),
            Some(("alice".into(), "s3cr3t".into()))
        );
        // When Windows is back, a store moves the secret there and clears the Linux copy.
        s.keychains.get(WindowsViaWsl).set_down(false);
        s.store(KEY, "alice", "s3cr3t").quiet();
        assert_eq!(
            (s.entry().store, s.in_keychain(SecretService)),
            (WindowsViaWsl, None)
        );

        // A get of a secret the index puts on the Windows side looks in Linux.
        s.cache.invalidate(KEY);
        s.keychains.get(WindowsViaWsl).set_down(true);
        s.put_in_keychain(SecretService, "alice", "linux");
        let out = s.get(KEY);
        assert_eq!(out.ok(), answer(KEY, "alice", "linux"));
        assert!(
            out.stderr.contains("looking in the Linux keychain instead"),
            "{}",
            out.stderr
        );
        // Forced to the Windows side: its failure is the answer.
        s.keychains.force(Some(WindowsViaWsl));
        assert!(s.store(KEY, "alice", "x").err().contains("not reachable"));
    }

    #[test]
    fn a_damaged_index_is_read_around_and_moved_aside_when_rewritten() {
        let s = Session::new(&[SecretService]);
        let aside = |s: &Session| {
            std::fs::read_dir(s.dir.path().join("data"))
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
                .count()
        };
        s.store(KEY, "alice", "s3cr3t").ok();
        std::fs::write(s.index_path(), b"{ not json").unwrap();
        s.cache.invalidate(KEY);
        let out = s.run("list", "");
        assert_eq!(out.ok(), "{}\n");
        assert!(
            out.stderr
                .contains("listing nothing until the next store repairs it")
        );
        // A get reads the keychain and puts the entry back in a new index.
        let out = s.get(KEY);
        assert_eq!(out.ok(), answer(KEY, "alice", "s3cr3t"));
        assert!(
            out.stderr.contains("reading the keychain directly"),
            "{}",
            out.stderr
        );
        assert_eq!(
            s.run("list", "").quiet().ok(),
            "{\"hub.example.org\":\"alice\"}\n"
        );
        assert_eq!(aside(&s), 1, "the damaged index is kept for inspection");

        std::fs::write(s.index_path(), b"[]").unwrap();
        let out = s.store(KEY, "alice", "s3cr3t");
        out.ok();
        assert!(out.stderr.contains("a new index started"), "{}", out.stderr);
        assert_eq!(
            s.run("list", "").quiet().ok(),
            "{\"hub.example.org\":\"alice\"}\n"
        );
        assert_eq!(aside(&s), 2);
    }

    #[test]
    fn a_refused_secret_is_named_on_every_get() {
        let s = Session::new(&[SecretService]);
        s.store(KEY, "alice", "s3cr3t").ok();
        let refused = |s: &Session| {
            s.edit(|e| {
                e.check = Some(index::Check {
                    at: index::now(),
                    verdict: index::Verdict::Refused,
                    detail: None,
                })
            })
        };
        refused(&s);
        for _ in 0..2 {
            let out = s.get(KEY);
            out.ok();
            assert!(
                out.stderr.contains("refused the CLI secret of alice"),
                "{}",
                out.stderr
            );
            assert!(out.stderr.contains("renew"), "{}", out.stderr);
        }
        s.store_robot("robot$proj+ci", index::now() + 90 * 86_400);
        refused(&s);
        let out = s.get(KEY);
        assert!(
            out.stderr.contains("refused robot account robot$proj+ci"),
            "{}",
            out.stderr
        );
        // A new store starts with no verdict.
        s.store(KEY, "alice", "new").ok();
        s.get(KEY).quiet();
    }

    #[test]
    fn a_robot_near_or_past_expiry_is_named_once_a_day() {
        let s = Session::new(&[SecretService]);
        s.store_robot("robot$proj+ci", index::now() + 3 * 86_400);
        let out = s.get(KEY);
        assert!(out.stderr.contains("expires in"), "{}", out.stderr);
        s.get(KEY).quiet();
        // Expired has its own slot: yesterday's reminder does not hide it.
        s.edit(|e| e.expires_at = Some(index::now() - 3600));
        let out = s.get(KEY);
        assert!(out.stderr.contains("expired"), "{}", out.stderr);
        s.get(KEY).quiet();
        // A robot with months left is not mentioned.
        let s = Session::new(&[SecretService]);
        s.store_robot("robot$proj+ci", index::now() + 90 * 86_400);
        s.get(KEY).quiet();
    }

    #[test]
    fn ci_mode_answers_for_its_registry_only_and_keeps_nothing() {
        let s = Session::new(&[SecretService]);
        let mut cx = s.cx();
        cx.ci = Some(CiCredentials {
            username: "robot$ci".into(),
            secret: Secret::new("pipeline".into()),
            registry: KEY.into(),
        });
        // Nothing works in the keychain: CI mode must not need it.
        s.keychains.get(SecretService).set_down(true);
        let store = serde_json::json!({"ServerURL": KEY, "Username": "alice", "Secret": "x"});
        s.run_in(&cx, "store", &store.to_string()).quiet().ok();
        assert_eq!(
            s.run_in(&cx, "get", KEY).quiet().ok(),
            answer(KEY, "robot$ci", "pipeline")
        );
        assert_eq!(
            s.run_in(&cx, "list", "").quiet().ok(),
            "{\"hub.example.org\":\"robot$ci\"}\n"
        );
        s.run_in(&cx, "erase", KEY).quiet().ok();
        assert!(!s.index_path().exists());
        // Another registry is the keychain's business.
        assert!(
            s.run_in(&cx, "get", "other.example.org")
                .err()
                .contains("not reachable")
        );
    }

    #[test]
    fn version_and_usage() {
        let s = Session::new(&[SecretService]);
        assert_eq!(s.run("version", "").ok(), version_line());
        assert!(matches!(
            s.run("frobnicate", "").result,
            Err(Error::Usage(_))
        ));
    }
}
