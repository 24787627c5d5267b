//! Credential checks: notice that the registry stopped accepting a stored
//! secret (a Harbor CLI secret dies with the user's web session) and say so
//! where docker fails, instead of a bare `unauthorized`.
//!
//! One check service: [`ask`] puts the question to the registry as `login`
//! did, [`record`] keeps the verdict in the index; the background check
//! ([`check_stored`]), `status --check` and `renew` all record through them.
//! When a background check runs is [`background`]'s.

pub mod background;
pub mod desktop;

use std::sync::Arc;

use crate::account::AccountKind;
use crate::error::{Error, Result};
use crate::registry::NetOptions;
use crate::state::config::Config;
use crate::state::index::{self, Entry};
use crate::verdict::{Check, Verdict};

/// The last thing known about the entry's secret: a recorded check made
/// since it was stored, else the store itself (docker and podman verify
/// before they store, and so does `login`).
pub fn last(entry: &Entry) -> Check {
    match &entry.check {
        Some(c) if c.at >= entry.stored_at => c.clone(),
        _ => Check {
            at: entry.stored_at.max(entry.verified_at.unwrap_or(0)),
            verdict: Verdict::Accepted,
            detail: None,
            idp_down: false,
        },
    }
}

/// The refusal recorded for this entry's current secret, if any.
pub fn refusal(entry: &Entry) -> Option<Check> {
    Some(last(entry)).filter(|c| c.verdict == Verdict::Refused)
}

/// What one check found: the verdict and what goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    /// For [`Verdict::Blocked`]: the one-line reason.
    pub detail: Option<String>,
    /// A refused CLI secret while Harbor could not reach its identity provider.
    pub idp_down: bool,
    /// `renew` saw the secret accepted: the web session was renewed.
    pub renewed: bool,
}

impl Finding {
    pub fn of(verdict: Verdict) -> Finding {
        Finding {
            verdict,
            detail: None,
            idp_down: false,
            renewed: false,
        }
    }
}

/// The line for a CLI secret refused while Harbor cannot reach its identity
/// provider: every CLI secret is refused then, and no renewal can help.
pub fn idp_down_text(key: &str) -> String {
    format!(
        "Harbor at {} cannot reach its identity provider now, and refuses every CLI secret until it can: \
         nothing to do on your side; try later",
        crate::text::escape(key)
    )
}

/// Check the secret stored for `key` and record the verdict; `None` when
/// nothing (or nothing checkable) is stored.
pub fn check_stored(config: &Arc<Config>, key: &str) -> Result<Option<Verdict>> {
    let (idx, _) = index::load_lenient(config.data_dir()?)?;
    let Some(entry) = idx.registries.get(key) else {
        return Ok(None);
    };
    if entry.kind == AccountKind::Token {
        return Ok(None);
    }
    let unattended = crate::keychain::System::new(crate::keychain::Waiter::Program, config);
    let Some(stored) = unattended.get(entry.store, key)? else {
        return Ok(None);
    };
    if stored.username != entry.username {
        // A store is half-way through; the next get will look again.
        return Ok(None);
    }
    let found = ask(key, entry, &entry.net, &stored, false).finding;
    let verdict = found.verdict;
    let now_dead = verdict == Verdict::Refused && !found.idp_down;
    let before = record(config, key, entry.generation, found)?;
    if let Some(before) = before
        && now_dead
        && !before.is_some_and(|c| c.verdict == Verdict::Refused && !c.idp_down)
    {
        // The first refusal only: a reminder every minute would be nagging.
        // An identity-provider outage is nobody's to fix here: no notice.
        crate::check::desktop::notify_refused(key, entry);
    }
    Ok(Some(verdict))
}

/// The registry's answer on one stored secret (see [`ask`]).
pub struct Answer {
    pub finding: Finding,
    /// Harbor could not reach its identity provider: the HTTP status its
    /// sign-in page answered. Harbor refuses every CLI secret meanwhile.
    pub idp_status: Option<u16>,
    /// Why the registry refused the secret, when asked to explain.
    pub refusal: Option<crate::harbor::Refusal>,
    /// What kept the check from an answer; `finding` holds its verdict.
    pub error: Option<Error>,
}

