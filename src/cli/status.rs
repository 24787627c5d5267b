//! `status`: what is stored where, robot expiry, and with `--check` whether the
//! registry still accepts each secret.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde::Serialize;

use super::NetArgs;
use crate::account::AccountKind;
use crate::check::Finding;
use crate::error::{Error, Result};
use crate::registry::NetOptions;
use crate::state::config::Config;
use crate::state::index;
use crate::text::escape;
use crate::verdict::Verdict;

#[derive(Args)]
pub struct StatusArgs {
    /// Show one registry only.
    registry: Option<String>,
    /// Print one JSON object instead (format version 1, see docs/json.md).
    #[arg(long)]
    json: bool,
    /// Also check each secret with its registry.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    net: NetArgs,
}

#[derive(Serialize)]
struct Row {
    registry: String,
    username: String,
    kind: AccountKind,
    keychain: &'static str,
    stored_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    expired: bool,
    /// The last verdict recorded (background check, `--check`, `renew`).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_check: Option<crate::verdict::Check>,
    /// "accepted", "refused: ...", "missing: ...", "blocked: ..." (no verdict
    /// on the secret: nothing was sent, or a 403 in front of Harbor; and why)
    /// or "error: ..."; only with --check.
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<String>,
    /// A CLI secret's recent lives in seconds (store or renewal to the first
    /// refusal), most recent last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    session_lives: Vec<i64>,
    /// Two lives under a day: Harbor probably cannot refresh the session.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    offline_access_hint: bool,
}

/// The `status --json` format; `version` changes when a field changes meaning.
const JSON_VERSION: u32 = 1;

/// `{"version": 1, "registries": [...], "settings": PATH}`.
fn json(config: &Config, rows: &[Row]) -> String {
    let doc = serde_json::json!({
        "version": JSON_VERSION,
        "registries": rows,
        "settings": config.settings_path().ok(),
    });
    crate::text::json(&doc).unwrap_or_else(|_| "{}".into())
}

/// Two short lives are a pattern, not bad luck.
const SHORT_LIVES: usize = 2;

