//! `configure`: point docker and podman/skopeo/buildah at this helper with a
//! `credHelpers` entry, move any plaintext secret for those registries into
//! the keychain, and (`--undo`) take back exactly what it added.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::NetArgs;
use crate::actions::{self, LoginFacts};
use crate::auth_file::AuthFile;
use crate::clients::{self, Client, HELPER};
use crate::error::{Error, Result};
use crate::index;
use crate::paths;
use crate::private_file;
use crate::protocol::Credentials;

#[derive(Args)]
pub struct ConfigureArgs {
    /// Registry to route through this helper (repeatable; default: the configured default registry).
    #[arg(long = "registry", value_name = "REGISTRY")]
    registries: Vec<String>,
    /// Only docker's config.json ($DOCKER_CONFIG, else ~/.docker).
    #[arg(long)]
    docker: bool,
    /// Only the containers auth.json used by podman, skopeo and buildah.
    #[arg(long)]
    podman: bool,
    /// Remove exactly what configure added.
    #[arg(long)]
    undo: bool,
    /// Move plaintext secrets into the keychain without checking them with the registry.
    #[arg(long)]
    no_verify: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// What configure changed in one file, so `--undo` can take back just that.
#[derive(Default, Serialize, Deserialize)]
struct FileRecord {
    created_file: bool,
    created_helpers: bool,
    /// Registry key to the helper it had before (None: it had none).
    keys: BTreeMap<String, Option<String>>,
    /// The `credsStore` configure wrote (Helm's file: the store Helm had chosen by itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    added_creds_store: Option<String>,
    /// The empty `auths` entries configure added (Apptainer, SingularityCE).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    added_auths: Vec<String>,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    files: BTreeMap<PathBuf, FileRecord>,
}

fn state_path() -> Result<PathBuf> {
    Ok(paths::data_dir()?.join("configure.json"))
}

fn load_state() -> Result<State> {
    let p = state_path()?;
    match std::fs::read(&p) {
        Ok(b) => Ok(serde_json::from_slice(&b).unwrap_or_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(Error::file("cannot read", p, e)),
    }
}

fn save_state(s: &State) -> Result<()> {
    let p = state_path()?;
    if s.files.is_empty() {
        return match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::file("cannot remove", p, e))
            }
            _ => Ok(()),
        };
    }
    private_file::ensure_private_dir(p.parent().unwrap_or(std::path::Path::new(".")))?;
    let text = serde_json::to_vec_pretty(s).map_err(|e| Error::Config(e.to_string()))?;
    private_file::write_atomic(&p, &text, 0o600)
}

/// nerdctl 2.x looks a registry up as `host:443` before `host`: give that
/// spelling the helper too (the helper maps it to the same key).
fn nerdctl_key(key: &str) -> Option<String> {
    let has_port = !key.ends_with(']') && key.contains(':');
    (!key.contains("://") && !has_port).then(|| format!("{key}:443"))
}