/// The one check of a stored secret, which the background check and
/// `status --check` make and [`record`] keeps: ask the registry, as `login`
/// did and with the options it used, whether it accepts `stored` for
/// `entry` (at its address as it was given). A refused CLI secret is looked
/// at once more: Harbor refuses them all while it cannot reach its identity
/// provider. `explain` (for a person) also asks why a refusal happened.
pub fn ask(
    key: &str,
    entry: &Entry,
    net: &NetOptions,
    stored: &crate::keychain::Stored,
    explain: bool,
) -> Answer {
    let answer = |finding| Answer {
        finding,
        idp_status: None,
        refusal: None,
        error: None,
    };
    let asked =
        crate::harbor::Client::connect_key(key, entry.server_url.as_deref(), net).and_then(|c| {
            let (verdict, api) = c.verify(&stored.username, &stored.secret)?;
            Ok((verdict, api, c))
        });
    match asked {
        Ok((Verdict::Refused, api, c)) => {
            let idp_status = (entry.kind == AccountKind::User)
                .then(|| c.identity_provider_down(api.as_deref()))
                .flatten();
            let refusal = (explain && idp_status.is_none())
                .then(|| c.why_refused(api.as_deref(), &stored.username, entry.kind));
            Answer {
                idp_status,
                refusal,
                ..answer(Finding {
                    idp_down: idp_status.is_some(),
                    ..Finding::of(Verdict::Refused)
                })
            }
        }
        Ok((verdict, _, _)) => answer(Finding::of(verdict)),
        Err(e) => Answer {
            finding: verdict_of(&e),
            idp_status: None,
            refusal: None,
            error: Some(e),
        },
    }
}

/// The verdict an error amounts to: only a network failure is "unreachable";
/// anything else kept the secret from being sent (plain HTTP, a certificate
/// not trusted, a CA file gone) or stopped the check in front of the registry
/// (a 403), and is "blocked", with the line that says why.
pub fn verdict_of(e: &Error) -> Finding {
    match e {
        Error::Network(_) => Finding::of(Verdict::Unreachable),
        // A 403 reached something in front of the registry: its line says so.
        Error::Blocked(_) => Finding {
            detail: Some(e.one_line()),
            ..Finding::of(Verdict::Blocked)
        },
        other => Finding {
            detail: Some(format!("nothing was sent: {}", other.one_line())),
            ..Finding::of(Verdict::Blocked)
        },
    }
}

/// Record what a check `found` for the secret of index generation
/// `generation`. A secret stored or erased meanwhile is left alone: the
/// verdict was about the old one. `Some(previous check)` when it was
/// recorded, `None` when it was not.
pub fn record(
    config: &Config,
    key: &str,
    generation: Option<u64>,
    found: Finding,
) -> Result<Option<Option<Check>>> {
    let (previous, _) = index::update(config.data_dir()?, |idx| {
        Ok(match idx.registries.get_mut(key) {
            Some(e) if e.generation == generation => {
                let before = e.check.clone().filter(|c| c.at >= e.stored_at);
                let at = index::now();
                // An outage of the identity provider ends no secret's life.
                if e.kind == AccountKind::User && !found.idp_down {
                    e.lives.note(found.verdict, at, e.stored_at, found.renewed);
                }
                e.check = Some(Check {
                    at,
                    verdict: found.verdict,
                    detail: found.detail,
                    idp_down: found.idp_down,
                });
                forget_a_passed_expiry(e);
                Some(before)
            }
            _ => None,
        })
    })?;
    Ok(previous)
}

