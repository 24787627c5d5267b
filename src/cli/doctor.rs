//! `doctor`: for each configured registry, every file each client reads, in
//! that client's order, and whatever there would bypass the helper: plaintext
//! read first, another helper or `credsStore`, a variable sending the client
//! elsewhere, the helper missing from PATH, a registries.conf that turns the
//! auth files off. Each problem names its file and its fix. Reads only.
//! Every line goes out through `say!` (escaped) or `text::json`: the keys,
//! helper names and paths in it came from files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use crate::clients::auth_file::AuthFile;
use crate::clients::{self, Client, HELPER};
use crate::error::Result;
use crate::state::config::Config;
use crate::text::say;

#[derive(Args)]
pub struct DoctorArgs {
    /// Registry to check (repeatable; default: the registries configure set up, else the default one).
    #[arg(long = "registry", value_name = "REGISTRY")]
    registries: Vec<String>,
    /// Print one JSON object instead (format version 1, see docs/json.md).
    #[arg(long)]
    json: bool,
}

/// The `doctor --json` format; `version` changes when a field changes meaning.
const JSON_VERSION: u32 = 1;

const CONFIGURE: &str = "run `docker-credential-harbor configure`";

/// What one file says about one registry.
enum Says {
    Missing,
    Unreadable(String),
    Helper(String),
    Plaintext(Vec<String>),
    Nothing,
}

/// What doctor found: printed as it goes, or (`--json`) collected into one object.
#[derive(Serialize)]
struct Report {
    version: u32,
    /// The helper found on PATH.
    helper: Option<PathBuf>,
    /// The keychain new logins go to (its `status` name); `null` when none can be used.
    keychain: Option<&'static str>,
    /// This tool's settings file (the default registry): read there only.
    settings: Option<PathBuf>,
    registries: Vec<RegistryReport>,
    /// Problems outside any registry (the helper missing from PATH).
    problems: Vec<Problem>,
    /// Every problem, in all: the exit status is 1 when there is one.
    problem_count: usize,
    exit_code: u8,
    #[serde(skip)]
    json: bool,
}

#[derive(Serialize)]
struct RegistryReport {
    registry: String,
    /// Each client and the files it reads, in its order.
    clients: Vec<ClientReport>,
    problems: Vec<Problem>,
    /// Other findings, as the text output words them.
    notes: Vec<String>,
}

#[derive(Serialize)]
struct ClientReport {
    client: String,
    files: Vec<FileReport>,
}

#[derive(Serialize)]
struct FileReport {
    path: PathBuf,
    #[serde(skip_serializing_if = "str::is_empty")]
    note: String,
    says: String,
}

#[derive(Serialize)]
struct Problem {
    file: Option<PathBuf>,
    problem: String,
    fix: String,
}

impl Report {
    fn current(&mut self) -> Option<&mut RegistryReport> {
        self.registries.last_mut()
    }

    /// A line of the text output; a note in JSON.
    fn say(&mut self, line: String) {
        if self.json {
            if let Some(reg) = self.current() {
                reg.notes.push(line.trim().to_string());
            }
        } else {
            say!("{line}");
        }
    }

    fn registry(&mut self, key: &str) {
        if !self.json {
            say!("{key}");
        }
        self.registries.push(RegistryReport {
            registry: key.to_string(),
            clients: Vec::new(),
            problems: Vec::new(),
            notes: Vec::new(),
        });
    }

    /// A client, with the heading the text output gives it.
    fn client(&mut self, who: &str, heading: String) {
        if !self.json {
            say!("{heading}");
        }
        if let Some(reg) = self.current() {
            reg.clients.push(ClientReport {
                client: who.to_string(),
                files: Vec::new(),
            });
        }
    }

    /// One file the current client reads (JSON only: the text output words
    /// it where it is found).
    fn file(&mut self, path: &Path, note: &str, says: &Says) {
        if let Some(client) = self.current().and_then(|r| r.clients.last_mut()) {
            client.files.push(FileReport {
                path: path.to_path_buf(),
                note: note.trim().to_string(),
                says: says.line(),
            });
        }
    }

    fn problem(&mut self, file: &Path, what: &str, fix: &str) {
        self.add_problem(Some(file), what, fix);
    }

