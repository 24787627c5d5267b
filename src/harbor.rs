//! Talking to a Harbor registry over HTTP(S): verify a secret the way
//! `docker login` does, and read the anonymous `systeminfo` to explain a 401.
//!
//! The human commands and the detached background check use this; the
//! protocol actions themselves never touch the network. Every caller gets
//! docker's ways of reaching a registry: certs.d, a trusted self-signed
//! certificate ([`tls`]), plain HTTP between loopback ends (or with
//! `--insecure`), and the proxy variables for every other host.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;

use crate::account::AccountKind;
use crate::error::{Error, Result};
use crate::registry::NetOptions;
use crate::secret::Secret;
use crate::verdict::Verdict;

mod challenge;
mod explain;
mod failure;
mod target;
mod tls;

use challenge::{Challenge, parse_challenge};
pub use explain::explain_refusal;
use failure::{chain, forbidden, network_error, not_tls};
use target::{RefusedRedirect, env_proxies, host_port, refuse_plain_http};
pub use target::{Target, target, target_for_key};

/// Harbor's network calls are small; 15 s covers a slow VPN without hanging a shell.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Redirects followed at most, as docker's Go client allows ten.
const MAX_REDIRECTS: usize = 5;
/// Harbor's web sign-in page: it redirects the browser to the identity provider.
pub const SIGN_IN_PATH: &str = "/c/oidc/login";

/// A refused secret: the one-line reason, and whether `renew` can help (a
/// user of a Harbor that signs people in through OIDC, whose web session
/// may have expired).
pub struct Refusal {
    pub why: String,
    pub renewable: bool,
}

/// What the registry's anonymous `systeminfo` tells about authentication.
#[derive(Debug, Default, Clone)]
pub struct SystemInfo {
    pub auth_mode: Option<String>,
    pub oidc_provider_name: Option<String>,
}

pub struct Client {
    http: reqwest::blocking::Client,
    target: Target,
    opts: NetOptions,
    /// The same registry over plain HTTP, once it turned out not to speak TLS.
    plain: OnceLock<Target>,
    /// certs.d files that could not be used, for an "unknown CA" error.
    skipped: Vec<String>,
}

impl Client {
    /// The one way every command reaches a registry: `address` as the user
    /// or client gave it, with the options given now or remembered from login.
    pub fn connect(address: &str, opts: &NetOptions) -> Result<Client> {
        Client::new(target(address, opts)?, opts)
    }

    /// A stored login's registry: see [`target_for_key`].
    pub fn connect_key(key: &str, address: Option<&str>, opts: &NetOptions) -> Result<Client> {
        Client::new(target_for_key(key, address, opts)?, opts)
    }

