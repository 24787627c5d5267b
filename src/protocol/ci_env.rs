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

/// The three variables as the process started with them; `None` unless
/// both the username and the password are set.
#[derive(Clone)]
pub struct Vars {
    username: String,
    secret: Secret<String>,
    host: Option<String>,
}

impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vars")
            .field("username", &self.username)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl Vars {
    /// The variables as given (unit tests).
    pub fn new(username: &str, secret: &str, host: Option<&str>) -> Vars {
        Vars {
            username: username.into(),
            secret: Secret::new(secret.into()),
            host: host.map(Into::into),
        }
    }

    pub fn from_env() -> Option<Vars> {
        let set = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Some(Vars {
            username: set(crate::env_vars::HARBOR_USERNAME)?,
            secret: Secret::new(set(crate::env_vars::HARBOR_PASSWORD)?),
            host: std::env::var(crate::env_vars::HARBOR_HOST).ok(),
        })
    }

    /// The credentials, if the registry they are for (`HARBOR_HOST`, else
    /// `default_registry()`) is a valid address.
    pub fn credentials(
        &self,
        default_registry: impl FnOnce() -> Option<String>,
    ) -> Option<CiCredentials> {
        let registry = match self.host.as_deref() {
            Some(h) if !h.trim().is_empty() => registry::normalize(h).ok()?,
            _ => registry::normalize(&default_registry()?).ok()?,
        };
        Some(CiCredentials {
            username: self.username.clone(),
            secret: self.secret.clone(),
            registry,
        })
    }
}
