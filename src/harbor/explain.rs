//! What a refusal most likely means, for the kind of account and the way
//! this Harbor signs people in: the one text login, status and renew show.

use std::fmt::Write as _;

use crate::index::AccountKind;

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
            } else if !lower.starts_with("robot$") && !lower.starts_with("robot-") {
                let _ = write!(
                    s,
                    "; the name must include the robot prefix, e.g. robot${username}"
                );
            } else {
                s.push_str("; in a shell, quote names with $ in single quotes");
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
            if username.contains('+') && !username.contains('@') {
                let _ = write!(
                    s,
                    "; if {username} is a robot account, its name needs the robot prefix, e.g. robot${username}"
                );
            }
            s.push_str(
                " and the CLI secret from the web UI (your name > User Profile > CLI secret), not your password. \
                 If it worked before, your web session has expired: log in to the Harbor web UI once, then run login again",
            );
            s
        }
        _ if username.contains('+') && !username.contains('@') => format!(
            "{host} refused the username or password for {username}; if it is a robot account, \
             its name needs the robot prefix, e.g. robot${username}"
        ),
        _ => format!("{host} refused the username or password for {username}"),
    }
}
