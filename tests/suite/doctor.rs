//! `doctor`: every way a client could bypass the helper is named with its
//! file and its fix, and what `configure` fixes is gone after it. File level
//! only (the clients themselves run in tests/suite/podman.rs and tests/suite/e2e.rs).

use std::path::{Path, PathBuf};

use base64::Engine;
use common::bin::{self, Output};
use common::docker;
use common::rig::{Backend, Rig};

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A user in the default environment (no XDG_CONFIG_HOME), kernel keyring.
fn rig(test: &'static str) -> Rig {
    let mut rig = Rig::new(Backend::Keyutils, test);
    rig.env.unset("XDG_CONFIG_HOME");
    rig.env.set("DOCKER_CREDENTIAL_HARBOR_STORE", "keyutils");
    rig
}

/// PATH with the helper under test on it, or without any helper (not even
/// one installed on the machine).
fn path(rig: &Rig, with_helper: bool) -> String {
    let system = bin::system_path();
    if with_helper {
        format!("{}:{system}", docker::helper_dir(&rig.env).display())
    } else {
        system
    }
}

fn helper(rig: &Rig, with_helper: bool, args: &[&str]) -> Output {
    bin::run_with(
        &rig.env,
        &[("PATH", Some(&path(rig, with_helper)))],
        args,
        b"",
    )
}

/// The problem lines naming `file`, each followed by its fix.
fn problems_for(out: &Output, file: &Path) -> Vec<(String, String)> {
    let lines: Vec<&str> = out.stdout.lines().collect();
    let want = format!("problem: {}:", file.display());
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(&want))
        .map(|(i, l)| {
            let fix = lines.get(i + 1).copied().unwrap_or_default().trim();
            assert!(
                fix.starts_with("fix: "),
                "a fix follows each problem\n{out}"
            );
            (l.trim().to_string(), fix.to_string())
        })
        .collect()
}

#[track_caller]
fn assert_named(out: &Output, file: &Path, words: &str, fix: &str) {
    let found = problems_for(out, file);
    assert!(
        found
            .iter()
            .any(|(p, f)| p.contains(words) && f.contains(fix)),
        "a problem in {} saying {words:?} with fix {fix:?}\n{out}",
        file.display()
    );
}

