//! Proves the test rig (tests/common) behaves: the Harbor stand-in issues
//! tokens that the real docker-registry accepts, refuses what Harbor refuses,
//! and its API endpoints answer like Harbor's; the TLS registry needs its CA;
//! skopeo can push and inspect an image through the token flow; a helper
//! installed on the machine is on no PATH the rig hands out.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::bin::{self, Env};
use common::harbor::{Account, HarborStandin, StandinOptions, TokenLogEntry, now};
use common::oci::make_oci_layout_with_digest;
use common::registry::Registry;
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

const USER: &str = "jdoe@ucar.edu";
const USER_SECRET: &str = "cli-secret-0123";
const ROBOT: &str = "robot$proj+ci";
const ROBOT_SECRET: &str = "robot-secret-4567";

fn accounts() -> Vec<Account> {
    vec![
        Account::user(USER, USER_SECRET),
        Account::robot(ROBOT, ROBOT_SECRET),
        Account::expired_robot("robot$proj+old", "old-secret"),
        Account {
            disabled: true,
            ..Account::robot("robot$proj+off", "off-secret")
        },
        Account {
            oidc_session_expired: true,
            ..Account::user("stale@ucar.edu", "stale-secret")
        },
    ]
}

fn standin() -> HarborStandin {
    HarborStandin::start(StandinOptions {
        accounts: accounts(),
        ..StandinOptions::default()
    })
}

/// Everything here is on 127.0.0.1: never go through a proxy.
fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build reqwest client")
}

fn send(rb: RequestBuilder) -> Response {
    rb.send().expect("HTTP request to the rig")
}

/// `GET /service/token?service=harbor-registry&scope=...`, with Basic creds if given.
fn token_request(
    standin: &HarborStandin,
    creds: Option<(&str, &str)>,
    scopes: &[&str],
) -> Response {
    // Percent-encoded like Go's url.Values, as docker and skopeo send it.
    let mut url = format!("{}?service=harbor-registry", standin.realm());
    for scope in scopes {
        url.push_str("&scope=");
        for b in scope.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    url.push(b as char)
                }
                _ => url.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut rb = client().get(url);
    if let Some((u, p)) = creds {
        rb = rb.basic_auth(u, Some(p));
    }
    send(rb)
}

/// A token for `creds` (must be granted), as the JWT string.
fn token(standin: &HarborStandin, creds: (&str, &str), scopes: &[&str]) -> String {
    let resp = token_request(standin, Some(creds), scopes);
    assert_eq!(resp.status(), StatusCode::OK, "token for {}", creds.0);
    let body: Value = resp.json().expect("token response is JSON");
    body["token"].as_str().expect("token field").to_string()
}

/// The JWT's header and claims.
fn jwt_parts(jwt: &str) -> (Value, Value) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "JWT has three parts: {jwt}");
    let decode = |s: &str| -> Value {
        let bytes = URL_SAFE_NO_PAD.decode(s).expect("JWT part is base64url");
        serde_json::from_slice(&bytes).expect("JWT part is JSON")
    };
    (decode(parts[0]), decode(parts[1]))
}

fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn token_registry_accepts_standin_tokens_and_refuses_bad_ones() {
    let standin = standin();
    let registry = Registry::start_token(&standin);
    let v2 = format!("{}/v2/", registry.url());

    // The registry challenges exactly like Harbor's.
    let resp = send(client().get(&v2));
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()["www-authenticate"]
            .to_str()
            .expect("ASCII header"),
        format!(
            r#"Bearer realm="{}/service/token",service="harbor-registry""#,
            standin.url
        )
    );

    // The kid is the libtrust id of the signing key, computed independently here.
    let expected_kid = sh(&format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform DER \
         | openssl dgst -sha256 -binary | head -c 30 | base32 -w0 | fold -w4 | paste -sd:",
        standin.cert_pem.display()
    ));
    assert_eq!(standin.kid, expected_kid.trim());

    // A user's CLI secret with pull+push.
    let resp = token_request(
        &standin,
        Some((USER, USER_SECRET)),
        &["repository:proj/img:pull,push"],
    );
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().expect("token JSON");
    assert_eq!(body["expires_in"], 1800);
    assert_eq!(body["access_token"], "", "Harbor leaves access_token empty");
    assert!(
        body["issued_at"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{body}"
    );
    let jwt = body["token"].as_str().expect("token");
    let (header, claims) = jwt_parts(jwt);
    assert_eq!(
        header,
        json!({"typ": "JWT", "alg": "RS256", "kid": standin.kid})
    );
    assert_eq!(claims["iss"], "harbor-token-issuer");
    assert_eq!(claims["aud"], "harbor-registry");
    assert_eq!(claims["sub"], USER);
    assert_eq!(
        claims["access"],
        json!([{"type": "repository", "name": "proj/img", "actions": ["pull", "push"]}])
    );
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(
        (exp - now() - 1800).abs() < 60,
        "exp about 30 minutes ahead"
    );

    // The real registry verifies signature, kid, issuer and audience.
    let resp = send(client().get(&v2).bearer_auth(jwt));
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "registry log:\n{}",
        registry.log()
    );

    // A token with a damaged signature is refused by the registry.
    let mut forged = jwt.to_string();
    let mid = jwt.rfind('.').expect("signature part") + 20;
    let swapped = if &forged[mid..=mid] == "A" { "B" } else { "A" };
    forged.replace_range(mid..=mid, swapped);
    assert_eq!(
        send(client().get(&v2).bearer_auth(&forged)).status(),
        StatusCode::UNAUTHORIZED
    );

    // Catalog needs registry:catalog:*; the robot gets it.
    let catalog_jwt = token(&standin, (ROBOT, ROBOT_SECRET), &["registry:catalog:*"]);
    let resp = send(
        client()
            .get(format!("{}/v2/_catalog", registry.url()))
            .bearer_auth(&catalog_jwt),
    );
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "registry log:\n{}",
        registry.log()
    );
    assert_eq!(
        resp.json::<Value>().expect("catalog JSON"),
        json!({"repositories": []})
    );

    // The universal credential check: no scope, valid creds -> 200.
    assert_eq!(
        token_request(&standin, Some((ROBOT, ROBOT_SECRET)), &[]).status(),
        StatusCode::OK
    );

    // Refusals: 401 with an empty body, whatever the reason.
    for (user, secret) in [
        (USER, "wrong"),
        ("nobody@ucar.edu", USER_SECRET),
        ("robot$proj+old", "old-secret"),
        ("robot$proj+off", "off-secret"),
        ("stale@ucar.edu", "stale-secret"),
    ] {
        let resp = token_request(&standin, Some((user, secret)), &[]);
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{user}");
        assert_eq!(resp.text().expect("body"), "", "{user}");
    }

    // Anonymous with a scope: 200, but the token grants nothing on a private
    // project (why a scope must never be used to validate credentials).
    let resp = token_request(&standin, None, &["repository:proj/img:pull"]);
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, claims) = jwt_parts(
        resp.json::<Value>().expect("JSON")["token"]
            .as_str()
            .expect("token"),
    );
    assert_eq!(
        claims["access"],
        json!([{"type": "repository", "name": "proj/img", "actions": []}])
    );

    // Accounts can change at runtime: expire the robot.
    standin.update_account(ROBOT, |a| a.expires_at = Some(now() - 1));
    assert_eq!(
        token_request(&standin, Some((ROBOT, ROBOT_SECRET)), &[]).status(),
        StatusCode::UNAUTHORIZED
    );

    // The log records every token request.
    let log = standin.token_log();
    assert_eq!(
        log[0],
        TokenLogEntry {
            account: Some(USER.into()),
            scopes: vec!["repository:proj/img:pull,push".into()],
            status: 200,
            accepted: true,
        }
    );
    assert!(log.contains(&TokenLogEntry {
        account: None,
        scopes: vec!["repository:proj/img:pull".into()],
        status: 200,
        accepted: false,
    }));
    assert_eq!(
        log.last(),
        Some(&TokenLogEntry {
            account: Some(ROBOT.into()),
            scopes: vec![],
            status: 401,
            accepted: false,
        })
    );
}

/// Credentials Harbor refuses, and no credentials at all.
const REFUSED: [Option<(&str, &str)>; 6] = [
    Some((USER, "wrong")),
    Some(("nobody@ucar.edu", USER_SECRET)),
    Some(("robot$proj+old", "old-secret")),
    Some(("robot$proj+off", "off-secret")),
    Some(("stale@ucar.edu", "stale-secret")),
    None,
];

