//! The actions in-process, over keychains and a cache in memory: each case
//! the integration suites drive through the binary, without spawning it.

use std::path::PathBuf;

use super::*;
use crate::keychain::Keychain;
use crate::keychain::memory;
use KeychainKind::{Keyutils, SecretService, WindowsViaWsl};

pub(super) const KEY: &str = "hub.example.org";

/// One session: keychains and cache shared by every context made from
/// it (as processes share the real ones), the index in a temporary directory.
pub(super) struct Session {
    pub(super) keychains: &'static memory::Keychains,
    pub(super) cache: &'static cache::Memory,
    pub(super) dir: tempfile::TempDir,
}

pub(super) struct Out {
    pub(super) result: Result<Secret<String>>,
    pub(super) stderr: String,
}

impl Out {
    pub(super) fn ok(&self) -> &str {
        match &self.result {
            Ok(s) => s.expose(),
            Err(e) => panic!("failed: {e}; stderr: {}", self.stderr),
        }
    }
    pub(super) fn err(&self) -> String {
        match &self.result {
            Ok(_) => panic!("succeeded; stderr: {}", self.stderr),
            Err(e) => e.to_string(),
        }
    }
    pub(super) fn quiet(&self) -> &Self {
        assert_eq!(self.stderr, "", "no warning expected");
        self
    }
}

