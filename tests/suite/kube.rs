//! Kubernetes: the kubelet image credential provider and pull-secret manifests.
//!
//! Documents are checked against the upstream Go types in
//! k8s.io/kubelet/pkg/apis/credentialprovider/v1 (JSON tags: request `image`
//! (required), response `cacheKeyType` (required; Image|Registry|Global),
//! `cacheDuration` (optional metav1.Duration, Go duration text), `auth`
//! (map of match key to {username, password})), and the pull secret against
//! what the real `kubectl create secret docker-registry` produces.

use base64::Engine;
use common::bin::{self, Env};
use common::text::{self, Normal};
use serde_json::Value;

const REGISTRY: &str = "hub.k8s.ucar.edu";
const V1: &str = "credentialprovider.kubelet.k8s.io/v1";

fn keyutils_env() -> Env {
    env_for(REGISTRY)
}

/// The kernel keyring is shared by every test in this process: a test that
/// stores anything serves its own registry.
fn env_for(registry: &str) -> Env {
    common::keychain::require_own_session_keyring();
    let mut env = Env::new();
    env.set("DOCKER_CREDENTIAL_HARBOR_STORE", "keyutils");
    env.set("DOCKER_CREDENTIAL_HARBOR_REGISTRY", registry);
    env
}

fn request(image: &str) -> String {
    serde_json::json!({"apiVersion": V1, "kind": "CredentialProviderRequest", "image": image})
        .to_string()
}

/// Check a response against the v1 Go type and return its `auth` map.
fn assert_v1_response(out: &bin::Output) -> serde_json::Map<String, Value> {
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"));
    let o = v.as_object().expect("an object");
    let allowed = [
        "apiVersion",
        "kind",
        "cacheKeyType",
        "cacheDuration",
        "auth",
    ];
    for k in o.keys() {
        assert!(allowed.contains(&k.as_str()), "unknown field {k} in {out}");
    }
    assert_eq!(
        o["apiVersion"], V1,
        "the response echoes the request's apiVersion"
    );
    assert_eq!(o["kind"], "CredentialProviderResponse");
    let ckt = o["cacheKeyType"]
        .as_str()
        .expect("cacheKeyType is required");
    assert!(["Image", "Registry", "Global"].contains(&ckt), "{ckt}");
    let dur = o["cacheDuration"]
        .as_str()
        .expect("cacheDuration as a Go duration string");
    assert!(is_go_duration(dur), "{dur:?} is not Go duration text");
    let auth = o["auth"].as_object().expect("auth is a map").clone();
    for (k, a) in &auth {
        let a = a.as_object().expect("AuthConfig object");
        let mut keys: Vec<&str> = a.keys().map(|k| k.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["password", "username"], "AuthConfig for {k}");
    }
    auth
}

/// `time.ParseDuration` accepts e.g. "5m0s", "1h0m0s", "300s".
fn is_go_duration(s: &str) -> bool {
    let mut rest = s;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["h", "m", "s"].into_iter().find(|u| rest.starts_with(u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
        parts += 1;
    }
    parts > 0
}

fn duration_secs(s: &str) -> u64 {
    let mut total = 0;
    let mut n = 0;
    for c in s.chars() {
        match c {
            '0'..='9' => n = n * 10 + c.to_digit(10).unwrap() as u64,
            'h' => (total, n) = (total + n * 3600, 0),
            'm' => (total, n) = (total + n * 60, 0),
            's' => (total, n) = (total + n, 0),
            _ => panic!("{s}"),
        }
    }
    total
}

#[test]
fn provider_answers_from_the_keychain() {
    let reg = "keychain-answers.example";
    let env = env_for(reg);
    bin::store(&env, reg, "robot$proj+node", "node-secret-1");
    let out = bin::run(
        &env,
        &["kubelet-credential-provider"],
        request("keychain-answers.example/proj/app:1.0").as_bytes(),
    );
    let auth = assert_v1_response(&out);
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[reg]["username"], "robot$proj+node");
    assert_eq!(auth[reg]["password"], "node-secret-1");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["cacheKeyType"], "Registry");
    assert_eq!(v["cacheDuration"], "5m0s");
    // Same registry spelled with the default port, and a digest reference.
    let out = bin::run(
        &env,
        &["kubelet-credential-provider", "--cache-duration", "1h"],
        request("KEYCHAIN-answers.example:443/proj/app@sha256:0123").as_bytes(),
    );
    let auth = assert_v1_response(&out);
    assert_eq!(auth[reg]["password"], "node-secret-1");
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap()["cacheDuration"],
        "1h0m0s"
    );
    bin::run(&env, &["erase"], reg.as_bytes());
}