    /// Trusts the platform's roots, `opts.ca_file`, `SSL_CERT_FILE` and the
    /// registry's certs.d directories (as docker and podman do).
    pub fn new(target: Target, opts: &NetOptions) -> Result<Client> {
        let (tls, skipped) = tls::client_config(&target.host, opts)?;
        let registry = target.base.clone();
        let registry_host = target.host.clone();
        let redirect_opts = opts.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(RefusedRedirect(format!(
                    "{registry_host} redirected more than {MAX_REDIRECTS} times"
                )));
            }
            // Only the sign-in page's own answer is wanted (see
            // `identity_provider_down`), never the identity provider.
            if attempt
                .previous()
                .last()
                .is_some_and(|from| from.path() == SIGN_IN_PATH)
            {
                return attempt.stop();
            }
            let to = attempt.url().clone();
            match refuse_plain_http(&registry, &to, &registry_host, &redirect_opts) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(RefusedRedirect(e.to_string())),
            }
        });
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(format!("{}/{}", crate::NAME, env!("CARGO_PKG_VERSION")))
            .redirect(redirects)
            // Only the proxies below: no platform proxy settings, as docker.
            .no_proxy()
            // `localhost` is trusted as loopback by its name, so it must be
            // loopback: never what a hosts file or a DNS search domain says.
            .resolve_to_addrs(
                "localhost",
                &[
                    std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)),
                    std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)),
                ],
            );
        for proxy in env_proxies()? {
            builder = builder.proxy(proxy);
        }
        let http = builder
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| Error::Network(format!("cannot set up HTTPS: {}", chain(&e))))?;
        Ok(Client {
            http,
            target,
            opts: opts.clone(),
            plain: OnceLock::new(),
            skipped,
        })
    }

    /// Where the client talks to: the target as given, or its plain-HTTP
    /// twin once a loopback registry turned out to speak only HTTP.
    pub fn target(&self) -> &Target {
        self.plain.get().unwrap_or(&self.target)
    }

    /// `GET base+path` on the registry, with `auth` as the Authorization
    /// header. Like docker with a local registry: when no scheme was given, the
    /// host is loopback and the server does not speak TLS, ask again over plain
    /// HTTP and keep using HTTP. An explicit `https://` never falls back.
    fn get(
        &self,
        path: &str,
        auth: Option<&Secret<String>>,
    ) -> Result<reqwest::blocking::Response> {
        let header = auth.map(sensitive).transpose()?;
        let send = |t: &Target| {
            // `path` is one of ours ("/v2/"): joining it cannot fail.
            let r = self
                .http
                .get(t.base.join(path).unwrap_or_else(|_| t.base.clone()));
            match &header {
                Some(h) => r.header(reqwest::header::AUTHORIZATION, h.clone()),
                None => r,
            }
            .send()
        };
        let t = self.target();
        match send(t) {
            Err(e) if t.http_fallback && not_tls(&e) => {
                let plain = self.plain.get_or_init(|| {
                    let mut base = t.base.clone();
                    let _ = base.set_scheme("http");
                    Target {
                        base,
                        host: t.host.clone(),
                        http_fallback: false,
                    }
                });
                send(plain).map_err(|e| self.network_error(&plain.host, &e))
            }
            r => r.map_err(|e| self.network_error(&t.host, &e)),
        }
    }

    /// Check `username`/`secret` as `docker login` does: `GET /v2/`, then for a
    /// Bearer challenge the token realm with `service` and no scope (a scope
    /// would let an anonymous caller through); for Basic, `/v2/` with Basic.
    /// Returns the token service's origin too: Harbor's API lives there.
    /// The verdict is `Accepted` or `Refused` (only a 401 refuses); a check
    /// that could not be made, or that something in front of the registry
    /// stopped with a 403, is an error, which [`crate::check::verdict_of`]
    /// turns into `Unreachable` or `Blocked`.
    pub fn verify(
        &self,
        username: &str,
        secret: &Secret<String>,
    ) -> Result<(Verdict, Option<String>)> {
        let resp = self.get("/v2/", None)?;
        let status = resp.status().as_u16();
        if status == 200 {
            // An open registry accepts anyone; nothing to verify against.
            return Ok((Verdict::Accepted, None));
        }
        if status != 401 {
            return Err(Error::Network(format!(
                "{} answered HTTP {status} at /v2/; is this a container registry?",
                self.target().host
            )));
        }
        let challenge = resp
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .find_map(parse_challenge);
        let auth = basic(username, secret);
        match challenge {
            Some(Challenge::Bearer { realm, service }) => {
                let url = self.token_url(&realm, service.as_deref())?;
                let realm_host = host_port(&url).unwrap_or_else(|| self.target().host.clone());
                let r = self
                    .http
                    .get(url.clone())
                    .header(reqwest::header::AUTHORIZATION, sensitive(&auth)?)
                    .send()
                    // The token service may live elsewhere: name the host that failed.
                    .map_err(|e| self.network_error(&realm_host, &e))?;
                let api = Some(url.origin().ascii_serialization());
                match r.status().as_u16() {
                    200 => Ok((Verdict::Accepted, api)),
                    401 => Ok((Verdict::Refused, api)),
                    403 => Err(forbidden(&realm_host, r)),
                    s => Err(Error::Network(format!(
                        "the token service at {realm_host} answered HTTP {s}"
                    ))),
                }
            }
            Some(Challenge::Basic) | None => {
                let r = self.get("/v2/", Some(&auth))?;
                match r.status().as_u16() {
                    200 => Ok((Verdict::Accepted, None)),
                    401 => Ok((Verdict::Refused, None)),
                    403 => Err(forbidden(&self.target().host, r)),
                    s => Err(Error::Network(format!(
                        "{} answered HTTP {s} at /v2/ with credentials",
                        self.target().host
                    ))),
                }
            }
        }
    }

    /// The token service's URL for a login check: the realm with `service`
    /// added to its query (and its fragment dropped), if the plain-HTTP rule
    /// lets the secret go there.
    fn token_url(&self, realm: &str, service: Option<&str>) -> Result<Url> {
        let registry = &self.target().host;
        let mut url = Url::parse(realm).map_err(|_| {
            Error::Network(format!(
                "{registry} names a token service that is not an absolute URL"
            ))
        })?;
        url.set_fragment(None);
        if let Some(s) = service {
            url.query_pairs_mut().append_pair("service", s);
        }
        refuse_plain_http(&self.target().base, &url, registry, &self.opts)?;
        Ok(url)
    }

    /// Harbor's anonymous `systeminfo`, from `api_base` (the token realm's
    /// origin, which is Harbor's own) or the registry itself. `None` when the
    /// registry is not a Harbor or does not answer.
    pub fn system_info(&self, api_base: Option<&str>) -> Option<SystemInfo> {
        let resp = self
            .http
            .get(self.api_url(api_base, "/api/v2.0/systeminfo")?)
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let v: serde_json::Value = resp.json().ok()?;
        // Printed by login, renew and status: escaped once, here.
        let text = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .map(|s| crate::text::escape(s).into_owned())
        };
        Some(SystemInfo {
            auth_mode: text("auth_mode"),
            oidc_provider_name: text("oidc_provider_name"),
        })
    }

    /// Whether Harbor (its API at `api`, the token service's origin) cannot
    /// reach its identity provider now. It then refuses every CLI secret with
    /// the same empty 401 as a dead one (src/server/middleware/security/oidc_cli.go),
    /// and its sign-in page, which otherwise redirects to the provider,
    /// answers 5xx (src/core/controllers/oidc.go). The 5xx status, if so;
    /// `None` otherwise, and outside OIDC mode (the page answers 412 then).
    pub fn identity_provider_down(&self, api: Option<&str>) -> Option<u16> {
        let status = self
            .http
            .get(self.api_url(api, SIGN_IN_PATH)?)
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?
            .status();
        status.is_server_error().then_some(status.as_u16())
    }

    /// `path` on Harbor's API: at `api_base` (the token realm's origin,
    /// which is Harbor's own) or the registry itself.
    fn api_url(&self, api_base: Option<&str>, path: &str) -> Option<Url> {
        let base = match api_base {
            Some(b) => Url::parse(b).ok()?,
            None => self.target().base.clone(),
        };
        base.join(path).ok()
    }

    /// Why the registry refused `username`, for this kind of account and the
    /// way this Harbor signs people in (its anonymous systeminfo, at `api`,
    /// the token service's origin from [`Client::verify`]).
    pub fn why_refused(&self, api: Option<&str>, username: &str, kind: AccountKind) -> Refusal {
        let info = self.system_info(api).unwrap_or_default();
        Refusal {
            renewable: kind == AccountKind::User && info.auth_mode.as_deref() == Some("oidc_auth"),
            why: explain_refusal(&self.target().host, username, kind, &info),
        }
    }

    fn network_error(&self, host: &str, e: &reqwest::Error) -> Error {
        network_error(host, e, &self.skipped)
    }
}

