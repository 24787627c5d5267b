//! Hostile input: property tests over every stdin parser and the registry-key
//! normaliser (no panic, one-line errors, no secret echoed, idempotent keys),
//! plus the binary fed huge, deeply nested, non-UTF-8 and NUL-laden input.
//!
//! The number of cases per property is `PROPTEST_CASES` (default 2,000 here;
//! `.ci/run` and the figures in docs/reliability.md use that default).

use std::time::{Duration, Instant};

use common::bin::{self, Env};
use docker_credential_harbor::clients::auth_file;
use docker_credential_harbor::{kube, protocol, registry};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Strings that look like what clients send, plus the hostile rest.
fn server_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9.:/\\[\\]@_-]{0,80}",
        "(https?://)?[a-z0-9.-]{1,30}(:[0-9]{1,6})?(/[a-z0-9/_.-]{0,20})?/?",
        "\\PC{0,10}\u{0}\\PC{0,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn normalise_never_panics_and_is_idempotent(s in server_like()) {
        if let Ok(key) = registry::normalize(&s) {
            let again = registry::normalize(&key).ok();
            prop_assert_eq!(again.as_deref(), Some(key.as_str()), "normalize(normalize(x)) == normalize(x)");
            prop_assert!(key.len() <= 300);
            prop_assert!(!key.chars().any(|c| c.is_uppercase() || c.is_whitespace() || c.is_control()));
            if key != registry::DOCKER_HUB && !key.starts_with("https://index.docker.io/") {
                prop_assert!(!key.contains('/'), "{}", key);
            }
        }
    }

    #[test]
    fn store_parser_never_panics_or_echoes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(text) = protocol::read_input(&bytes[..])
            && let Err(e) = protocol::parse_store(text.expose())
        {
            let line = e.one_line();
            prop_assert!(!line.contains('\n'));
            prop_assert!(line.len() < 400, "{}", line);
        }
    }

    #[test]
    fn store_errors_never_quote_the_secret(secret in "[A-Za-z0-9]{12,40}", shape in 0usize..8) {
        let s = &secret;
        let input = match shape {
            0 => format!(r#"{{"ServerURL":"h","Username":"u","Secret":{s}}}"#),
            1 => format!(r#"{{"ServerURL":"h","Username":"u","Secret":["{s}"]}}"#),
            2 => format!(r#"{{"ServerURL":"h","Username":"u","Secret":"{s}"#),
            3 => format!(r#"{{"ServerURL":"h","Username":"u","Secret":{{"{s}":1}}}}"#),
            4 => format!(r#""{s}""#),
            5 => format!(r#"{{"ServerURL":"","Username":"u","Secret":"{s}"}}"#),
            6 => format!(r#"{{"ServerURL":"h","Username":"","Secret":"{s}"}}"#),
            _ => format!(r#"{{"ServerURL":"h","Username":"u","Secret":"{s}",}}"#),
        };
        if let Err(e) = protocol::parse_store(&input) {
            prop_assert!(!e.one_line().contains(s.as_str()), "{}", e.one_line());
            let debug = format!("{:?}", e);
            prop_assert!(!debug.contains(s.as_str()));
        }
    }

    #[test]
    fn get_line_round_trips(url in any::<String>(), user in any::<String>(), secret in any::<String>()) {
        let line = protocol::format_get(&url, &user, &docker_credential_harbor::secret::Secret::new(secret.clone()));
        prop_assert!(line.expose().ends_with('\n'));
        prop_assert_eq!(line.expose().matches('\n').count(), 1, "one line whatever the values hold");
        let v: serde_json::Value = serde_json::from_str(line.expose()).unwrap();
        prop_assert_eq!(v["ServerURL"].as_str(), Some(url.as_str()));
        prop_assert_eq!(v["Username"].as_str(), Some(user.as_str()));
        prop_assert_eq!(v["Secret"].as_str(), Some(secret.as_str()));
        let store = serde_json::json!({"ServerURL": url, "Username": user, "Secret": secret}).to_string();
        match protocol::parse_store(&store) {
            Ok(c) => {
                prop_assert_eq!(c.server_url, url);
                prop_assert_eq!(c.username, user);
                prop_assert_eq!(c.secret.expose(), &secret);
            }
            Err(_) => prop_assert!(url.is_empty() || user.is_empty()),
        }
    }

    #[test]
    fn kubelet_request_parser_never_panics(s in any::<String>(), image in server_like()) {
        let _ = kube::parse_request(&s);
        let req = serde_json::json!({"apiVersion": "credentialprovider.kubelet.k8s.io/v1", "kind": "CredentialProviderRequest", "image": image}).to_string();
        if let Ok(r) = kube::parse_request(&req) {
            let _ = kube::image_registry(&r.image);
        }
    }

    #[test]
    fn config_files_never_panic_and_bad_ones_stay_untouched(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, &bytes).unwrap();
        match auth_file::AuthFile::open(&p) {
            Ok(mut f) => {
                if f.set_cred_helper("hub.k8s.ucar.edu", "harbor").is_ok() {
                    f.save().unwrap();
                    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                    prop_assert_eq!(&v["credHelpers"]["hub.k8s.ucar.edu"], "harbor");
                } else {
                    prop_assert_eq!(std::fs::read(&p).unwrap(), bytes);
                }
            }
            Err(_) => prop_assert_eq!(std::fs::read(&p).unwrap(), bytes, "a refused file is unchanged"),
        }
    }
}

/// The binary itself, fed the nastiest stdin: bounded time, one line, exit 1.
#[test]
fn binary_survives_huge_nested_and_binary_stdin() {
    let env = Env::new();
    let nested = "[".repeat(200_000);
    let nested_obj = "{\"a\":".repeat(100_000);
    let big = vec![b'a'; 4 << 20];
    let mut nul_json = br#"{"ServerURL":"h"#.to_vec();
    nul_json.extend_from_slice(b"\0x\",\"Username\":\"u\",\"Secret\":\"s\"}");
    let inputs: Vec<(&str, &[u8])> = vec![
        ("deeply nested array", nested.as_bytes()),
        ("deeply nested object", nested_obj.as_bytes()),
        ("4 MiB", &big),
        ("non-UTF-8", b"\xff\xfe\xfd{\"ServerURL\":1}"),
        ("NUL in JSON", &nul_json),
        ("NUL alone", b"\0\0\0"),
    ];
    for action in ["store", "get", "erase"] {
        for (what, input) in &inputs {
            let start = Instant::now();
            let out = bin::run(&env, &[action], input);
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{action} {what} took {:?}",
                start.elapsed()
            );
            assert_eq!(out.code(), 1, "{action} {what}\n{out}");
            assert_eq!(
                out.stdout.lines().count(),
                1,
                "{action} {what}: one line\n{out}"
            );
            assert!(!out.stderr.contains("panicked"), "{action} {what}\n{out}");
        }
    }
    assert!(env.index_bytes().is_none(), "nothing was written");
}

/// Run as root with the data directory in one that other users can write to
/// (`sudo -E` with a hostile XDG_DATA_HOME): one line, and nothing written
/// there or to the keychain.
#[test]
fn as_root_a_directory_others_can_write_is_refused() {
    assert_eq!(
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout,
        b"0\n",
        "this test needs root (CI and the dev machine run as root)"
    );
    let mut user = common::rig::KeyringUser::new();
    let env = &mut user.env;
    let shared = env.root().join("shared");
    std::fs::create_dir(&shared).unwrap();
    bin::set_mode(&shared, 0o1777);
    env.set("XDG_DATA_HOME", shared.to_str().unwrap());
    let key = format!("root-dir.p{}.example.test", std::process::id());
    let out = bin::try_store(env, &key, "u", "s3cret-root-dir-1");
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    assert!(
        out.stdout.starts_with(&format!(
            "refusing to write as root in {}: group or other users may write to it",
            shared.display()
        )),
        "{out}"
    );
    assert!(!common::keychain::keyutils_has(&key), "nothing stored");
    let mut left = Vec::new();
    bin::walk(&shared, &mut left);
    assert!(left.is_empty(), "nothing written: {left:?}");
}
