//! CI mode: credentials from the environment instead of a keychain.
//!
//! GitLab's Harbor integration exports `HARBOR_USERNAME` and `HARBOR_PASSWORD`
//! (and `HARBOR_HOST`). With both set, `get` answers from them and `store` /
//! `erase` succeed without writing, so `docker login` in a pipeline works on a
//! runner that has no keychain. `HARBOR_HOST`, when set, limits this to one registry.

use crate::registry;
use crate::secret::Secret;

pub const USERNAME_ENV: &str = "HARBOR_USERNAME";
pub const PASSWORD_ENV: &str = "HARBOR_PASSWORD";
pub const HOST_ENV: &str = "HARBOR_HOST";

pub struct CiCredentials {
    pub username: String,
    pub secret: Secret<String>,
    /// The registry key `HARBOR_HOST` names, if set.
    pub host: Option<String>,
}

/// The CI credentials, if both variables are set (and `HARBOR_HOST` is valid when set).
pub fn credentials() -> Option<CiCredentials> {
    let username = std::env::var(USERNAME_ENV).ok().filter(|v| !v.is_empty())?;
    let secret = std::env::var(PASSWORD_ENV).ok().filter(|v| !v.is_empty())?;
    let host = match std::env::var(HOST_ENV) {
        Ok(h) if !h.trim().is_empty() => Some(registry::normalize(&h).ok()?),
        _ => None,
    };
    Some(CiCredentials {
        username,
        secret: Secret::new(secret),
        host,
    })
}

/// The CI credentials if they apply to the registry `key`.
pub fn for_key(key: &str) -> Option<CiCredentials> {
    credentials().filter(|c| c.host.as_deref().is_none_or(|h| h == key))
}
