//! The non-secret index: which registries are stored, for whom, in which
//! keychain, since when, until when a robot account is valid, how login
//! reached the registry, and the last check's verdict.
//!
//! `list` answers from here without touching a keychain. Writers hold an
//! exclusive file lock across their keychain change and the index rewrite, so
//! parallel `docker login`s lose nothing and the index agrees with the keychain.
//! Readers take no lock: the file is only ever replaced by an atomic rename.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::account::AccountKind;
use crate::error::{Error, Result};
use crate::keychain::KeychainKind;
use crate::registry::NetOptions;
use crate::state::private_file;
use crate::verdict::{Check, Verdict};

pub const FILE_NAME: &str = "index.json";
/// The index format this binary writes. A newer one is read (unknown fields
/// are kept) but never rewritten: an older binary must not undo an upgrade.
pub const VERSION: u32 = 1;
const LOCK_NAME: &str = "index.lock";
/// Longest wait for another process's index update (which may itself wait on a keychain).
const LOCK_WAIT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub username: String,
    pub kind: AccountKind,
    pub store: KeychainKind,
    /// Unix seconds.
    pub stored_at: i64,
    /// Robot expiry in Unix seconds, when known; never for users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The address as the client or user first gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Changes with every store; a cached copy is only served for the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// When `login` last verified the secret with the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<i64>,
    /// The registry's last verdict on this secret, from a background check,
    /// `status --check` or `renew`. A new `store` starts without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    /// How `login` reached the registry, so later checks reach it the same way.
    #[serde(default, skip_serializing_if = "NetOptions::is_default")]
    pub net: NetOptions,
    /// How the account's CLI secret lives (users only; see [`Lives`]).
    #[serde(default, skip_serializing_if = "Lives::is_empty")]
    pub lives: Lives,
    /// The credential helper `configure` took this login over from
    /// (`desktop` for docker-credential-desktop), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted_from: Option<String>,
    /// Fields a newer version wrote: kept through a rewrite.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A Harbor CLI secret works only while Harbor can refresh the user's OIDC
/// session: how long each recent life lasted tells a session that ends
/// early (no `offline_access` scope) from one that simply expired.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lives {
    /// Seconds from the store (or the acceptance after a refusal) to the
    /// first refusal, most recent last; the last [`Lives::KEPT`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<i64>,
    /// When the current life began, if after the store (accepted again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// A refusal ended the current life and nothing accepted it since.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ended: bool,
}

impl Lives {
    pub const KEPT: usize = 5;
    /// A life under this is short: a session Harbor could refresh lasts days.
    pub const SHORT: i64 = 86_400;

    pub fn is_empty(&self) -> bool {
        *self == Lives::default()
    }

    /// Take a verdict made at `at` for a secret stored at `stored_at`;
    /// `renewed`: an acceptance that `renew` saw.
    pub fn note(&mut self, verdict: Verdict, at: i64, stored_at: i64, renewed: bool) {
        match verdict {
            Verdict::Refused if !self.ended => {
                let began = self.since.unwrap_or(stored_at);
                self.spans.push((at - began).max(0));
                if self.spans.len() > Lives::KEPT {
                    self.spans.remove(0);
                }
                self.ended = true;
            }
            Verdict::Accepted if self.ended && renewed => {
                self.ended = false;
                self.since = Some(at);
            }
            Verdict::Accepted if self.ended => {
                // Accepted again with no renewal and no new secret: that
                // refusal ended no life (Harbor was briefly unwell).
                self.spans.pop();
                self.ended = false;
            }
            _ => {}
        }
    }

    /// Lives shorter than [`Lives::SHORT`].
    pub fn short(&self) -> usize {
        self.spans.iter().filter(|s| **s < Lives::SHORT).count()
    }