#[test]
fn every_bypass_is_named_with_its_file_and_fix_and_configure_clears_them() {
    let rig = rig("doctor_bypasses");
    let env = &rig.env;
    let key = rig.host("hub");
    let auth = base64::engine::general_purpose::STANDARD.encode("jdoe:doctor-secret-5e8a1c");
    env.watch_secret("doctor-secret-5e8a1c");
    let docker_file = env.home.join(".docker/config.json");
    let user_file = env.home.join(".config/containers/auth.json");
    let runtime_file = env.runtime_dir.join("containers/auth.json");
    let helm_file = env.home.join(".config/helm/registry/config.json");
    let apptainer_file = env.home.join(".apptainer/docker-config.json");
    let conf = env
        .home
        .join(".config/containers/registries.conf.d/50-other.conf");
    let tmpfiles = env
        .home
        .join(".config/user-tmpfiles.d/docker-credential-harbor.conf");
    // docker: credsStore elsewhere, and a plaintext secret (as `https://key/`).
    write(
        &docker_file,
        &format!(r#"{{"credsStore":"desktop","auths":{{"https://{key}/":{{"auth":"{auth}"}}}}}}"#),
    );
    // ~/.config/containers: another helper.
    write(
        &user_file,
        &format!(r#"{{"credHelpers":{{"{key}":"secretservice"}}}}"#),
    );
    // The runtime file: plaintext from an older `podman login`, read first.
    write(
        &runtime_file,
        &format!(r#"{{"auths":{{"{key}":{{"auth":"{auth}"}}}}}}"#),
    );
    write(&conf, "credential-helpers = [\"secretservice\"]\n");
    write(
        &helm_file,
        &format!(r#"{{"auths":{{"{key}":{{"auth":"{auth}"}}}}}}"#),
    );
    write(&apptainer_file, "{}");

    let out = helper(&rig, false, &["doctor", "--registry", &key]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains("docker-credential-harbor is not on PATH"),
        "{out}"
    );
    assert_named(
        &out,
        &docker_file,
        "credsStore docker-credential-desktop",
        "configure",
    );
    assert_named(&out, &docker_file, "plaintext secret", "configure");
    assert_named(
        &out,
        &runtime_file,
        "uses this plaintext secret",
        "configure",
    );
    assert_named(
        &out,
        &runtime_file,
        "podman login",
        "docker-credential-harbor configure",
    );
    assert_named(
        &out,
        &user_file,
        "docker-credential-secretservice",
        "configure",
    );
    assert_named(&out, &tmpfiles, "after a reboot", "configure");
    assert_named(
        &out,
        &conf,
        "leaves out \"containers-auth.json\"",
        "add \"containers-auth.json\"",
    );
    assert_named(
        &out,
        &helm_file,
        "helm uses this plaintext secret",
        "configure",
    );
    assert_named(&out, &apptainer_file, "no file sends", "configure");
    // The order podman reads in: the runtime file first.
    let runtime_at = out.stdout.find(&format!("1. {}", runtime_file.display()));
    let user_at = out.stdout.find(&format!("2. {}", user_file.display()));
    assert!(
        runtime_at.is_some() && user_at.is_some() && runtime_at < user_at,
        "{out}"
    );

    let out = helper(
        &rig,
        true,
        &["configure", "--registry", &key, "--no-verify"],
    );
    assert_eq!(out.code(), 0, "{out}");
    let out = helper(&rig, true, &["doctor", "--registry", &key]);
    assert_eq!(out.code(), 1, "{out}");
    // configure does not edit registries.conf: that one stays, alone.
    assert_named(
        &out,
        &conf,
        "leaves out \"containers-auth.json\"",
        "add \"containers-auth.json\"",
    );
    assert!(out.stdout.contains("1 problem(s) found."), "{out}");
    // The user's fix: containers-auth.json first. Without --registry,
    // doctor checks what configure set up.
    write(
        &conf,
        "credential-helpers = [\n  \"containers-auth.json\",\n  \"secretservice\",\n]\n",
    );
    let out = helper(&rig, true, &["doctor"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains(&key), "{out}");
    assert!(out.stdout.contains("Nothing bypasses the helper."), "{out}");
    env.assert_no_secret_in_files();
}

#[test]
fn variables_that_send_clients_to_other_files_are_named() {
    let mut rig = rig("doctor_variables");
    let key = rig.host("hub");
    let other: PathBuf = rig.env.root().join("elsewhere");
    let auth_file = other.join("auth.json");
    let docker_dir = other.join("docker");
    write(&auth_file, "{}");
    // configure first, then the variables point somewhere it never wrote.
    let out = helper(&rig, true, &["configure", "--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        helper(&rig, true, &["doctor", "--registry", &key]).code(),
        0
    );
    rig.env
        .set("REGISTRY_AUTH_FILE", auth_file.to_str().unwrap());
    rig.env.set("DOCKER_CONFIG", docker_dir.to_str().unwrap());
    let out = helper(&rig, true, &["doctor", "--registry", &key]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains(&format!("1. {} (REGISTRY_AUTH_FILE", auth_file.display())),
        "{out}"
    );
    assert_named(&out, &auth_file, "podman login", "configure");
    let docker_file = docker_dir.join("config.json");
    assert!(
        out.stdout.contains(&format!(
            "docker reads {} (DOCKER_CONFIG sends clients here)",
            docker_file.display()
        )),
        "{out}"
    );
    assert_named(&out, &docker_file, "docker login", "configure");
    let out = helper(&rig, true, &["configure", "--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    let out = helper(&rig, true, &["doctor", "--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
}

/// A plaintext secret beside a `credHelpers` entry that wins in its file is
/// still a secret on disk: doctor names it in every file it lists (the
/// runtime file, docker's, the legacy `~/.dockercfg`), exits 1, and
/// `configure` moves each one out.
#[test]
fn a_plaintext_secret_beside_the_helpers_entry_is_named_and_configure_moves_it() {
    let rig = rig("doctor_beside");
    let env = &rig.env;
    let key = rig.host("hub");
    let out = helper(&rig, true, &["configure", "--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        helper(&rig, true, &["doctor", "--registry", &key]).code(),
        0
    );

    let auth = base64::engine::general_purpose::STANDARD.encode("jdoe:beside-secret-41");
    env.watch_secret("beside-secret-41");
    let runtime_file = env.runtime_dir.join("containers/auth.json");
    let docker_file = env.home.join(".docker/config.json");
    let legacy = env.home.join(".dockercfg");
    for f in [&runtime_file, &docker_file] {
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        v["auths"] = serde_json::json!({ &key: { "auth": auth } });
        write(f, &v.to_string());
    }
    write(
        &legacy,
        &serde_json::json!({ &key: { "auth": auth, "email": "j@x" } }).to_string(),
    );

    let out = helper(&rig, true, &["doctor", "--registry", &key]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(!out.stdout.contains("Nothing bypasses the helper"), "{out}");
    for f in [&runtime_file, &docker_file, &legacy] {
        assert_named(
            &out,
            f,
            &format!("a plaintext secret for {key} (auths[{key}]) is on disk"),
            "docker-credential-harbor configure",
        );
    }

    // The registry cannot be asked (a name under .example): --no-verify
    // moves the first; the others are copies of what the keychain then holds.
    let out = helper(
        &rig,
        true,
        &["configure", "--registry", &key, "--no-verify"],
    );
    assert_eq!(out.code(), 0, "{out}");
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("plaintext"))
        .collect();
    let copy = |who: &str, f: &Path| {
        format!(
            "{who}: {}: removed the plaintext secret of jdoe for {key}: the keychain holds the same login",
            f.display()
        )
    };
    assert_eq!(
        lines,
        [
            format!(
                "docker: {}: moved the plaintext secret of jdoe for {key} into the keychain and removed it from the file",
                docker_file.display()
            ),
            copy("podman/skopeo/buildah", &runtime_file),
            copy("docker (legacy file)", &legacy),
        ],
        "{out}"
    );
    let out = helper(&rig, true, &["doctor", "--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stdout.contains("Nothing bypasses the helper."), "{out}");
    assert_eq!(
        bin::get_ok(env, &key),
        ("jdoe".into(), "beside-secret-41".into())
    );
    env.assert_no_secret_in_files();
    bin::run(env, &["erase"], key.as_bytes());
}

/// `doctor --json`: one object (format version 1) with each registry, each
/// client's files in its order, each problem with its file and fix, and
/// the exit status, which stays as without `--json`.
#[test]
fn doctor_json_is_the_report_as_data() {
    let rig = rig("doctor_json");
    let env = &rig.env;
    let key = rig.host("hub");
    assert_eq!(
        helper(&rig, true, &["configure", "--registry", &key]).code(),
        0
    );
    let parse = |out: &Output| -> serde_json::Value {
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"))
    };
    let out = helper(&rig, true, &["doctor", "--registry", &key, "--json"]);
    assert_eq!(out.code(), 0, "{out}");
    let v = parse(&out);
    assert_eq!(v["version"], 1, "{v}");
    assert_eq!(
        (v["exit_code"].clone(), v["problem_count"].clone()),
        (0.into(), 0.into()),
        "{v}"
    );
    assert!(
        v["helper"]
            .as_str()
            .is_some_and(|h| h.ends_with("docker-credential-harbor")),
        "{v}"
    );
    // The settings file it reads (issue 33, item 4), in the text too.
    // (This rig sets no XDG_CONFIG_HOME.)
    let settings = env
        .home
        .join(".config/docker-credential-harbor/config.json");
    assert_eq!(v["settings"], settings.to_str().unwrap(), "{v}");
    let text = helper(&rig, true, &["doctor", "--registry", &key]);
    let line = format!("settings: {} (not there: defaults)", settings.display());
    assert!(text.stdout.lines().any(|l| l == line), "{line}\n{text}");
    let reg = &v["registries"][0];
    assert_eq!(reg["registry"], key.as_str(), "{v}");
    assert_eq!(reg["problems"], serde_json::json!([]), "{v}");
    let docker_file = env.home.join(".docker/config.json");
    let client = |name: &str| {
        reg["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client"] == name)
            .unwrap_or_else(|| panic!("client {name}: {v}"))
            .clone()
    };
    assert_eq!(reg["clients"][0]["client"], "docker", "docker first: {v}");
    assert_eq!(
        client("docker")["files"][0]["path"],
        docker_file.to_str().unwrap()
    );
    assert_eq!(
        client("docker")["files"][0]["says"],
        "credHelpers: this helper"
    );
    let podman: Vec<String> = client("podman/skopeo/buildah")["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = [
        env.runtime_dir.join("containers/auth.json"),
        env.home.join(".config/containers/auth.json"),
        docker_file.clone(),
        env.home.join(".dockercfg"),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect();
    assert_eq!(podman, want, "podman's order: {v}");

    // A plaintext secret in docker's file: a problem with its file and fix.
    let auth = base64::engine::general_purpose::STANDARD.encode("jdoe:json-secret-7");
    let mut conf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&docker_file).unwrap()).unwrap();
    conf["auths"] = serde_json::json!({ &key: { "auth": auth } });
    write(&docker_file, &conf.to_string());
    let out = helper(&rig, true, &["doctor", "--registry", &key, "--json"]);
    assert_eq!(out.code(), 1, "{out}");
    let v = parse(&out);
    assert_eq!(v["exit_code"], 1, "{v}");
    let problems = v["registries"][0]["problems"].as_array().unwrap();
    assert_eq!(v["problem_count"], problems.len(), "{v}");
    assert!(
        problems
            .iter()
            .any(|p| p["file"] == docker_file.to_str().unwrap()
                && p["problem"].as_str().unwrap().contains("plaintext secret")
                && p["fix"]
                    .as_str()
                    .unwrap()
                    .contains("docker-credential-harbor configure")),
        "{v}"
    );
    assert!(
        !out.stdout.contains("json-secret-7") && !out.stdout.contains(&auth),
        "{out}"
    );
}

/// An `auths` key is text from a file: in the text output its ESC and
/// newline are shown escaped (a raw newline would forge a `fix:` line), and
/// in `--json` DEL and the C1 controls are escaped as C0 ones are (issue 31,
/// item 8).
#[test]
fn an_auths_key_is_printed_escaped_in_text_and_json() {
    let rig = rig("doctor_escape");
    let env = &rig.env;
    let key = rig.host("hub");
    assert_eq!(
        helper(&rig, true, &["configure", "--registry", &key]).code(),
        0
    );
    let docker_file = env.home.join(".docker/config.json");
    let auths_key = format!("https://{key}/\u{1b}[2J\n    fix: none\u{85}\u{9b}31m\u{7f}");
    let auth = base64::engine::general_purpose::STANDARD.encode("jdoe:escape-secret-3");
    env.watch_secret("escape-secret-3");
    let mut conf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&docker_file).unwrap()).unwrap();
    conf["auths"] = serde_json::json!({ &auths_key: { "auth": auth } });
    write(&docker_file, &conf.to_string());
    let no_controls = |out: &Output| !out.stdout.chars().any(|c| c.is_control() && c != '\n');

    let out = helper(&rig, true, &["doctor", "--registry", &key]);
    assert_eq!(out.code(), 1, "{out}");
    let shown = format!("https://{key}/\\u{{1b}}[2J\\n    fix: none\\u{{85}}\\u{{9b}}31m\\u{{7f}}");
    let want = format!(
        "    problem: {}: a plaintext secret for {key} (auths[{shown}]) is on disk",
        docker_file.display()
    );
    assert!(out.stdout.lines().any(|l| l == want), "{want}\n{out}");
    assert!(
        !out.stdout.lines().any(|l| l.starts_with("    fix: none")),
        "{out}"
    );
    assert!(no_controls(&out), "{out}");

    let out = helper(&rig, true, &["doctor", "--registry", &key, "--json"]);
    assert_eq!(out.code(), 1, "{out}");
    let in_json = format!("https://{key}/\\u001b[2J\\n    fix: none\\u0085\\u009b31m\\u007f");
    assert!(
        out.stdout.contains(&format!(
            "\"problem\": \"a plaintext secret for {key} (auths[{in_json}]) is on disk\""
        )),
        "{out}"
    );
    assert!(no_controls(&out), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let problems = v["registries"][0]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["problem"].as_str().unwrap().contains(&auths_key)),
        "the JSON holds the key itself: {v}"
    );
}