/// A header value that holds a credential: marked sensitive, so reqwest and
/// hyper keep it out of their `Debug` output.
fn sensitive(value: &Secret<String>) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value.expose()).map_err(|_| {
        Error::BadInput("the username or secret holds characters HTTP cannot carry".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn basic(username: &str, secret: &Secret<String>) -> Secret<String> {
    let raw = Secret::new(format!("{username}:{}", secret.expose()));
    crate::secret::base64("Basic ", raw.expose().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_url_keeps_the_service_whatever_the_realm_holds() {
        let o = NetOptions::default();
        let c = Client::connect("https://h.example", &o).unwrap();
        let u = c
            .token_url(
                "https://h.example/service/token?a=1#frag",
                Some("harbor registry&x"),
            )
            .unwrap();
        assert_eq!(
            u.as_str(),
            "https://h.example/service/token?a=1&service=harbor+registry%26x"
        );
        let u = c.token_url("https://h.example/t#only", Some("s")).unwrap();
        assert_eq!(u.as_str(), "https://h.example/t?service=s");
        assert!(c.token_url("/service/token", Some("s")).is_err());
        let e = c.token_url("http://h.example/t", Some("s")).unwrap_err();
        assert!(matches!(e, Error::Policy(_)), "{e:?}");
    }

    #[test]
    fn basic_auth_is_redacted_in_debug() {
        let b = basic("u", &Secret::new("pw".into()));
        assert_eq!(b.expose(), "Basic dTpwdw==");
        let header = sensitive(&b).unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("dTpwdw"), "{header:?}");
        assert!(!format!("{b:?}").contains("dTpwdw"));
    }
}