impl Session {
    pub(super) fn new(kinds: &[KeychainKind]) -> Session {
        Session {
            keychains: Box::leak(Box::new(memory::Keychains::new(kinds))),
            cache: Box::leak(Box::default()),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(super) fn cx(&self) -> Context {
        self.cx_with(crate::state::config::Vars::default())
    }

    /// A context whose process was started with `vars` set.
    pub(super) fn cx_with(&self, vars: crate::state::config::Vars) -> Context {
        let dirs = crate::state::config::Dirs::under(self.dir.path());
        Context {
            keychains: Box::new(self.keychains),
            cache: Box::new(self.cache),
            config: Arc::new(Config::new(Some(dirs), vars)),
            checks: false,
            scope: Scope::Everything,
        }
    }

    pub(super) fn run_in(&self, cx: &Context, action: &str, input: &str) -> Out {
        let mut stderr = Vec::new();
        let result = run(cx, action, input.as_bytes(), &mut stderr);
        Out {
            result,
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    pub(super) fn run(&self, action: &str, input: &str) -> Out {
        self.run_in(&self.cx(), action, input)
    }

    pub(super) fn store(&self, url: &str, username: &str, secret: &str) -> Out {
        let input = serde_json::json!({"ServerURL": url, "Username": username, "Secret": secret});
        self.run("store", &input.to_string())
    }

    pub(super) fn store_robot(&self, username: &str, expires_at: i64) {
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

    pub(super) fn get(&self, url: &str) -> Out {
        self.run("get", url)
    }

    pub(super) fn index_path(&self) -> PathBuf {
        self.dir.path().join("data").join(index::FILE_NAME)
    }

    pub(super) fn index(&self) -> index::Index {
        match index::load(&self.dir.path().join("data")).unwrap() {
            index::Loaded::Ok(i) => i,
            index::Loaded::Missing => index::Index::default(),
            _ => panic!("unreadable index"),
        }
    }

    pub(super) fn entry(&self) -> index::Entry {
        self.index()
            .registries
            .get(KEY)
            .cloned()
            .expect("an index entry")
    }

    pub(super) fn edit(&self, f: impl FnOnce(&mut index::Entry)) {
        index::transact(
            &self.dir.path().join("data"),
            |idx| {
                f(idx.registries.get_mut(KEY).unwrap());
                Ok(())
            },
            |_| Ok(()),
        )
        .unwrap();
    }

    pub(super) fn in_keychain(&self, kind: KeychainKind) -> Option<(String, String)> {
        let s = self.keychains.get(kind).get(KEY).unwrap()?;
        Some((s.username, s.secret.expose().clone()))
    }

    pub(super) fn put_in_keychain(&self, kind: KeychainKind, username: &str, secret: &str) {
        let stored = Stored {
            username: username.into(),
            secret: Secret::new(secret.into()),
        };
        self.keychains.get(kind).set(KEY, stored).unwrap();
    }
}

pub(super) fn answer(url: &str, username: &str, secret: &str) -> String {
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
    // A passed date is not kept: stored again, the robot was extended.
    s.store_robot("robot$proj+ci", index::now() - 60);
    s.store(KEY, "robot$proj+ci", "fourth").quiet();
    assert_eq!(s.entry().expires_at, None);
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
fn ci_mode_answers_for_its_registry_only_and_keeps_nothing() {
    let s = Session::new(&[SecretService]);
    let cx = s.cx_with(crate::state::config::Vars {
        ci: Some(crate::protocol::ci_env::Vars::new(
            "robot$ci",
            "pipeline",
            Some(KEY),
        )),
        ..Default::default()
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

fn store_input(url: &str, username: &str, secret: &str) -> String {
    serde_json::json!({"ServerURL": url, "Username": username, "Secret": secret}).to_string()
}

/// With the registries.conf.d drop-in, containers/image asks this helper
/// about every registry: it serves those it holds or is configured for; for
/// any other, store fails (the auth file keeps it) and get is not found
/// without a keychain call.
#[test]
fn asked_about_every_registry_only_configured_ones_are_served() {
    const OTHER: &str = "other.example.org";
    let s = Session::new(&[SecretService, Keyutils]);
    let mut cx = s.cx();
    cx.scope = Scope::Asked(Box::new(|key| match key == KEY {
        true => Asked::Configured,
        false => Asked::Unknown,
    }));
    s.run_in(&cx, "store", &store_input(KEY, "alice", "s3cr3t"))
        .ok();

    let before = std::fs::read(s.index_path()).unwrap();
    let out = s.run_in(&cx, "store", &store_input(OTHER, "bob", "b0b"));
    assert_eq!(
        out.err(),
        format!(
            "{OTHER} is not a registry this helper is configured for; \
             to keep its secret here: docker-credential-harbor configure --registry {OTHER}"
        )
    );
    assert_eq!(std::fs::read(s.index_path()).unwrap(), before);
    assert_eq!(s.keychains.get(SecretService).keys(), vec![KEY.to_string()]);
    assert!(s.keychains.get(Keyutils).keys().is_empty());

    // No keychain is asked about it: with both down, still plain not found.
    s.keychains.get(SecretService).set_down(true);
    s.keychains.get(Keyutils).set_down(true);
    assert_eq!(
        s.run_in(&cx, "get", OTHER).quiet().err(),
        Error::NotFound.to_string()
    );
    // Its erase succeeds, as containers/image <= 5.30 needs.
    s.run_in(&cx, "erase", OTHER).quiet().ok();
    s.keychains.get(SecretService).set_down(false);
    s.keychains.get(Keyutils).set_down(false);

    // Held in the index (a login of this tool's own), it is served.
    let other = Session::new(&[SecretService]);
    let mut cx = other.cx();
    cx.scope = Scope::Asked(Box::new(|_| Asked::Unknown));
    let creds = protocol::Credentials {
        server_url: OTHER.into(),
        username: "bob".into(),
        secret: Secret::new("b0b".into()),
    };
    store_with(&cx, creds, LoginFacts::default(), &mut Vec::new()).unwrap();
    other
        .run_in(&cx, "store", &store_input(OTHER, "bob", "new"))
        .ok();
    assert_eq!(
        other.run_in(&cx, "get", OTHER).ok(),
        answer(OTHER, "bob", "new")
    );

    // Without an index, "served" is still decided from files alone: a
    // registry nobody configured is not found, whatever the keychains hold;
    // a configured one is looked up in every keychain.
    std::fs::remove_file(other.index_path()).unwrap();
    other.cache.invalidate(OTHER);
    assert_eq!(
        other.run_in(&cx, "get", OTHER).quiet().err(),
        Error::NotFound.to_string()
    );
    cx.scope = Scope::Asked(Box::new(|_| Asked::Configured));
    assert_eq!(
        other.run_in(&cx, "get", OTHER).ok(),
        answer(OTHER, "bob", "new")
    );
}

/// A client given an auth file of its own (`skopeo login --authfile`)
/// gets exactly what it would get without the helper: its store is
/// declined (the file keeps it), its get is not found and its erase
/// changes nothing, all without a keychain call; `list` shows it nothing.
#[test]
fn a_client_with_its_own_auth_file_is_not_served() {
    let s = Session::new(&[SecretService]);
    s.store(KEY, "alice", "s3cr3t").ok();
    let mut cx = s.cx();
    cx.scope = Scope::Asked(Box::new(|_| Asked::Elsewhere));
    s.keychains.get(SecretService).set_down(true);
    let out = s.run_in(&cx, "store", &store_input(KEY, "robot$p+ci", "r0b0t"));
    assert_eq!(
        out.err(),
        format!(
            "{KEY} is not a registry this helper is configured for; \
             to keep its secret here: docker-credential-harbor configure --registry {KEY}"
        )
    );
    assert_eq!(
        s.run_in(&cx, "get", KEY).quiet().err(),
        Error::NotFound.to_string()
    );
    s.run_in(&cx, "erase", KEY).quiet().ok();
    assert_eq!(s.run_in(&cx, "list", "unused").quiet().ok(), "{}\n");
    s.keychains.get(SecretService).set_down(false);
    // The user's login is as it was.
    assert_eq!(s.run("get", KEY).ok(), answer(KEY, "alice", "s3cr3t"));
}

/// configure's move of a plaintext secret never replaces a stored login:
/// decided under the index lock, against what the keychain holds.
#[test]
fn a_store_for_a_new_login_never_replaces_one() {
    let s = Session::new(&[SecretService]);
    s.store(KEY, "robot$p+ci", "r0b0t").ok();
    let creds = |user: &str, secret: &str| protocol::Credentials {
        server_url: KEY.into(),
        username: user.into(),
        secret: Secret::new(secret.into()),
    };
    let e = store_new(
        &s.cx(),
        creds("jdoe", "user-secret"),
        LoginFacts::default(),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("a login for {KEY} was stored meanwhile")
    );
    assert_eq!(s.run("get", KEY).ok(), answer(KEY, "robot$p+ci", "r0b0t"));
    // An index entry whose keychain lost it (the kernel keyring after a
    // reboot) holds nothing: the new login goes in.
    s.keychains.get(SecretService).delete(KEY).unwrap();
    s.cache.invalidate(KEY);
    store_new(
        &s.cx(),
        creds("jdoe", "user-secret"),
        LoginFacts::default(),
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!(s.run("get", KEY).ok(), answer(KEY, "jdoe", "user-secret"));
}

/// A human command's keychain calls wait for a person (a Keychain dialog);
/// a client's protocol request and kubelet keep a program's bound, so
/// `docker pull` never waits on a dialog.
#[test]
fn who_waits_bounds_the_keychain_calls() {
    use crate::keychain::Waiter;
    let config = Arc::new(Config::new(None, Default::default()));
    assert_eq!(Context::system(&config).keychains.waiter(), Waiter::Person);
    assert_eq!(
        Context::unattended(&config).keychains.waiter(),
        Waiter::Program
    );
    assert_eq!(
        Context::for_clients(&config).keychains.waiter(),
        Waiter::Program
    );
}
