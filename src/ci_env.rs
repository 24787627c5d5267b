//! CI mode: credentials from the environment instead of a keychain.
//!
//! GitLab's Harbor integration exports `HARBOR_USERNAME` and `HARBOR_PASSWORD`
//! (and `HARBOR_HOST`). With both set, `get` answers from them and `store` /
//! `erase` succeed without writing, so `docker login` in a pipeline works on a
//! runner that has no keychain. They apply to one registry: `HARBOR_HOST`, or
//! without it the default registry (`DOCKER_CREDENTIAL_HARBOR_REGISTRY`, the
//! settings file, else hub.k8s.ucar.edu). Never to every registry: with
//! `credsStore` set, that would hand the pipeline's Harbor secret to Docker
//! Hub and anyone else an image names.

use crate::registry;
use crate::secret::Secret;

pub struct CiCredentials {
    pub username: String,
    pub secret: Secret<String>,
    /// The key of the one registry they are for.
    pub registry: String,
}

/// The CI credentials, if both variables are set (and the registry they are
/// for is a valid address).
pub fn credentials() -> Option<CiCredentials> {
    let username = std::env::var(crate::env_vars::HARBOR_USERNAME)
        .ok()
        .filter(|v| !v.is_empty())?;
    let secret = std::env::var(crate::env_vars::HARBOR_PASSWORD)
        .ok()
        .filter(|v| !v.is_empty())?;
    let registry = match std::env::var(crate::env_vars::HARBOR_HOST) {
        Ok(h) if !h.trim().is_empty() => registry::normalize(&h).ok()?,
        _ => registry::normalize(&crate::settings::default_registry().ok()?).ok()?,
    };
    Some(CiCredentials {
        username,
        secret: Secret::new(secret),
        registry,
    })
}

/// The CI credentials if they apply to the registry `key`.
pub fn for_key(key: &str) -> Option<CiCredentials> {
    credentials().filter(|c| c.registry == key)
}
