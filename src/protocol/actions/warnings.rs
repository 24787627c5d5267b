//! What `get` says on stderr about the standing of the secret it serves:
//! docker and podman print it beside their own bare errors during a pull.

use std::io::Write;

use super::{Context, warn};
use crate::account::AccountKind;
use crate::registry;
use crate::state::index;
use crate::verdict::Verdict;

/// One line on stderr on every `get` while the registry's last verdict on
/// this secret is a refusal: docker prints it next to its own bare
/// `unauthorized`, so the user learns what to do. Also while the last check
/// was blocked (a 403 from something in front of Harbor, a certificate not
/// trusted): docker's own error then says nothing about the secret either.
pub(super) fn refusal(cx: &Context, key: &str, entry: &index::Entry, stderr: &mut dyn Write) {
    let last = crate::check::last(entry);
    let when = crate::text::ago(index::now() - last.at);
    let msg = match (last.verdict, entry.kind) {
        (_, AccountKind::Token) | (Verdict::Accepted | Verdict::Unreachable, _) => return,
        (Verdict::Blocked, _) => format!(
            "warning: the last check of the secret for {key} ({when}) was blocked, so it says nothing about the secret: {}",
            last.detail.as_deref().unwrap_or("no reason recorded")
        ),
        (Verdict::Refused, AccountKind::Robot) => format!(
            "warning: {key} refused robot account {} ({when}): it expired, was disabled or its secret was refreshed; \
             import the new secret with {}",
            entry.username,
            crate::cmd("login --robot-file FILE")
        ),
        (Verdict::Refused, AccountKind::User) if last.idp_down => format!(
            "warning: {key} refused the CLI secret of {} ({when}): {}",
            entry.username,
            crate::check::idp_down_text(key)
        ),
        (Verdict::Refused, AccountKind::User) => {
            let is_default = cx
                .config
                .default_registry()
                .ok()
                .and_then(|d| registry::normalize(&d).ok())
                .is_some_and(|d| d == key);
            let target = if is_default {
                String::new()
            } else {
                format!(" {key}")
            };
            format!(
                "warning: {key} refused the CLI secret of {} ({when}); your Harbor web session has probably expired: \
                 run {}",
                entry.username,
                crate::cmd(&format!("renew{target}"))
            )
        }
    };
    warn(stderr, &msg);
}

/// One line on stderr (docker shows it during a pull) when a robot expires
/// within a week or has expired; at most once a day per registry.
pub(super) fn expiry(cx: &Context, key: &str, entry: &index::Entry, stderr: &mut dyn Write) {
    let Some(left) = index::robot_time_left(entry.expires_at, index::now()) else {
        return;
    };
    if left > 7 * 86_400 {
        return;
    }
    // "Expired" has its own daily slot: the "expires soon" reminder shown
    // yesterday must not hide the news that pulls now fail.
    let slot = if left <= 0 { "expired" } else { "expires-soon" };
    if !cx.notice_due(&format!("{slot}-{key}"), 86_400) {
        return;
    }
    let msg = if left <= 0 && index::robot_expired(entry, index::now()) {
        format!(
            "warning: robot account {} for {key} expired {}; ask a project admin for a new secret, then run {}",
            entry.username,
            crate::text::ago(-left),
            crate::cmd("login --robot-file FILE")
        )
    } else if left <= 0 {
        // Not refused since: an admin may have extended it (same secret).
        format!(
            "warning: robot account {} for {key} passed its recorded expiry {}: it has expired unless a project \
             admin extended it, and the registry decides; if pulls fail, ask for a new secret, then run {}",
            entry.username,
            crate::text::ago(-left),
            crate::cmd("login --robot-file FILE")
        )
    } else {
        format!(
            "warning: robot account {} for {key} expires {}; ask a project admin to refresh it",
            entry.username,
            crate::text::within(left)
        )
    };
    warn(stderr, &msg);
}

#[cfg(test)]
mod tests {
    use crate::keychain::KeychainKind::SecretService;
    use crate::protocol::actions::tests::{KEY, Session};
    use crate::state::index;