pub fn run(a: ConfigureArgs) -> Result<ExitCode> {
    let keys = super::registry_keys(&a.registries)?;
    // Open every file first: one invalid file stops the run before anything
    // changes. One handle per file: where two clients share one (docker's
    // named by HELM_REGISTRY_CONFIG or REGISTRY_AUTH_FILE), the first one's
    // edits serve both, and nothing of the other's (Helm's credsStore) goes in.
    let mut files: Vec<(Client, AuthFile)> = Vec::new();
    for (client, path) in clients::login_files(a.docker, a.podman)? {
        let file = AuthFile::open(&path)?;
        if let Some((first, _)) = files.iter().find(|(_, f)| f.path == file.path) {
            println!(
                "{}: {}: the same file as {}'s; edited once, as {}'s",
                client.who(),
                file.path.display(),
                first.who(),
                first.who()
            );
            continue;
        }
        files.push((client, file));
    }
    let runtime = clients::runtime_auth_path().map(|p| paths::canonical(&p));
    let mut runtime_keys = None;
    // Whether the containers files were edited, and whether any still routes a
    // registry to the helper (then the registries.conf.d drop-in is wanted).
    let mut containers: Option<bool> = None;
    let mut state = load_state()?;
    let mut failed = false;
    for (client, mut file) in files {
        let who = client.who();
        let key_of_state = file.path.clone();
        if a.undo {
            let record = state.files.remove(&key_of_state);
            undo(who, &mut file, &keys, record)?;
            // Forgotten only once this file is undone.
            save_state(&state)?;
        } else {
            let record = state.files.entry(key_of_state).or_default();
            if !file.existed() {
                record.created_file = true;
            }
            let had_helpers = file.has_cred_helpers();
            if client == Client::Helm
                && !file.has_auth_configured()
                && let Some(native) = clients::helm_native_store()
            {
                // With no auth in its file Helm picked this store for every
                // registry; a credHelpers entry turns that off, so name it.
                file.set_creds_store(Some(native));
                record.added_creds_store = Some(native.to_string());
                println!(
                    "{who}: {}: credsStore = {native:?}, the store Helm chose by itself for other registries",
                    file.path.display()
                );
            }
            for key in &keys {
                let mut names = vec![key.clone()];
                if client == Client::Docker {
                    names.extend(nerdctl_key(key));
                }
                for name in &names {
                    let previous = file.set_cred_helper(name, HELPER)?;
                    if previous.as_deref() == Some(HELPER) {
                        println!(
                            "{who}: {}: {name} already uses this helper",
                            file.path.display()
                        );
                        continue;
                    }
                    record.keys.entry(name.clone()).or_insert(previous.clone());
                    match previous {
                        Some(p) => println!(
                            "{who}: {}: credHelpers[{name}] was {p:?}, now {HELPER:?}",
                            file.path.display()
                        ),
                        None => println!(
                            "{who}: {}: added credHelpers[{name}] = {HELPER:?}",
                            file.path.display()
                        ),
                    }
                }
                if clients::logout_needs_auths_entry(client) && file.add_empty_auth(key)? {
                    record.added_auths.push(key.clone());
                    println!(
                        "{who}: {}: added an empty auths[{key}], so that `{who} registry logout` finds the login",
                        file.path.display()
                    );
                }
                failed |= !migrate(who, &mut file, key, &a)?;
            }
            if !had_helpers {
                record.created_helpers = true;
            }
            // The undo record first: a failure from here on can be undone.
            let forget = record.keys.is_empty() && !record.created_file;
            save_state(&state)?;
            file.save()?;
            if forget {
                state.files.remove(&file.path);
            }
        }
        if runtime.as_ref() == Some(&file.path) {
            runtime_keys = Some(file.keys_with_helper(HELPER));
        }
        if client == Client::Containers {
            let routes = !file.keys_with_helper(HELPER).is_empty();
            containers = Some(containers.unwrap_or(false) || routes);
        }
    }
    save_state(&state)?;
    if !a.undo {
        failed |= !migrate_legacy(&keys, &a)?;
    }
    if let Some(on) = containers
        && clients::write_containers_dropin(on)?
    {
        let p = clients::containers_dropin_path()?;
        if on {
            println!(
                "podman/skopeo/buildah: {}: asks this helper first, so `podman logout --all` cannot turn it off",
                p.display()
            );
        } else {
            println!("podman/skopeo/buildah: removed {}", p.display());
        }
    }
    if let Some(keys) = runtime_keys.filter(|_| clients::runtime_dir_is_xdg())
        && clients::write_user_tmpfiles(&keys, HELPER)?
    {
        let p = clients::user_tmpfiles_path()?;
        if keys.is_empty() {
            println!("podman/skopeo/buildah: removed {}", p.display());
        } else {
            println!(
                "podman/skopeo/buildah: {}: recreates the runtime file's credHelpers at each session start",
                p.display()
            );
        }
    }
    if !a.undo && clients::find_on_path(crate::NAME).is_none() {
        eprintln!(
            "warning: {} is not on PATH, so docker and podman cannot run it; \
             add its directory to PATH",
            crate::NAME
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn undo(who: &str, file: &mut AuthFile, keys: &[String], record: Option<FileRecord>) -> Result<()> {
    let record = record.unwrap_or_else(|| FileRecord {
        // No record (state lost): remove only entries that name this helper.
        keys: keys
            .iter()
            .filter(|k| file.cred_helper(k) == Some(HELPER))
            .map(|k| (k.clone(), None))
            .collect(),
        ..FileRecord::default()
    });
    for (key, previous) in &record.keys {
        if file.cred_helper(key) == Some(HELPER) {
            file.restore_cred_helper(key, previous.as_deref(), record.created_helpers);
            println!("{who}: {}: removed credHelpers[{key}]", file.path.display());
        }
    }
    for key in &record.added_auths {
        file.remove_empty_auth(key);
    }
    if let Some(store) = &record.added_creds_store
        && file.creds_store() == Some(store.as_str())
        && file.keys_with_helper(HELPER).is_empty()
    {
        file.set_creds_store(None);
        println!("{who}: {}: removed credsStore", file.path.display());
    }
    if record.created_file && file.is_empty() {
        if file.existed() {
            file.remove()?;
            println!(
                "{who}: removed {} (configure had created it)",
                file.path.display()
            );
        }
    } else if !file.save()? && record.keys.is_empty() {
        println!("{who}: {}: nothing to undo", file.path.display());
    }
    Ok(())
}

/// `~/.dockercfg`, the format before config.json, which docker reads when
/// config.json is missing and containers/image reads last: it cannot name a
/// helper, so its plaintext secrets are only moved out. False when one
/// could not be moved.
fn migrate_legacy(keys: &[String], a: &ConfigureArgs) -> Result<bool> {
    let path = clients::home()?.join(crate::auth_file::LEGACY_NAME);
    if !path.is_file() {
        return Ok(true);
    }
    let mut file = match AuthFile::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("warning: {}", e.one_line());
            return Ok(false);
        }
    };
    let mut ok = true;
    for key in keys {
        ok &= migrate("docker (legacy file)", &mut file, key, a)?;
    }
    file.save()?;
    Ok(ok)
}

/// Move plaintext secrets for `key` into the keychain. False when one could not be moved.
fn migrate(who: &str, file: &mut AuthFile, key: &str, a: &ConfigureArgs) -> Result<bool> {
    let mut ok = true;
    for found in file.plaintext(key) {
        if crate::ci_env::for_key(key).is_some() {
            // A store would keep nothing: the file's copy is the only one.
            eprintln!(
                "warning: {who}: {}: the plaintext secret for {key} was left in the file: \
                 {} and {} are set (CI mode), so the keychain is not used; \
                 unset them and run configure again to move it",
                file.path.display(),
                crate::env_vars::HARBOR_USERNAME,
                crate::env_vars::HARBOR_PASSWORD
            );
            ok = false;
            continue;
        }
        if !a.no_verify {
            match verify_plaintext(&found.auths_key, &found.username, &found.secret, &a.net) {
                Ok(index::Verdict::Accepted) => {}
                Ok(index::Verdict::Refused) => {
                    // Dead here, and perhaps alive elsewhere (at UCAR often the
                    // old LDAP password): kept nowhere, the backup included.
                    file.strip_secret(&found.auths_key);
                    println!(
                        "{who}: {}: removed the plaintext secret of {} for {key}: the registry refused it; \
                         log in with {}",
                        file.path.display(),
                        crate::text::escape(&found.username),
                        crate::cmd(&format!("login {key}"))
                    );
                    continue;
                }
                other => {
                    // Not known to be dead: the credHelpers entry wins over it
                    // in this file, and it stays for a later run to check.
                    let why = match other {
                        Err(e) => e.one_line(),
                        Ok(v) => format!("the check was {}", v.name()),
                    };
                    eprintln!(
                        "warning: {who}: {}: the plaintext secret for {key} was left in the file: \
                         it could not be checked ({why}); run configure again when the registry can be reached",
                        file.path.display(),
                    );
                    continue;
                }
            }
        }
        let expected = found.secret.clone();
        let stored_in = actions::store_with(
            &actions::Context::system(),
            Credentials {
                server_url: key.to_string(),
                username: found.username.clone(),
                secret: found.secret,
            },
            LoginFacts {
                verified_at: (!a.no_verify).then(index::now),
                // Checked later the way it was checked now.
                net: Some(a.net.options(None)),
                ..LoginFacts::default()
            },
            &mut std::io::stderr(),
        )?;
        // Only a copy read back from the keychain lets the file's go.
        let read_back = stored_in.map(|kind| crate::store::get(kind, key));
        if !matches!(&read_back, Some(Ok(Some(s))) if s.username == found.username && s.secret == expected)
        {
            eprintln!(
                "warning: {who}: {}: the plaintext secret for {key} was left in the file: \
                 the keychain did not give it back after the store",
                file.path.display()
            );
            ok = false;
            continue;
        }
        file.strip_secret(&found.auths_key);
        println!(
            "{who}: {}: moved the plaintext secret of {} for {key} into the keychain and removed it from the file",
            file.path.display(),
            found.username
        );
    }
    Ok(ok)
}

/// Whether the registry takes a plaintext secret before it is moved.
fn verify_plaintext(
    key: &str,
    username: &str,
    secret: &crate::secret::Secret<String>,
    net: &NetArgs,
) -> Result<index::Verdict> {
    let client = crate::harbor::Client::connect(key, &net.options(None))?;
    client.verify(username, secret).map(|(v, _)| v)
}

/// The registry keys configure has set up (from its record), normalised:
/// what `doctor` checks when no registry is named.
pub fn configured_keys() -> Result<Vec<String>> {
    let mut keys: Vec<String> = load_state()?
        .files
        .values()
        .flat_map(|r| r.keys.keys())
        .filter_map(|k| crate::registry::normalize(k).ok())
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}
