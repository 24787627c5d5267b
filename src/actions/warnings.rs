//! What `get` says on stderr about the standing of the secret it serves:
//! docker and podman print it beside their own bare errors during a pull.

use std::io::Write;

use super::{Context, warn};
use crate::index::{self, AccountKind};
use crate::registry;

/// One line on stderr on every `get` while the registry's last verdict on
/// this secret is a refusal: docker prints it next to its own bare
/// `unauthorized`, so the user learns what to do.
pub(super) fn refusal(key: &str, entry: &index::Entry, stderr: &mut dyn Write) {
    let Some(refused) = crate::check::refusal(entry) else {
        return;
    };
    let when = crate::notice::ago(index::now() - refused.at);
    let msg = match entry.kind {
        AccountKind::Robot => format!(
            "warning: {key} refused robot account {} ({when}): it expired, was disabled or its secret was refreshed; \
             import the new secret with {}",
            entry.username,
            crate::cmd("login --robot-file FILE")
        ),
        AccountKind::User => {
            let is_default = crate::settings::default_registry()
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
        AccountKind::Token => return,
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
    let msg = if left <= 0 {
        format!(
            "warning: robot account {} for {key} expired {}; ask a project admin for a new secret, then run {}",
            entry.username,
            crate::notice::ago(-left),
            crate::cmd("login --robot-file FILE")
        )
    } else {
        format!(
            "warning: robot account {} for {key} expires {}; ask a project admin to refresh it",
            entry.username,
            crate::notice::within(left)
        )
    };
    warn(stderr, &msg);
}

#[cfg(test)]
mod tests {
    use crate::actions::tests::{KEY, Session};
    use crate::index;
    use crate::store::StoreKind::SecretService;

    #[test]
    fn a_refused_secret_is_named_on_every_get() {
        let s = Session::new(&[SecretService]);
        s.store(KEY, "alice", "s3cr3t").ok();
        let refused = |s: &Session| {
            s.edit(|e| {
                e.check = Some(index::Check {
                    at: index::now(),
                    verdict: index::Verdict::Refused,
                    detail: None,
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
    fn a_robot_near_or_past_expiry_is_named_once_a_day() {
        let s = Session::new(&[SecretService]);
        s.store_robot("robot$proj+ci", index::now() + 3 * 86_400);
        let out = s.get(KEY);
        assert!(out.stderr.contains("expires in"), "{}", out.stderr);
        s.get(KEY).quiet();
        // Expired has its own slot: yesterday's reminder does not hide it.
        s.edit(|e| e.expires_at = Some(index::now() - 3600));
        let out = s.get(KEY);
        assert!(out.stderr.contains("expired"), "{}", out.stderr);
        s.get(KEY).quiet();
        // A robot with months left is not mentioned.
        let s = Session::new(&[SecretService]);
        s.store_robot("robot$proj+ci", index::now() + 90 * 86_400);
        s.get(KEY).quiet();
    }
}
