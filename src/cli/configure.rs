//! `configure`: point docker and podman/skopeo/buildah at this helper with a
//! `credHelpers` entry, move any plaintext secret for those registries into
//! the keychain, and (`--undo`) take back exactly what it added.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::NetArgs;
use crate::clients::auth_file::AuthFile;
use crate::clients::{self, Client, HELPER};
use crate::error::Result;
use crate::state::config::Config;
use crate::state::paths;
use crate::text::{escape, say, say_err};

mod adopt;
mod migrate;
mod record;

use record::{FileRecord, State, load_state, save_state};

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

/// The files configure edits, one per canonical path: where two clients
/// share one (docker's named by HELM_REGISTRY_CONFIG or REGISTRY_AUTH_FILE),
/// the first one's edits serve both, and nothing of the other's (Helm's
/// credsStore) goes in.
fn targets(a: &ConfigureArgs) -> Result<Vec<(Client, PathBuf)>> {
    let mut out: Vec<(Client, PathBuf)> = Vec::new();
    for (client, path) in clients::login_files(a.docker, a.podman)? {
        let path = paths::canonical(&path);
        if let Some((first, _)) = out.iter().find(|(_, p)| *p == path) {
            say!(
                "{}: {}: the same file as {}'s; edited once, as {}'s",
                client.who(),
                path.display(),
                first.who(),
                first.who()
            );
            continue;
        }
        out.push((client, path));
    }
    Ok(out)
}

/// Every plaintext entry for `keys` in the clients' files and
/// `~/.dockercfg` (the format before config.json, which docker reads when
/// config.json is missing and containers/image reads last). Each file is
/// read once here and closed: one that is not valid stops the run before
/// anything changes.
fn plaintext_in(
    files: &[(Client, PathBuf)],
    keys: &[String],
    state: &State,
) -> Result<Vec<migrate::Found>> {
    let mut found = Vec::new();
    let mut previous: Vec<(String, String)> = Vec::new();
    for (client, path) in files {
        let file = AuthFile::open(path)?;
        for key in keys {
            let before = state
                .files
                .get(&file.path)
                .and_then(|r| r.keys.get(key).cloned().flatten());
            for helper in [previous_helper(*client, &file, key), before]
                .into_iter()
                .flatten()
            {
                if !previous.contains(&(key.clone(), helper.clone())) {
                    previous.push((key.clone(), helper));
                }
            }
        }
        collect(&mut found, client.who(), &file, keys);
    }
    // What served the registry before comes first: it is the login the
    // client used (its credHelpers or credsStore won over `auths`).
    let mut adopted: Vec<migrate::Found> = previous
        .into_iter()
        .filter_map(|(key, name)| {
            let login = adopt::ask(&name, &key)?;
            Some(migrate::Found {
                who: "docker",
                key,
                from: migrate::From::Helper { name, login },
            })
        })
        .collect();
    adopted.append(&mut found);
    let mut found = adopted;
    if let Some(path) = legacy_path() {
        match AuthFile::open(&path) {
            Ok(file) => collect(&mut found, LEGACY_WHO, &file, keys),
            Err(e) => say_err!("warning: {}", e.one_line()),
        }
    }
    Ok(found)
}

const LEGACY_WHO: &str = "docker (legacy file)";

/// The helper `file` sends `key` to now, if another: its `credHelpers`
/// entry, else (docker's and Helm's files) its `credsStore`.
fn previous_helper(client: Client, file: &AuthFile, key: &str) -> Option<String> {
    match file.cred_helper(key) {
        Some(HELPER) => None,
        Some(h) if !h.is_empty() => Some(h.to_string()),
        _ if client.row().honours_creds_store => file
            .creds_store()
            .filter(|s| *s != HELPER)
            .map(str::to_string),
        _ => None,
    }
}

fn legacy_path() -> Option<PathBuf> {
    let path = clients::home()
        .ok()?
        .join(crate::clients::auth_file::LEGACY_NAME);
    path.is_file().then_some(path)
}

fn collect(out: &mut Vec<migrate::Found>, who: &'static str, file: &AuthFile, keys: &[String]) {
    for key in keys {
        out.extend(file.plaintext(key).into_iter().map(|entry| migrate::Found {
            who,
            key: key.clone(),
            from: migrate::From::File {
                path: file.path.clone(),
                entry,
            },
        }));
    }
}