#[test]
fn provider_reads_a_root_only_robot_file_and_caps_the_cache_at_expiry() {
    let env = keyutils_env();
    let file = env.root().join("robot.json");
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 120;
    std::fs::write(
        &file,
        format!(r#"{{"id":7,"name":"robot$proj+nodes","secret":"file-secret-2","creation_time":"2026-01-01T00:00:00Z","expires_at":{expires}}}"#),
    )
    .unwrap();
    env.watch_secret("file-secret-2");
    let f = file.to_str().unwrap();
    bin::set_mode(&file, 0o644);
    let out = bin::run(
        &env,
        &["kubelet-credential-provider", "--credentials-file", f],
        request("hub.k8s.ucar.edu/p/i").as_bytes(),
    );
    assert_eq!(
        out.code(),
        1,
        "a group/world-readable file is refused\n{out}"
    );
    assert!(out.stdout.is_empty(), "{out}");
    text::assert_text(
        &Normal::env(&env),
        &out.stderr,
        "error: $ROOT/robot.json is readable by other users; chmod 600 it\n",
    );
    bin::set_mode(&file, 0o600);
    let out = bin::run(
        &env,
        &["kubelet-credential-provider", "--credentials-file", f],
        request("hub.k8s.ucar.edu/p/i").as_bytes(),
    );
    let auth = assert_v1_response(&out);
    assert_eq!(auth[REGISTRY]["username"], "robot$proj+nodes");
    assert_eq!(auth[REGISTRY]["password"], "file-secret-2");
    let dur = serde_json::from_str::<Value>(&out.stdout).unwrap()["cacheDuration"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        duration_secs(&dur) <= 120,
        "cache must not outlive the robot: {dur}"
    );
}

/// An admin may have extended the robot (Harbor keeps the secret and moves
/// the date): past its recorded expiry the provider still answers, for a
/// minute at most, and says so on stderr; the registry decides (issue 32, item 1).
#[test]
fn provider_answers_for_a_robot_past_its_recorded_expiry() {
    let reg = "passed-expiry.example";
    let env = env_for(reg);
    let file = env.root().join("robot.json");
    std::fs::write(
        &file,
        r#"{"name":"robot-proj+nodes","secret":"extended-secret-3","expires_at":1000}"#,
    )
    .unwrap();
    bin::set_mode(&file, 0o600);
    env.watch_secret("extended-secret-3");
    let from_file = [
        "kubelet-credential-provider",
        "--credentials-file",
        file.to_str().unwrap(),
    ];
    let from_keychain = ["kubelet-credential-provider"];
    // The keychain's robot, imported long ago with a date that has passed since.
    bin::store(&env, reg, "robot-proj+nodes", "extended-secret-3");
    let index = env.index_path();
    let mut idx: Value = serde_json::from_slice(&std::fs::read(&index).unwrap()).unwrap();
    idx["registries"][reg]["expires_at"] = Value::from(1000);
    std::fs::write(&index, idx.to_string()).unwrap();
    for args in [&from_file[..], &from_keychain[..]] {
        let out = bin::run(&env, args, request(&format!("{reg}/p/i")).as_bytes());
        let auth = assert_v1_response(&out);
        assert_eq!(auth[reg]["username"], "robot-proj+nodes", "{out}");
        assert_eq!(auth[reg]["password"], "extended-secret-3", "{out}");
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["cacheDuration"], "1m0s", "{out}");
        let warning =
            format!("warning: robot account robot-proj+nodes for {reg} passed its recorded expiry");
        assert!(
            out.stderr_lines().iter().any(|l| l.starts_with(&warning)
                && l.ends_with(
                    "; answering anyway, as an admin may have extended it (the registry decides); \
                     cached for 1m0s only"
                )),
            "{out}"
        );
    }
    bin::run(&env, &["erase"], reg.as_bytes());
}