/// Pushes the rig's test image to `repo:v1` as the user; its digest.
fn push_as_user(registry: &Registry, dir: &Path, repo: &str) -> String {
    let layout = dir.join("layout");
    let digest = make_oci_layout_with_digest(&layout, "v1");
    let out = skopeo(
        dir,
        &[
            "copy",
            "--dest-creds",
            &format!("{USER}:{USER_SECRET}"),
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{}/{repo}:v1", registry.addr()),
        ],
    );
    assert!(
        out.status.success(),
        "skopeo copy to {repo}: {}\nregistry log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        registry.log()
    );
    digest
}

/// Harbor's refusal of a repository request whose token lacks the action
/// (src/server/middleware/v2auth/auth.go), headers and body exactly.
fn assert_harbor_refusal(resp: Response, repo: &str, action: &str, what: &str) {
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{what}");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().expect("ASCII header").to_string())
    };
    assert_eq!(
        header("www-authenticate").as_deref(),
        Some(r#"Basic realm="harbor""#),
        "{what}"
    );
    assert_eq!(
        header("docker-distribution-api-version").as_deref(),
        Some("registry/2.0"),
        "{what}"
    );
    assert_eq!(
        header("content-type").as_deref(),
        Some("application/json; charset=utf-8"),
        "{what}"
    );
    let reason = format!("unauthorized to access repository: {repo}, action: {action}");
    let body =
        json!({"errors": [{"code": "UNAUTHORIZED", "message": format!("{reason}: {reason}")}]});
    assert_eq!(resp.text().expect("body"), format!("{body}\n"), "{what}");
}

/// What Harbor core does with a token of anonymous rights: the private
/// pull is refused in its own words, GET and HEAD alike (HEAD without a
/// body); the public project's pull works, a push there does not.
fn assert_anonymous_rights_at_the_registry(registry: &Registry, jwt: &str) {
    let manifest = |repo: &str| format!("{}/v2/{repo}/manifests/v1", registry.url());
    let accept = "application/vnd.oci.image.manifest.v1+json";
    // Harbor core refuses the private pull in its own words, GET and
    // HEAD alike (HEAD without a body).
    let get = send(
        client()
            .get(manifest("proj/img"))
            .bearer_auth(jwt)
            .header("accept", accept),
    );
    assert_harbor_refusal(get, "proj/img", "pull", "GET, private");
    let head = send(client().head(manifest("proj/img")).bearer_auth(jwt));
    assert_eq!(head.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        head.headers()["www-authenticate"],
        r#"Basic realm="harbor""#
    );
    assert_eq!(head.text().expect("body"), "");
    // The public project's pull works; a push there does not.
    let resp = send(
        client()
            .get(manifest("library/img"))
            .bearer_auth(jwt)
            .header("accept", accept),
    );
    assert_eq!(resp.status(), StatusCode::OK, "public pull");
    let put = client()
        .put(manifest("library/img"))
        .bearer_auth(jwt)
        .header("content-type", accept)
        .body("{}");
    assert_harbor_refusal(send(put), "library/img", "push", "PUT, public");
}