    #[test]
    fn a_refused_secret_is_named_on_every_get() {
        let s = Session::new(&[SecretService]);
        s.store(KEY, "alice", "s3cr3t").ok();
        let refused = |s: &Session| {
            s.edit(|e| {
                e.check = Some(crate::verdict::Check {
                    at: index::now(),
                    verdict: crate::verdict::Verdict::Refused,
                    detail: None,
                    idp_down: false,
                })
            })
        };
        refused(&s);
        for _ in 0..2 {
            let out = s.get(KEY);
            out.ok();
            assert!(
                out.stderr.contains("refused the CLI secret of alice"),
                "{}",
                out.stderr
            );
            assert!(out.stderr.contains("renew"), "{}", out.stderr);
        }
        s.store_robot("robot$proj+ci", index::now() + 90 * 86_400);
        refused(&s);
        let out = s.get(KEY);
        assert!(
            out.stderr.contains("refused robot account robot$proj+ci"),
            "{}",
            out.stderr
        );
        // A new store starts with no verdict.
        s.store(KEY, "alice", "new").ok();
        s.get(KEY).quiet();
    }

    #[test]
    fn an_identity_provider_outage_and_a_blocked_check_are_no_expired_session() {
        let s = Session::new(&[SecretService]);
        s.store(KEY, "alice", "s3cr3t").ok();
        let recorded = |s: &Session, verdict, detail: Option<&str>, idp_down| {
            s.edit(|e| {
                e.check = Some(crate::verdict::Check {
                    at: index::now(),
                    verdict,
                    detail: detail.map(str::to_string),
                    idp_down,
                })
            })
        };
        recorded(&s, crate::verdict::Verdict::Refused, None, true);
        let out = s.get(KEY);
        out.ok();
        assert!(
            out.stderr
                .contains("cannot reach its identity provider now")
                && out.stderr.contains("nothing to do on your side"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("renew"), "{}", out.stderr);
        let line = "h answered HTTP 403 (\"Request blocked\") to the credential check";
        recorded(&s, crate::verdict::Verdict::Blocked, Some(line), false);
        let out = s.get(KEY);
        out.ok();
        assert!(
            out.stderr.contains("was blocked") && out.stderr.contains(line),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("renew"), "{}", out.stderr);
        recorded(&s, crate::verdict::Verdict::Unreachable, None, false);
        s.get(KEY).quiet();
    }

    #[test]
    fn a_robot_near_or_past_expiry_is_named_once_a_day() {
        let s = Session::new(&[SecretService]);
        s.store_robot("robot$proj+ci", index::now() + 3 * 86_400);
        let out = s.get(KEY);
        assert!(out.stderr.contains("expires in"), "{}", out.stderr);
        s.get(KEY).quiet();
        // Expired has its own slot: yesterday's reminder does not hide it.
        // The date alone is no verdict: an admin may have extended the robot.
        s.edit(|e| e.expires_at = Some(index::now() - 3600));
        let out = s.get(KEY);
        assert!(
            out.stderr
                .contains("passed its recorded expiry 60 minutes ago")
                && out.stderr.contains("unless a project admin extended it"),
            "{}",
            out.stderr
        );
        s.get(KEY).quiet();
        // Refused since the date: expired, as a fact.
        let s = Session::new(&[SecretService]);
        s.store_robot("robot-proj+ci", index::now() - 3600);
        let refused = serde_json::json!({"at": index::now(), "verdict": "refused"});
        s.edit(|e| e.check = serde_json::from_value(refused).ok());
        let out = s.get(KEY);
        assert!(
            out.stderr.contains("robot account robot-proj+ci for")
                && out.stderr.contains("expired 60 minutes ago;"),
            "{}",
            out.stderr
        );
        // A robot with months left is not mentioned.
        let s = Session::new(&[SecretService]);
        s.store_robot("robot$proj+ci", index::now() + 90 * 86_400);
        s.get(KEY).quiet();
    }
}
