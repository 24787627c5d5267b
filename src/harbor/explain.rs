//! What a refusal most likely means, for the kind of account and the way
//! this Harbor signs people in: the one text login, status and renew show.

use std::fmt::Write as _;

use crate::account::AccountKind;

/// The Harbor this tool is first built for, whose robots are `robot-...`.
const UCAR_HUB: &str = "hub.k8s.ucar.edu";

/// Why a registry most likely said 401, for this kind of account.
pub fn explain_refusal(
    host: &str,
    username: &str,
    kind: AccountKind,
    info: &super::SystemInfo,
) -> String {
    match kind {
        AccountKind::Robot => {
            let mut s = format!(
                "{host} refused robot account {username}: the secret is wrong, or the robot has expired or was disabled \
                 (a project admin can check under Project > Robot Accounts)"
            );
            let lower = username.to_ascii_lowercase();
            if lower.starts_with("robot+") {
                let _ = write!(
                    s,
                    "; the shell may have swallowed the $project part of the name: quote it in single quotes, \
                     e.g. 'robot$project{}'",
                    &username["robot".len()..]
                );
            } else if let Some(hint) = other_prefix(username) {
                let _ = write!(s, "; {hint}");
            } else {
                let _ = write!(s, "; the name must include {}", both_prefixes(username));
            }
            s
        }
        _ if info.auth_mode.as_deref() == Some("oidc_auth") => {
            let provider = info
                .oidc_provider_name
                .as_deref()
                .unwrap_or("your identity provider");
            let mut s = format!(
                "{host} refused the CLI secret for {username}. This Harbor signs people in through {provider}: \
                 use your Harbor username"
            );
            if !username.contains('@') {
                s.push_str(" (at UCAR your ucar.edu e-mail address, not a display name)");
            }
            s.push_str(
                " and the CLI secret from the web UI (your name > User Profile > CLI secret), not your password. \
                 If it worked before, your web session has expired: log in to the Harbor web UI once, then run login again",
            );
            if looks_like_robot(username) {
                let _ = write!(
                    s,
                    ". If {username} is a robot account, its name needs {}",
                    both_prefixes(username)
                );
            }
            s
        }
        _ if looks_like_robot(username) => format!(
            "{host} refused the username or password for {username}; if it is a robot account, \
             its name needs {}",
            both_prefixes(username)
        ),
        _ => format!("{host} refused the username or password for {username}"),
    }
}

/// A name a user typed for a robot without its prefix: `project+name`.
fn looks_like_robot(username: &str) -> bool {
    username.contains('+') && !username.contains('@')
}

/// The robot prefix is a per-site setting, not visible anonymously: name
/// Harbor's default and the one UCAR's hub uses.
fn both_prefixes(name: &str) -> String {
    format!(
        "the robot prefix: robot${name} (Harbor's default), or robot-{name} on sites such as {UCAR_HUB}"
    )
}

/// For a name with one robot prefix, the other one to try.
fn other_prefix(username: &str) -> Option<String> {
    let (prefix, rest) = username.split_at_checked("robot$".len())?;
    match prefix.to_ascii_lowercase().as_str() {
        "robot$" => Some(format!(
            "in a shell, quote names with $ in single quotes; robot accounts are named robot$PROJECT+NAME, \
             or robot-PROJECT+NAME on sites such as {UCAR_HUB} (robot-{rest})"
        )),
        "robot-" => Some(format!(
            "robot accounts are named robot-PROJECT+NAME on sites such as {UCAR_HUB}, and robot$PROJECT+NAME \
             with Harbor's default prefix (robot${rest}; in a shell, in single quotes)"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn robot(name: &str) -> String {
        explain_refusal("h", name, AccountKind::Robot, &Default::default())
    }

    #[test]
    fn a_refused_robot_name_is_offered_the_other_prefix() {
        let s = robot("robot$proj+ci");
        assert!(
            s.ends_with(
                "; in a shell, quote names with $ in single quotes; robot accounts are named robot$PROJECT+NAME, \
                 or robot-PROJECT+NAME on sites such as hub.k8s.ucar.edu (robot-proj+ci)"
            ),
            "{s}"
        );
        let s = robot("robot-proj+ci");
        assert!(
            s.ends_with(
                "; robot accounts are named robot-PROJECT+NAME on sites such as hub.k8s.ucar.edu, and \
                 robot$PROJECT+NAME with Harbor's default prefix (robot$proj+ci; in a shell, in single quotes)"
            ),
            "{s}"
        );
        // A robot file whose name lacks the prefix: both.
        let s = robot("proj+ci");
        assert!(
            s.ends_with(
                "; the name must include the robot prefix: robot$proj+ci (Harbor's default), \
                 or robot-proj+ci on sites such as hub.k8s.ucar.edu"
            ),
            "{s}"
        );
        let s = explain_refusal("h", "proj+ci", AccountKind::User, &Default::default());
        assert_eq!(
            s,
            "h refused the username or password for proj+ci; if it is a robot account, its name needs the robot \
             prefix: robot$proj+ci (Harbor's default), or robot-proj+ci on sites such as hub.k8s.ucar.edu"
        );
    }
}