#[test]
fn refused_credentials_with_a_scope_get_anonymous_rights_as_in_harbor() {
    let standin = standin();
    let registry = Registry::start_token(&standin);
    let tmp = tempfile::tempdir().expect("temp dir");
    push_as_user(&registry, tmp.path(), "proj/img");
    push_as_user(&registry, tmp.path(), "library/img");
    let manifest = |repo: &str| format!("{}/v2/{repo}/manifests/v1", registry.url());
    let accept = "application/vnd.oci.image.manifest.v1+json";
    standin.clear_token_log();

    for creds in REFUSED {
        let scopes = ["repository:proj/img:pull,push repository:library/img:pull,push"];
        let resp = token_request(&standin, creds, &scopes);
        assert_eq!(resp.status(), StatusCode::OK, "{creds:?}");
        let body: Value = resp.json().expect("token JSON");
        assert_eq!(body["expires_in"], 1800, "{creds:?}");
        let jwt = body["token"].as_str().expect("token");
        let (_, claims) = jwt_parts(jwt);
        // Anonymous rights: nothing on the private project, pull on the
        // public one, whatever was asked.
        assert_eq!(claims["sub"], "", "{creds:?}");
        assert_eq!(
            claims["access"],
            json!([
                {"type": "repository", "name": "proj/img", "actions": []},
                {"type": "repository", "name": "library/img", "actions": ["pull"]},
            ]),
            "{creds:?}"
        );
        let log = standin.token_log();
        let entry = log.last().expect("logged");
        assert_eq!(
            (entry.account.as_deref(), entry.status, entry.accepted),
            (creds.map(|c| c.0), 200, false),
            "{creds:?}"
        );

        assert_anonymous_rights_at_the_registry(&registry, jwt);
    }

    // An accepted user's token still reaches the registry.
    let jwt = token(&standin, (USER, USER_SECRET), &["repository:proj/img:pull"]);
    let resp = send(
        client()
            .get(manifest("proj/img"))
            .bearer_auth(&jwt)
            .header("accept", accept),
    );
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "registry log:\n{}",
        registry.log()
    );
    // Without a token the registry's own challenge comes back, as Harbor's
    // names the token service (a Bearer challenge with the scope).
    let resp = send(client().get(manifest("proj/img")));
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()["www-authenticate"].to_str().expect("ASCII");
    assert!(
        challenge.starts_with(&format!(r#"Bearer realm="{}""#, standin.realm()))
            && challenge.contains(r#"scope="repository:proj/img:pull""#),
        "{challenge}"
    );
}

#[test]
fn anonymous_without_a_scope_is_refused_with_an_empty_401() {
    let standin = standin();
    let resp = token_request(&standin, None, &[]);
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.text().expect("body"), "");
    assert_eq!(
        standin.token_log(),
        vec![TokenLogEntry {
            account: None,
            scopes: vec![],
            status: 401,
            accepted: false,
        }]
    );
}

#[test]
fn users_current_refuses_a_robot_in_harbors_words() {
    let standin = standin();
    let resp = send(
        client()
            .get(format!("{}/api/v2.0/users/current", standin.url))
            .basic_auth(ROBOT, Some(ROBOT_SECRET)),
    );
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        resp.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        resp.text().expect("body"),
        "{\"errors\":[{\"code\":\"PRECONDITION\",\"message\":\
         \"get current user not available for security context: robot\"}]}\n"
    );
}

#[test]
fn api_endpoints_answer_like_harbor() {
    let standin = standin();
    let api = |path: &str, creds: Option<(&str, &str)>| -> (StatusCode, String) {
        let mut rb = client().get(format!("{}/api/v2.0/{path}", standin.url));
        if let Some((u, p)) = creds {
            rb = rb.basic_auth(u, Some(p));
        }
        let resp = send(rb);
        (resp.status(), resp.text().expect("body"))
    };
    let json_of = |s: &str| -> Value { serde_json::from_str(s).expect("JSON body") };

    let (status, body) = api("ping", None);
    assert_eq!((status, body.as_str()), (StatusCode::OK, "Pong"));

    // systeminfo, anonymous: auth mode and provider, no version.
    let (status, body) = api("systeminfo", None);
    assert_eq!(status, StatusCode::OK);
    let info = json_of(&body);
    assert_eq!(info["auth_mode"], "oidc_auth");
    assert_eq!(info["oidc_provider_name"], "Entra ID");
    assert_eq!(info["self_registration"], false);
    assert!(info.get("banner_message").is_some());
    assert!(info.get("harbor_version").is_none(), "{info}");

    // With a CLI secret (accepted on systeminfo) the details appear.
    let info = json_of(&api("systeminfo", Some((USER, USER_SECRET))).1);
    assert!(
        info["harbor_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("v2.")),
        "{info}"
    );
    for key in ["external_url", "registry_url", "read_only", "current_time"] {
        assert!(info.get(key).is_some(), "{key} missing: {info}");
    }
    // Refused creds fall back to the anonymous view.
    let info = json_of(&api("systeminfo", Some((USER, "wrong"))).1);
    assert!(info.get("harbor_version").is_none(), "{info}");

    // users/current: never accepts a CLI secret; robots get 412.
    let unauthorized = json!({"errors": [{"code": "UNAUTHORIZED", "message": "unauthorized"}]});
    for creds in [Some((USER, USER_SECRET)), Some((USER, "wrong")), None] {
        let (status, body) = api("users/current", creds);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{creds:?}");
        assert_eq!(json_of(&body), unauthorized, "{creds:?}");
    }

    let (status, body) = api("projects", Some((USER, USER_SECRET)));
    assert_eq!((status, json_of(&body)), (StatusCode::OK, json!([])));
    assert_eq!(api("no/such/endpoint", None).0, StatusCode::NOT_FOUND);

    // In db_auth the secret is a password, which users/current accepts.
    standin.set_auth_mode("db_auth");
    let info = json_of(&api("systeminfo", None).1);
    assert_eq!(info["auth_mode"], "db_auth");
    assert!(info.get("oidc_provider_name").is_none(), "{info}");
    let (status, body) = api("users/current", Some((USER, USER_SECRET)));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body)["username"], USER);
}

