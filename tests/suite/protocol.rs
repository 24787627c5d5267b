//! The credential-helper protocol (store, get, erase, list, version) end to
//! end, through the real binary, against the real Secret Service (a private
//! gnome-keyring on a private session bus) and the real kernel keyring.
//!
//! Most cases run for both keychains (`both!`). The kernel keyring is shared
//! by the whole test process tree (and linked to the user's persistent
//! keyring), so every registry name is unique per test, keychain and run, and
//! whatever a test stores is removed again, also when it fails.
//!
//! Run with `keyctl session - cargo test --test suite protocol::` (see
//! `require_own_session_keyring`).

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::time::Duration;

use common::bin::CACHE_TTL_ENV;
use common::bin::{
    self, Env, NAME, NO_SERVER_URL, NO_USERNAME, NOT_FOUND, Output, STORE_ENV, TIMEOUT_ENV,
    assert_not_found, erase, get, get_ok, list, run, run_via, run_with, store, try_store,
};
use common::keychain::{self, KeyutilsCleanup, keyutils_has};
use common::rig::{Backend, Rig};
use serde_json::Value;

/// Joining the shared user-session keyring: there, adding a key is denied
/// (what a process without its own session keyring sees in CI or cron).
const SHARED_SESSION: [&str; 3] = ["keyctl", "session", "_uid_ses.0"];

/// Expand `name` into `mod name { secret_service, keyutils }` tests calling `name(Backend)`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn secret_service() {
                super::$name(super::Backend::SecretService)
            }
            #[test]
            fn keyutils() {
                super::$name(super::Backend::Keyutils)
            }
        }
    )*};
}

both!(
    round_trip,
    spellings_are_one_key,
    logout_erases_all_four_spellings,
    non_default_port_stays_separate,
    token_username_round_trips,
    empty_secret_round_trips,
    restore_replaces,
    exact_error_texts,
    bad_input_changes_nothing,
    secrets_stay_out_of_stderr_and_files,
    index_is_private,
    corrupt_index_is_survived_and_repaired,
    missing_index_still_finds_the_secret,
    ci_host_limits_env_credentials_to_one_registry,
    parallel_stores,
);

// ---------------------------------------------------------------------------
// Round trips and keys

fn round_trip(kind: Backend) {
    let rig = Rig::new(kind, "round_trip");
    let env = &rig.env;
    let h = rig.host("hub");
    let secret = format!("rt-secret-{}-0123456789", kind.tag());

    assert_not_found(env, &h);
    assert_eq!(list(env), BTreeMap::new(), "nothing stored yet");

    let out = store(env, &h, "robot$proj+ci", &secret);
    rig.assert_store_stderr(&out);
    rig.assert_items(&h, 1);

    let out = get(env, &h);
    assert_eq!(
        out.stdout,
        format!(
            "{{\"ServerURL\":\"{h}\",\"Username\":\"robot$proj+ci\",\"Secret\":\"{secret}\"}}\n"
        ),
        "get prints exactly one JSON line\n{out}"
    );
    assert!(out.stderr_lines().is_empty(), "get is quiet\n{out}");

    let out = run(env, &["list"], b"unused\n");
    assert_eq!(
        out.stdout,
        format!("{{\"{h}\":\"robot$proj+ci\"}}\n"),
        "{out}"
    );
    assert!(out.stderr_lines().is_empty(), "{out}");

    let entry = rig.index_entry(&h);
    assert_eq!(
        entry["store"],
        kind.index_name(),
        "index names the keychain: {entry}"
    );
    assert_eq!(entry["username"], "robot$proj+ci");
    assert_eq!(entry["kind"], "robot", "robot$ names are robots: {entry}");

    let out = erase(env, &h);
    out.assert_silent_success();
    assert!(out.stderr_lines().is_empty(), "{out}");
    rig.assert_items(&h, 0);
    assert_not_found(env, &h);
    assert_eq!(list(env), BTreeMap::new());
    // A second erase finds nothing and says nothing: podman/skopeo logout
    // (containers/image <= 5.30) crash on any failed erase.
    erase(env, &h).assert_silent_success();
    env.assert_no_secret_in_files();
}

fn spellings_are_one_key(kind: Backend) {
    let rig = Rig::new(kind, "spellings");
    let env = &rig.env;
    let h = rig.host("hub");
    let upper = h.to_ascii_uppercase();
    let spellings = [
        h.clone(),
        format!("https://{h}"),
        format!("https://{h}/"),
        format!("http://{h}"),
        upper.clone(),
        format!("Https://{upper}/v2/"),
        format!("{h}/project/repo:tag"),
        format!("{h}:443"),
        format!("https://{h}:443/"),
        format!("https://user@{h}/"),
        format!("  {h}\n"),
    ];
    for (i, s) in spellings.iter().enumerate() {
        let user = format!("user{i}");
        let secret = format!("spelling-secret-{i}-{}", kind.tag());
        store(env, s, &user, &secret);
        rig.assert_items(&h, 1);
        assert_eq!(
            list(env),
            BTreeMap::from([(h.clone(), user.clone())]),
            "store via {s:?} must replace the one entry"
        );
        for g in &spellings {
            assert_eq!(
                get_ok(env, g),
                (user.clone(), secret.clone()),
                "stored via {s:?}, read via {g:?}"
            );
        }
    }
    erase(env, &format!("HTTPS://{upper}/")).assert_silent_success();
    rig.assert_items(&h, 0);
    for g in &spellings {
        assert_not_found(env, g);
    }
}

fn logout_erases_all_four_spellings(kind: Backend) {
    let rig = Rig::new(kind, "logout");
    let env = &rig.env;
    let h = rig.host("hub");
    // `docker login HOST` stores host[:port].
    store(env, &h, "jdoe", "logout-secret-123456");
    rig.assert_items(&h, 1);
    // `docker logout https://Hub.../` erases: as typed, host, http://host, https://host.
    let typed = format!("https://{}/", h.to_ascii_uppercase());
    let calls = [
        typed,
        h.clone(),
        format!("http://{h}"),
        format!("https://{h}"),
    ];
    let first = erase(env, &calls[0]);
    first.assert_silent_success();
    assert!(first.stderr_lines().is_empty(), "{first}");
    for c in &calls[1..] {
        // Later logout erases find nothing and succeed quietly.
        erase(env, c).assert_silent_success();
    }
    rig.assert_items(&h, 0);
    assert!(!list(env).contains_key(&h));
    assert_not_found(env, &h);
}