    fn add_problem(&mut self, file: Option<&Path>, what: &str, fix: &str) {
        self.problem_count += 1;
        if !self.json {
            match file {
                Some(f) => say!("    problem: {}: {what}", f.display()),
                None => say!("    problem: {what}"),
            }
            say!("      fix: {fix}");
        }
        let p = Problem {
            file: file.map(Path::to_path_buf),
            problem: what.to_string(),
            fix: fix.to_string(),
        };
        match self.registries.last_mut() {
            Some(reg) => reg.problems.push(p),
            None => self.problems.push(p),
        }
    }
}

fn open(path: &Path) -> std::result::Result<Option<AuthFile>, String> {
    match AuthFile::open(path) {
        Ok(f) if f.existed() => Ok(Some(f)),
        Ok(_) => Ok(None),
        Err(e) => Err(e.one_line()),
    }
}

/// `credHelpers[name]` first (as every client does), then plaintext `auths`.
fn says(path: &Path, key: &str, name: &str) -> Says {
    match open(path) {
        Err(e) => Says::Unreadable(e),
        Ok(None) => Says::Missing,
        Ok(Some(f)) => {
            if let Some(h) = f.cred_helper(name) {
                return Says::Helper(h.to_string());
            }
            let plain: Vec<String> = f.plaintext(key).into_iter().map(|p| p.auths_key).collect();
            if plain.is_empty() {
                Says::Nothing
            } else {
                Says::Plaintext(plain)
            }
        }
    }
}

impl Says {
    /// What the file says, in words.
    fn line(&self) -> String {
        match self {
            Says::Missing => "does not exist".into(),
            Says::Unreadable(e) => format!("cannot be read ({e})"),
            Says::Helper(h) if h == HELPER => "credHelpers: this helper".into(),
            Says::Helper(h) => format!("credHelpers: docker-credential-{h}"),
            Says::Plaintext(k) => format!("a plaintext secret under auths[{}]", k.join(", ")),
            Says::Nothing => "nothing for this registry".into(),
        }
    }
}

/// Plaintext anywhere is a secret on disk, whoever reads it.
fn plaintext_problems(r: &mut Report, path: &Path, key: &str) {
    if let Ok(Some(f)) = open(path) {
        let plain: Vec<String> = f.plaintext(key).into_iter().map(|p| p.auths_key).collect();
        if !plain.is_empty() {
            r.problem(
                path,
                &format!(
                    "a plaintext secret for {key} (auths[{}]) is on disk",
                    plain.join(", ")
                ),
                &format!("{CONFIGURE} (it moves the secret into the keychain)"),
            );
        }
    }
}

/// Walk `files` in the client's order; the first that says anything decides.
fn walk(r: &mut Report, who: &str, files: &[(PathBuf, &str)], key: &str, name: &str) {
    r.client(who, format!("  {who} reads, in this order:"));
    let mut decided = false;
    for (i, (path, note)) in files.iter().enumerate() {
        let s = says(path, key, name);
        r.file(path, note, &s);
        if !r.json {
            say!("    {}. {}{note}: {}", i + 1, path.display(), s.line());
        }
        if decided {
            if let Says::Helper(h) = &s
                && h != HELPER
            {
                r.problem(
                    path,
                    &format!("names docker-credential-{h} for {key}: {who} uses it once the entries above are gone"),
                    CONFIGURE,
                );
            }
            plaintext_problems(r, path, key);
            continue;
        }
        match &s {
            Says::Helper(h) if h == HELPER => {
                decided = true;
                // The entry wins in this file, but a secret beside it is on disk.
                plaintext_problems(r, path, key);
            }
            Says::Helper(h) => {
                decided = true;
                plaintext_problems(r, path, key);
                r.problem(
                    path,
                    &format!("{who} asks docker-credential-{h} for {key}, not this helper"),
                    CONFIGURE,
                );
            }
            Says::Plaintext(_) => {
                decided = true;
                r.problem(
                    path,
                    &format!("{who} uses this plaintext secret for {key} before asking the helper"),
                    &format!("{CONFIGURE} (it moves the secret into the keychain)"),
                );
            }
            Says::Unreadable(_) => {
                r.problem(path, &format!("{who} cannot read it"), "fix the file")
            }
            _ => {}
        }
    }
    // For podman the caller names the file `login` writes instead.
    if !decided
        && who != Client::Containers.who()
        && let Some((first, _)) = files.first()
    {
        r.problem(
            first,
            &format!("no file sends {key} to this helper: {who} keeps its own copy"),
            CONFIGURE,
        );
    }
}