/// A robot accepted after its recorded expiry was extended (Harbor keeps
/// the secret and moves the date): the old date now says nothing, and the
/// new one is not told to a robot, so it is unknown.
fn forget_a_passed_expiry(e: &mut Entry) {
    if let Some(c) = &e.check
        && c.verdict == Verdict::Accepted
        && e.kind == AccountKind::Robot
        && index::robot_date_passed(e.expires_at, c.at)
    {
        e.expires_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::background::*;
    use super::*;
    use crate::keychain::KeychainKind;
    use serde_json::json;

    fn entry(stored_at: i64, check: Option<(i64, Verdict)>) -> Entry {
        Entry {
            username: "jdoe@ucar.edu".into(),
            kind: AccountKind::User,
            store: KeychainKind::Keyutils,
            stored_at,
            expires_at: None,
            server_url: None,
            generation: Some(1),
            verified_at: None,
            check: check.map(|(at, verdict)| Check {
                at,
                verdict,
                detail: None,
                idp_down: false,
            }),
            net: NetOptions::default(),
            lives: crate::state::index::Lives::default(),
            adopted_from: None,
            extra: serde_json::Map::new(),
        }
    }

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval(&json!(60)), Ok(Interval::Every(60)));
        assert_eq!(parse_interval(&json!("3600")), Ok(Interval::Every(3600)));
        assert_eq!(parse_interval(&json!("off")), Ok(Interval::Off));
        assert_eq!(parse_interval(&json!(" OFF ")), Ok(Interval::Off));
        assert_eq!(parse_interval(&json!(0)), Ok(Interval::Off));
        assert!(parse_interval(&json!("soon")).is_err());
        assert!(parse_interval(&json!(-5)).is_err());
        assert!(parse_interval(&json!(true)).is_err());
        assert!(parse_interval(&json!(1.5)).is_err());
        assert!(parse_interval(&json!("")).is_err());
    }

    #[test]
    fn huge_intervals_clamp_and_never_make_every_get_a_check() {
        let max = Interval::Every(MAX_INTERVAL);
        for v in [
            json!("18446744073709551615"),
            json!("99999999999999999999999"),
            json!(u64::MAX),
            json!(i64::MAX),
        ] {
            assert_eq!(parse_interval(&v), Ok(max), "{v}");
        }
        let e = entry(1_000, None);
        assert!(!due(&e, 1_000 + 86_400, max));
        assert!(!due(&e, i64::MAX, Interval::Every(u64::MAX)) || due(&e, i64::MAX, max));
        // Even an unclamped interval compares without wrapping.
        assert!(!due(&e, 2_000, Interval::Every(u64::MAX)));
    }

    #[test]
    fn only_network_failures_are_unreachable() {
        assert_eq!(
            verdict_of(&Error::Network("x did not answer".into())),
            Finding::of(Verdict::Unreachable)
        );
        let found = verdict_of(&Error::Policy("refusing http:// to x".into()));
        assert_eq!(found.verdict, Verdict::Blocked);
        assert_eq!(
            found.detail.as_deref(),
            Some("nothing was sent: refusing http:// to x")
        );
        let found = verdict_of(&Error::Blocked("h answered HTTP 403".into()));
        assert_eq!(found.verdict, Verdict::Blocked);
        assert_eq!(found.detail.as_deref(), Some("h answered HTTP 403"));
    }

    #[test]
    fn a_fresh_store_counts_as_accepted() {
        let e = entry(1_000, None);
        let every = Interval::Every(100);
        assert!(!due(&e, 1_050, every));
        assert!(due(&e, 1_100, every));
        assert!(!due(&e, 1_000_000, Interval::Off));
        assert_eq!(refusal(&e), None);
    }

    #[test]
    fn refusals_are_checked_again_within_a_minute() {
        let e = entry(1_000, Some((2_000, Verdict::Refused)));
        let every = Interval::Every(DEFAULT_INTERVAL);
        assert!(!due(&e, 2_059, every));
        assert!(due(&e, 2_060, every));
        // Never more often than the interval asks for.
        assert!(!due(&e, 2_005, Interval::Every(10)));
        assert!(due(&e, 2_010, Interval::Every(10)));
        assert_eq!(refusal(&e).map(|c| c.at), Some(2_000));
    }

    #[test]
    fn offline_is_not_a_refusal() {
        let e = entry(1_000, Some((2_000, Verdict::Unreachable)));
        assert_eq!(refusal(&e), None);
        assert!(!due(&e, 2_599, Interval::Every(DEFAULT_INTERVAL)));
        assert!(due(&e, 2_600, Interval::Every(DEFAULT_INTERVAL)));
    }

    #[test]
    fn a_verdict_older_than_the_secret_does_not_count() {
        // Stored again after the refusal: the new secret starts clean.
        let e = entry(3_000, Some((2_000, Verdict::Refused)));
        assert_eq!(refusal(&e), None);
        assert!(!due(&e, 3_100, Interval::Every(DEFAULT_INTERVAL)));
    }

    #[test]
    fn a_robot_past_its_recorded_expiry_is_asked_and_forgets_the_date_once_accepted() {
        let robot = |check| Entry {
            kind: AccountKind::Robot,
            expires_at: Some(5_000),
            ..entry(1_000, check)
        };
        let every = Interval::Every(DEFAULT_INTERVAL);
        let e = robot(Some((2_000, Verdict::Accepted)));
        assert!(!due(&e, 4_999, every));
        assert!(due(&e, 5_000, every), "the date passed: ask at once");
        assert!(!due(&e, 5_000, Interval::Off));
        // Asked since the date: the usual schedule again.
        assert!(!due(&robot(Some((5_010, Verdict::Accepted))), 5_020, every));
        assert!(!due(&robot(Some((5_010, Verdict::Refused))), 5_020, every));

        for (check, kept) in [
            ((5_010, Verdict::Accepted), None),
            ((5_010, Verdict::Refused), Some(5_000)),
            ((5_010, Verdict::Unreachable), Some(5_000)),
            ((4_000, Verdict::Accepted), Some(5_000)),
        ] {
            let mut e = robot(Some(check));
            forget_a_passed_expiry(&mut e);
            assert_eq!(e.expires_at, kept, "{check:?}");
        }
    }

    #[test]
    fn identity_tokens_are_never_checked() {
        let mut e = entry(0, None);
        e.kind = AccountKind::Token;
        assert!(!due(&e, 1_000_000, Interval::Every(1)));
    }
}
