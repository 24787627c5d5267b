//! A client's auth file: editing docker's `config.json` and containers' `auth.json`: add or remove a
//! `credHelpers` entry and take plaintext `auths` secrets out, keeping every
//! other key and value (and their order) as it was.
//!
//! Writes are atomic (temp file + rename), keep the file's mode (0600 for a new
//! file, 0700 for a new directory), and keep one backup of the previous
//! content; once this tool moved a plaintext secret into the keychain, the
//! backup keeps no plaintext secret at all.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::state::private_file;

/// Fields of an `auths` entry that hold a secret.
const SECRET_FIELDS: [&str; 4] = ["auth", "password", "identitytoken", "registrytoken"];

/// A secret found in `auths` for one registry.
pub struct Plaintext {
    /// The `auths` key as written in the file.
    pub auths_key: String,
    /// The login, decoded as docker and containers/image decode it; or why
    /// it cannot be checked (then it is never deleted).
    pub login: std::result::Result<Login, &'static str>,
    /// The entry's secret fields as read: it is stripped only while it
    /// still holds exactly these.
    snapshot: Snapshot,
}

/// A username and the password a client would send for it.
pub struct Login {
    pub username: String,
    pub secret: Secret<String>,
}

/// The fields of an `auths` entry that say who logs in and with what, as
/// they were read: what a strip compares under the file's lock. Wiped when
/// dropped.
#[derive(PartialEq)]
struct Snapshot(Map<String, Value>);

impl Snapshot {
    fn of(entry: &Value) -> Snapshot {
        let mut out = Map::new();
        if let Value::Object(e) = entry {
            for f in SECRET_FIELDS.iter().chain(&["username"]) {
                if let Some(v) = e.get(*f) {
                    out.insert((*f).to_string(), v.clone());
                }
            }
        }
        Snapshot(out)
    }
}

impl Clone for Snapshot {
    fn clone(&self) -> Snapshot {
        Snapshot(self.0.clone())
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.0.values_mut().for_each(wipe);
    }
}

/// One JSON config file, loaded for editing. It may hold other registries'
/// plaintext secrets: every buffer of it is wiped when dropped.
pub struct AuthFile {
    pub path: PathBuf,
    original: Option<Vec<u8>>,
    value: Map<String, Value>,
    /// Secrets taken out, so the backup leaves them out too.
    stripped: bool,
    /// What was changed, in order: replayed at save time onto the file as
    /// it is then, since another program may have written it meanwhile.
    edits: Vec<Edit>,
    /// `~/.dockercfg`, the format before `config.json`: the whole object is
    /// what `auths` is in the newer files.
    legacy: bool,
    /// The `auths` keys whose strip found another login there: kept.
    unstripped: Vec<String>,
}

/// The name of the legacy file docker and containers/image still read.
pub const LEGACY_NAME: &str = ".dockercfg";

/// The registry-to-credentials map of a file's object.
fn auths(value: &Map<String, Value>, legacy: bool) -> Option<&Map<String, Value>> {
    if legacy {
        return Some(value);
    }
    value.get("auths").and_then(Value::as_object)
}

fn auths_mut(value: &mut Map<String, Value>, legacy: bool) -> Option<&mut Map<String, Value>> {
    if legacy {
        return Some(value);
    }
    value.get_mut("auths").and_then(Value::as_object_mut)
}

/// One change to a config file.
#[derive(Clone)]
enum Edit {
    SetHelper(String, String),
    RestoreHelper(String, Option<String>, bool),
    CredsStore(Option<String>),
    /// An `auths` key, whether the file is the legacy one, and what the
    /// entry held when it was checked: stripped only if it still does.
    Strip(String, bool, Snapshot),
    /// Add an empty `auths[key]` when there is none (`true`), or remove it
    /// while it is still empty (`false`).
    EmptyAuth(String, bool),
}

