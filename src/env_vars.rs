//! The environment variables the tool reads, named once: a leaf module, so
//! that the keychain code, the checks and the CI mode share one spelling
//! without importing each other.

/// Forces one keychain, e.g. `secret-service`, `keyutils` or (in WSL) `windows`.
pub const STORE: &str = "DOCKER_CREDENTIAL_HARBOR_STORE";
/// Seconds a keychain call may take (default 10).
pub const TIMEOUT: &str = "DOCKER_CREDENTIAL_HARBOR_TIMEOUT";
/// Seconds a cached copy lives; `0` turns the cache off.
pub const CACHE_TTL: &str = "DOCKER_CREDENTIAL_HARBOR_CACHE_TTL";
/// Seconds between checks of a secret the registry accepted, or `off`.
pub const CHECK_INTERVAL: &str = "DOCKER_CREDENTIAL_HARBOR_CHECK_INTERVAL";
/// The default registry of `login`, `logout` and `status`.
pub const REGISTRY: &str = "DOCKER_CREDENTIAL_HARBOR_REGISTRY";
/// Set by the WSL bridge for the Windows build it runs: the Linux side chose
/// the registry, so every one it sends is served.
pub const BRIDGED: &str = "DOCKER_CREDENTIAL_HARBOR_BRIDGED";
/// CI mode (see [`crate::protocol::ci_env`]): the pipeline's credentials...
pub const HARBOR_USERNAME: &str = "HARBOR_USERNAME";
pub const HARBOR_PASSWORD: &str = "HARBOR_PASSWORD";
/// ...and the one registry they are for.
pub const HARBOR_HOST: &str = "HARBOR_HOST";
/// The `pass` password store (see `keychain::pass`), read as `pass` reads them:
/// its directory (default `~/.password-store`)...
pub const PASSWORD_STORE_DIR: &str = "PASSWORD_STORE_DIR";
/// ...key ids that replace the `.gpg-id` files...
pub const PASSWORD_STORE_KEY: &str = "PASSWORD_STORE_KEY";
/// ...extra gpg options...
pub const PASSWORD_STORE_GPG_OPTS: &str = "PASSWORD_STORE_GPG_OPTS";
/// ...and the keys whose signature a `.gpg-id` must carry.
pub const PASSWORD_STORE_SIGNING_KEY: &str = "PASSWORD_STORE_SIGNING_KEY";
