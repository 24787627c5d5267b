//! `harbor` in builds without the network feature (the cross-target type
//! checks): the same interface, every connection refused with one line, so
//! no caller needs a `cfg` of its own.

use crate::account::AccountKind;
use crate::error::{Error, Result};
use crate::registry::NetOptions;
use crate::secret::Secret;
use crate::verdict::Verdict;

pub const SIGN_IN_PATH: &str = "/c/oidc/login";

const NO_NETWORK: &str =
    "this build has no network support (where a command offers --no-verify, use that)";

#[derive(Debug, Default, Clone)]
pub struct SystemInfo {
    pub auth_mode: Option<String>,
    pub oidc_provider_name: Option<String>,
}

pub struct Refusal {
    pub why: String,
    pub renewable: bool,
}

pub struct Target {
    pub host: String,
}

impl Target {
    pub fn origin(&self) -> String {
        format!("https://{}", self.host)
    }
}

/// No value of it exists: [`Client::connect`] always refuses.
pub enum Client {}

impl Client {
    pub fn connect(_: &str, _: &NetOptions) -> Result<Client> {
        Err(Error::Usage(NO_NETWORK.into()))
    }

    pub fn connect_key(_: &str, _: Option<&str>, _: &NetOptions) -> Result<Client> {
        Err(Error::Usage(NO_NETWORK.into()))
    }

    pub fn target(&self) -> &Target {
        match *self {}
    }

    pub fn verify(&self, _: &str, _: &Secret<String>) -> Result<(Verdict, Option<String>)> {
        match *self {}
    }

    pub fn system_info(&self, _: Option<&str>) -> Option<SystemInfo> {
        match *self {}
    }

    pub fn identity_provider_down(&self, _: Option<&str>) -> Option<u16> {
        match *self {}
    }

    pub fn why_refused(&self, _: Option<&str>, _: &str, _: AccountKind) -> Refusal {
        match *self {}
    }
}