/// How long `save` waits for another writer's lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Parse a config file's bytes: a missing or empty file is an empty object;
/// anything that is not a JSON object is refused so it is never clobbered.
fn parse(path: &Path, bytes: Option<&[u8]>) -> Result<Map<String, Value>> {
    match bytes {
        Some(b) if !b.iter().all(u8::is_ascii_whitespace) => {
            match serde_json::from_slice::<Value>(b) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => Err(Error::Config(format!(
                    "{} is not a JSON object; left unchanged",
                    path.display()
                ))),
                Err(e) => Err(Error::Config(format!(
                    "{} is not valid JSON ({e}); left unchanged",
                    path.display()
                ))),
            }
        }
        _ => Ok(Map::new()),
    }
}

fn read_if_there(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::file("cannot read", path, e)),
    }
}

/// The object under `name`, created when missing; one that is something
/// else is refused, so the file is left as it is.
fn object_at<'a>(
    value: &'a mut Map<String, Value>,
    name: &str,
    path: &Path,
) -> Result<&'a mut Map<String, Value>> {
    match value
        .entry(name)
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Object(map) => Ok(map),
        _ => Err(Error::Config(format!(
            "{}: \"{name}\" is not an object; left unchanged",
            path.display()
        ))),
    }
}

/// Apply `edit` to a file's object; for `SetHelper`, the previous helper.
fn apply(value: &mut Map<String, Value>, edit: &Edit, path: &Path) -> Result<Option<String>> {
    match edit {
        Edit::SetHelper(key, helper) => {
            let map = object_at(value, "credHelpers", path)?;
            let previous = map.insert(key.clone(), Value::String(helper.clone()));
            return Ok(previous.and_then(|v| v.as_str().map(str::to_string)));
        }
        Edit::RestoreHelper(key, previous, drop_if_empty) => {
            if let Some(Value::Object(map)) = value.get_mut("credHelpers") {
                match previous {
                    Some(p) => {
                        map.insert(key.clone(), Value::String(p.clone()));
                    }
                    None => {
                        map.shift_remove(key);
                    }
                }
                if *drop_if_empty && map.is_empty() {
                    value.shift_remove("credHelpers");
                }
            }
        }
        Edit::CredsStore(Some(s)) => {
            value.insert("credsStore".into(), Value::String(s.clone()));
        }
        Edit::CredsStore(None) => {
            value.shift_remove("credsStore");
        }
        Edit::EmptyAuth(key, true) => {
            let map = object_at(value, "auths", path)?;
            if !map.contains_key(key) {
                map.insert(key.clone(), Value::Object(Map::new()));
                return Ok(Some(key.clone()));
            }
        }
        Edit::EmptyAuth(key, false) => {
            if let Some(Value::Object(map)) = value.get_mut("auths") {
                if map
                    .get(key)
                    .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
                {
                    map.shift_remove(key);
                }
                if map.is_empty() {
                    value.shift_remove("auths");
                }
            }
        }
        Edit::Strip(auths_key, legacy, checked) => {
            let Some(entry) = auths_mut(value, *legacy).and_then(|a| a.get_mut(auths_key)) else {
                return Ok(None);
            };
            // A login written since the check (another `docker login`)
            // is not the one that was checked: it stays.
            if Snapshot::of(entry) != *checked {
                return Ok(None);
            }
            if let Value::Object(entry) = entry {
                for f in SECRET_FIELDS.iter().chain(&["username"]) {
                    if let Some(mut v) = entry.shift_remove(*f) {
                        wipe(&mut v);
                    }
                }
            }
            return Ok(Some(auths_key.clone()));
        }
    }
    Ok(None)
}

impl AuthFile {
    /// Load `path`; a missing (or empty) file is an empty object. Anything that
    /// is not a JSON object is refused so the file is never clobbered.
    pub fn open(path: &Path) -> Result<AuthFile> {
        let path = crate::state::paths::canonical(path);
        let legacy = path.file_name().is_some_and(|n| n == LEGACY_NAME);
        let original = read_if_there(&path)?;
        let value = parse(&path, original.as_deref())?;
        Ok(AuthFile {
            path,
            original,
            value,
            stripped: false,
            edits: Vec::new(),
            legacy,
            unstripped: Vec::new(),
        })
    }