pub fn run(config: &Arc<Config>, a: StatusArgs) -> Result<ExitCode> {
    let (idx, damaged) = index::load_lenient(config.data_dir()?)?;
    if let Some(why) = damaged {
        eprintln!("warning: {}", escape(&why));
    }
    let only = a
        .registry
        .as_deref()
        .map(crate::registry::normalize)
        .transpose()?;
    let now = index::now();
    let rows: Vec<Row> = idx
        .registries
        .iter()
        .filter(|(key, _)| only.as_ref().is_none_or(|o| o == *key))
        .map(|(key, e)| row(config, &a, key, e, now))
        .collect();
    if let Some(o) = &only
        && rows.is_empty()
    {
        if a.json {
            println!("{}", json(config, &[]));
        }
        return Err(Error::Config(format!(
            "no credentials stored for {o}; run {}",
            crate::cmd(&format!("login {o}"))
        )));
    }
    if a.json {
        println!("{}", json(config, &rows));
    } else if rows.is_empty() {
        println!(
            "No registries stored. Run {} to add one.",
            crate::cmd("login")
        );
    } else {
        rows.iter().for_each(|r| print_row(r, now));
    }
    if !a.json {
        crate::text::say!("{}", crate::state::settings::line(config));
    }
    let failed = rows
        .iter()
        .any(|r| r.expired || r.check.as_deref().is_some_and(|c| c != "accepted"));
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One registry's row; with `--check`, checked (and the verdict recorded) first.
fn row(config: &Arc<Config>, a: &StatusArgs, key: &str, e: &index::Entry, now: i64) -> Row {
    let check = a.check.then(|| {
        let (text, verdict) = check_stored(config, key, e, &a.net.options(Some(&e.net)));
        if let Some(found) = verdict
            && let Err(err) = crate::check::record(config, key, e.generation, found)
        {
            eprintln!("warning: cannot record the check: {}", err.one_line());
        }
        text
    });
    // What `get` knows; re-read so a `--check` just made shows up (an
    // acceptance past a robot's recorded expiry also drops that date).
    let checked = a
        .check
        .then(|| config.data_dir().and_then(index::load_lenient).ok())
        .flatten()
        .and_then(|(mut i, _)| i.registries.remove(key));
    let e = checked.as_ref().unwrap_or(e);
    Row {
        registry: key.to_string(),
        username: e.username.clone(),
        kind: e.kind,
        keychain: e.store.name(),
        stored_at: e.stored_at,
        expires_at: e.expires_at,
        expired: index::robot_expired(e, now),
        last_check: last_check(e),
        check,
        session_lives: e.lives.spans.clone(),
        offline_access_hint: e.kind == AccountKind::User && e.lives.short() >= SHORT_LIVES,
    }
}

/// A row as text. The index is a file: what it holds is shown, never obeyed.
fn print_row(r: &Row, now: i64) {
    println!("{}", escape(&r.registry));
    println!("  account:  {} ({})", escape(&r.username), r.kind.name());
    println!("  keychain: {}", r.keychain);
    println!("  stored:   {}", crate::text::ago(now - r.stored_at));
    if r.expires_at.is_some() {
        println!("  expiry:   {}", expiry(r, now));
    } else if r.kind == AccountKind::Robot {
        println!("  expiry:   unknown (import with --robot-file to track it)");
    }
    print_last_check(r.last_check.as_ref(), now);
    if let Some(c) = &r.check {
        println!("  check:    {}", escape(c));
    }
    if !r.session_lives.is_empty() {
        let spans: Vec<String> = r
            .session_lives
            .iter()
            .map(|s| crate::text::span(*s))
            .collect();
        println!(
            "  lived:    {} (from its store or renewal until Harbor refused it)",
            spans.join(", ")
        );
    }
    if r.offline_access_hint {
        println!(
            "  note:     {SHORT_LIVES} web sessions ended within a day: the Harbor administrator's OIDC scope \
             probably lacks offline_access, so Harbor cannot refresh the session (Harbor's documentation \
             names that scope for refresh tokens)"
        );
    }
}

/// What `get` knows of the secret: the last check recorded since its store
/// (the caller re-reads the entry after `--check`), else the
/// verification `login`, `renew` or `configure` made just before storing it.
fn last_check(e: &index::Entry) -> Option<crate::verdict::Check> {
    e.check.clone().filter(|c| c.at >= e.stored_at).or_else(|| {
        e.verified_at.map(|at| crate::verdict::Check {
            at,
            verdict: Verdict::Accepted,
            detail: None,
            idp_down: false,
        })
    })
}

/// The `checked:` lines: the last verdict, when, and what goes with it.
fn print_last_check(last: Option<&crate::verdict::Check>, now: i64) {
    let Some(c) = last else {
        println!("  checked:  not since it was stored");
        return;
    };
    println!(
        "  checked:  {} {}",
        c.verdict.name(),
        crate::text::ago(now - c.at)
    );
    if let Some(why) = &c.detail {
        // Recorded by the check: it says why no verdict could be made.
        println!("            {}", escape(why));
    }
    if c.idp_down {
        println!(
            "            Harbor could not reach its identity provider then, and refused every \
             CLI secret: nothing to do on your side; try later"
        );
    }
}

/// A robot's known expiry, in words. A passed date is "expired" only once
/// the registry refused the robot since: an admin may have extended it.
fn expiry(r: &Row, now: i64) -> String {
    match index::robot_time_left(r.expires_at, now) {
        None => "never".into(),
        Some(left) if left <= 0 && r.expired => format!(
            "expired {} (refused by the registry since)",
            crate::text::ago(-left)
        ),
        Some(left) if left <= 0 => format!(
            "its recorded date passed {}; the registry decides (run {})",
            crate::text::ago(-left),
            crate::cmd("status --check")
        ),
        Some(left) => format!("expires {}", crate::text::within(left)),
    }
}

/// Check one stored secret (the one check service, [`crate::check::ask`]):
/// the line to show, and what to record (nothing when the keychain, not
/// the registry, failed).
fn check_stored(
    config: &Arc<Config>,
    key: &str,
    e: &index::Entry,
    net: &NetOptions,
) -> (String, Option<Finding>) {
    let person = crate::keychain::System::new(crate::keychain::Waiter::Person, config);
    let stored = match person.get(e.store, key) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return (
                "missing: the keychain no longer holds this secret; log in again".into(),
                None,
            );
        }
        Err(err) => return (format!("error: {}", err.one_line()), None),
    };
    let answer = crate::check::ask(key, e, net, &stored, true);
    (answer_line(key, &answer), Some(answer.finding))
}

/// The `check:` line for the registry's answer.
fn answer_line(key: &str, a: &crate::check::Answer) -> String {
    if let Some(status) = a.idp_status {
        return format!(
            "refused: {} (its sign-in page {} answered HTTP {status})",
            crate::check::idp_down_text(key),
            crate::harbor::SIGN_IN_PATH
        );
    }
    if let Some(refusal) = &a.refusal {
        let mut text = format!("refused: {}", refusal.why);
        if refusal.renewable {
            text.push_str(" (or run ");
            text.push_str(&crate::cmd(&format!("renew {key}")));
            text.push(')');
        }
        return text;
    }
    match (&a.error, &a.finding.detail) {
        (Some(_), Some(why)) if a.finding.verdict == Verdict::Blocked => format!("blocked: {why}"),
        (Some(err), _) => format!("error: {}", err.one_line()),
        (None, _) => "accepted".into(),
    }
}
