//! What a registry said about a stored secret, and when: the verdict every
//! check records in the index (`check::record`) and every command reads.

use serde::{Deserialize, Serialize};

/// One credential check: when, and what the registry said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Unix seconds.
    pub at: i64,
    pub verdict: Verdict,
    /// For [`Verdict::Blocked`]: the one-line reason, which names the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For [`Verdict::Refused`]: Harbor could not reach its identity provider
    /// then (it refuses every CLI secret meanwhile). Absent: an ordinary
    /// refusal, which is all an older version knows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub idp_down: bool,
}

/// What a check found. Offline is not a refusal: a laptop on a train must not
/// be told its secret is dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accepted,
    Refused,
    /// The network failed: no answer, no name, connection refused.
    Unreachable,
    /// This tool would not send the secret (plain HTTP without `--insecure`, a
    /// certificate it does not trust), or something in front of the registry
    /// answered 403: no verdict on the secret. The detail says why.
    Blocked,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Refused => "refused",
            Verdict::Unreachable => "unreachable",
            Verdict::Blocked => "blocked",
        }
    }
}