#[test]
fn provider_answers_from_ci_variables() {
    let mut env = keyutils_env();
    env.set("HARBOR_USERNAME", "robot$proj+ci");
    env.set("HARBOR_PASSWORD", "ci-secret-3");
    env.watch_secret("ci-secret-3");
    let out = bin::run(
        &env,
        &["kubelet-credential-provider"],
        request("hub.k8s.ucar.edu/p/i:t").as_bytes(),
    );
    let auth = assert_v1_response(&out);
    assert_eq!(auth[REGISTRY]["password"], "ci-secret-3");
}

#[test]
fn provider_errors_go_to_stderr_with_a_nonzero_exit() {
    let mut env = keyutils_env();
    env.set("HARBOR_USERNAME", "robot$proj+ci");
    env.set("HARBOR_PASSWORD", "ci-secret-4");
    env.watch_secret("ci-secret-4");
    // (what, the request, the one line on stderr)
    let cases: [(&str, String, &str); 7] = [
        (
            "malformed JSON",
            "{".into(),
            "error: invalid CredentialProviderRequest JSON: EOF while parsing an object",
        ),
        (
            "not an object",
            "[]".into(),
            "error: invalid CredentialProviderRequest JSON: a value has the wrong type (line 1, column 2)",
        ),
        (
            "unknown apiVersion",
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v9","kind":"CredentialProviderRequest","image":"hub.k8s.ucar.edu/a/b"}"#.into(),
            "error: unsupported apiVersion \"credentialprovider.kubelet.k8s.io/v9\"; this provider speaks \
             credentialprovider.kubelet.k8s.io/v1 and credentialprovider.kubelet.k8s.io/v1beta1",
        ),
        (
            "unknown kind",
            format!(r#"{{"apiVersion":"{V1}","kind":"CredentialProviderResponse","image":"hub.k8s.ucar.edu/a/b"}}"#),
            "error: unexpected kind \"CredentialProviderResponse\"; expected \"CredentialProviderRequest\"",
        ),
        (
            "no image",
            format!(r#"{{"apiVersion":"{V1}","kind":"CredentialProviderRequest"}}"#),
            "error: the request has no image",
        ),
        (
            "another registry",
            request("quay.io/org/img:1"),
            "error: image quay.io/org/img:1 is on quay.io, which this provider does not serve (it serves hub.k8s.ucar.edu)",
        ),
        (
            "docker hub image",
            request("nginx:latest"),
            "error: image nginx:latest is on https://index.docker.io/v1/, which this provider does not serve \
             (it serves hub.k8s.ucar.edu)",
        ),
    ];
    for (what, input, says) in cases {
        let out = bin::run(&env, &["kubelet-credential-provider"], input.as_bytes());
        assert_eq!(out.code(), 1, "{what}\n{out}");
        assert!(out.stdout.is_empty(), "{what}: nothing on stdout\n{out}");
        text::assert_text(&Normal::env(&env), &out.stderr, &format!("{says}\n"));
    }
    // Nothing stored and no CI variables: not found, non-zero.
    let env = env_for("nothing-stored.example");
    let out = bin::run(
        &env,
        &["kubelet-credential-provider"],
        request("nothing-stored.example/p/i").as_bytes(),
    );
    assert_eq!(out.code(), 1, "{out}");
    text::assert_text(
        &Normal::env(&env),
        &out.stderr,
        "error: credentials not found in native keychain\n",
    );
}

fn decode_manifest(yaml: &str) -> Value {
    let line = yaml
        .lines()
        .find(|l| l.trim_start().starts_with(".dockerconfigjson:"))
        .unwrap_or_else(|| panic!("no .dockerconfigjson in\n{yaml}"));
    let b64 = line.split_once(':').unwrap().1.trim();
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn kube_secret_decodes_back_and_matches_kubectl() {
    let reg = "pull-secret.example";
    let env = env_for(reg);
    bin::store(
        &env,
        "https://pull-secret.example/",
        "robot$proj+pull",
        "pull-secret-5",
    );
    let out = bin::run(
        &env,
        &["kube-secret", "--name", "harbor-pull", "--namespace", "ci"],
        b"",
    );
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&Normal::env(&env), &out.stdout, "\
apiVersion: v1
kind: Secret
metadata:
  name: harbor-pull
  namespace: ci
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: eyJhdXRocyI6eyJwdWxsLXNlY3JldC5leGFtcGxlIjp7InVzZXJuYW1lIjoicm9ib3QkcHJvaitwdWxsIiwicGFzc3dvcmQiOiJwdWxsLXNlY3JldC01IiwiYXV0aCI6ImNtOWliM1FrY0hKdmFpdHdkV3hzT25CMWJHd3RjMlZqY21WMExUVT0ifX19
");
    // No warning when stdout is not a terminal.
    text::assert_text(&Normal::env(&env), &out.stderr, "");
    let ours = decode_manifest(&out.stdout);
    let entry = &ours["auths"][reg];
    assert_eq!(entry["username"], "robot$proj+pull");
    assert_eq!(entry["password"], "pull-secret-5");
    let auth = base64::engine::general_purpose::STANDARD
        .decode(entry["auth"].as_str().unwrap())
        .unwrap();
    assert_eq!(auth, b"robot$proj+pull:pull-secret-5");

    // The real kubectl builds the same document for the same credentials.
    let kubectl = std::process::Command::new("kubectl")
        .args([
            "create",
            "secret",
            "docker-registry",
            "harbor-pull",
            "--namespace",
            "ci",
            "--docker-server",
            reg,
            "--docker-username",
            "robot$proj+pull",
            "--docker-password",
            "pull-secret-5",
            "--dry-run=client",
            "-o",
            "yaml",
        ])
        .output()
        .expect("kubectl must be installed (Debian: kubernetes-client)");
    assert!(
        kubectl.status.success(),
        "{}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    let theirs = decode_manifest(&String::from_utf8(kubectl.stdout).unwrap());
    assert_eq!(ours, theirs, "same .dockerconfigjson as kubectl");

    // A personal account gets a warning; bad names are refused.
    bin::store(&env, reg, "jdoe@ucar.edu", "cli-secret-6");
    let out = bin::run(&env, &["kube-secret", "--name", "p"], b"");
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(
        &Normal::env(&env),
        &out.stderr,
        "warning: jdoe@ucar.edu is a personal account; its CLI secret stops working when your web session expires, and a cluster should not pull as you. Prefer a robot account (login --robot-file).\n",
    );
    let out = bin::run(&env, &["kube-secret", "--name", "Bad_Name"], b"");
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    bin::run(&env, &["erase"], reg.as_bytes());
    let out = bin::run(&env, &["kube-secret", "--name", "p"], b"");
    assert_eq!(out.code(), 1, "{out}");
    text::assert_text(
        &Normal::env(&env),
        &out.stderr,
        "error: credentials not found in native keychain\n",
    );
    env.assert_no_secret_in_files();
}

/// `kube-secret`'s warning names the stored username, which a client gave:
/// its control characters are shown escaped (issue 31, item 8).
#[test]
fn kube_secret_names_the_username_escaped() {
    let reg = "escaped-user.example";
    let env = env_for(reg);
    bin::store(
        &env,
        reg,
        "jdoe\u{1b}[2J\nerror: forged",
        "escaped-secret-8",
    );
    let out = bin::run(&env, &["kube-secret", "--name", "p"], b"");
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        out.stderr_lines(),
        [
            "warning: jdoe\\u{1b}[2J\\nerror: forged is a personal account; its CLI secret stops working \
             when your web session expires, and a cluster should not pull as you. Prefer a robot account \
             (login --robot-file)."
        ],
        "{out}"
    );
    bin::run(&env, &["erase"], reg.as_bytes());
    env.assert_no_secret_in_files();
}