#[test]
fn tls_registry_needs_its_ca_and_basic_credentials() {
    let registry = Registry::start_tls_basic("alice", "s3cret");
    let v2 = format!("{}/v2/", registry.url());
    assert!(v2.starts_with("https://127.0.0.1:"), "{v2}");

    // Without the CA the certificate is untrusted.
    let err = client()
        .get(&v2)
        .send()
        .expect_err("an unknown CA must be refused");
    assert!(err.is_connect() || err.is_request(), "{err:?}");

    let ca_pem =
        std::fs::read(registry.ca_cert().expect("TLS registry has a CA")).expect("read CA");
    let ca = reqwest::Certificate::from_pem(&ca_pem).expect("CA PEM");
    let trusting = Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .expect("client trusting the rig CA");

    let resp = send(trusting.get(&v2));
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ASCII")
        .to_string();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");

    assert_eq!(
        send(trusting.get(&v2).basic_auth("alice", Some("s3cret"))).status(),
        StatusCode::OK
    );
    assert_eq!(
        send(trusting.get(&v2).basic_auth("alice", Some("wrong"))).status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Runs skopeo isolated from the machine's own credentials and proxy settings.
fn skopeo(home: &Path, args: &[&str]) -> Output {
    Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .env("HOME", home)
        .env("REGISTRY_AUTH_FILE", home.join("auth.json"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("run skopeo (Debian package skopeo)")
}

#[test]
fn skopeo_pushes_and_inspects_through_the_token_flow() {
    let standin = standin();
    let registry = Registry::start_token(&standin);
    let tmp = tempfile::tempdir().expect("temp dir");
    let layout = tmp.path().join("layout");
    let digest = make_oci_layout_with_digest(&layout, "v1");
    let image = format!("docker://{}/proj/img:v1", registry.addr());
    let user_creds = format!("{USER}:{USER_SECRET}");

    let src = format!("oci:{}:v1", layout.display());
    let out = skopeo(
        tmp.path(),
        &[
            "copy",
            "--dest-creds",
            &user_creds,
            "--dest-tls-verify=false",
            &src,
            &image,
        ],
    );
    assert!(
        out.status.success(),
        "skopeo copy failed: {}\nregistry log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        registry.log()
    );
    // skopeo got its push token from the stand-in.
    assert!(
        standin
            .token_log()
            .iter()
            .any(|e| e.account.as_deref() == Some(USER)
                && e.status == 200
                && e.scopes
                    .iter()
                    .any(|s| s.starts_with("repository:proj/img:") && s.contains("push"))),
        "{:?}",
        standin.token_log()
    );

    // Read it back with the robot's credentials.
    let robot_creds = format!("{ROBOT}:{ROBOT_SECRET}");
    let out = skopeo(
        tmp.path(),
        &[
            "inspect",
            "--creds",
            &robot_creds,
            "--tls-verify=false",
            &image,
        ],
    );
    assert!(
        out.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Value = serde_json::from_slice(&out.stdout).expect("skopeo inspect JSON");
    assert_eq!(info["Digest"], digest.as_str());

    // A wrong secret fails the way users see it at Harbor: the token service
    // grants anonymous rights, and Harbor core refuses the pull.
    let bad_creds = format!("{USER}:wrong");
    let out = skopeo(
        tmp.path(),
        &[
            "inspect",
            "--creds",
            &bad_creds,
            "--tls-verify=false",
            &image,
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let refusal = "unauthorized to access repository: proj/img, action: pull";
    let shown = format!("unauthorized: {refusal}: {refusal}");
    assert!(stderr.contains(&shown), "{stderr}");
}

#[test]
fn a_public_project_is_pulled_with_a_refused_secret() {
    let standin = standin();
    let registry = Registry::start_token(&standin);
    let tmp = tempfile::tempdir().expect("temp dir");
    push_as_user(&registry, tmp.path(), "library/img");
    let public = format!("docker://{}/library/img:v1", registry.addr());
    let bad_creds = format!("{USER}:wrong");
    let out = skopeo(
        tmp.path(),
        &[
            "inspect",
            "--creds",
            &bad_creds,
            "--tls-verify=false",
            &public,
        ],
    );
    assert!(
        out.status.success(),
        "a public pull with a refused secret: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A helper installed on the machine (`./install.sh` puts it in
/// /usr/local/bin; here a directory on PATH holding one beside another
/// program) is on no PATH the rig hands out, so `doctor` says it is missing,
/// while the other program there still runs (issue 32, item 6).
#[test]
fn a_helper_installed_on_the_machine_is_on_no_rig_path() {
    let installed = tempfile::tempdir().unwrap();
    for name in [bin::NAME, "other-tool"] {
        let p = installed.path().join(name);
        std::fs::write(&p, "#!/bin/sh\necho installed\n").unwrap();
        bin::set_mode(&p, 0o755);
    }
    let path = bin::without_helper(&format!("{}:/usr/bin:/bin", installed.path().display()));
    let vars = [("PATH".to_string(), path.clone())].into();
    let run = |cmd: &str| bin::run_bounded("sh", ["-c", cmd], &vars, b"", bin::RUN_LIMIT);
    let helper = run(&format!("command -v {}", bin::NAME));
    assert!(
        !helper.success(),
        "the installed helper is hidden\n{helper}"
    );
    let other = run("other-tool");
    assert_eq!(
        other.stdout, "installed\n",
        "the rest of its directory is there\n{other}"
    );

    let env = Env::new();
    let doctor = bin::run_with(&env, &[("PATH", Some(&path))], &["doctor"], b"");
    assert!(
        doctor
            .stdout
            .contains(&format!("{} is not on PATH", bin::NAME)),
        "{doctor}"
    );
    for dir in std::env::split_paths(&bin::system_path()) {
        assert!(
            !dir.join(bin::NAME).exists(),
            "{} in the rig's PATH",
            dir.display()
        );
    }
}

// ---------------------------------------------------------------------------
// text: the whole-output assert and its normaliser

#[test]
fn normal_names_spans_of_time_and_leaves_other_numbers() {
    let all = common::text::Normal::new().durations();
    assert_eq!(
        all.apply("accepted 1 second ago; expires in 12 days, v1.2 3 apples"),
        "accepted N seconds ago; expires in N days, v1.2 3 apples"
    );
    assert_eq!(
        all.apply("port 5000 hours2, 3 dayses"),
        "port 5000 hours2, 3 dayses"
    );
    let seconds = common::text::Normal::new().seconds();
    assert_eq!(seconds.apply("0 seconds, 2 days"), "N seconds, 2 days");
}

#[test]
fn a_printed_text_is_offered_as_the_literal_that_reads_as_it() {
    use common::text::literal;
    assert_eq!(literal("a \"b\"\n"), "\"a \\\"b\\\"\\n\"");
    assert_eq!(literal("a\nb\n"), "\"\\\na\nb\n\"");
    assert_eq!(literal("  a\nb\n"), "\"  a\\nb\\n\"");
}

#[test]
#[should_panic(expected = "-   2 | \"checked:  accepted\"\n+   2 | \"checked:  refused\"")]
fn a_different_text_fails_naming_the_line_that_differs() {
    let normal = common::text::Normal::new().name("127.0.0.1:5000", "$REGISTRY");
    common::text::assert_text(
        &normal,
        "127.0.0.1:5000\nchecked:  refused\n",
        "$REGISTRY\nchecked:  accepted\n",
    );
}