    /// The lives a new store of the same account keeps: the spans; the new
    /// secret's life begins at its store.
    pub fn for_new_store(&self) -> Lives {
        Lives {
            spans: self.spans.clone(),
            ..Lives::default()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Index {
    #[serde(default = "first_version")]
    pub version: u32,
    #[serde(default)]
    pub registries: BTreeMap<String, Entry>,
    /// Fields a newer version wrote: kept through a rewrite.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// An index without a `version` field predates it: version 1.
fn first_version() -> u32 {
    1
}

impl Default for Index {
    fn default() -> Self {
        Index {
            version: VERSION,
            registries: BTreeMap::new(),
            extra: serde_json::Map::new(),
        }
    }
}

/// The outcome of reading the index without a lock.
pub enum Loaded<T = Index> {
    Ok(T),
    Missing,
    /// Unreadable or not valid JSON; the string says why, in one line.
    Corrupt(String),
    /// Written by a newer version in a form this one cannot read: left as
    /// it is, never moved aside or rewritten.
    TooNew(u32),
}

/// Seconds a robot with `expires_at` has left (negative: since it expired);
/// `None` when it never expires (Harbor's -1) or nobody knows. The one
/// expiry rule every command follows.
pub fn robot_time_left(expires_at: Option<i64>, now: i64) -> Option<i64> {
    expires_at.filter(|e| *e > 0).map(|e| e.saturating_sub(now))
}

/// Whether a robot's recorded expiry has passed. That alone is advice, not
/// a verdict: when an admin extends a robot, Harbor keeps its secret and
/// moves the date, and the file the user exported still says the old one.
pub fn robot_date_passed(expires_at: Option<i64>, now: i64) -> bool {
    robot_time_left(expires_at, now).is_some_and(|left| left <= 0)
}

/// Whether a robot is known to have expired: its recorded date passed and
/// the registry refused it since.
pub fn robot_expired(entry: &Entry, now: i64) -> bool {
    let since_the_date = |c: &Check| entry.expires_at.is_some_and(|e| c.at >= e);
    robot_date_passed(entry.expires_at, now)
        && crate::check::refusal(entry).is_some_and(|c| since_the_date(&c))
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Read the index in `dir` (the config's data directory) as it is now.
pub fn load(dir: &Path) -> Result<Loaded> {
    Ok(read(dir, |bytes| serde_json::from_slice::<Index>(bytes)))
}

/// The index file in `dir` read by `parse` (all of it, or one entry).
fn read<T>(dir: &Path, parse: impl FnOnce(&[u8]) -> serde_json::Result<T>) -> Loaded<T> {
    let p = dir.join(FILE_NAME);
    match fs::read(&p) {
        Ok(bytes) => match parse(&bytes) {
            Ok(t) => Loaded::Ok(t),
            // The version first: a newer index is not damaged, only not ours.
            Err(_) if version_of(&bytes).is_some_and(|v| v > VERSION) => {
                Loaded::TooNew(version_of(&bytes).unwrap_or(VERSION))
            }
            Err(e) => Loaded::Corrupt(format!("{} is not a valid index ({e})", p.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Loaded::Missing,
        Err(e) => Loaded::Corrupt(format!("cannot read {}: {e}", p.display())),
    }
}

/// For readers that can live with a damaged index: what was read (`none`
/// when nothing could be) and the one-line warning.
fn lenient<T>(dir: &Path, loaded: Loaded<T>, none: T) -> (T, Option<String>) {
    match loaded {
        Loaded::Ok(t) => (t, None),
        Loaded::Missing => (none, None),
        Loaded::Corrupt(why) => (none, Some(why)),
        Loaded::TooNew(v) => (none, Some(too_new(&dir.join(FILE_NAME), v).to_string())),
    }
}

/// The `version` of an index this binary cannot otherwise read.
fn version_of(bytes: &[u8]) -> Option<u32> {
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    serde_json::from_slice::<Version>(bytes)
        .ok()
        .map(|v| v.version)
}

/// The index in `dir` for readers that can live with a damaged one: empty
/// plus a one-line warning when it could not be read.
pub fn load_lenient(dir: &Path) -> Result<(Index, Option<String>)> {
    Ok(lenient(dir, load(dir)?, Index::default()))
}

/// `key`'s entry alone, read without parsing the others: the protocol's
/// `get` (docker runs one for every pull) needs nothing else, and parsing
/// 200 entries took longer than all the rest of a warm `get` (issue 34).
/// The outcomes are [`load_lenient`]'s for that entry: damaged JSON, or
/// an entry this version cannot read, gives no entry and the same warning.
pub fn load_entry_lenient(dir: &Path, key: &str) -> Result<(Option<Entry>, Option<String>)> {
    #[derive(Deserialize)]
    struct Skim<'a> {
        #[serde(default, borrow)]
        registries: BTreeMap<String, &'a serde_json::value::RawValue>,
    }
    let entry = read(dir, |bytes| {
        let skim = serde_json::from_slice::<Skim>(bytes)?;
        skim.registries
            .get(key)
            .map(|raw| serde_json::from_str::<Entry>(raw.get()))
            .transpose()
    });
    Ok(lenient(dir, entry, None))
}

/// Run `change` on the index under the exclusive lock and write the result
/// atomically. A corrupt index is moved aside (kept for inspection) and
/// replaced; the caller is told so through the returned note.
pub fn update<T>(
    dir: &Path,
    change: impl FnOnce(&mut Index) -> Result<T>,
) -> Result<(T, Option<String>)> {
    transact(dir, change, |_| Ok(())).map(|(t, (), note)| (t, note))
}

/// Change the index and the keychain together, under the lock, so that a
/// failure leaves both as they were: `change` edits the index in memory (no
/// side effects), the new index is written beside the old one, `apply` then
/// changes the keychain, and only if it succeeds is the new index put in
/// place. A full or read-only disk thus fails before the keychain is touched.
pub fn transact<T, U>(
    dir: &Path,
    change: impl FnOnce(&mut Index) -> Result<T>,
    apply: impl FnOnce(&T) -> Result<U>,
) -> Result<(T, U, Option<String>)> {
    private_file::ensure_private_dir(dir)?;
    let _lock = lock(dir)?;
    let p = dir.join(FILE_NAME);
    let mut note = None;
    let mut index = match load(dir)? {
        Loaded::Ok(i) if i.version > VERSION => return Err(too_new(&p, i.version)),
        Loaded::TooNew(v) => return Err(too_new(&p, v)),
        Loaded::Ok(i) => i,
        Loaded::Missing => Index::default(),
        Loaded::Corrupt(why) => {
            let aside = match private_file::move_aside(&p, "corrupt") {
                Ok(aside) => aside,
                Err(e) => {
                    return Err(Error::Config(format!(
                        "{why}, and it cannot be moved aside ({e}); move it away by hand"
                    )));
                }
            };
            note = Some(format!(
                "{why}; it was moved to {} and a new index started",
                aside.display()
            ));
            Index::default()
        }
    };
    let before = index.clone();
    let out = change(&mut index)?;
    if index == before && note.is_none() {
        let applied = apply(&out)?;
        return Ok((out, applied, note));
    }
    let mut text = serde_json::to_vec_pretty(&index)
        .map_err(|e| Error::Config(format!("cannot encode the index: {e}")))?;
    text.push(b'\n');
    let staged = private_file::Staged::write(&p, &text, 0o600)?;
    let applied = apply(&out)?;
    staged.commit()?;
    Ok((out, applied, note))
}

fn too_new(p: &Path, version: u32) -> Error {
    Error::Config(format!(
        "{} is version {version}, written by a newer {}; left untouched: upgrade this one (it understands version {VERSION})",
        p.display(),
        crate::NAME
    ))
}

/// An exclusive advisory lock on `index.lock`, released when dropped.
fn lock(dir: &Path) -> Result<fs::File> {
    private_file::lock(&dir.join(LOCK_NAME), LOCK_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `get`'s one-entry read answers as the whole-index read does, for the
    /// entry asked about, whatever the others hold.
    #[test]
    fn one_entry_reads_as_the_whole_index_does() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| fs::write(dir.path().join(FILE_NAME), text).unwrap();
        let whole = |key: &str| {
            let (idx, why) = load_lenient(dir.path()).unwrap();
            (idx.registries.get(key).cloned(), why)
        };
        let one = |key: &str| load_entry_lenient(dir.path(), key).unwrap();
        assert_eq!(one("a.example"), (None, None), "no index");
        let entry =
            r#"{"username":"u","kind":"user","store":"keyutils","stored_at":1,"generation":7}"#;
        write(&format!(
            r#"{{"version":1,"registries":{{"a.example":{entry},"b.example":{entry}}}}}"#
        ));
        for key in ["a.example", "b.example", "c.example"] {
            assert_eq!(one(key), whole(key), "{key}");
        }
        assert_eq!(one("a.example").0.unwrap().generation, Some(7));
        // Damaged JSON, an unreadable entry, a newer version: no entry and
        // the whole read's warning.
        for text in [
            "{\"registries\": {\"a.example\": ".to_string(),
            r#"{"version":1,"registries":{"a.example":{"kind":5}}}"#.to_string(),
            r#"{"version":9,"registries":{"a.example":{"kind":"new"}}}"#.to_string(),
        ] {
            write(&text);
            let (entry, why) = one("a.example");
            assert_eq!(entry, None, "{text}");
            let (_, whole_why) = whole("a.example");
            let (why, whole_why) = (why.unwrap(), whole_why.unwrap());
            assert_eq!(
                why.split(" (").next(),
                whole_why.split(" (").next(),
                "{text}"
            );
        }
    }

    #[test]
    fn a_life_ends_at_the_first_refusal_and_begins_again_when_renewed() {
        let mut l = Lives::default();
        l.note(Verdict::Accepted, 100, 0, false);
        l.note(Verdict::Unreachable, 200, 0, false);
        assert!(l.is_empty(), "nothing ended yet");
        l.note(Verdict::Refused, 3_600, 0, false);
        l.note(Verdict::Refused, 4_000, 0, false);
        l.note(Verdict::Blocked, 4_500, 0, false);
        assert_eq!((l.spans.clone(), l.ended), (vec![3_600], true));
        l.note(Verdict::Accepted, 5_000, 0, true);
        l.note(Verdict::Refused, 8_000 + Lives::SHORT, 0, false);
        assert_eq!(l.spans, vec![3_600, 3_000 + Lives::SHORT]);
        assert_eq!(l.short(), 1);
        for i in 0..10 {
            l.note(Verdict::Accepted, 100_000 + i * 10, 0, true);
            l.note(Verdict::Refused, 100_005 + i * 10, 0, false);
        }
        assert_eq!(
            l.spans,
            vec![5; Lives::KEPT],
            "the last {} kept",
            Lives::KEPT
        );
        let fresh = l.for_new_store();
        assert_eq!(
            (fresh.spans.len(), fresh.since, fresh.ended),
            (Lives::KEPT, None, false)
        );
    }

    #[test]
    fn a_refusal_that_clears_without_renewal_ends_no_life() {
        let mut l = Lives::default();
        l.note(Verdict::Refused, 3_600, 0, false);
        l.note(Verdict::Accepted, 4_000, 0, true);
        // Refused for a while, then accepted again on its own.
        l.note(Verdict::Refused, 5_000, 0, false);
        assert_eq!(l.spans, vec![3_600, 1_000]);
        l.note(Verdict::Accepted, 5_600, 0, false);
        assert_eq!((l.spans.clone(), l.ended), (vec![3_600], false));
        // The life that went on is measured from its real start.
        l.note(Verdict::Refused, 9_000, 0, false);
        assert_eq!(l.spans, vec![3_600, 5_000]);
    }

    #[test]
    fn a_check_without_idp_down_reads_as_an_ordinary_refusal() {
        let old: Check = serde_json::from_str(r#"{"at":5,"verdict":"refused"}"#).unwrap();
        assert!(!old.idp_down);
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"at":5,"verdict":"refused"}"#
        );
        let down = Check {
            idp_down: true,
            ..old
        };
        let text = serde_json::to_string(&down).unwrap();
        assert_eq!(text, r#"{"at":5,"verdict":"refused","idp_down":true}"#);
        assert_eq!(serde_json::from_str::<Check>(&text).unwrap(), down);
    }

    #[test]
    fn robot_names_are_recognised() {
        assert_eq!(AccountKind::guess("robot$proj+ci"), AccountKind::Robot);
        assert_eq!(AccountKind::guess("robot-proj+ci"), AccountKind::Robot);
        assert_eq!(AccountKind::guess("jdoe@ucar.edu"), AccountKind::User);
        assert_eq!(AccountKind::guess("<token>"), AccountKind::Token);
        assert_eq!(AccountKind::guess("robotnik"), AccountKind::User);
    }

    #[test]
    fn index_json_round_trips_and_tolerates_unknown_fields() {
        let text = r#"{"version":1,"registries":{"h":{"username":"u","kind":"robot","store":"keyutils","stored_at":5,"expires_at":9,"future":true}}}"#;
        let i: Index = serde_json::from_str(text).unwrap();
        let e = &i.registries["h"];
        assert_eq!(
            (e.kind, e.store, e.expires_at),
            (AccountKind::Robot, KeychainKind::Keyutils, Some(9))
        );
        let again: Index = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
        assert_eq!(again, i);
    }
}