    fn edit(&mut self, edit: Edit) -> Result<Option<String>> {
        let previous = apply(&mut self.value, &edit, &self.path)?;
        self.edits.push(edit);
        Ok(previous)
    }

    pub fn existed(&self) -> bool {
        self.original.is_some()
    }

    /// Whether the file has a `credHelpers` object at all.
    pub fn has_cred_helpers(&self) -> bool {
        self.value.contains_key("credHelpers")
    }

    pub fn cred_helper(&self, key: &str) -> Option<&str> {
        self.value.get("credHelpers")?.get(key)?.as_str()
    }

    /// Set `credHelpers[key]`; returns the previous value.
    pub fn set_cred_helper(&mut self, key: &str, helper: &str) -> Result<Option<String>> {
        self.edit(Edit::SetHelper(key.to_string(), helper.to_string()))
    }

    /// Put `credHelpers[key]` back to `previous` (or remove it), dropping
    /// `credHelpers` when it ends up empty and `drop_if_empty`.
    pub fn restore_cred_helper(&mut self, key: &str, previous: Option<&str>, drop_if_empty: bool) {
        let edit =
            Edit::RestoreHelper(key.to_string(), previous.map(str::to_string), drop_if_empty);
        let _ = self.edit(edit);
    }

    /// Add an empty `auths[key]` if the file has no entry for `key`
    /// (whether it did).
    pub fn add_empty_auth(&mut self, key: &str) -> Result<bool> {
        Ok(self.edit(Edit::EmptyAuth(key.to_string(), true))?.is_some())
    }

    /// Remove `auths[key]` if it is still the empty one `add_empty_auth` made.
    pub fn remove_empty_auth(&mut self, key: &str) {
        let _ = self.edit(Edit::EmptyAuth(key.to_string(), false));
    }

