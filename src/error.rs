//! The one error type. Its `Display` is the exact line a client or user sees,
//! so texts that clients compare literally live here and nowhere else.

use std::path::PathBuf;

use crate::keychain::kind::KeychainKind;

/// Texts that docker, podman and skopeo compare byte for byte.
pub const NOT_FOUND: &str = "credentials not found in native keychain";
pub const NO_SERVER_URL: &str = "no credentials server URL";
pub const NO_USERNAME: &str = "no credentials username";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Clients treat exactly this text as "no credentials, go anonymous".
    #[error("{NOT_FOUND}")]
    NotFound,
    #[error("{NO_SERVER_URL}")]
    MissingServerUrl,
    #[error("{NO_USERNAME}")]
    MissingUsername,
    /// Malformed stdin: the message says what was wrong, never what was sent.
    #[error("{0}")]
    BadInput(String),
    #[error("invalid registry address {0:?}: {1}")]
    InvalidRegistry(String, &'static str),
    /// The keychain could not be reached or refused access; `hint` says what to do.
    #[error("{store}: {reason}{}", hint_suffix(.hint))]
    KeychainUnavailable {
        store: KeychainKind,
        reason: String,
        hint: &'static str,
    },
    #[error("{store} did not answer within {secs} s{}", hint_suffix(.hint))]
    KeychainTimeout {
        store: KeychainKind,
        secs: u64,
        hint: &'static str,
    },
    #[error("{store}: {reason}")]
    Keychain { store: KeychainKind, reason: String },
    #[error("{action} {}: {source}", .path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    /// The network failed: no answer, no name, connection refused.
    #[error("{0}")]
    Network(String),
    /// This tool would not send the secret there: plain HTTP without
    /// `--insecure`, or a certificate it does not trust. The text names the fix.
    #[error("{0}")]
    Policy(String),
    /// Something in front of the registry (a WAF, a rate limiter, a proxy)
    /// answered 403: no verdict on the secret. The text says what answered.
    #[error("{0}")]
    Blocked(String),
    /// The registry refused the credentials; the message explains the likely cause.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Usage(String),
    /// A `store` for a registry this helper is not configured for: the
    /// client's next credential helper (containers' auth file) keeps it.
    #[error(
        "{0} is not a registry this helper is configured for; to keep its secret here: {name} configure --registry {0}",
        name = crate::NAME
    )]
    NotServed(String),
    /// A keychain got a login for the registry while configure checked a
    /// plaintext one: the stored login stays, the file's too.
    #[error("a login for {0} was stored meanwhile")]
    Taken(String),
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!("; {hint}")
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn file(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::File {
            action,
            path: path.into(),
            source,
        }
    }

    /// One line, whatever the inner errors hold (a secret never reaches here,
    /// but a multi-line D-Bus message might).
    pub fn one_line(&self) -> String {
        let text = self.to_string();
        let mut out = String::with_capacity(text.len());
        for part in text.split(['\n', '\r']).filter(|p| !p.trim().is_empty()) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(part.trim());
        }
        // Errors quote what registries and files said: no control bytes.
        crate::text::escape(&out).into_owned()
    }
}