fn non_default_port_stays_separate(kind: Backend) {
    let rig = Rig::new(kind, "ports");
    let env = &rig.env;
    // The Secret Service is private, so the plain local-registry names are safe
    // there; the kernel keyring is the user's, so it gets unique host names.
    let host = match kind {
        Backend::SecretService => "127.0.0.1".to_string(),
        Backend::Keyutils => rig.host("local"),
    };
    let (a, b) = (format!("{host}:5000"), format!("{host}:5001"));
    if kind == Backend::Keyutils {
        rig.track(&a);
        rig.track(&b);
    }
    store(env, &a, "ua", "port-secret-a-5000");
    store(env, &format!("http://{b}/"), "ub", "port-secret-b-5001");
    rig.assert_items(&a, 1);
    rig.assert_items(&b, 1);
    assert_eq!(get_ok(env, &a), ("ua".into(), "port-secret-a-5000".into()));
    assert_eq!(
        get_ok(env, &format!("https://{a}/v2/")),
        ("ua".into(), "port-secret-a-5000".into())
    );
    assert_eq!(get_ok(env, &b), ("ub".into(), "port-secret-b-5001".into()));
    // Without a port (or with 443) it is a different registry.
    assert_not_found(env, &host);
    assert_not_found(env, &format!("{host}:443"));
    assert_eq!(
        list(env),
        BTreeMap::from([(a.clone(), "ua".to_string()), (b.clone(), "ub".to_string())])
    );
    erase(env, &a).assert_silent_success();
    assert_eq!(
        get_ok(env, &b),
        ("ub".into(), "port-secret-b-5001".into()),
        "erasing :5000 leaves :5001"
    );
    erase(env, &b).assert_silent_success();
    rig.assert_items(&a, 0);
    rig.assert_items(&b, 0);
}

/// An IPv4-mapped IPv6 address reaches the IPv4 listener, so it is one key
/// with it: what is stored as `[::ffff:127.0.0.1]:P` is found and erased as
/// `127.0.0.1:P` (issue 31, item 9). Loopback keys are common to every user of
/// the kernel keyring, so this runs against the private Secret Service only.
#[test]
fn an_ipv4_mapped_address_is_its_ipv4_key_secret_service() {
    let rig = Rig::new(Backend::SecretService, "mapped");
    let env = &rig.env;
    let (mapped, v4) = ("[::ffff:127.0.0.1]:5077", "127.0.0.1:5077");
    store(
        env,
        &format!("http://{mapped}/"),
        "jdoe",
        "mapped-secret-5077",
    );
    rig.assert_items(v4, 1);
    assert_eq!(
        list(env),
        BTreeMap::from([(v4.to_string(), "jdoe".to_string())])
    );
    for spelling in [v4, mapped, "[::ffff:7f00:1]:5077"] {
        assert_eq!(
            get_ok(env, spelling),
            ("jdoe".into(), "mapped-secret-5077".into()),
            "{spelling}"
        );
    }
    erase(env, v4).assert_silent_success();
    rig.assert_items(v4, 0);
    assert_not_found(env, mapped);
    assert_eq!(list(env), BTreeMap::new());
}

/// Docker Hub's key is the same for every user of the kernel keyring (it is
/// linked to the user's persistent keyring), so this runs against the private
/// Secret Service only: a test must not overwrite a developer's real Docker Hub login.
#[test]
fn docker_hub_round_trips_secret_service() {
    let rig = Rig::new(Backend::SecretService, "dockerhub");
    let env = &rig.env;
    let hub = "https://index.docker.io/v1/";
    store(env, hub, "hubuser", "hub-secret-123456");
    rig.assert_items(hub, 1);
    assert_eq!(
        get_ok(env, hub),
        ("hubuser".into(), "hub-secret-123456".into())
    );
    for alias in [
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "https://index.docker.io/v1",
    ] {
        assert_eq!(
            get_ok(env, alias),
            ("hubuser".into(), "hub-secret-123456".into()),
            "{alias} is Docker Hub"
        );
    }
    assert_eq!(
        list(env),
        BTreeMap::from([(hub.to_string(), "hubuser".to_string())])
    );
    erase(env, hub).assert_silent_success();
    rig.assert_items(hub, 0);
    assert_not_found(env, "docker.io");
}

fn token_username_round_trips(kind: Backend) {
    let rig = Rig::new(kind, "token");
    let env = &rig.env;
    let h = rig.host("hub");
    let token = "eyJhbGciOiJSUzI1NiJ9.refresh<&>\"token";
    store(env, &h, "<token>", token);
    let out = get(env, &h);
    assert_eq!(
        out.stdout,
        format!(
            "{{\"ServerURL\":\"{h}\",\"Username\":\"\\u003ctoken\\u003e\",\"Secret\":\"eyJhbGciOiJSUzI1NiJ9.refresh\\u003c\\u0026\\u003e\\\"token\"}}\n"
        ),
        "Go-style HTML escaping\n{out}"
    );
    assert_eq!(
        bin::parse_get(&out, &h),
        ("<token>".into(), token.into()),
        "round-trips unchanged"
    );
    let out = run(env, &["list"], b"unused\n");
    assert_eq!(
        out.stdout,
        format!("{{\"{h}\":\"\\u003ctoken\\u003e\"}}\n"),
        "{out}"
    );
    assert_eq!(rig.index_entry(&h)["kind"], "token");
    erase(env, &h).assert_silent_success();
    rig.assert_items(&h, 0);
}

fn empty_secret_round_trips(kind: Backend) {
    let rig = Rig::new(kind, "empty_secret");
    let env = &rig.env;
    let h = rig.host("hub");
    store(env, &h, "jdoe", "");
    rig.assert_items(&h, 1);
    assert_eq!(
        get_ok(env, &h),
        ("jdoe".into(), String::new()),
        "an empty Secret is allowed"
    );
    // `"Secret": null` is an empty secret too (Go leaves the field empty).
    let n = rig.host("null");
    let out = run(
        env,
        &["store"],
        format!("{{\"ServerURL\":\"{n}\",\"Username\":\"u\",\"Secret\":null}}").as_bytes(),
    );
    out.assert_silent_success();
    assert_eq!(get_ok(env, &n), ("u".into(), String::new()));
    erase(env, &h).assert_silent_success();
    erase(env, &n).assert_silent_success();
    rig.assert_items(&h, 0);
    rig.assert_items(&n, 0);
}