    /// The `credHelpers` keys that name `helper`, in file order.
    pub fn keys_with_helper(&self, helper: &str) -> Vec<String> {
        match self.value.get("credHelpers") {
            Some(Value::Object(m)) => m
                .iter()
                .filter(|(_, v)| v.as_str() == Some(helper))
                .map(|(k, _)| k.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A non-empty top-level `credsStore`.
    pub fn creds_store(&self) -> Option<&str> {
        self.value
            .get("credsStore")?
            .as_str()
            .filter(|s| !s.is_empty())
    }

    pub fn set_creds_store(&mut self, store: Option<&str>) {
        let _ = self.edit(Edit::CredsStore(store.map(str::to_string)));
    }

    /// Whether the file configures any authentication (oras-go's
    /// `IsAuthConfigured`: a `credsStore`, or any `credHelpers` or `auths`).
    pub fn has_auth_configured(&self) -> bool {
        let non_empty = |k: &str| match self.value.get(k) {
            Some(Value::Object(m)) => !m.is_empty(),
            _ => false,
        };
        self.creds_store().is_some() || non_empty("credHelpers") || non_empty("auths")
    }

    /// The `auths` entries for the registry `key` (any spelling) that hold
    /// a secret, in file order.
    pub fn plaintext(&self, key: &str) -> Vec<Plaintext> {
        let Some(auths) = auths(&self.value, self.legacy) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in auths {
            if crate::registry::normalize(k).ok().as_deref() != Some(key) || !holds_secret(v) {
                continue;
            }
            out.push(Plaintext {
                auths_key: k.clone(),
                login: decode_entry(v),
                snapshot: Snapshot::of(v),
            });
        }
        out
    }

    /// Remove the secret fields of the entry `found` was read from, leaving
    /// `{}` as docker does, if it still holds what was read then (here and
    /// again under the lock at save time). Whether it did here.
    pub fn strip_secret(&mut self, found: &Plaintext) -> bool {
        let edit = Edit::Strip(found.auths_key.clone(), self.legacy, found.snapshot.clone());
        let stripped = self.edit(edit).is_ok_and(|s| s.is_some());
        if stripped {
            self.stripped = true;
            self.unstripped.retain(|k| *k != found.auths_key);
        } else {
            self.unstripped.push(found.auths_key.clone());
        }
        stripped
    }

    /// Whether the entry under `auths_key` was stripped in what was saved
    /// (false when another program changed it before the save).
    pub fn was_stripped(&self, auths_key: &str) -> bool {
        self.edits
            .iter()
            .any(|e| matches!(e, Edit::Strip(k, ..) if k == auths_key))
            && !self.unstripped.iter().any(|k| k == auths_key)
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    fn render(value: &Map<String, Value>) -> Result<Vec<u8>> {
        // docker writes config.json with tab indentation; match it.
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        serde::Serialize::serialize(value, &mut ser)
            .map_err(|e| Error::Config(format!("cannot encode JSON: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }

    /// Whether saving would change the file.
    pub fn changed(&self) -> bool {
        match &self.original {
            None => true,
            Some(b) => match serde_json::from_slice::<Value>(b) {
                Ok(Value::Object(mut m)) => {
                    let changed = m != self.value;
                    wipe_secrets(&mut m);
                    changed
                }
                _ => !self.value.is_empty(),
            },
        }
    }

    /// Write the file if it changed. Returns whether it did.
    ///
    /// Under `FILE.lock` (the lock containers/image takes for auth.json; docker
    /// takes none, so this is the best there is for its file), the file is
    /// read again: if another program wrote it since `open`, the edits are
    /// replayed onto what it holds now, so neither its change nor ours is lost.
    pub fn save(&mut self) -> Result<bool> {
        if !self.changed() {
            return Ok(false);
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        private_file::ensure_private_dir(dir)?;
        let mut lock_name = self.path.clone().into_os_string();
        lock_name.push(".lock");
        let _lock = private_file::lock(Path::new(&lock_name), LOCK_WAIT)?;
        let now = read_if_there(&self.path)?;
        if now != self.original {
            let mut value = parse(&self.path, now.as_deref()).map_err(|e| {
                Error::Config(format!(
                    "{} changed while configure ran: {e}",
                    self.path.display()
                ))
            })?;
            self.unstripped.clear();
            for edit in &self.edits {
                let applied = apply(&mut value, edit, &self.path)?;
                if let (Edit::Strip(k, ..), None) = (edit, applied) {
                    self.unstripped.push(k.clone());
                }
            }
            wipe_secrets(&mut self.value);
            self.value = value;
            if let Some(b) = &mut self.original {
                b.zeroize();
            }
            self.original = now;
            if !self.changed() {
                return Ok(false);
            }
        }
        let mode = self.mode();
        if let Some(orig) = &self.original {
            let backup = self.path.with_extension(match self.path.extension() {
                Some(e) => format!("{}.bak", e.to_string_lossy()),
                None => "bak".into(),
            });
            let mut content = if self.stripped {
                strip_all_secrets(orig, self.legacy)?
            } else {
                orig.clone()
            };
            let written = private_file::write_atomic(&backup, &content, 0o600);
            content.zeroize();
            written?;
        }
        let mut text = Self::render(&self.value)?;
        let written = private_file::write_atomic(&self.path, &text, mode);
        text.zeroize();
        written?;
        Ok(true)
    }

    /// Remove the file (used by `--undo` for a file configure created and
    /// that is empty again).
    pub fn remove(&self) -> Result<()> {
        std::fs::remove_file(&self.path).map_err(|e| Error::file("cannot remove", &self.path, e))
    }

    fn mode(&self) -> u32 {
        #[cfg(unix)]
        if self.original.is_some() {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(m) = std::fs::metadata(&self.path) {
                // Docker keeps a file's mode; never writable or executable
                // by others, though (the file may hold other secrets).
                return m.permissions().mode() & 0o644;
            }
        }
        0o600
    }
}

impl Drop for AuthFile {
    fn drop(&mut self) {
        if let Some(b) = &mut self.original {
            b.zeroize();
        }
        wipe_secrets(&mut self.value);
    }
}

/// Zero the strings of a JSON value (one that held a secret) before it is freed.
fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(m) => m.values_mut().for_each(wipe),
        _ => {}
    }
}

/// Zero every secret field of every `auths` entry in a config file's value.
fn wipe_secrets(value: &mut Map<String, Value>) {
    if let Some(Value::Object(auths)) = value.get_mut("auths") {
        for entry in auths.values_mut() {
            if let Value::Object(e) = entry {
                for f in SECRET_FIELDS {
                    if let Some(v) = e.get_mut(f) {
                        wipe(v);
                    }
                }
            }
        }
    }
}

/// Whether an `auths` entry holds a secret in any field.
fn holds_secret(v: &Value) -> bool {
    SECRET_FIELDS
        .iter()
        .any(|f| v.get(*f).is_some_and(|x| x.as_str() != Some("")))
}

/// An entry decoded as docker (cli/config/configfile) and containers/image
/// (pkg/docker/config) decode it: `auth` is standard base64 of
/// `user:password` (line breaks ignored, as Go's decoder does), the
/// password with NUL bytes trimmed from both ends; without `auth`, docker
/// reads `username` and `password`. An identity token is an OAuth refresh
/// token, not a password: such an entry cannot be checked with Basic auth.
fn decode_entry(v: &Value) -> std::result::Result<Login, &'static str> {
    let field = |f: &str| v.get(f).and_then(Value::as_str).filter(|s| !s.is_empty());
    if field("identitytoken").is_some() || field("registrytoken").is_some() {
        return Err("it holds an identity token, which this tool cannot check");
    }
    let Some(auth) = field("auth") else {
        return match (field("username"), v.get("password").and_then(Value::as_str)) {
            (Some(u), Some(p)) => Ok(Login {
                username: u.to_string(),
                secret: Secret::new(p.to_string()),
            }),
            _ => Err("its fields are not a username and a password"),
        };
    };
    let mut encoded: Vec<u8> = auth
        .bytes()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    let decoded = base64::engine::general_purpose::STANDARD.decode(&encoded);
    encoded.zeroize();
    let Ok(raw) = decoded else {
        return Err("its auth field is not base64");
    };
    // Moved, never copied; bytes that are not UTF-8 are wiped too.
    let text = match String::from_utf8(raw) {
        Ok(t) => Secret::new(t),
        Err(e) => {
            e.into_bytes().zeroize();
            return Err("its auth field is not text");
        }
    };
    match text.expose().split_once(':') {
        Some((u, s)) if !u.is_empty() => Ok(Login {
            username: u.to_string(),
            secret: Secret::new(s.trim_matches('\0').to_string()),
        }),
        _ => Err("its auth field is not user:password"),
    }
}

/// The backup of a file whose secrets were moved: same content, no secrets.
fn strip_all_secrets(orig: &[u8], legacy: bool) -> Result<Vec<u8>> {
    let mut v: Map<String, Value> = serde_json::from_slice(orig)
        .map_err(|e| Error::Config(format!("cannot re-read the original: {e}")))?;
    if let Some(auths) = auths_mut(&mut v, legacy) {
        for (_, entry) in auths.iter_mut() {
            if let Value::Object(e) = entry {
                for f in SECRET_FIELDS {
                    if let Some(mut gone) = e.shift_remove(f) {
                        wipe(&mut gone);
                    }
                }
            }
        }
    }
    AuthFile::render(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.json");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn adds_helper_and_keeps_everything_else_in_order() {
        let (_d, p) = file_with(
            "{\n  \"zeta\": 1,\n  \"auths\": {\"other.example\": {\"auth\": \"eDp5\"}},\n  \"credsStore\": \"desktop\",\n  \"credHelpers\": {\"gcr.io\": \"gcloud\"},\n  \"alpha\": [1, {\"x\": null}]\n}",
        );
        let mut f = AuthFile::open(&p).unwrap();
        assert_eq!(
            f.set_cred_helper("hub.k8s.ucar.edu", "harbor").unwrap(),
            None
        );
        assert!(f.save().unwrap());
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["zeta", "auths", "credsStore", "credHelpers", "alpha"]
        );
        assert_eq!(v["credHelpers"]["gcr.io"], "gcloud");
        assert_eq!(v["credHelpers"]["hub.k8s.ucar.edu"], "harbor");
        assert_eq!(v["auths"]["other.example"]["auth"], "eDp5");
        assert_eq!(v["alpha"][1]["x"], Value::Null);
        // A second identical change writes nothing.
        let mut again = AuthFile::open(&p).unwrap();
        again.set_cred_helper("hub.k8s.ucar.edu", "harbor").unwrap();
        assert!(!again.save().unwrap());
    }

    #[test]
    fn invalid_json_is_refused_and_untouched() {
        for text in ["{not json", "[1,2]", "\"x\"", "{\"credHelpers\": 5}"] {
            let (_d, p) = file_with(text);
            let r =
                AuthFile::open(&p).and_then(|mut f| f.set_cred_helper("h", "harbor").map(|_| f));
            assert!(r.is_err(), "{text}");
            assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
        }
    }

    #[test]
    fn the_legacy_dockercfg_holds_registries_at_the_top_level() {
        let auth = base64::engine::general_purpose::STANDARD.encode("jdoe:s3cret");
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(LEGACY_NAME);
        let text = format!(
            "{{\"https://hub.k8s.ucar.edu\":{{\"auth\":\"{auth}\",\"email\":\"x\"}},\"o.example\":{{\"auth\":\"{auth}\"}}}}"
        );
        std::fs::write(&p, &text).unwrap();
        let mut f = AuthFile::open(&p).unwrap();
        let found = f.plaintext("hub.k8s.ucar.edu");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].login.as_ref().unwrap().secret.expose(), "s3cret");
        assert!(f.strip_secret(&found[0]));
        f.save().unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(
            v["https://hub.k8s.ucar.edu"],
            serde_json::json!({"email": "x"})
        );
        assert_eq!(v["o.example"]["auth"], auth.as_str(), "others kept");
        assert!(v.get("auths").is_none(), "no newer-format key added: {v}");
        let backup = std::fs::read_to_string(d.path().join(".dockercfg.bak")).unwrap();
        assert!(
            !backup.contains(&auth),
            "backup keeps no plaintext: {backup}"
        );
        // The same object under another name is the newer format: nothing at the top level.
        let q = d.path().join("config.json");
        std::fs::write(&q, &text).unwrap();
        assert!(
            AuthFile::open(&q)
                .unwrap()
                .plaintext("hub.k8s.ucar.edu")
                .is_empty()
        );
    }

    #[test]
    fn plaintext_is_found_under_any_spelling_and_stripped_from_file_and_backup() {
        // "jdoe@ucar.edu:s3cret" in base64
        let auth = base64::engine::general_purpose::STANDARD.encode("jdoe@ucar.edu:s3cret");
        let (_d, p) = file_with(&format!(
            "{{\"auths\":{{\"https://hub.k8s.ucar.edu/\":{{\"auth\":\"{auth}\",\"email\":\"x\"}},\"o.example\":{{\"auth\":\"{auth}\"}}}}}}"
        ));
        let mut f = AuthFile::open(&p).unwrap();
        let found = f.plaintext("hub.k8s.ucar.edu");
        assert_eq!(found.len(), 1);
        let login = found[0].login.as_ref().unwrap();
        assert_eq!(login.username, "jdoe@ucar.edu");
        assert_eq!(login.secret.expose(), "s3cret");
        assert!(f.strip_secret(&found[0]));
        f.save().unwrap();
        let now = std::fs::read_to_string(&p).unwrap();
        assert!(!now.contains(&format!("\"{auth}\",\"email\"")));
        let v: Value = serde_json::from_str(&now).unwrap();
        assert_eq!(
            v["auths"]["https://hub.k8s.ucar.edu/"],
            serde_json::json!({"email": "x"})
        );
        let backup = std::fs::read_to_string(p.with_extension("json.bak")).unwrap();
        assert!(
            !backup.contains(&auth),
            "backup keeps no plaintext: {backup}"
        );
    }

    /// As docker and containers/image read them: NULs trimmed from the
    /// password, line breaks in the base64 ignored, separate fields read;
    /// an identity token or an undecodable `auth` cannot be checked.
    #[test]
    fn entries_decode_as_docker_and_containers_image_decode_them() {
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let wrapped = {
            let mut w = b64(b"jdoe:line-broken-secret");
            w.insert_str(8, "\r\n");
            w
        };
        type Decoded<'a> = std::result::Result<(&'a str, &'a str), &'a str>;
        let cases: Vec<(Value, Decoded)> = vec![
            (
                serde_json::json!({"auth": b64(b"jdoe:s3cret\0\0")}),
                Ok(("jdoe", "s3cret")),
            ),
            (
                serde_json::json!({"auth": b64(b"jdoe:\0pw\0")}),
                Ok(("jdoe", "pw")),
            ),
            (
                serde_json::json!({"auth": b64(b"jdoe:a:b")}),
                Ok(("jdoe", "a:b")),
            ),
            (
                serde_json::json!({"auth": wrapped}),
                Ok(("jdoe", "line-broken-secret")),
            ),
            (
                serde_json::json!({"username": "u", "password": "p"}),
                Ok(("u", "p")),
            ),
            (
                serde_json::json!({"auth": b64(b"jdoe:"), "identitytoken": "refresh"}),
                Err("it holds an identity token, which this tool cannot check"),
            ),
            (
                serde_json::json!({"auth": "%%%"}),
                Err("its auth field is not base64"),
            ),
            (
                serde_json::json!({"auth": b64(b":pw")}),
                Err("its auth field is not user:password"),
            ),
            (
                serde_json::json!({"auth": b64(b"nocolon")}),
                Err("its auth field is not user:password"),
            ),
        ];
        for (entry, want) in cases {
            let got = decode_entry(&entry);
            let got = got
                .as_ref()
                .map(|l| (l.username.as_str(), l.secret.expose().as_str()))
                .map_err(|e| *e);
            assert_eq!(got, want, "{entry}");
        }
    }

    /// A strip removes only the login that was checked: one written since
    /// (under the same key) stays, in the open file and in a replay at save.
    #[test]
    fn a_strip_removes_only_the_entry_that_was_checked() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let (_d, p) = file_with(&format!(
            r#"{{"auths":{{"h.example":{{"auth":"{}"}}}}}}"#,
            b64("u:old")
        ));
        let checked = AuthFile::open(&p).unwrap().plaintext("h.example").remove(0);
        // Another login lands before the edit: nothing is stripped.
        let newer = format!(
            r#"{{"auths":{{"h.example":{{"auth":"{}"}}}}}}"#,
            b64("u:new")
        );
        std::fs::write(&p, &newer).unwrap();
        let mut f = AuthFile::open(&p).unwrap();
        assert!(!f.strip_secret(&checked));
        assert!(!f.was_stripped("h.example"));
        // ... or between the edit and the save: the replay keeps it too.
        std::fs::write(
            &p,
            format!(
                r#"{{"auths":{{"h.example":{{"auth":"{}"}}}}}}"#,
                b64("u:old")
            ),
        )
        .unwrap();
        let mut f = AuthFile::open(&p).unwrap();
        assert!(f.strip_secret(&checked));
        f.set_cred_helper("h.example", "harbor").unwrap();
        std::fs::write(&p, &newer).unwrap();
        assert!(f.save().unwrap());
        assert!(!f.was_stripped("h.example"));
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["auths"]["h.example"]["auth"], b64("u:new"), "{v}");
        assert_eq!(v["credHelpers"]["h.example"], "harbor", "{v}");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_private_and_existing_modes_kept() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("new").join("config.json");
        let mut f = AuthFile::open(&p).unwrap();
        f.set_cred_helper("h", "harbor").unwrap();
        f.save().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(p.parent().unwrap()), 0o700);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let mut f = AuthFile::open(&p).unwrap();
        f.set_cred_helper("h2", "harbor").unwrap();
        f.save().unwrap();
        assert_eq!(mode(&p), 0o640);
        for (before, after) in [(0o666, 0o644), (0o4777, 0o644), (0o400, 0o400)] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(before)).unwrap();
            let mut f = AuthFile::open(&p).unwrap();
            f.set_cred_helper("h3", &format!("{before:o}")).unwrap();
            f.save().unwrap();
            assert_eq!(mode(&p), after, "{before:o}");
        }
    }
}
