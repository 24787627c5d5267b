//! `configure` on docker's config.json and containers' auth.json: every shape
//! of file people have, what it must keep, what it must refuse, plaintext
//! migration, and `--undo`.

use std::path::{Path, PathBuf};

use base64::Engine;
use common::bin::{self, Env};
use common::commands::Login;
use common::harbor::Account;
use common::registry::Harbor;
use common::text::{self, Normal};
use serde_json::{Value, json};

/// configure --docker: the credHelpers entry added and the plaintext secret of JDOE moved.
const ADDED_AND_MOVED: &str = "\
docker: $HOME/.docker/config.json: added credHelpers[$REGISTRY] = \"harbor\"
docker: $HOME/.docker/config.json: moved the plaintext secret of jdoe@ucar.edu for $REGISTRY into the keychain and removed it from the file
";

const KEY: &str = "hub.k8s.ucar.edu";

fn env() -> Env {
    common::keychain::require_own_session_keyring();
    let mut env = Env::new();
    env.set("DOCKER_CREDENTIAL_HARBOR_STORE", "keyutils");
    env
}

fn docker_path(env: &Env) -> PathBuf {
    env.home.join(".docker/config.json")
}

fn podman_path(env: &Env) -> PathBuf {
    env.config_home.join("containers/auth.json")
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn configure(env: &Env, args: &[&str]) -> bin::Output {
    let mut all = vec!["configure"];
    all.extend_from_slice(args);
    bin::run(env, &all, b"")
}

fn runtime_path(env: &Env) -> PathBuf {
    env.runtime_dir.join("containers/auth.json")
}

fn tmpfiles_path(env: &Env) -> PathBuf {
    env.config_home
        .join("user-tmpfiles.d/docker-credential-harbor.conf")
}

#[test]
fn no_files_at_all() {
    let env = env();
    let out = configure(&env, &[]);
    assert_eq!(out.code(), 0, "{out}");
    // docker's file also gets `host:443`, the spelling nerdctl 2.x looks up first.
    let docker_want = json!({"credHelpers": {KEY: "harbor", "hub.k8s.ucar.edu:443": "harbor"}});
    let podman_want = json!({"credHelpers": {KEY: "harbor"}});
    for (p, want) in [
        (docker_path(&env), &docker_want),
        (podman_path(&env), &podman_want),
        // The file `podman login` writes when REGISTRY_AUTH_FILE is unset.
        (runtime_path(&env), &podman_want),
    ] {
        assert_eq!(&read_json(&p), want, "{}", p.display());
        assert_eq!(bin::mode_of(&p), 0o600, "{}", p.display());
        assert_eq!(bin::mode_of(p.parent().unwrap()), 0o700, "{}", p.display());
    }
    let tmpfiles = std::fs::read_to_string(tmpfiles_path(&env)).expect("a user tmpfiles.d entry");
    assert!(
        tmpfiles.contains(
            "f %t/containers/auth.json 0600 - - - {\"credHelpers\":{\"hub.k8s.ucar.edu\":\"harbor\"}}\n"
        ),
        "{tmpfiles}"
    );
    text::assert_text(&Normal::env(&env), &out.stdout, "\
docker: $HOME/.docker/config.json: added credHelpers[hub.k8s.ucar.edu] = \"harbor\"
docker: $HOME/.docker/config.json: added credHelpers[hub.k8s.ucar.edu:443] = \"harbor\"
podman/skopeo/buildah: $XDG_CONFIG_HOME/containers/auth.json: added credHelpers[hub.k8s.ucar.edu] = \"harbor\"
podman/skopeo/buildah: $XDG_RUNTIME_DIR/containers/auth.json: added credHelpers[hub.k8s.ucar.edu] = \"harbor\"
podman/skopeo/buildah: $HOME/.config/containers/registries.conf.d/50-docker-credential-harbor.conf: asks this helper first, so `podman logout --all` cannot turn it off
podman/skopeo/buildah: $XDG_CONFIG_HOME/user-tmpfiles.d/docker-credential-harbor.conf: recreates the runtime file's credHelpers at each session start
");
    // Undo removes the files it created.
    let out = configure(&env, &["--undo"]);
    assert_eq!(out.code(), 0, "{out}");
    for p in [
        docker_path(&env),
        podman_path(&env),
        runtime_path(&env),
        tmpfiles_path(&env),
    ] {
        assert!(!p.exists(), "{} is gone\n{out}", p.display());
    }
}

#[test]
fn keeps_everything_else_and_undo_restores_it() {
    let cases = [
        ("empty object", "{}"),
        ("empty file", ""),
        (
            "auths",
            r#"{"auths":{"quay.io":{"auth":"eDp5"},"hub.k8s.ucar.edu":{}}}"#,
        ),
        ("credsStore", r#"{"credsStore":"desktop","auths":{}}"#),
        (
            "other credHelpers",
            r#"{"credHelpers":{"gcr.io":"gcloud","public.ecr.aws":"ecr-login"}}"#,
        ),
        (
            "unusual formatting",
            "  {\"b\" :[ 1,2 ,{\"x\":\"\\u00e9\\n\"}],\r\n\t\"a\":{ } ,\"proxies\":{\"default\":{\"httpProxy\":\"http://p:3128\"}},\"z\":null}\n\n",
        ),
    ];
    for (what, text) in cases {
        let env = env();
        write(&docker_path(&env), text);
        let original: Value = if text.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(text).unwrap()
        };
        let out = configure(&env, &["--docker"]);
        assert_eq!(out.code(), 0, "{what}\n{out}");
        let now = read_json(&docker_path(&env));
        assert_eq!(now["credHelpers"][KEY], "harbor", "{what}");
        for (k, v) in original.as_object().unwrap() {
            if k == "credHelpers" {
                for (hk, hv) in v.as_object().unwrap() {
                    assert_eq!(
                        &now["credHelpers"][hk], hv,
                        "{what}: other helper {hk} kept"
                    );
                }
            } else {
                assert_eq!(&now[k], v, "{what}: {k} kept");
            }
        }
        // Key order is kept too: the original keys come first, in order.
        let keys: Vec<&String> = now.as_object().unwrap().keys().collect();
        let orig_keys: Vec<&String> = original.as_object().unwrap().keys().collect();
        assert_eq!(
            &keys[..orig_keys.len()],
            &orig_keys[..],
            "{what}: key order"
        );
        assert!(!podman_path(&env).exists(), "--docker leaves podman alone");
        // A second run changes nothing.
        let bytes = std::fs::read(docker_path(&env)).unwrap();
        assert_eq!(configure(&env, &["--docker"]).code(), 0);
        assert_eq!(
            std::fs::read(docker_path(&env)).unwrap(),
            bytes,
            "{what}: idempotent"
        );
        // One backup of the previous content.
        let backup = docker_path(&env).with_extension("json.bak");
        assert_eq!(
            std::fs::read_to_string(&backup).unwrap(),
            text,
            "{what}: backup is the previous content"
        );
        // Undo gives back the original, semantically.
        let out = configure(&env, &["--docker", "--undo"]);
        assert_eq!(out.code(), 0, "{what}\n{out}");
        assert_eq!(read_json(&docker_path(&env)), original, "{what}: undo");
    }
}

#[test]
fn another_helper_for_the_registry_is_replaced_and_restored() {
    let env = env();
    write(
        &docker_path(&env),
        r#"{"credHelpers":{"hub.k8s.ucar.edu":"secretservice"}}"#,
    );
    let out = configure(&env, &["--docker"]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&Normal::env(&env), &out.stdout, "\
docker: $HOME/.docker/config.json: credHelpers[hub.k8s.ucar.edu] was \"secretservice\", now \"harbor\"
docker: $HOME/.docker/config.json: added credHelpers[hub.k8s.ucar.edu:443] = \"harbor\"
");
    assert_eq!(read_json(&docker_path(&env))["credHelpers"][KEY], "harbor");
    configure(&env, &["--docker", "--undo"]);
    assert_eq!(
        read_json(&docker_path(&env)),
        json!({"credHelpers": {KEY: "secretservice"}})
    );
}

#[test]
fn several_registries_and_podman_only() {
    let env = env();
    let out = configure(
        &env,
        &[
            "--podman",
            "--registry",
            "https://A.example:8443/",
            "--registry",
            "b.example",
        ],
    );
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        read_json(&podman_path(&env)),
        json!({"credHelpers": {"a.example:8443": "harbor", "b.example": "harbor"}})
    );
    assert!(!docker_path(&env).exists());
    // REGISTRY_AUTH_FILE and DOCKER_CONFIG are honoured.
    let mut env2 = self::env();
    let custom = env2.root().join("custom-auth.json");
    let dcfg = env2.root().join("dockercfg");
    env2.set("REGISTRY_AUTH_FILE", custom.to_str().unwrap());
    env2.set("DOCKER_CONFIG", dcfg.to_str().unwrap());
    assert_eq!(configure(&env2, &[]).code(), 0);
    assert_eq!(read_json(&custom)["credHelpers"][KEY], "harbor");
    assert_eq!(
        read_json(&dcfg.join("config.json"))["credHelpers"][KEY],
        "harbor"
    );
}

#[test]
fn invalid_json_is_refused_and_nothing_changes() {
    for text in [
        "{\"auths\": {",
        "[1,2]",
        "\"just a string\"",
        "{\"credHelpers\": 7}",
        "{} trailing",
    ] {
        let env = env();
        write(&docker_path(&env), text);
        let out = configure(&env, &[]);
        assert_eq!(out.code(), 1, "{text}\n{out}");
        assert_eq!(out.stderr.lines().count(), 1, "{text}: one line\n{out}");
        assert!(
            out.stderr.contains("config.json"),
            "{text}: names the file\n{out}"
        );
        assert_eq!(
            std::fs::read_to_string(docker_path(&env)).unwrap(),
            text,
            "unchanged"
        );
        assert!(
            !podman_path(&env).exists(),
            "{text}: the other file is not touched either"
        );
    }
}

/// A read-only file system under the docker config (root ignores mode bits).
struct ReadOnlyMount(PathBuf);

impl ReadOnlyMount {
    fn new(dir: &Path, file_text: &str) -> ReadOnlyMount {
        std::fs::create_dir_all(dir).unwrap();
        let ok = |args: &[&str]| {
            std::process::Command::new("mount")
                .args(args)
                .status()
                .unwrap()
                .success()
        };
        assert!(
            ok(&[
                "-t",
                "tmpfs",
                "-o",
                "size=1m,mode=0700",
                "tmpfs",
                dir.to_str().unwrap()
            ]),
            "mount tmpfs (needs root)"
        );
        std::fs::write(dir.join("config.json"), file_text).unwrap();
        assert!(
            ok(&["-o", "remount,ro", dir.to_str().unwrap()]),
            "remount read-only"
        );
        ReadOnlyMount(dir.to_path_buf())
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn read_only_directory_gives_a_clear_error() {
    let mut env = env();
    let dir = env.root().join("ro-docker");
    let _m = ReadOnlyMount::new(&dir, "{}");
    env.set("DOCKER_CONFIG", dir.to_str().unwrap());
    let out = configure(&env, &["--docker"]);
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    text::assert_text(
        &Normal::env(&env),
        &out.stderr,
        "error: cannot open lock file $ROOT/ro-docker/config.json.lock: Read-only file system (os error 30)\n",
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("config.json")).unwrap(),
        "{}"
    );
}

fn auth_b64(user: &str, secret: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
}

#[test]
fn plaintext_secrets_move_into_the_keychain_after_a_check() {
    let Harbor { registry, standin } =
        Harbor::start(vec![Account::user("jdoe@ucar.edu", "good-cli-secret-1")]);
    let key = registry.addr();
    let env = env();
    env.watch_secret("good-cli-secret-1");
    let good = auth_b64("jdoe@ucar.edu", "good-cli-secret-1");
    let text = format!(
        r#"{{"auths":{{"http://{key}":{{"auth":"{good}","email":"jdoe@ucar.edu"}},"quay.io":{{"auth":"eDp5"}}}}}}"#
    );
    write(&docker_path(&env), &text);
    let out = configure(&env, &["--docker", "--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&Normal::registry(&env, &key), &out.stdout, ADDED_AND_MOVED);
    assert!(
        standin
            .token_log()
            .iter()
            .any(|e| e.account.as_deref() == Some("jdoe@ucar.edu") && e.status == 200),
        "verified first"
    );
    let now = read_json(&docker_path(&env));
    assert_eq!(
        now["auths"][format!("http://{key}")],
        json!({"email": "jdoe@ucar.edu"}),
        "secret gone from the file"
    );
    assert_eq!(
        now["auths"]["quay.io"]["auth"], "eDp5",
        "other registries untouched"
    );
    assert_eq!(
        bin::get_ok(&env, &key),
        ("jdoe@ucar.edu".to_string(), "good-cli-secret-1".to_string())
    );
    let backup = std::fs::read_to_string(docker_path(&env).with_extension("json.bak")).unwrap();
    assert!(
        !backup.contains(&good),
        "the backup keeps no plaintext secret"
    );
    env.assert_no_secret_in_files();
    // Undo takes back credHelpers but never writes the secret back.
    configure(&env, &["--docker", "--registry", &key, "--undo"]);
    let after = std::fs::read_to_string(docker_path(&env)).unwrap();
    assert!(
        !after.contains(&good) && !after.contains("credHelpers"),
        "{after}"
    );
    bin::run(&env, &["erase"], key.as_bytes());
}

/// A plaintext secret the registry refuses opens nothing there, and may
/// still open other systems (at UCAR often the old LDAP password): it is
/// removed from the file and kept in no backup; configure succeeds.
#[test]
fn a_refused_plaintext_secret_is_removed_from_the_file_and_its_backup() {
    let Harbor { registry, standin } =
        Harbor::start(vec![Account::user("jdoe@ucar.edu", "current-secret")]);
    let key = registry.addr();
    let env = env();
    let stale = auth_b64("jdoe@ucar.edu", "stale-secret-22");
    let text =
        format!(r#"{{"auths":{{"{key}":{{"auth":"{stale}"}},"quay.io":{{"auth":"eDp5"}}}}}}"#);
    write(&docker_path(&env), &text);
    let out = configure(&env, &["--docker", "--registry", &key]);
    assert_eq!(out.code(), 0, "every entry asked for is in place\n{out}");
    let file = docker_path(&env);
    // Removed, with what to do; no warning about it.
    text::assert_text(&Normal::registry(&env, &key), &out.stdout, "\
docker: $HOME/.docker/config.json: added credHelpers[$REGISTRY] = \"harbor\"
docker: $HOME/.docker/config.json: removed the plaintext secret of jdoe@ucar.edu for $REGISTRY: the registry refused it; log in with `docker-credential-harbor login $REGISTRY`
");
    text::assert_text(
        &Normal::registry(&env, &key),
        &out.stderr,
        "warning: docker-credential-harbor is not on PATH, so docker and podman cannot run it; add its directory to PATH\n",
    );
    let after = read_json(&file);
    assert!(after["auths"][&key].get("auth").is_none(), "{after}");
    assert_eq!(
        after["auths"]["quay.io"]["auth"], "eDp5",
        "others kept: {after}"
    );
    assert_eq!(after["credHelpers"][&key], "harbor", "{after}");
    for f in [file.clone(), file.with_extension("json.bak")] {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(!text.contains(&stale), "{}: {text}", f.display());
    }
    bin::assert_not_found(&env, &key);
    // --no-verify still moves one without asking the registry.
    write(
        &file,
        &format!(r#"{{"auths":{{"{key}":{{"auth":"{stale}"}}}}}}"#),
    );
    standin.clear_token_log();
    let out = configure(&env, &["--docker", "--registry", &key, "--no-verify"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        standin.token_log().is_empty(),
        "no request with --no-verify"
    );
    assert_eq!(bin::get_ok(&env, &key).1, "stale-secret-22");
    bin::run(&env, &["erase"], key.as_bytes());
}

/// A registry that cannot be asked says nothing about the secret: it stays,
/// with one line saying why, and the credHelpers entry (which wins in that
/// file) is in place, so configure succeeds.
#[test]
fn an_unreachable_registry_keeps_the_plaintext_secret_and_says_why() {
    // A port nobody listens on.
    let key = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let env = env();
    let secret = auth_b64("jdoe@ucar.edu", "unchecked-secret-5");
    write(
        &docker_path(&env),
        &format!(r#"{{"auths":{{"{key}":{{"auth":"{secret}"}}}}}}"#),
    );
    let out = configure(&env, &["--docker", "--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&Normal::registry(&env, &key), &out.stderr, "\
warning: docker: $HOME/.docker/config.json: the plaintext secret for $REGISTRY was left in the file: it could not be checked ($REGISTRY refused the connection; is the registry address and port right?); run configure again when the registry can be reached
warning: docker-credential-harbor is not on PATH, so docker and podman cannot run it; add its directory to PATH
");
    let after = read_json(&docker_path(&env));
    assert_eq!(after["auths"][&key]["auth"], secret.as_str(), "{after}");
    assert_eq!(after["credHelpers"][&key], "harbor", "{after}");
    bin::assert_not_found(&env, &key);
}

/// Helm's, Apptainer's and nerdctl's files (the tools cannot be installed
/// here): what configure writes into them and takes back.
#[test]
fn helm_apptainer_and_nerdctl_files() {
    let env = env();
    let key = format!("nerdctl-helm.p{}.example", std::process::id());
    let secret = "helm-plain-secret-5d2a";
    env.watch_secret(secret);
    let helm = env.config_home.join("helm/registry/config.json");
    let apptainer = env.home.join(".apptainer/docker-config.json");
    // Helm had no auth at all, so it picked docker-credential-secretservice
    // for every registry by itself; Apptainer has no file of its own.
    std::fs::create_dir_all(env.config_home.join("helm")).unwrap();
    let bin_dir = env.root().join("only-secretservice");
    write(
        &bin_dir.join("docker-credential-secretservice"),
        "#!/bin/sh\n",
    );
    bin::set_mode(&bin_dir.join("docker-credential-secretservice"), 0o755);
    let path = bin_dir.display().to_string();
    // nerdctl 2.0.0-2.0.2 wrote plaintext under host:443.
    write(
        &docker_path(&env),
        &format!(
            r#"{{"auths":{{"{key}:443":{{"auth":"{}"}}}}}}"#,
            auth_b64("jdoe", secret)
        ),
    );
    let run = |args: &[&str]| {
        let mut all = vec!["configure", "--registry", &key, "--no-verify"];
        all.extend_from_slice(args);
        bin::run_with(&env, &[("PATH", Some(&path))], &all, b"")
    };
    let out = run(&[]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        read_json(&helm),
        json!({"credsStore": "secretservice", "credHelpers": {&key: "harbor"}}),
        "Helm keeps its own store for other registries\n{out}"
    );
    assert!(!apptainer.exists(), "no Apptainer file is created");
    let docker = read_json(&docker_path(&env));
    assert_eq!(docker["credHelpers"][format!("{key}:443")], "harbor");
    assert_eq!(docker["auths"][format!("{key}:443")], json!({}), "{docker}");
    // The host:443 spelling nerdctl asks for finds the moved secret.
    assert_eq!(
        bin::get_ok(&env, &format!("{key}:443")),
        ("jdoe".into(), secret.into())
    );
    let out = run(&["--undo"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        !helm.exists(),
        "configure created Helm's file: --undo removes it\n{out}"
    );

    // An existing Apptainer file gets the entry; Helm with auth of its own
    // keeps exactly that.
    write(&apptainer, "{}");
    write(&helm, r#"{"auths":{"other.example":{}}}"#);
    let out = run(&[]);
    assert_eq!(out.code(), 0, "{out}");
    // The empty auths entry lets `apptainer registry logout` find the login.
    assert_eq!(
        read_json(&apptainer),
        json!({"credHelpers": {&key: "harbor"}, "auths": {&key: {}}})
    );
    assert_eq!(
        read_json(&helm),
        json!({"auths": {"other.example": {}}, "credHelpers": {&key: "harbor"}})
    );
    let out = run(&["--undo"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(read_json(&helm), json!({"auths": {"other.example": {}}}));
    assert_eq!(read_json(&apptainer), json!({}));
    bin::erase(&env, &key).assert_silent_success();
    env.assert_no_secret_in_files();
}

/// SingularityCE reads only `~/.singularity/docker-config.json` (the tool
/// cannot be installed here): configure writes it when `~/.singularity`
/// exists or `singularity` is on PATH, with the empty `auths` entry its
/// `registry logout` needs, doctor lists it, and --undo takes it back.
#[test]
fn singularity_file_when_singularityce_is_there() {
    let env = env();
    let key = format!("sing.p{}.example", std::process::id());
    let file = env.home.join(".singularity/docker-config.json");
    let system = &bin::system_path();
    let run = |path: &str, args: &[&str]| bin::run_with(&env, &[("PATH", Some(path))], args, b"");
    let configure = ["configure", "--registry", &key];
    assert_eq!(run(system, &configure).code(), 0);
    assert!(!file.exists(), "no SingularityCE, no file");
    assert_eq!(
        run(system, &["configure", "--registry", &key, "--undo"]).code(),
        0
    );

    // `singularity` on PATH, no ~/.singularity yet.
    let bin_dir = env.root().join("with-singularity");
    write(&bin_dir.join("singularity"), "#!/bin/sh\n");
    bin::set_mode(&bin_dir.join("singularity"), 0o755);
    let path = format!("{}:{system}", bin_dir.display());
    let out = run(&path, &configure);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        read_json(&file),
        json!({"credHelpers": {&key: "harbor"}, "auths": {&key: {}}}),
        "{out}"
    );
    assert_eq!(bin::mode_of(&file), 0o600);
    assert_eq!(bin::mode_of(file.parent().unwrap()), 0o700);
    let out = run(&path, &["doctor", "--registry", &key]);
    assert!(
        out.stdout.contains(&format!(
            "  singularity reads, in this order:\n    1. {}: credHelpers: this helper",
            file.display()
        )),
        "{out}"
    );
    let out = run(&path, &["configure", "--registry", &key, "--undo"]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        !file.exists(),
        "configure created it: --undo removes it\n{out}"
    );

    // ~/.singularity exists (no binary on PATH): the same.
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    assert_eq!(run(system, &configure).code(), 0);
    assert_eq!(read_json(&file)["credHelpers"][&key], "harbor");
    assert_eq!(
        run(system, &["configure", "--registry", &key, "--undo"]).code(),
        0
    );
    assert!(!file.exists());
}

/// In CI mode (HARBOR_USERNAME and HARBOR_PASSWORD set) a store keeps
/// nothing, so a plaintext secret must stay in the file and in its backup,
/// and configure says why (security review 2, item 4).
#[test]
fn ci_mode_leaves_plaintext_secrets_where_they_are() {
    let mut env = env();
    env.set("HARBOR_USERNAME", "robot$ci");
    env.set("HARBOR_PASSWORD", "ci-pipeline-secret");
    let secret = auth_b64("jdoe@ucar.edu", "only-copy-secret-3");
    let text = format!(r#"{{"auths":{{"{KEY}":{{"auth":"{secret}"}}}}}}"#);
    write(&docker_path(&env), &text);
    let out = configure(&env, &["--docker", "--registry", KEY, "--no-verify"]);
    assert_eq!(out.code(), 1, "{out}");
    text::assert_text(&Normal::env(&env), &out.stderr, "\
warning: docker: $HOME/.docker/config.json: the plaintext secret for hub.k8s.ucar.edu was left in the file: HARBOR_USERNAME and HARBOR_PASSWORD are set (CI mode), so the keychain is not used; unset them and run configure again to move it
warning: docker-credential-harbor is not on PATH, so docker and podman cannot run it; add its directory to PATH
");
    assert_eq!(
        read_json(&docker_path(&env))["auths"][KEY]["auth"],
        secret.as_str(),
        "the only copy stays"
    );
    let backup = docker_path(&env).with_extension("json.bak");
    if backup.exists() {
        assert!(
            std::fs::read_to_string(&backup).unwrap().contains(&secret),
            "the backup keeps it too"
        );
    }
    env.unset("HARBOR_USERNAME");
    env.unset("HARBOR_PASSWORD");
    bin::assert_not_found(&env, KEY);
}

/// Helm's and podman's files named as docker's own (HELM_REGISTRY_CONFIG,
/// REGISTRY_AUTH_FILE): one file, edited once. Two handles on it used to
/// lose the first one's entries and write Helm's credsStore into docker's
/// file, switching docker for every other registry (review 2, item 6).
#[test]
fn clients_sharing_one_file_edit_it_once() {
    let mut env = env();
    let docker = docker_path(&env);
    write(&docker, "{}");
    env.set("HELM_REGISTRY_CONFIG", docker.to_str().unwrap());
    env.set("REGISTRY_AUTH_FILE", docker.to_str().unwrap());
    let out = configure(&env, &["--registry", KEY]);
    assert_eq!(out.code(), 0, "{out}");
    // helm and podman/skopeo/buildah: the same file as docker's, edited once.
    text::assert_text(&Normal::env(&env), &out.stdout, "\
podman/skopeo/buildah: $HOME/.docker/config.json: the same file as docker's; edited once, as docker's
helm: $HOME/.docker/config.json: the same file as docker's; edited once, as docker's
docker: $HOME/.docker/config.json: added credHelpers[hub.k8s.ucar.edu] = \"harbor\"
docker: $HOME/.docker/config.json: added credHelpers[hub.k8s.ucar.edu:443] = \"harbor\"
");
    let now = read_json(&docker);
    assert_eq!(now["credHelpers"][KEY], "harbor", "{now}");
    assert_eq!(now.get("credsStore"), None, "{now}");
    let out = configure(&env, &["--registry", KEY, "--undo"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(read_json(&docker).get("credHelpers"), None);
}

/// Another program (a `docker login` elsewhere) writes the file while
/// configure waits on the registry: its entry survives configure's save.
#[test]
fn a_write_by_another_program_during_the_check_is_kept() {
    let Harbor { registry, standin } =
        Harbor::start(vec![Account::user("jdoe@ucar.edu", "good-cli-secret-7")]);
    let key = registry.addr();
    let env = env();
    env.watch_secret("good-cli-secret-7");
    let docker = docker_path(&env);
    let good = auth_b64("jdoe@ucar.edu", "good-cli-secret-7");
    write(
        &docker,
        &format!(r#"{{"auths":{{"{key}":{{"auth":"{good}"}}}}}}"#),
    );
    standin.set_token_delay(std::time::Duration::from_secs(2));
    let out = std::thread::scope(|s| {
        let run = s.spawn(|| configure(&env, &["--docker", "--registry", &key]));
        bin::wait_until(
            "configure waits on the token service",
            std::time::Duration::from_secs(20),
            || standin.token_arrivals() >= 1,
        );
        let mut now = read_json(&docker);
        now["auths"]["quay.io"] = json!({"auth": "eDp5"});
        std::fs::write(&docker, serde_json::to_vec(&now).unwrap()).unwrap();
        run.join().unwrap()
    });
    assert_eq!(out.code(), 0, "{out}");
    let now = read_json(&docker);
    assert_eq!(now["auths"]["quay.io"]["auth"], "eDp5", "kept: {now}");
    assert_eq!(now["credHelpers"][&key], "harbor", "{now}");
    assert_eq!(now["auths"][&key], json!({}), "moved: {now}");
    assert_eq!(bin::get_ok(&env, &key).1, "good-cli-secret-7");
    bin::run(&env, &["erase"], key.as_bytes());
}

/// A run that fails half-way (podman's file on a read-only file system,
/// after docker's was changed) can still be undone exactly: the record of
/// what each file had is written before the file is changed.
#[test]
fn a_failure_half_way_can_still_be_undone() {
    let mut env = env();
    let docker = docker_path(&env);
    write(
        &docker,
        &format!(r#"{{"credHelpers":{{"{KEY}":"desktop"}}}}"#),
    );
    let ro = env.root().join("ro-containers");
    let _m = ReadOnlyMount::new(&ro, "{}");
    env.set(
        "REGISTRY_AUTH_FILE",
        ro.join("config.json").to_str().unwrap(),
    );
    let out = configure(&env, &["--registry", KEY]);
    assert_eq!(out.code(), 1, "{out}");
    text::assert_text(&Normal::env(&env), &out.stderr, "\
warning: docker-credential-desktop is not on PATH: its login for hub.k8s.ucar.edu (if any) was not taken over
error: cannot open lock file $ROOT/ro-containers/config.json.lock: Read-only file system (os error 30)
");
    assert_eq!(read_json(&docker)["credHelpers"][KEY], "harbor");
    let out = configure(&env, &["--registry", KEY, "--undo"]);
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        read_json(&docker)["credHelpers"][KEY],
        "desktop",
        "the replaced helper is back\n{out}"
    );
}

/// Live and dead logins at one Harbor stand-in, for the migration tests.
const JDOE: (&str, &str) = ("jdoe@ucar.edu", "jdoe-live-secret-1a");
const BOB: (&str, &str) = ("bob@ucar.edu", "bob-live-secret-2b");
const ROBOT: (&str, &str) = ("robot-proj+ci", "robot-live-secret-3c");
const DEAD: (&str, &str) = ("jdoe@ucar.edu", "jdoe-dead-secret-4d");

fn harbor_of_three() -> Harbor {
    Harbor::start(vec![
        Account::user(JDOE.0, JDOE.1),
        Account::user(BOB.0, BOB.1),
        Account::robot(ROBOT.0, ROBOT.1),
    ])
}

/// An `auths` object: each (key, login) as docker writes it.
fn auths(entries: &[(&str, (&str, &str))]) -> String {
    let map: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(k, (u, s))| (k.to_string(), json!({ "auth": auth_b64(u, s) })))
        .collect();
    json!({ "auths": map }).to_string()
}

/// The `(user, secret)` of every plaintext entry in `p`.
fn plaintext_logins(p: &Path) -> Vec<(String, String)> {
    let Ok(bytes) = std::fs::read(p) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let mut out = Vec::new();
    for entry in v["auths"].as_object().into_iter().flat_map(|m| m.values()) {
        if let Some(a) = entry["auth"].as_str() {
            let raw = base64::engine::general_purpose::STANDARD.decode(a).unwrap();
            let text = String::from_utf8(raw).unwrap();
            let (u, s) = text.split_once(':').unwrap();
            out.push((u.to_string(), s.to_string()));
        }
    }
    out
}

/// A robot login kept with `login --robot-file` (its JSON since deleted,
/// as the README advises) is never replaced by an older plaintext user
/// secret, nor by a second one; each stays in its file with one line
/// saying why and what to do, and doctor names it.
#[test]
fn a_stored_login_is_never_replaced_by_a_plaintext_one() {
    let Harbor {
        registry,
        standin: _standin,
    } = harbor_of_three();
    let key = registry.addr();
    let env = env();
    for (_, s) in [JDOE, BOB, ROBOT] {
        env.watch_secret(s);
    }
    let file = common::harbor::robot_file(env.root(), ROBOT.0, ROBOT.1, -1);
    Login::to(&env, &registry.url()).robot_file(&file).ok();
    std::fs::remove_file(&file).unwrap();
    let http = format!("http://{key}");
    let text = auths(&[(&key, JDOE), (&http, BOB)]);
    write(&docker_path(&env), &text);
    for run in 1..=2 {
        let out = configure(&env, &["--docker", "--registry", &key]);
        assert_eq!(out.code(), 0, "run {run}\n{out}");
        let path = docker_path(&env);
        let kept = |who: &str| {
            format!(
                "warning: docker: {}: the plaintext secret for {key} was left in the file: it differs from the \
                 login the keychain holds ({}) and is not refused; to use it instead, log in with it \
                 (`docker-credential-harbor login {key}`), then run configure again",
                path.display(),
                who
            )
        };
        let lines: Vec<&str> = out
            .stderr_lines()
            .into_iter()
            .filter(|l| l.contains("plaintext"))
            .collect();
        assert_eq!(lines, [kept(ROBOT.0), kept(ROBOT.0)], "run {run}\n{out}");
        assert!(
            !out.stdout.contains("moved") && !out.stdout.contains("removed"),
            "{out}"
        );
        assert_eq!(
            bin::get_ok(&env, &key),
            (ROBOT.0.into(), ROBOT.1.into()),
            "run {run}"
        );
        let mut left = plaintext_logins(&path);
        left.sort();
        assert_eq!(
            left,
            [(BOB.0.into(), BOB.1.into()), (JDOE.0.into(), JDOE.1.into())]
        );
    }
    let out = bin::run(&env, &["doctor", "--registry", &key], b"");
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .contains(&format!("a plaintext secret for {key}")),
        "{out}"
    );
    bin::run(&env, &["erase"], key.as_bytes());
}

/// Several plaintext logins for one registry, nothing stored: the first
/// the registry accepts is moved; a copy of it goes; a refused one goes; a
/// different accepted one stays (at most one is moved).
#[test]
fn of_several_plaintext_logins_at_most_one_is_moved() {
    let Harbor {
        registry,
        standin: _standin,
    } = harbor_of_three();
    let key = registry.addr();
    let env = env();
    for (_, s) in [JDOE, BOB, DEAD] {
        env.watch_secret(s);
    }
    let http = format!("http://{key}");
    write(&docker_path(&env), &auths(&[(&key, JDOE), (&http, BOB)]));
    write(&podman_path(&env), &auths(&[(&key, DEAD), (&http, JDOE)]));
    let out = configure(&env, &["--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    let (docker, podman) = (docker_path(&env), podman_path(&env));
    let expected = [
        format!(
            "docker: {}: moved the plaintext secret of {} for {key} into the keychain and removed it from the file",
            docker.display(),
            JDOE.0
        ),
        format!(
            "podman/skopeo/buildah: {}: removed the plaintext secret of {} for {key}: the registry refused it; \
             log in with `docker-credential-harbor login {key}`",
            podman.display(),
            DEAD.0
        ),
        format!(
            "podman/skopeo/buildah: {}: removed the plaintext secret of {} for {key}: the keychain holds the same login",
            podman.display(),
            JDOE.0
        ),
    ];
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("plaintext"))
        .collect();
    assert_eq!(lines, expected, "{out}");
    let warned: Vec<&str> = out
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("plaintext"))
        .collect();
    assert_eq!(warned.len(), 1, "{out}");
    assert!(
        warned[0].contains(&format!(
            "differs from the login the keychain holds ({})",
            JDOE.0
        )),
        "{out}"
    );
    assert_eq!(bin::get_ok(&env, &key), (JDOE.0.into(), JDOE.1.into()));
    assert_eq!(plaintext_logins(&docker), [(BOB.0.into(), BOB.1.into())]);
    assert_eq!(plaintext_logins(&podman), []);
    bin::run(&env, &["erase"], key.as_bytes());
}

/// `skopeo login --authfile ~/.docker/config.json` writes a new, working
/// login while configure's check of the old one waits on the registry:
/// configure's strip finds another login there under the file's lock, and
/// keeps it.
#[test]
fn a_login_written_while_configure_checks_is_kept() {
    let Harbor { registry, standin } = harbor_of_three();
    let key = registry.addr();
    let env = env();
    env.watch_secret(DEAD.1);
    env.watch_secret(JDOE.1);
    let docker = docker_path(&env);
    write(&docker, &auths(&[(&key, DEAD)]));
    standin.set_token_delay(std::time::Duration::from_secs(3));
    let (out, login) = std::thread::scope(|s| {
        let run = s.spawn(|| configure(&env, &["--docker", "--registry", &key]));
        bin::wait_until(
            "configure waits on the token service",
            std::time::Duration::from_secs(20),
            || standin.token_arrivals() >= 1,
        );
        standin.set_token_delay(std::time::Duration::ZERO);
        let args = [
            "login",
            "--tls-verify=false",
            "--authfile",
            docker.to_str().unwrap(),
            "-u",
            JDOE.0,
            "--password-stdin",
            &key,
        ];
        let login = bin::run_bounded(
            "skopeo",
            args,
            &env.with(&[]),
            format!("{}\n", JDOE.1).as_bytes(),
            std::time::Duration::from_secs(60),
        );
        (run.join().unwrap(), login)
    });
    assert_eq!(login.code(), 0, "{login}");
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&Normal::registry(&env, &key), &out.stderr, "\
warning: docker: $HOME/.docker/config.json: auths[$REGISTRY] was left in the file: another login was written there since it was checked; run configure again to check it
warning: docker-credential-harbor is not on PATH, so docker and podman cannot run it; add its directory to PATH
");
    assert_eq!(
        plaintext_logins(&docker),
        [(JDOE.0.into(), JDOE.1.into())],
        "the new login survives"
    );
    assert_eq!(read_json(&docker)["credHelpers"][&key], "harbor");
    // The next run moves it.
    let out = configure(&env, &["--docker", "--registry", &key]);
    text::assert_text(&Normal::registry(&env, &key), &out.stdout, "\
docker: $HOME/.docker/config.json: $REGISTRY already uses this helper
docker: $HOME/.docker/config.json: moved the plaintext secret of jdoe@ucar.edu for $REGISTRY into the keychain and removed it from the file
");
    assert_eq!(bin::get_ok(&env, &key), (JDOE.0.into(), JDOE.1.into()));
    bin::run(&env, &["erase"], key.as_bytes());
}

/// Entries are read as docker and containers/image read them: a password
/// with trailing NULs is checked (and kept) trimmed; an identity token
/// cannot be checked with a password, so it stays, with one line.
#[test]
fn entries_the_check_cannot_judge_are_kept() {
    let Harbor {
        registry,
        standin: _standin,
    } = harbor_of_three();
    let key = registry.addr();
    let env = env();
    env.watch_secret(JDOE.1);
    let nul =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}\0\0", JDOE.0, JDOE.1));
    let token = json!({"auth": auth_b64(BOB.0, ""), "identitytoken": "refresh-token-5e"});
    let text = json!({"auths": {key.clone(): {"auth": nul}, format!("https://{key}"): token}});
    write(&docker_path(&env), &text.to_string());
    let out = configure(&env, &["--docker", "--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&Normal::registry(&env, &key), &out.stdout, ADDED_AND_MOVED);
    assert_eq!(
        bin::get_ok(&env, &key),
        (JDOE.0.into(), JDOE.1.into()),
        "trimmed"
    );
    text::assert_text(&Normal::registry(&env, &key), &out.stderr, "\
docker-credential-harbor: no Secret Service in this session: the secret is kept in the Linux kernel keyring, which a reboot empties (and logout too, after a few days unused); a password store keeps it across reboots (`pass init KEYID`, README: headless Linux)
warning: docker: $HOME/.docker/config.json: the plaintext secret for $REGISTRY was left in the file: it holds an identity token, which this tool cannot check
warning: docker-credential-harbor is not on PATH, so docker and podman cannot run it; add its directory to PATH
");
    let after = read_json(&docker_path(&env));
    assert_eq!(after["auths"][format!("https://{key}")], token, "{after}");
    bin::run(&env, &["erase"], key.as_bytes());
}

/// configure run twice over every mix of a stored login and plaintext
/// entries in docker's and containers' files never leaves a working login
/// in fewer places than before: each live login is still in the keychain
/// or its file, and a stored live login is never replaced.
#[test]
fn no_mix_of_logins_loses_a_working_one() {
    let Harbor {
        registry,
        standin: _standin,
    } = harbor_of_three();
    let key = registry.addr();
    let choices = [None, Some(JDOE), Some(BOB), Some(ROBOT), Some(DEAD)];
    for stored in [None, Some(JDOE), Some(ROBOT)] {
        for docker in choices {
            for podman in choices {
                let env = env();
                if let Some((u, s)) = stored {
                    bin::store(&env, &key, u, s);
                }
                let file = |e: Option<(&str, &str)>| match e {
                    Some(login) => auths(&[(&key, login)]),
                    None => "{}".to_string(),
                };
                write(&docker_path(&env), &file(docker));
                write(&podman_path(&env), &file(podman));
                let before: Vec<(&str, &str)> = [stored, docker, podman]
                    .into_iter()
                    .flatten()
                    .filter(|l| *l != DEAD)
                    .collect();
                for run in 1..=2 {
                    let out = configure(&env, &["--registry", &key]);
                    let case = format!(
                        "stored {stored:?}, docker {docker:?}, podman {podman:?}, run {run}\n{out}"
                    );
                    let mut after = plaintext_logins(&docker_path(&env));
                    after.extend(plaintext_logins(&podman_path(&env)));
                    let held = bin::get(&env, &key);
                    if held.code() == 0 {
                        after.push(bin::parse_get(&held, &key));
                    }
                    for (u, s) in &before {
                        assert!(
                            after.contains(&(u.to_string(), s.to_string())),
                            "{u} lost: {case}"
                        );
                    }
                    if let Some((u, s)) = stored {
                        assert_eq!(
                            bin::parse_get(&held, &key),
                            (u.into(), s.into()),
                            "replaced: {case}"
                        );
                    }
                }
                bin::run(&env, &["erase"], key.as_bytes());
            }
        }
    }
}

/// Every entry under `dir` (itself included) whose owner is not `uid:gid`.
fn not_owned_by(dir: &Path, uid: u32, gid: u32, out: &mut Vec<String>) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).unwrap();
    if (meta.uid(), meta.gid()) != (uid, gid) {
        out.push(format!("{} ({}:{})", dir.display(), meta.uid(), meta.gid()));
    }
    if meta.is_dir() {
        for e in std::fs::read_dir(dir).unwrap() {
            not_owned_by(&e.unwrap().path(), uid, gid, out);
        }
    }
}

/// `sudo -E configure` (root with the user's HOME): what root creates in the
/// user's directories (the drop-in's `registries.conf.d`, auth files, locks,
/// the index, configure's record) is the user's, given through the open file,
/// so the user's skopeo, `store` and `configure` still work afterwards. A root
/// file the user hard-linked at a lock's name keeps its owner (issue 31, item 7).
#[test]
fn as_root_with_a_users_home_what_it_creates_is_the_users() {
    use std::os::unix::fs::{MetadataExt, chown};
    assert_eq!(
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() },
        0,
        "this test needs root (CI and the dev machine run as root)"
    );
    // Any non-root uid will do: the kernel needs no passwd entry.
    const USER: u32 = 4343;
    let env = users_env(USER);
    let docker_dir = env.home.join(".docker");
    std::fs::create_dir(&docker_dir).unwrap();
    chown(&docker_dir, Some(USER), Some(USER)).unwrap();
    let roots_file = env.root().join("roots-file");
    std::fs::write(&roots_file, "root's").unwrap();
    let planted = docker_dir.join("config.json.lock");
    std::fs::hard_link(&roots_file, &planted).unwrap();

    let key = format!("as-root.p{}.example.test", std::process::id());
    let out = configure(&env, &["--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    bin::store(&env, &key, "root-user", "s3cret-as-root-1");
    bin::run(&env, &["erase"], key.as_bytes()).assert_silent_success();
    assert_eq!(
        std::fs::metadata(&roots_file).unwrap().uid(),
        0,
        "a root file hard-linked at a lock's name keeps its owner\n{out}"
    );
    std::fs::remove_file(&planted).unwrap();
    let mut foreign = Vec::new();
    not_owned_by(&env.home, USER, USER, &mut foreign);
    not_owned_by(&env.runtime_dir, USER, USER, &mut foreign);
    assert!(foreign.is_empty(), "not the user's: {foreign:#?}\n{out}");

    // Then the user, with the same HOME and runtime dir: configure again,
    // and store, get and skopeo in one session keyring. skopeo reads the
    // drop-in's directory and asks the helper, which answers.
    let out = run_as_user(
        &env,
        USER,
        &[bin::BIN, "configure", "--registry", &key],
        b"",
    );
    assert_eq!(out.code(), 0, "{out}");
    let script = format!(
        "\"$0\" store && printf %s '{key}' | \"$0\" get && skopeo --debug login --get-login '{key}'"
    );
    let out = run_as_user(
        &env,
        USER,
        &["sh", "-c", &script, bin::BIN],
        bin::store_json(&key, "the-user", "s3cret-as-user-1").as_bytes(),
    );
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout.contains("\"Secret\":\"s3cret-as-user-1\""),
        "{out}"
    );
    assert!(
        out.stdout.ends_with("\nthe-user\n"),
        "skopeo's login\n{out}"
    );
    let dropin = env
        .home
        .join(".config/containers/registries.conf.d/50-docker-credential-harbor.conf");
    assert!(
        out.stderr.contains(&format!(
            "Loading registries configuration \\\"{}\\\"",
            dropin.display()
        )),
        "{out}"
    );
    assert!(!out.stderr.contains("permission denied"), "{out}");
}

/// An Env whose HOME and runtime dir belong to `uid`, with a desktop
/// session's defaults: everything under HOME, but the runtime dir.
fn users_env(uid: u32) -> Env {
    let mut env = env();
    for var in ["XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"] {
        env.unset(var);
    }
    bin::set_mode(env.root(), 0o755);
    for dir in [&env.home, &env.runtime_dir] {
        std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    }
    env
}

/// Run `cmd` as `uid` (and its group, no others) in a session keyring of its
/// own, with the Env's variables and the helper first on PATH, as a client.
fn run_as_user(env: &Env, uid: u32, cmd: &[&str], stdin: &[u8]) -> bin::Output {
    let helper_dir = Path::new(bin::BIN).parent().unwrap();
    let path = format!("{}:{}", helper_dir.display(), bin::system_path());
    let (reuid, regid) = (format!("--reuid={uid}"), format!("--regid={uid}"));
    let vars = env.with(&[("PATH", Some(&path))]);
    let pre = [&reuid, &regid, "--clear-groups", "keyctl", "session", "-"];
    bin::run_program(env, &vars, "setpriv", &pre, cmd, stdin)
}