fn restore_replaces(kind: Backend) {
    let rig = Rig::new(kind, "restore");
    let env = &rig.env;
    let h = rig.host("hub");
    store(env, &h, "jdoe", "first-secret-1111");
    store(env, &h, "jdoe", "second-secret-2222");
    rig.assert_items(&h, 1);
    assert_eq!(
        get_ok(env, &h),
        ("jdoe".into(), "second-secret-2222".into())
    );
    // Another account for the same registry replaces it too (one entry per registry).
    store(
        env,
        &format!("https://{h}/"),
        "robot$p+ci",
        "third-secret-3333",
    );
    rig.assert_items(&h, 1);
    assert_eq!(
        get_ok(env, &h),
        ("robot$p+ci".into(), "third-secret-3333".into())
    );
    assert_eq!(
        list(env),
        BTreeMap::from([(h.clone(), "robot$p+ci".to_string())])
    );
    erase(env, &h).assert_silent_success();
    rig.assert_items(&h, 0);
}

// ---------------------------------------------------------------------------
// Errors and bad input

fn exact_error_texts(kind: Backend) {
    let rig = Rig::new(kind, "errors");
    let env = &rig.env;
    let h = rig.host("hub");
    let cases: Vec<(&[&str], String, &str)> = vec![
        (
            &["store"],
            r#"{"Username":"u","Secret":"s"}"#.into(),
            NO_SERVER_URL,
        ),
        (
            &["store"],
            r#"{"ServerURL":"","Username":"u","Secret":"s"}"#.into(),
            NO_SERVER_URL,
        ),
        (
            &["store"],
            r#"{"ServerURL":null,"Username":"u","Secret":"s"}"#.into(),
            NO_SERVER_URL,
        ),
        (
            &["store"],
            format!(r#"{{"ServerURL":"{h}","Secret":"s"}}"#),
            NO_USERNAME,
        ),
        (
            &["store"],
            format!(r#"{{"ServerURL":"{h}","Username":"","Secret":"s"}}"#),
            NO_USERNAME,
        ),
        (
            &["store"],
            format!(r#"{{"ServerURL":"{h}","Username":null,"Secret":"s"}}"#),
            NO_USERNAME,
        ),
        (&["get"], String::new(), NO_SERVER_URL),
        (&["get"], " \n\t".into(), NO_SERVER_URL),
        (&["erase"], String::new(), NO_SERVER_URL),
        (&["erase"], "\n".into(), NO_SERVER_URL),
        (&["get"], h.clone(), NOT_FOUND),
        // A key nobody could have stored is simply not found.
        (&["get"], "ftp://nonsense".into(), NOT_FOUND),
    ];
    for (args, stdin, want) in &cases {
        let out = run(env, args, stdin.as_bytes());
        assert_eq!(out.error_line(), *want, "{args:?} with {stdin:?}\n{out}");
        assert!(out.stderr_lines().is_empty(), "{out}");
    }
    let usage = format!("Usage: {NAME} <store|get|erase|list|version>");
    // A protocol action with the wrong argument count: exactly the Go line.
    for args in [&["get", "extra"][..], &["store", "a", "b"][..]] {
        let out = run(env, args, b"");
        assert_eq!(out.error_line(), usage, "{args:?}\n{out}");
    }
    // No arguments at all is a person: the Go line, then where the help is.
    let out = run(env, &[], b"");
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(
        out.stdout,
        format!(
            "{usage}\nFor login, status, configure and the other commands for people, run `{NAME} --help`.\n"
        ),
        "{out}"
    );
    let out = run(env, &["bogus"], b"");
    assert_eq!(
        out.error_line(),
        format!("{NAME}: unknown action: bogus"),
        "{out}"
    );
    rig.assert_items(&h, 0);
    assert_eq!(env.index_bytes(), None, "failed calls write no index");
}

fn bad_input_changes_nothing(kind: Backend) {
    let rig = Rig::new(kind, "bad_input");
    let env = &rig.env;
    let base = rig.host("base");
    let bad = rig.host("bad");
    store(env, &base, "jdoe", "baseline-secret-1234");
    let index_before = env.index_bytes().expect("index after store");
    let keys_before = match kind {
        Backend::SecretService => rig.ss().keys(),
        Backend::Keyutils => vec![],
    };

    let leak = "TOPSECRET-must-not-echo";
    env.watch_secret(leak);
    let big = "a".repeat((1 << 20) + 1);
    let mut non_utf8 =
        format!(r#"{{"ServerURL":"{bad}","Username":"u","Secret":"{leak}"#).into_bytes();
    non_utf8.extend_from_slice(b"\xff\xfe\"}\n");

    enum Want {
        Exact(&'static str),
        Contains(&'static str),
        AnyLine,
    }
    use Want::*;
    let cases: Vec<(&str, &[&str], Vec<u8>, Want)> = vec![
        ("empty stdin", &["store"], vec![], AnyLine),
        ("blank stdin", &["store"], b"  \n".to_vec(), AnyLine),
        (
            "truncated JSON",
            &["store"],
            format!(r#"{{"ServerURL":"{bad}","Username":"u","Secret":"{leak}""#).into_bytes(),
            AnyLine,
        ),
        ("not JSON", &["store"], b"not json".to_vec(), AnyLine),
        ("array", &["store"], b"[]".to_vec(), AnyLine),
        (
            "string",
            &["store"],
            format!("\"{leak}\"").into_bytes(),
            AnyLine,
        ),
        ("number", &["store"], b"42".to_vec(), AnyLine),
        ("null", &["store"], b"null".to_vec(), AnyLine),
        ("bool", &["store"], b"true".to_vec(), AnyLine),
        (
            "ServerURL number",
            &["store"],
            format!(r#"{{"ServerURL":1,"Username":"u","Secret":"{leak}"}}"#).into_bytes(),
            AnyLine,
        ),
        (
            "Username array",
            &["store"],
            format!(r#"{{"ServerURL":"{bad}","Username":["u"],"Secret":"{leak}"}}"#).into_bytes(),
            AnyLine,
        ),
        (
            "Secret array",
            &["store"],
            format!(r#"{{"ServerURL":"{bad}","Username":"u","Secret":["{leak}"]}}"#).into_bytes(),
            AnyLine,
        ),
        (
            "Secret object",
            &["store"],
            format!(r#"{{"ServerURL":"{bad}","Username":"u","Secret":{{"v":"{leak}"}}}}"#)
                .into_bytes(),
            AnyLine,
        ),
        (
            "Secret bool",
            &["store"],
            format!(r#"{{"ServerURL":"{bad}","Username":"u","Secret":true}}"#).into_bytes(),
            AnyLine,
        ),
        (
            "not a registry",
            &["store"],
            format!(r#"{{"ServerURL":"ftp://{bad}","Username":"u","Secret":"{leak}"}}"#)
                .into_bytes(),
            Contains("invalid registry address"),
        ),
        (
            "bad port",
            &["store"],
            format!(r#"{{"ServerURL":"{bad}:99999","Username":"u","Secret":"{leak}"}}"#)
                .into_bytes(),
            Contains("invalid registry address"),
        ),
        (
            "the unspecified address",
            &["store"],
            format!(r#"{{"ServerURL":"0.0.0.0:5000","Username":"u","Secret":"{leak}"}}"#)
                .into_bytes(),
            Exact(
                "invalid registry address \"0.0.0.0:5000\": 0.0.0.0 and :: are addresses a server \
                 listens on, not one to connect to; name the registry's host or address (127.0.0.1 \
                 for this machine)",
            ),
        ),
        (
            "over 1 MiB",
            &["store"],
            format!(r#"{{"ServerURL":"{bad}","Username":"u","Secret":"{big}"}}"#).into_bytes(),
            Contains("1 MiB"),
        ),
        (
            "20 KiB secret",
            &["store"],
            format!(
                r#"{{"ServerURL":"{bad}","Username":"u","Secret":"{}"}}"#,
                "b".repeat(20 * 1024)
            )
            .into_bytes(),
            Contains("16 KiB"),
        ),
        ("invalid UTF-8", &["store"], non_utf8, Contains("UTF-8")),
        (
            "get over 1 MiB",
            &["get"],
            big.clone().into_bytes(),
            Contains("1 MiB"),
        ),
        (
            "get invalid UTF-8",
            &["get"],
            b"\xff\xfe".to_vec(),
            Contains("UTF-8"),
        ),
        (
            "erase invalid UTF-8",
            &["erase"],
            b"\xc3\x28".to_vec(),
            Contains("UTF-8"),
        ),
        (
            "erase over 1 MiB",
            &["erase"],
            big.clone().into_bytes(),
            Contains("1 MiB"),
        ),
        ("get empty", &["get"], vec![], Exact(NO_SERVER_URL)),
        (
            "store no ServerURL",
            &["store"],
            format!(r#"{{"Username":"u","Secret":"{leak}"}}"#).into_bytes(),
            Exact(NO_SERVER_URL),
        ),
        (
            "store no Username",
            &["store"],
            format!(r#"{{"ServerURL":"{bad}","Secret":"{leak}"}}"#).into_bytes(),
            Exact(NO_USERNAME),
        ),
        (
            "erase of base via usage error",
            &["erase", "x"],
            base.clone().into_bytes(),
            Contains("Usage:"),
        ),
    ];
    for (what, args, stdin, want) in cases {
        let out = run(env, args, &stdin);
        let line = out.error_line();
        match want {
            Exact(t) => assert_eq!(line, t, "{what}\n{out}"),
            Contains(t) => assert!(
                line.contains(t),
                "{what}: expected {t:?} in the line\n{out}"
            ),
            AnyLine => {}
        }
        assert!(
            !line.contains(leak),
            "{what}: the error echoes the secret\n{out}"
        );
        assert!(
            out.stderr_lines().is_empty(),
            "{what}: nothing on stderr\n{out}"
        );
        assert_eq!(
            env.index_bytes().as_ref(),
            Some(&index_before),
            "{what}: the index changed"
        );
        assert!(
            !keyutils_has(&bad),
            "{what}: an entry appeared in the kernel keyring"
        );
        if kind == Backend::SecretService {
            assert_eq!(
                rig.ss().keys(),
                keys_before,
                "{what}: the Secret Service items changed"
            );
        }
    }
    rig.assert_items(&bad, 0);
    assert_eq!(
        get_ok(env, &base),
        ("jdoe".into(), "baseline-secret-1234".into())
    );
    erase(env, &base).assert_silent_success();
}

fn secrets_stay_out_of_stderr_and_files(kind: Backend) {
    let rig = Rig::new(kind, "no_leaks");
    let env = &rig.env;
    let (a, b) = (rig.host("a"), rig.host("b"));
    // Every run checks stderr against every secret the Env has seen.
    store(env, &a, "jdoe", "leak-check-secret-A1");
    store(env, &b, "<token>", "leak-check-secret-B2");
    get_ok(env, &a);
    get_ok(env, &format!("https://{b}/"));
    let l = run(env, &["list"], b"unused\n");
    assert!(
        !l.stdout.contains("leak-check-secret"),
        "list never shows secrets\n{l}"
    );
    store(env, &a, "jdoe", "leak-check-secret-A3");
    // A damaged index makes the helper explain itself on stderr: still no secret there.
    std::fs::write(env.index_path(), b"{ garbage").unwrap();
    get_ok(env, &a);
    store(env, &b, "<token>", "leak-check-secret-B4");
    erase(env, &a).assert_silent_success();
    env.assert_no_secret_in_files();
    let index = String::from_utf8(env.index_bytes().unwrap()).unwrap();
    assert!(
        !index.contains("leak-check"),
        "the index holds no secret: {index}"
    );
    erase(env, &b).assert_silent_success();
    env.assert_no_secret_in_files();
}

// ---------------------------------------------------------------------------
// The index

fn index_is_private(kind: Backend) {
    let rig = Rig::new(kind, "index_mode");
    let env = &rig.env;
    let h = rig.host("hub");
    store(env, &h, "jdoe", "index-mode-secret-1");
    let p = env.index_path();
    assert!(
        p.starts_with(&env.data_home),
        "the index lives under $XDG_DATA_HOME: {}",
        p.display()
    );
    assert_eq!(bin::mode_of(&p), 0o600, "index.json mode");
    assert_eq!(
        bin::mode_of(&env.index_dir()),
        0o700,
        "index directory mode"
    );
    for f in std::fs::read_dir(env.index_dir()).unwrap().flatten() {
        assert_eq!(
            bin::mode_of(&f.path()) & 0o077,
            0,
            "{} is private",
            f.path().display()
        );
    }
    assert!(
        !env.home.join(".local/share").join(NAME).exists(),
        "nothing under $HOME/.local/share while XDG_DATA_HOME is set"
    );

    // Without XDG_DATA_HOME it falls back to $HOME/.local/share.
    let h2 = rig.host("fallback");
    env.watch_secret("index-mode-secret-2");
    let out = run_with(
        env,
        &[("XDG_DATA_HOME", None)],
        &["store"],
        bin::store_json(&h2, "u2", "index-mode-secret-2").as_bytes(),
    );
    out.assert_silent_success();
    let dir = env.home.join(".local/share").join(NAME);
    let p2 = dir.join("index.json");
    assert_eq!(bin::mode_of(&p2), 0o600, "fallback index.json mode");
    assert_eq!(bin::mode_of(&dir), 0o700, "fallback index directory mode");
    let idx: Value = serde_json::from_slice(&std::fs::read(&p2).unwrap()).unwrap();
    assert_eq!(idx["registries"][&h2]["username"], "u2");
    let out = run_with(env, &[("XDG_DATA_HOME", None)], &["erase"], h2.as_bytes());
    out.assert_silent_success();
    erase(env, &h).assert_silent_success();
    env.assert_no_secret_in_files();
}

fn corrupt_index_is_survived_and_repaired(kind: Backend) {
    let rig = Rig::new(kind, "corrupt_index");
    let env = &rig.env;
    let (a, b) = (rig.host("a"), rig.host("b"));
    store(env, &a, "jdoe", "corrupt-index-secret-a");
    let garbage = b"\x00\x01 this is { not an index";
    std::fs::write(env.index_path(), garbage).unwrap();

    let out = run(env, &["list"], b"unused\n");
    assert_eq!(out.code(), 0, "list survives a corrupt index\n{out}");
    bin::parse_list(&out);
    assert!(
        out.stderr_lines().iter().any(|l| l.contains("warning")),
        "list warns about the index\n{out}"
    );

    let out = get(env, &a);
    assert_eq!(
        bin::parse_get(&out, &a),
        ("jdoe".into(), "corrupt-index-secret-a".into()),
        "{out}"
    );
    let warn = out.stderr_lines();
    assert_eq!(warn.len(), 1, "one warning line on stderr\n{out}");
    assert!(warn[0].contains("warning"), "{out}");

    let out = store(env, &b, "other", "corrupt-index-secret-b");
    let aside = env.index_dir().join("index.json.corrupt.1");
    assert!(
        aside.exists(),
        "the corrupt index is kept aside as index.json.corrupt.1\n{out}"
    );
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        garbage,
        "the aside copy is the garbage"
    );
    assert_eq!(bin::mode_of(&aside), 0o600, "it may hold a secret: private");
    let idx = rig.index();
    assert_eq!(
        idx["registries"][&b]["username"], "other",
        "new index: {idx}"
    );
    assert_eq!(bin::mode_of(&env.index_path()), 0o600);
    let listed = list(env);
    assert_eq!(
        listed.get(&b).map(|s| s.as_str()),
        Some("other"),
        "{listed:?}"
    );
    assert_eq!(
        get_ok(env, &a),
        ("jdoe".into(), "corrupt-index-secret-a".into())
    );
    let out = get(env, &b);
    assert!(
        out.stderr_lines().is_empty(),
        "repaired: no more warnings\n{out}"
    );
    erase(env, &a).assert_silent_success();
    erase(env, &b).assert_silent_success();
    rig.assert_items(&a, 0);
    rig.assert_items(&b, 0);
}

fn missing_index_still_finds_the_secret(kind: Backend) {
    let rig = Rig::new(kind, "missing_index");
    let env = &rig.env;
    let h = rig.host("hub");
    store(env, &h, "jdoe", "missing-index-secret");
    std::fs::remove_file(env.index_path()).unwrap();
    assert_eq!(
        list(env),
        BTreeMap::new(),
        "list answers from the index alone"
    );
    let out = get(env, &h);
    assert_eq!(
        bin::parse_get(&out, &h),
        ("jdoe".into(), "missing-index-secret".into())
    );
    assert!(
        out.stderr_lines().is_empty(),
        "a missing index is no warning\n{out}"
    );
    // The entry found in the keychain is put back into the index.
    assert_eq!(list(env), BTreeMap::from([(h.clone(), "jdoe".to_string())]));
    erase(env, &h).assert_silent_success();
    rig.assert_items(&h, 0);
}

// ---------------------------------------------------------------------------
// CI mode

/// HARBOR_USERNAME + HARBOR_PASSWORD answer `get` with no keychain reachable
/// at all: no D-Bus session, kernel keyring forced but denied.
#[test]
fn ci_mode_needs_no_keychain() {
    keychain::require_own_session_keyring();
    let env = Env::new();
    let cleanup = KeyutilsCleanup::default();
    let h = format!("ci.nokeychain.p{}.example", std::process::id());
    cleanup.add(&h);
    let other = format!("other.nokeychain.p{}.example", std::process::id());
    cleanup.add(&other);
    let denied = [(STORE_ENV, Some("keyutils"))];

    // Without the CI variables nothing can be stored here (checked in a
    // separate Env, so that this one stays untouched).
    let probe = Env::new();
    probe.watch_secret("ci-password-0123456");
    let out = run_via(
        &probe,
        &denied,
        &SHARED_SESSION,
        &["store"],
        bin::store_json(&h, "robot$ci+runner", "ci-password-0123456").as_bytes(),
    );
    assert!(
        out.error_line().contains("access denied"),
        "precondition: no keychain\n{out}"
    );
    assert_eq!(probe.index_bytes(), None);

    env.watch_secret("ci-password-0123456");
    // No HARBOR_HOST: the default registry, and no other (security
    // review 2, item 10: never Docker Hub's or any registry an image names).
    let ci = [
        (STORE_ENV, Some("keyutils")),
        ("HARBOR_USERNAME", Some("robot$ci+runner")),
        ("HARBOR_PASSWORD", Some("ci-password-0123456")),
        ("DOCKER_CREDENTIAL_HARBOR_REGISTRY", Some(h.as_str())),
    ];
    let out = run_via(&env, &ci, &SHARED_SESSION, &["get"], h.as_bytes());
    assert_eq!(
        bin::parse_get(&out, &h),
        ("robot$ci+runner".into(), "ci-password-0123456".into()),
        "no HARBOR_HOST: the default registry\n{out}"
    );
    assert!(out.stderr_lines().is_empty(), "{out}");
    for key in [other.as_str(), "https://index.docker.io/v1/"] {
        let out = run_via(&env, &ci, &SHARED_SESSION, &["get"], key.as_bytes());
        assert_eq!(out.code(), 1, "not answered from the environment\n{out}");
        assert!(!out.stdout.contains("ci-password-0123456"), "{out}");
    }
    let out = run_via(
        &env,
        &ci,
        &SHARED_SESSION,
        &["store"],
        bin::store_json(&h, "robot$ci+runner", "ci-password-0123456").as_bytes(),
    );
    out.assert_silent_success();
    assert!(
        out.stderr_lines().is_empty(),
        "store writes nothing, says nothing\n{out}"
    );
    let out = run_via(&env, &ci, &SHARED_SESSION, &["erase"], h.as_bytes());
    out.assert_silent_success();
    let out = run_via(&env, &ci, &SHARED_SESSION, &["list"], b"unused\n");
    assert_eq!(
        bin::parse_list(&out),
        BTreeMap::from([(h.clone(), "robot$ci+runner".to_string())]),
        "no HARBOR_HOST: the default registry is listed"
    );
    assert_eq!(env.index_bytes(), None, "CI mode writes no index");
    assert!(
        !keyutils_has(&h),
        "CI mode stores nothing in the kernel keyring"
    );
    // Plainly without any D-Bus session (auto-detection), the same answer.
    let out = run_with(
        &env,
        &[
            ("HARBOR_USERNAME", Some("robot$ci+runner")),
            ("HARBOR_PASSWORD", Some("ci-password-0123456")),
            ("HARBOR_HOST", Some(h.as_str())),
        ],
        &["get"],
        h.as_bytes(),
    );
    assert_eq!(
        bin::parse_get(&out, &h),
        ("robot$ci+runner".into(), "ci-password-0123456".into())
    );
    assert_eq!(
        env.files(),
        Vec::<std::path::PathBuf>::new(),
        "CI mode writes no file at all"
    );
}

fn ci_host_limits_env_credentials_to_one_registry(kind: Backend) {
    let rig = Rig::new(kind, "ci_host");
    let env = &rig.env;
    let (a, b, c) = (rig.host("a"), rig.host("b"), rig.host("c"));
    store(env, &b, "buser", "b-keychain-secret-1");
    env.watch_secret("ci-password-for-a-only");
    let host_spelled = format!("https://{}/", a.to_ascii_uppercase());
    let ci = [
        ("HARBOR_USERNAME", Some("robot$ci+a")),
        ("HARBOR_PASSWORD", Some("ci-password-for-a-only")),
        ("HARBOR_HOST", Some(host_spelled.as_str())),
    ];
    let ci_get = |key: &str| run_with(env, &ci, &["get"], key.as_bytes());

    for key in [a.clone(), format!("{a}:443"), format!("https://{a}/v2/")] {
        assert_eq!(
            bin::parse_get(&ci_get(&key), &key),
            ("robot$ci+a".into(), "ci-password-for-a-only".into()),
            "HARBOR_HOST's registry is answered from the environment"
        );
    }
    assert_eq!(
        bin::parse_get(&ci_get(&b), &b),
        ("buser".into(), "b-keychain-secret-1".into()),
        "another registry is answered from the keychain, not the environment"
    );
    let out = ci_get(&c);
    assert_eq!(
        out.error_line(),
        NOT_FOUND,
        "another registry never gets the CI credentials\n{out}"
    );

    // store/erase for HARBOR_HOST's registry succeed and write nothing.
    let out = run_with(
        env,
        &ci,
        &["store"],
        bin::store_json(&a, "robot$ci+a", "ci-password-for-a-only").as_bytes(),
    );
    out.assert_silent_success();
    rig.assert_items(&a, 0);
    assert!(
        rig.index()["registries"].get(&a).is_none(),
        "CI store adds nothing to the index"
    );
    let out = run_with(env, &ci, &["list"], b"unused\n");
    assert_eq!(
        bin::parse_list(&out),
        BTreeMap::from([
            (a.clone(), "robot$ci+a".to_string()),
            (b.clone(), "buser".to_string())
        ]),
        "list shows HARBOR_HOST's registry and the stored ones"
    );
    run_with(env, &ci, &["erase"], a.as_bytes()).assert_silent_success();
    // Another registry is stored normally even in CI mode.
    let out = run_with(
        env,
        &ci,
        &["store"],
        bin::store_json(&c, "cuser", "c-keychain-secret-3").as_bytes(),
    );
    env.watch_secret("c-keychain-secret-3");
    out.assert_silent_success();
    rig.assert_items(&c, 1);
    assert_eq!(
        get_ok(env, &c),
        ("cuser".into(), "c-keychain-secret-3".into())
    );

    // Without the CI variables, `a` was never stored.
    assert_not_found(env, &a);
    erase(env, &b).assert_silent_success();
    erase(env, &c).assert_silent_success();
    env.assert_no_secret_in_files();
}

// ---------------------------------------------------------------------------
// Keychain trouble

#[test]
fn locked_collection_is_one_clear_line_and_unlock_recovers() {
    let mut rig = Rig::new(Backend::SecretService, "locked");
    // The keychain itself must answer, not the copy a store leaves in the cache.
    rig.env.set(CACHE_TTL_ENV, "0");
    let (a, b) = (rig.host("a"), rig.host("b"));
    store(&rig.env, &a, "jdoe", "locked-secret-a-123");
    rig.ss().lock();

    let out = get(&rig.env, &a);
    let line = out.error_line();
    assert!(
        line.contains("locked"),
        "get on a locked collection says so\n{out}"
    );
    assert_ne!(line, NOT_FOUND, "a locked keyring is not 'not found'");
    let out = try_store(&rig.env, &b, "jdoe", "locked-secret-b-456");
    assert!(
        out.error_line().contains("locked"),
        "store on a locked collection says so\n{out}"
    );
    let out = erase(&rig.env, &a);
    assert!(
        out.error_line().contains("locked"),
        "erase on a locked collection says so\n{out}"
    );
    // list answers from the index without the keychain.
    assert_eq!(
        list(&rig.env),
        BTreeMap::from([(a.clone(), "jdoe".to_string())])
    );

    rig.ss_mut().restart_daemon();
    assert_eq!(
        get_ok(&rig.env, &a),
        ("jdoe".into(), "locked-secret-a-123".into()),
        "the secret survived"
    );
    assert_not_found(&rig.env, &b);
    erase(&rig.env, &a).assert_silent_success();
    rig.env.assert_no_secret_in_files();
}

#[test]
fn frozen_secret_service_times_out_with_one_line() {
    let mut rig = Rig::new(Backend::SecretService, "frozen");
    let h = rig.host("hub");
    rig.env.set(TIMEOUT_ENV, "2");
    // The keychain itself must answer, not the copy a store leaves in the cache.
    rig.env.set(CACHE_TTL_ENV, "0");
    store(&rig.env, &h, "jdoe", "frozen-secret-1234");
    rig.ss().freeze();

    let out = get(&rig.env, &h);
    rig.ss().thaw();
    let line = out.error_line().to_string();
    assert!(
        line.contains("did not answer"),
        "a silent peer is reported as such\n{out}"
    );
    assert!(
        out.elapsed >= Duration::from_millis(1800) && out.elapsed < Duration::from_secs(8),
        "bounded by DOCKER_CREDENTIAL_HARBOR_TIMEOUT=2 (took {:?})\n{out}",
        out.elapsed
    );

    rig.ss().freeze();
    let out = run(&rig.env, &["list"], b"unused\n");
    rig.ss().thaw();
    assert_eq!(
        bin::parse_list(&out),
        BTreeMap::from([(h.clone(), "jdoe".to_string())])
    );
    assert!(
        out.elapsed < Duration::from_secs(2),
        "list never waits for the keychain ({:?})",
        out.elapsed
    );

    assert_eq!(
        get_ok(&rig.env, &h),
        ("jdoe".into(), "frozen-secret-1234".into()),
        "after thaw"
    );
    erase(&rig.env, &h).assert_silent_success();
    rig.assert_items(&h, 0);
}

#[test]
fn no_dbus_and_no_kernel_keyring_access_is_one_clear_line() {
    keychain::require_own_session_keyring();
    let env = Env::new();
    let cleanup = KeyutilsCleanup::default();
    let h = format!("nokeychain.p{}.example", std::process::id());
    cleanup.add(&h);
    env.watch_secret("no-keychain-secret-1");
    // Auto-detection: no bus, so keyutils; the shared session keyring denies it.
    let out = run_via(
        &env,
        &[],
        &SHARED_SESSION,
        &["store"],
        bin::store_json(&h, "u", "no-keychain-secret-1").as_bytes(),
    );
    let line = out.error_line();
    assert!(line.contains("access denied"), "{out}");
    assert!(
        line.contains("keyctl session"),
        "the line says how to fix it\n{out}"
    );
    // A get for a registry nobody stored is plain "not found", so docker goes
    // on anonymously instead of failing the pull: a keychain this process
    // cannot use cannot hold the secret either.
    let out = run_via(&env, &[], &SHARED_SESSION, &["get"], h.as_bytes());
    assert_eq!(out.error_line(), NOT_FOUND, "{out}");
    assert!(!keyutils_has(&h));
    // Secret Service forced without any bus: the line says there is no D-Bus session.
    let out = run_with(
        &env,
        &[(STORE_ENV, Some("secret-service"))],
        &["get"],
        h.as_bytes(),
    );
    let line = out.error_line();
    assert!(line.contains("D-Bus"), "{out}");
    assert_ne!(line, NOT_FOUND);
    let out = run_with(
        &env,
        &[(STORE_ENV, Some("secret-service"))],
        &["store"],
        bin::store_json(&h, "u", "no-keychain-secret-1").as_bytes(),
    );
    assert!(out.error_line().contains("D-Bus"), "{out}");
    assert_eq!(env.index_bytes(), None);
}

#[test]
fn kernel_keyring_eacces_explains_keyctl_session() {
    keychain::require_own_session_keyring();
    let env = Env::new();
    let cleanup = KeyutilsCleanup::default();
    let h = format!("eacces.p{}.example", std::process::id());
    cleanup.add(&h);
    env.watch_secret("eacces-secret-12345");
    let out = run_via(
        &env,
        &[(STORE_ENV, Some("keyutils"))],
        &SHARED_SESSION,
        &["store"],
        bin::store_json(&h, "u", "eacces-secret-12345").as_bytes(),
    );
    let line = out.error_line();
    assert!(line.contains("access denied"), "{out}");
    assert!(line.contains("keyctl session"), "{out}");
    assert!(out.stderr_lines().is_empty(), "{out}");
    assert!(!keyutils_has(&h));
    assert_eq!(
        env.index_bytes(),
        None,
        "a failed store leaves no index entry"
    );
}

#[test]
fn forced_kernel_keyring_with_a_secret_service_present() {
    let rig = Rig::new(Backend::SecretService, "forced");
    let env = &rig.env;
    let h = rig.host("hub");
    env.watch_secret("forced-keyutils-secret");
    let out = run_with(
        env,
        &[(STORE_ENV, Some("keyutils"))],
        &["store"],
        bin::store_json(&h, "jdoe", "forced-keyutils-secret").as_bytes(),
    );
    out.assert_silent_success();
    assert!(keyutils_has(&h), "forced into the kernel keyring");
    assert_eq!(rig.ss().count(&h), 0, "not in the Secret Service");
    assert_eq!(rig.index_entry(&h)["store"], "keyutils");
    // Without forcing, the index says where it is.
    assert_eq!(
        get_ok(env, &h),
        ("jdoe".into(), "forced-keyutils-secret".into())
    );
    // A new store without forcing goes to the Secret Service and leaves no copy behind.
    store(env, &h, "jdoe", "moved-to-secret-service");
    assert_eq!(rig.ss().count(&h), 1);
    assert!(
        !keyutils_has(&h),
        "the kernel-keyring copy was removed when the secret moved"
    );
    assert_eq!(rig.index_entry(&h)["store"], "secret-service");
    assert_eq!(
        get_ok(env, &h),
        ("jdoe".into(), "moved-to-secret-service".into())
    );
    erase(env, &h).assert_silent_success();
    assert_eq!(rig.ss().count(&h), 0);

    let out = run_with(
        env,
        &[(STORE_ENV, Some("no-such-keychain"))],
        &["store"],
        bin::store_json(&h, "jdoe", "forced-keyutils-secret").as_bytes(),
    );
    assert!(
        out.error_line().contains(STORE_ENV),
        "an unknown keychain name is named\n{out}"
    );
    assert_eq!(rig.ss().count(&h), 0);
    assert!(!keyutils_has(&h));
}

#[test]
fn secret_service_gone_falls_back_to_kernel_keyring() {
    let mut rig = Rig::new(Backend::SecretService, "ss_gone");
    let h = rig.host("hub");
    rig.ss_mut().stop_daemon();
    let out = store(&rig.env, &h, "jdoe", "fallback-secret-1234");
    let lines = out.stderr_lines();
    assert_eq!(
        lines.len(),
        1,
        "one notice that the kernel keyring is used\n{out}"
    );
    assert!(lines[0].contains("kernel keyring"), "{out}");
    assert!(keyutils_has(&h));
    assert_eq!(rig.index_entry(&h)["store"], "keyutils");
    assert_eq!(
        get_ok(&rig.env, &h),
        ("jdoe".into(), "fallback-secret-1234".into())
    );
    rig.ss_mut().start_daemon();
    assert_eq!(
        get_ok(&rig.env, &h),
        ("jdoe".into(), "fallback-secret-1234".into()),
        "still found once the Secret Service is back"
    );
    erase(&rig.env, &h).assert_silent_success();
    assert!(!keyutils_has(&h));
}

// ---------------------------------------------------------------------------
// Concurrency

fn parallel_stores(kind: Backend) {
    const N: usize = 32;
    let _turn = (kind == Backend::SecretService).then(keychain::secret_service_burst);
    let rig = Rig::new(kind, "parallel");
    let env = &rig.env;
    let hosts: Vec<String> = (0..N).map(|i| rig.host(&format!("r{i:02}"))).collect();
    let barrier = Barrier::new(N);
    let outs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let barrier = &barrier;
                s.spawn(move || {
                    let json = bin::store_json(
                        h,
                        &format!("user{i:02}"),
                        &format!("parallel-secret-{i:02}"),
                    );
                    env.watch_secret(&format!("parallel-secret-{i:02}"));
                    barrier.wait();
                    run(env, &["store"], json.as_bytes())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("store thread"))
            .collect()
    });
    for (i, out) in outs.iter().enumerate() {
        assert_eq!(out.code(), 0, "parallel store {i} failed\n{out}");
        assert_eq!(out.stdout, "", "{out}");
    }
    let listed = list(env);
    let want: BTreeMap<String, String> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.clone(), format!("user{i:02}")))
        .collect();
    assert_eq!(listed, want, "every parallel store is listed");
    for (i, h) in hosts.iter().enumerate() {
        assert_eq!(
            get_ok(env, h),
            (format!("user{i:02}"), format!("parallel-secret-{i:02}")),
            "{h}"
        );
        rig.assert_items(h, 1);
    }
    // And 32 parallel erases.
    let outs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = hosts
            .iter()
            .map(|h| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    erase(env, h)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("erase thread"))
            .collect()
    });
    for out in &outs {
        out.assert_silent_success();
    }
    assert_eq!(list(env), BTreeMap::new());
    for h in &hosts {
        rig.assert_items(h, 0);
    }
}

// ---------------------------------------------------------------------------

#[test]
fn version_line() {
    let env = Env::new();
    let want = format!("{NAME} ({NAME}) {}\n", env!("CARGO_PKG_VERSION"));
    // No keychain is needed or touched.
    let out = run_via(&env, &[], &SHARED_SESSION, &["version"], b"");
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.stdout, want, "{out}");
    assert!(out.stderr_lines().is_empty(), "{out}");
    assert_eq!(env.index_bytes(), None);
}

/// One `get` reads the settings file once (issue 35, item 3): it was read
/// again for each thing it decides (with the containers drop-in, whether
/// the default registry is this one; then the check interval).
#[test]
fn a_get_reads_the_settings_file_once() {
    keychain::require_own_session_keyring();
    let env = Env::new();
    let key = format!("settings-once-{}.example", std::process::id());
    let cleanup = KeyutilsCleanup::default();
    cleanup.add(&key);
    let settings = env
        .root()
        .join("xdg-config/docker-credential-harbor/config.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(
        &settings,
        format!(r#"{{"registry":"{key}","check_interval":3600}}"#),
    )
    .unwrap();
    // The drop-in (HOME's, as containers reads it) asks about every registry.
    let drop_in = env
        .home
        .join(".config/containers/registries.conf.d/50-docker-credential-harbor.conf");
    std::fs::create_dir_all(drop_in.parent().unwrap()).unwrap();
    std::fs::write(
        &drop_in,
        "credential-helpers = [\"harbor\", \"containers-auth.json\"]\n",
    )
    .unwrap();
    let keyutils = [(STORE_ENV, Some("keyutils"))];
    run_with(
        &env,
        &keyutils,
        &["store"],
        bin::store_json(&key, "u", "s").as_bytes(),
    )
    .assert_silent_success();
    let trace = env.root().join("open.trace");
    let trace_arg = trace.to_str().unwrap();
    let strace = [
        "strace",
        "-f",
        "-qq",
        "-e",
        "trace=open,openat",
        "-o",
        trace_arg,
    ];
    let out = run_via(&env, &keyutils, &strace, &["get"], key.as_bytes());
    assert_eq!(
        bin::parse_get(&out, &key),
        ("u".to_string(), "s".to_string())
    );
    let opened = std::fs::read_to_string(&trace).unwrap();
    let reads: Vec<&str> = opened
        .lines()
        .filter(|l| l.contains(settings.to_str().unwrap()))
        .collect();
    assert_eq!(
        reads.len(),
        1,
        "the settings file opened once:\n{}",
        reads.join("\n")
    );
}