pub fn run(config: &Arc<Config>, a: ConfigureArgs) -> Result<ExitCode> {
    let keys = super::registry_keys(config, &a.registries)?;
    let files = targets(&a)?;
    // Checked (and moved into the keychain) before any file is opened for
    // its edit: a network check holds no file.
    let mut state = load_state(config.data_dir()?)?;
    let plan = if a.undo {
        migrate::Plan::nothing()
    } else {
        let checking = migrate::Checking {
            verify: !a.no_verify,
            net: a.net.options(None),
            config: Arc::clone(config),
        };
        migrate::decide(plaintext_in(&files, &keys, &state)?, &checking)
    };
    let runtime = clients::runtime_auth_path().map(|p| paths::canonical(&p));
    let mut runtime_keys = None;
    // Whether the containers files were edited, and whether any still routes a
    // registry to the helper (then the registries.conf.d drop-in is wanted).
    let mut containers: Option<bool> = None;
    for (client, path) in files {
        let mut file = AuthFile::open(&path)?;
        if a.undo {
            let record = state.files.remove(&file.path);
            undo(client.who(), &mut file, &keys, record)?;
            // Forgotten only once this file is undone.
            save_state(&state)?;
        } else {
            edit(client, &mut file, &keys, &plan, &mut state)?;
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
    if !a.undo
        && let Some(path) = legacy_path()
    {
        let mut file = AuthFile::open(&path)?;
        plan.apply(&mut file);
        file.save()?;
        plan.report(&file);
    }
    managed_files(containers, runtime_keys)?;
    if !a.undo && clients::find_on_path(crate::NAME).is_none() {
        say_err!(
            "warning: {} is not on PATH, so docker and podman cannot run it; \
             add its directory to PATH",
            crate::NAME
        );
    }
    Ok(if plan.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One client's file: the `credHelpers` entries (and what else the client
/// needs), the plan's strips, the undo record, then the save.
fn edit(
    client: Client,
    file: &mut AuthFile,
    keys: &[String],
    plan: &migrate::Plan,
    state: &mut State,
) -> Result<()> {
    let who = client.who();
    let record = state.files.entry(file.path.clone()).or_default();
    if !file.existed() {
        record.created_file = true;
    }
    let had_helpers = file.has_cred_helpers();
    if let Some(native_store) = client.row().native_store
        && !file.has_auth_configured()
        && let Some(native) = native_store()
    {
        // With no auth in its file Helm picked this store for every
        // registry; a credHelpers entry turns that off, so name it.
        file.set_creds_store(Some(native));
        record.added_creds_store = Some(native.to_string());
        say!(
            "{who}: {}: credsStore = {native:?}, the store Helm chose by itself for other registries",
            file.path.display()
        );
    }
    for key in keys {
        route(client, file, key, record)?;
    }
    if !had_helpers {
        record.created_helpers = true;
    }
    plan.apply(file);
    // The undo record first: a failure from here on can be undone.
    let forget = record.keys.is_empty() && !record.created_file;
    save_state(state)?;
    file.save()?;
    plan.report(file);
    if forget {
        state.files.remove(&file.path);
    }
    Ok(())
}

/// `credHelpers[key]` (and nerdctl's `key:443` in docker's file), and the
/// empty `auths` entry Apptainer's and SingularityCE's logout need.
fn route(client: Client, file: &mut AuthFile, key: &str, record: &mut FileRecord) -> Result<()> {
    let who = client.who();
    let mut names = vec![key.to_string()];
    names.extend((client.row().also_asks)(key));
    for name in &names {
        let previous = file.set_cred_helper(name, HELPER)?;
        if previous.as_deref() == Some(HELPER) {
            say!(
                "{who}: {}: {name} already uses this helper",
                file.path.display()
            );
            continue;
        }
        record.keys.entry(name.clone()).or_insert(previous.clone());
        match previous {
            Some(p) => say!(
                "{who}: {}: credHelpers[{name}] was {:?}, now {HELPER:?}",
                file.path.display(),
                escape(&p)
            ),
            None => say!(
                "{who}: {}: added credHelpers[{name}] = {HELPER:?}",
                file.path.display()
            ),
        }
    }
    if client.row().logout_needs_auths_entry && file.add_empty_auth(key)? {
        record.added_auths.push(key.to_string());
        say!(
            "{who}: {}: added an empty auths[{key}], so that `{who} registry logout` finds the login",
            file.path.display()
        );
    }
    Ok(())
}

/// The files configure manages beside the clients' own: the containers
/// drop-in and the user tmpfiles line.
fn managed_files(containers: Option<bool>, runtime_keys: Option<Vec<String>>) -> Result<()> {
    if let Some(on) = containers
        && clients::write_containers_dropin(on)?
    {
        let p = clients::containers_dropin_path()?;
        if on {
            say!(
                "podman/skopeo/buildah: {}: asks this helper first, so `podman logout --all` cannot turn it off",
                p.display()
            );
        } else {
            say!("podman/skopeo/buildah: removed {}", p.display());
        }
    }
    if let Some(keys) = runtime_keys.filter(|_| clients::runtime_dir_is_xdg())
        && clients::write_user_tmpfiles(&keys, HELPER)?
    {
        let p = clients::user_tmpfiles_path()?;
        if keys.is_empty() {
            say!("podman/skopeo/buildah: removed {}", p.display());
        } else {
            say!(
                "podman/skopeo/buildah: {}: recreates the runtime file's credHelpers at each session start",
                p.display()
            );
        }
    }
    Ok(())
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
            say!("{who}: {}: removed credHelpers[{key}]", file.path.display());
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
        say!("{who}: {}: removed credsStore", file.path.display());
    }
    if record.created_file && file.is_empty() {
        if file.existed() {
            file.remove()?;
            say!(
                "{who}: removed {} (configure had created it)",
                file.path.display()
            );
        }
    } else if !file.save()? && record.keys.is_empty() {
        say!("{who}: {}: nothing to undo", file.path.display());
    }
    Ok(())
}

/// The registry keys configure has set up (from its record), normalised:
/// what `doctor` checks when no registry is named.
pub fn configured_keys(config: &Config) -> Result<Vec<String>> {
    let mut keys: Vec<String> = load_state(config.data_dir()?)?
        .files
        .values()
        .flat_map(|r| r.keys.keys())
        .filter_map(|k| crate::registry::normalize(k).ok())
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}
