//! The kinds of account a login can be: a Harbor user (CLI secret), a robot
//! account, or an identity token. Which one decides what a refusal means
//! and what helps (renew, a new robot file, docker login).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// A Harbor user with a CLI secret (or a password on a non-OIDC Harbor).
    User,
    /// A robot account (`robot$project+name`, or a site-specific prefix such as `robot-`).
    Robot,
    /// An identity token (username `<token>`).
    Token,
}

impl AccountKind {
    /// Harbor robot names start with the robot prefix: `robot$` by default,
    /// `robot-` at sites that changed it (UCAR's hub does).
    pub fn guess(username: &str) -> AccountKind {
        let lower = username.to_ascii_lowercase();
        if username == crate::protocol::TOKEN_USERNAME {
            AccountKind::Token
        } else if lower.starts_with("robot$")
            || lower.starts_with("robot-")
            || lower.starts_with("robot+")
        {
            AccountKind::Robot
        } else {
            AccountKind::User
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AccountKind::User => "user",
            AccountKind::Robot => "robot",
            AccountKind::Token => "token",
        }
    }
}