/// The `credential-helpers` registries.conf sets last (user drop-ins win),
/// with the file that set it.
fn credential_helpers() -> Option<(PathBuf, Vec<String>)> {
    let home = clients::home().ok()?;
    let user_main = home.join(".config/containers/registries.conf");
    let main = match std::env::var_os("CONTAINERS_REGISTRIES_CONF") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ if user_main.is_file() => user_main,
        _ => PathBuf::from("/etc/containers/registries.conf"),
    };
    let mut files = vec![main];
    for dir in [
        PathBuf::from("/etc/containers/registries.conf.d"),
        home.join(".config/containers/registries.conf.d"),
    ] {
        let mut d: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        d.retain(|p| p.extension().is_some_and(|e| e == "conf"));
        d.sort();
        files.extend(d);
    }
    let mut found = None;
    for f in files {
        if let Some(list) = std::fs::read_to_string(&f)
            .ok()
            .and_then(|t| top_level_list(&t, "credential-helpers"))
        {
            found = Some((f, list));
        }
    }
    found
}

/// A top-level TOML string array `name = [...]` (before any `[table]`).
fn top_level_list(text: &str, name: &str) -> Option<Vec<String>> {
    let mut value = String::new();
    let mut in_value = false;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if !in_value {
            if line.starts_with('[') {
                return None;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if k.trim().trim_matches('"') != name {
                continue;
            }
            in_value = true;
            value.push_str(v);
        } else {
            value.push_str(line);
        }
        if value.contains(']') {
            break;
        }
    }
    in_value.then(|| {
        value
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

fn docker_note() -> &'static str {
    if std::env::var_os("DOCKER_CONFIG").is_some_and(|d| !d.is_empty()) {
        " (DOCKER_CONFIG sends clients here)"
    } else {
        ""
    }
}

/// What each client reads for `key`, printed; problems go to `r`.
fn report_registry(config: &Config, r: &mut Report, key: &str) -> Result<()> {
    r.registry(key);
    report_adoption(config, r, key);
    let docker = clients::docker_config_path()?;
    report_docker(r, &docker, key);
    report_containers(r, &docker, key)?;
    report_credential_helpers(r, key);
    report_other_clients(r, &docker, key)?;
    #[cfg(target_os = "linux")]
    report_sudo_docker(r, key);
    Ok(())
}

/// Where the login came from, when configure took it over.
fn report_adoption(config: &Config, r: &mut Report, key: &str) {
    if let Some(from) = config
        .data_dir()
        .and_then(crate::state::index::load_lenient)
        .ok()
        .and_then(|(mut i, _)| i.registries.remove(key))
        .and_then(|e| e.adopted_from)
    {
        r.say(format!(
            "  the login was taken over by configure from docker-credential-{from} (still there too)"
        ));
    }
}

/// docker: credHelpers, then credsStore, then auths, in one file.
fn report_docker(r: &mut Report, docker: &Path, key: &str) {
    r.client(
        "docker",
        format!("  docker reads {}{}", docker.display(), docker_note()),
    );
    r.file(docker, docker_note(), &says(docker, key, key));
    match open(docker) {
        Ok(Some(f)) => match f.cred_helper(key) {
            Some(HELPER) => r.say("    credHelpers: this helper".into()),
            Some(h) => r.problem(
                docker,
                &format!("credHelpers sends {key} to docker-credential-{h}"),
                CONFIGURE,
            ),
            None => match f.creds_store() {
                Some(s) => r.problem(
                    docker,
                    &format!("no credHelpers entry: credsStore docker-credential-{s} keeps {key}"),
                    CONFIGURE,
                ),
                None => r.problem(
                    docker,
                    &format!(
                        "no credHelpers entry: docker login {key} writes a plaintext secret here"
                    ),
                    CONFIGURE,
                ),
            },
        },
        Ok(None) => r.problem(
            docker,
            "does not exist: docker login writes a plaintext secret here",
            CONFIGURE,
        ),
        Err(e) => r.problem(docker, &format!("cannot be read ({e})"), "fix the file"),
    }
    plaintext_problems(r, docker, key);
}

/// podman, skopeo, buildah: what they read on this platform, and what puts
/// the runtime file's entry back after a reboot.
fn report_containers(r: &mut Report, docker: &Path, key: &str) -> Result<()> {
    let containers = clients::containers_files(docker, docker_note())?;
    if let Some(note) = containers.note {
        r.say(format!("    note: {note}"));
    }
    let files = containers.files;
    walk(r, Client::Containers.who(), &files, key, key);
    if let Some((primary, _)) = files.first()
        && !matches!(says(primary, key, key), Says::Helper(ref h) if h == HELPER)
    {
        r.problem(
            primary,
            &format!(
                "podman login {key} writes only this file and calls a helper only when this file names it: \
                 it would store a plaintext secret here"
            ),
            CONFIGURE,
        );
    }
    if clients::runtime_dir_is_xdg() {
        let t = clients::user_tmpfiles_path()?;
        let text = std::fs::read_to_string(&t).unwrap_or_default();
        if !text.contains(&format!("\"{key}\":\"{HELPER}\"")) {
            r.problem(
                &t,
                &format!(
                    "nothing puts the entry for {key} back into the runtime file after a reboot"
                ),
                CONFIGURE,
            );
        }
    }
    Ok(())
}

/// containers' registries.conf: whether podman reads the auth files, and in
/// which order it asks the helpers.
fn report_credential_helpers(r: &mut Report, key: &str) {
    match credential_helpers() {
        Some((file, list)) if !list.iter().any(|h| h == "containers-auth.json") => r.problem(
            &file,
            &format!(
                "credential-helpers = {list:?} leaves out \"containers-auth.json\": podman never reads the auth files, \
                 so their credHelpers entry is not used"
            ),
            &format!("add \"containers-auth.json\" as the first entry in {}", file.display()),
        ),
        // The drop-in configure writes: this helper, then the auth files.
        Some((file, list)) if list.first().map(String::as_str) == Some(HELPER)
            && list.get(1).map(String::as_str) == Some("containers-auth.json") =>
        {
            r.say(format!(
                "    {}: credential-helpers asks this helper first, then the auth files",
                file.display()
            ))
        }
        Some((file, list)) if list.first().map(String::as_str) != Some("containers-auth.json") => r.problem(
            &file,
            &format!(
                "credential-helpers = {list:?}: podman login stores {key} with docker-credential-{} first",
                list[0]
            ),
            &format!("put \"containers-auth.json\" first in {}", file.display()),
        ),
        Some((file, _)) => r.say(format!(
            "    {}: credential-helpers starts with containers-auth.json",
            file.display()
        )),
        None => {}
    }
}

/// Every client with a read order of its own (Helm, Apptainer,
/// SingularityCE: `clients::CLIENTS`), walked in that order; then nerdctl.
fn report_other_clients(r: &mut Report, docker: &Path, key: &str) -> Result<()> {
    for row in &clients::CLIENTS {
        let Some(reads) = row.reads else {
            continue;
        };
        let files: Vec<(PathBuf, &'static str)> = reads(docker)?
            .into_iter()
            .map(|(p, fallback)| (p, if fallback { docker_note() } else { "" }))
            .collect();
        if !files.is_empty() {
            walk(r, row.who, &files, key, key);
        }
    }
    // nerdctl: docker's file, `host:443` before `host`.
    if clients::find_on_path("nerdctl").is_some() {
        let k443 = format!("{key}:443");
        if !key.contains(':') {
            match says(docker, key, &k443) {
                Says::Helper(h) if h != HELPER => r.problem(
                    docker,
                    &format!("nerdctl looks up {k443} first, and credHelpers sends it to docker-credential-{h}"),
                    CONFIGURE,
                ),
                _ => r.say(format!(
                    "  nerdctl reads {} ({k443}, then {key})",
                    docker.display()
                )),
            }
        }
    }
    Ok(())
}

/// sudo docker: root's file and sudo's PATH (Linux: macOS's sudo keeps HOME).
#[cfg(target_os = "linux")]
fn report_sudo_docker(r: &mut Report, key: &str) {
    // SAFETY: getuid(2) cannot fail.
    if unsafe { libc::getuid() } != 0 {
        let root = PathBuf::from("/root/.docker/config.json");
        match open(&root) {
            Ok(Some(f)) => {
                r.say(format!("  sudo docker reads {}", root.display()));
                match f.cred_helper(key) {
                    Some(HELPER) => {
                        let secure = [
                            "/usr/local/sbin",
                            "/usr/local/bin",
                            "/usr/sbin",
                            "/usr/bin",
                            "/sbin",
                            "/bin",
                        ];
                        if !secure
                            .iter()
                            .any(|d| Path::new(d).join(crate::NAME).is_file())
                        {
                            r.problem(
                                &root,
                                "sudo docker runs the helper from sudo's PATH, which does not have it",
                                "install it as root (`sudo ./install.sh`, into /usr/local/bin)",
                            );
                        }
                    }
                    Some(h) => r.problem(
                        &root,
                        &format!("credHelpers sends {key} to docker-credential-{h}"),
                        "sudo docker-credential-harbor configure",
                    ),
                    None => {}
                }
                plaintext_problems(r, &root, key);
            }
            Ok(None) => {}
            Err(_) => r.say(format!(
                "  sudo docker: {} cannot be read as you; run `sudo docker-credential-harbor doctor`",
                root.display()
            )),
        }
    }
}

/// Where new logins go (a Secret Service that hangs costs the keychain timeout).
fn report_keychain(config: &Config, r: &mut Report) {
    match crate::keychain::choose(config) {
        Ok(kind) => {
            r.keychain = Some(kind.name());
            if !r.json {
                say!(
                    "keychain: new logins go to the {}",
                    crate::keychain::describe(kind)
                );
            }
        }
        Err(e) if !r.json => say!("keychain: none can be used: {}", e.one_line()),
        Err(_) => {}
    }
}

pub fn run(config: &Config, a: DoctorArgs) -> Result<ExitCode> {
    let keys = if a.registries.is_empty() {
        match super::configure::configured_keys(config)? {
            k if k.is_empty() => super::registry_keys(config, &[])?,
            k => k,
        }
    } else {
        super::registry_keys(config, &a.registries)?
    };
    let mut r = Report {
        version: JSON_VERSION,
        helper: clients::find_on_path(crate::NAME),
        keychain: None,
        settings: config.settings_path().ok(),
        registries: Vec::new(),
        problems: Vec::new(),
        problem_count: 0,
        exit_code: 0,
        json: a.json,
    };
    match r.helper.clone() {
        Some(p) if !r.json => say!("helper: {}", p.display()),
        Some(_) => {}
        None => r.add_problem(
            None,
            &format!(
                "{} is not on PATH: docker, podman and the others cannot run it",
                crate::NAME
            ),
            "add the directory that holds it to PATH (install.sh puts it in ~/.local/bin)",
        ),
    }
    let holds_helper = |d: &Path| d.join(crate::NAME).is_file();
    if let Some((problem, fix)) = clients::gui_path_problem(
        crate::platform::Platform::CURRENT,
        r.helper.as_deref(),
        &holds_helper,
    ) {
        r.add_problem(None, &problem, &fix);
    }
    report_keychain(config, &mut r);
    if !r.json {
        say!("{}", crate::state::settings::line(config));
    }
    for key in &keys {
        report_registry(config, &mut r, key)?;
    }
    r.exit_code = u8::from(r.problem_count > 0);
    if r.json {
        let text = crate::text::json(&r)
            .map_err(|e| crate::error::Error::Config(format!("cannot encode JSON: {e}")))?;
        println!("{text}");
    } else if r.problem_count == 0 {
        say!("Nothing bypasses the helper.");
    } else {
        say!("{} problem(s) found.", r.problem_count);
    }
    Ok(ExitCode::from(r.exit_code))
}

#[cfg(test)]
mod tests {
    use super::top_level_list;

    #[test]
    fn reads_top_level_credential_helpers_only() {
        let one = "credential-helpers = [\"containers-auth.json\", 'pass'] # x\n";
        assert_eq!(
            top_level_list(one, "credential-helpers").unwrap(),
            ["containers-auth.json", "pass"]
        );
        let multi = "# c\nunqualified-search-registries = [\"docker.io\"]\ncredential-helpers = [\n  \"secretservice\", # first\n  \"containers-auth.json\",\n]\n";
        assert_eq!(
            top_level_list(multi, "credential-helpers").unwrap(),
            ["secretservice", "containers-auth.json"]
        );
        let in_table = "[[registry]]\ncredential-helpers = [\"x\"]\n";
        assert_eq!(top_level_list(in_table, "credential-helpers"), None);
        assert_eq!(top_level_list("", "credential-helpers"), None);
    }
}
