//! Talking to a Harbor registry over HTTP(S): verify a secret the way
//! `docker login` does, and read the anonymous `systeminfo` to explain a 401.
//!
//! The human commands and the detached background check use this; the
//! protocol actions themselves never touch the network. Every caller gets
//! docker's ways of reaching a registry: certs.d, a trusted self-signed
//! certificate ([`tls`]), plain HTTP between loopback ends (or with
//! `--insecure`), and the proxy variables for every other host.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;

use crate::error::{Error, Result};
use crate::index::{AccountKind, NetOptions, Verdict};
use crate::registry;
use crate::secret::Secret;

mod explain;
mod tls;

pub use explain::explain_refusal;

/// Harbor's network calls are small; 15 s covers a slow VPN without hanging a shell.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Redirects followed at most, as docker's Go client allows ten.
const MAX_REDIRECTS: usize = 5;

/// Where and how to reach a registry.
#[derive(Debug, Clone)]
pub struct Target {
    /// `https://host[:port]/`, or `http://...` where plain HTTP is allowed.
    pub base: Url,
    /// The host[:port] for messages and certs.d.
    pub host: String,
    /// No scheme was given and the host is loopback: like docker, which treats
    /// local registries as insecure, fall back to plain HTTP when the server
    /// does not speak TLS (never on a certificate error).
    pub http_fallback: bool,
}

impl Target {
    /// `scheme://host[:port]`, without the trailing slash.
    pub fn origin(&self) -> String {
        self.base.origin().ascii_serialization()
    }
}

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

/// Turn what the user typed (`hub.k8s.ucar.edu`, `https://h:8443/`, `http://127.0.0.1:5000`)
/// into a target. Plain HTTP only where [`plain_http_allowed`] says so.
///
/// The address goes through [`registry::parse`], the one parser of a
/// registry's identity, and the target is built from what it found: a client
/// connects to the host the key names, whatever else the text held.
pub fn target(input: &str, opts: &NetOptions) -> Result<Target> {
    target_of(&registry::parse(input)?, opts)
}

/// The target of a stored login: `address` as it was given (scheme and all),
/// which must name `key`. An address of another registry (an index written
/// by hand, or by an older parser) is refused: the secret kept under `key`
/// goes to `key`'s host only.
pub fn target_for_key(key: &str, address: Option<&str>, opts: &NetOptions) -> Result<Target> {
    let r = registry::parse(address.unwrap_or(key))?;
    if r.key != key {
        return Err(Error::InvalidRegistry(
            address.unwrap_or(key).to_string(),
            "the address recorded for this login names another registry; log in again",
        ));
    }
    target_of(&r, opts)
}

fn target_of(r: &registry::Registry, opts: &NetOptions) -> Result<Target> {
    let scheme = r.scheme.unwrap_or(registry::Scheme::Https).as_str();
    let bad = |why| Error::InvalidRegistry(r.host.clone(), why);
    let base = Url::parse(&format!("{scheme}://{}/", r.host))
        .map_err(|_| bad("not a registry address"))?;
    // The URL parser must read the same host back; anything else is refused
    // rather than sent somewhere the key does not name.
    let host = host_port(&base).ok_or_else(|| bad("no host name"))?;
    if registry::parse(&host).ok().map(|p| p.host).as_deref() != Some(r.host.as_str()) {
        return Err(bad("the address does not name one host"));
    }
    refuse_plain_http(&base, &base, &host, opts)?;
    Ok(Target {
        http_fallback: r.scheme.is_none() && is_loopback(&base),
        base,
        host,
    })
}

/// `host[:port]` of a URL, the port left out where it is the scheme's own.
fn host_port(url: &Url) -> Option<String> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// Loopback by its name alone (`localhost`, 127.0.0.0/8, `::1`): a name that
/// merely resolves to 127.0.0.1 today may resolve elsewhere tomorrow.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The one rule for plain HTTP, for the registry, its token service and
/// anything either redirects to: only between this machine and itself
/// (the registry and `to` both loopback), or where the user said `--insecure`.
fn plain_http_allowed(registry: &Url, to: &Url, opts: &NetOptions) -> bool {
    opts.insecure || (is_loopback(registry) && is_loopback(to))
}

/// An error unless a secret may go to `to` for the registry at `registry`.
fn refuse_plain_http(
    registry: &Url,
    to: &Url,
    registry_host: &str,
    opts: &NetOptions,
) -> Result<()> {
    match to.scheme() {
        "https" => Ok(()),
        "http" if plain_http_allowed(registry, to, opts) => Ok(()),
        _ => Err(Error::Policy(plain_http_refusal(
            registry,
            to,
            registry_host,
        ))),
    }
}

/// Names the host refused, the registry that sent us there, and the flag.
fn plain_http_refusal(registry: &Url, to: &Url, registry_host: &str) -> String {
    let to_host = host_port(to).unwrap_or_else(|| to.as_str().to_string());
    let whose = if to_host == registry_host {
        String::new()
    } else {
        format!(" (where {registry_host} sends us)")
    };
    let scheme = to.scheme();
    let why = if scheme == "http" && is_loopback(registry) {
        "plain HTTP stays on this machine only when both ends are loopback"
    } else {
        "the secret would cross the network unencrypted"
    };
    format!(
        "refusing {scheme}:// to {to_host}{whose}: {why}; use https://, or pass --insecure for {registry_host} if you really mean it"
    )
}

/// A redirect this tool refused to follow (plain HTTP, or too many).
#[derive(Debug)]
struct RefusedRedirect(String);

impl std::fmt::Display for RefusedRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedRedirect {}

/// Proxies as docker's Go client takes them: `HTTPS_PROXY` for https,
/// `HTTP_PROXY` for http (either case), hosts in `NO_PROXY` reached directly,
/// and loopback never proxied, whatever `NO_PROXY` says.
fn env_proxies() -> Result<Vec<reqwest::Proxy>> {
    fn var(names: [&str; 2]) -> Option<(&str, String)> {
        names.iter().find_map(|n| {
            std::env::var(n)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(|v| (*n, v))
        })
    }
    let direct = match var(["NO_PROXY", "no_proxy"]) {
        Some((_, list)) => format!("localhost,127.0.0.0/8,::1,{list}"),
        None => "localhost,127.0.0.0/8,::1".to_string(),
    };
    let mut proxies = Vec::new();
    for (names, https) in [
        (["HTTP_PROXY", "http_proxy"], false),
        (["HTTPS_PROXY", "https_proxy"], true),
    ] {
        let Some((name, v)) = var(names) else {
            continue;
        };
        let text = if v.contains("://") {
            v
        } else {
            format!("http://{v}")
        };
        // The value may hold proxy credentials: never repeat it.
        let bad = || {
            Error::Config(format!(
                "{name} is not a proxy address (expected http://HOST:PORT)"
            ))
        };
        let url = Url::parse(&text).map_err(|_| bad())?;
        let proxy = if https {
            reqwest::Proxy::https(url)
        } else {
            reqwest::Proxy::http(url)
        }
        .map_err(|_| bad())?;
        proxies.push(proxy.no_proxy(reqwest::NoProxy::from_string(&direct)));
    }
    Ok(proxies)
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
    /// The verdict is `Accepted` or `Refused`; a check that could not be made
    /// is an error, which [`crate::check::verdict_of`] turns into
    /// `Unreachable` or `Blocked`.
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
                    401 | 403 => Ok((Verdict::Refused, api)),
                    s => Err(Error::Network(format!(
                        "the token service at {realm_host} answered HTTP {s}"
                    ))),
                }
            }
            Some(Challenge::Basic) | None => {
                let r = self.get("/v2/", Some(&auth))?;
                match r.status().as_u16() {
                    200 => Ok((Verdict::Accepted, None)),
                    401 | 403 => Ok((Verdict::Refused, None)),
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
        let base = match api_base {
            Some(b) => Url::parse(b).ok()?,
            None => self.target().base.clone(),
        };
        let resp = self
            .http
            .get(base.join("/api/v2.0/systeminfo").ok()?)
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

#[derive(Debug, PartialEq)]
enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
    },
    Basic,
}

/// Parse one `WWW-Authenticate` value (RFC 7235: a scheme, then `k=v`
/// auth-params whose values are tokens or quoted strings with `\` escapes).
fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, params) = h
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((h, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    for (k, v) in auth_params(params)? {
        match k.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(v),
            "service" => service = Some(v),
            _ => {}
        }
    }
    Some(Challenge::Bearer {
        realm: realm?,
        service,
    })
}

/// `k="v", k2=v2` pairs; `None` when the list is malformed (an unterminated
/// quote, a key without `=`).
fn auth_params(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_whitespace() || *c == ',')
        {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_ascii_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(char::is_ascii_whitespace) {
            chars.next();
        }
        if chars.next() != Some('=') || key.is_empty() {
            return None;
        }
        while chars.peek().is_some_and(char::is_ascii_whitespace) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_ascii_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key, value));
    }
}

/// Flatten an error and its sources into one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// One clear line for each way the network can fail. A certificate this tool
/// does not trust, or a redirect it will not follow, is a refusal by policy:
/// the registry answered, and the fix is the user's, not the network's.
fn network_error(host: &str, e: &reqwest::Error, skipped: &[String]) -> Error {
    if let Some(r) = causes(e).find_map(|c| c.downcast_ref::<RefusedRedirect>()) {
        return Error::Policy(r.0.clone());
    }
    let detail = chain(e);
    let lower = detail.to_ascii_lowercase();
    if let Some(t) = tls_error(e) {
        let mut m = tls_message(host, t, now());
        let untrusted = matches!(
            t,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ) || tls::is_ca_used_as_end_entity(t);
        if untrusted && !skipped.is_empty() {
            m.push_str("; passed over ");
            m.push_str(&skipped.join(", "));
        }
        return Error::Policy(m);
    }
    let msg = if e.is_timeout() || lower.contains("timed out") {
        format!(
            "{host} did not answer within {} s; check the address, VPN or proxy",
            TIMEOUT.as_secs()
        )
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        format!("cannot resolve the host name of {host}; check the spelling and your DNS or VPN")
    } else if lower.contains("connection refused") {
        format!("{host} refused the connection; is the registry address and port right?")
    } else if e.is_connect() {
        format!("cannot connect to {host}: {detail}")
    } else {
        format!("request to {host} failed: {detail}")
    };
    Error::Network(msg)
}

fn now() -> i64 {
    crate::index::now()
}

/// `e` and the errors under it. `io::Error::source()` skips the error an
/// `io::Error` wraps (tokio-rustls wraps rustls's in one, hyper-util that in
/// another), so look inside those instead.
fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |c| {
        match c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => c.source(),
        }
    })
}

/// The rustls error somewhere in `e`'s chain.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    causes(e).find_map(|c| c.downcast_ref::<rustls::Error>())
}

/// The connection failed in a way that shows the server does not speak TLS:
/// it answered the TLS hello with something else (a plain-HTTP server sends
/// "HTTP/1.1 400"), or hung up on it. Certificate trouble means it does speak TLS.
fn not_tls(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind::*;
    if let Some(t) = tls_error(e) {
        return matches!(t, rustls::Error::InvalidMessage(_));
    }
    e.is_connect()
        && causes(e).any(|c| {
            c.downcast_ref::<std::io::Error>().is_some_and(|io| {
                matches!(
                    io.kind(),
                    UnexpectedEof | ConnectionReset | ConnectionAborted
                )
            })
        })
}

/// webpki lists a certificate's names as `DnsName("h")` and `IpAddress(1.2.3.4)`;
/// other kinds (URIs, directory names) say nothing about a host name.
fn readable_name(n: &str) -> Option<String> {
    if let Some(dns) = n.strip_prefix("DnsName(\"") {
        return dns.strip_suffix("\")").map(str::to_string);
    }
    if let Some(ip) = n.strip_prefix("IpAddress(") {
        return ip.strip_suffix(')').map(str::to_string);
    }
    // rustls's own verifier already gives plain names.
    (!n.contains('(')).then(|| n.to_string())
}

/// Where to point someone whose registry has a private CA or a self-signed certificate.
fn ca_hint(host: &str, what: &str) -> String {
    if cfg!(unix) {
        format!(
            "pass --ca-file {what}.pem, or put it in /etc/docker/certs.d/{host}/ca.crt \
             (docker and podman read it there too)"
        )
    } else {
        format!("pass --ca-file {what}.pem or set SSL_CERT_FILE")
    }
}

/// What is wrong with the TLS connection, in words: a name problem names the
/// names (and never suggests a CA), an expired certificate says when.
fn tls_message(host: &str, e: &rustls::Error, now: i64) -> String {
    use rustls::CertificateError as C;
    let cert = format!("the TLS certificate of {host}");
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::NotValidForNameContext {
                expected,
                presented,
            } => {
                let expected = expected.to_str();
                let presented: Vec<String> =
                    presented.iter().filter_map(|n| readable_name(n)).collect();
                let names = match presented.as_slice() {
                    [] => "no name at all (it has no subjectAltName)".to_string(),
                    [one] => one.clone(),
                    [init @ .., last] => format!("{} and {last}", init.join(", ")),
                };
                format!(
                    "{cert} is for {names}, not for {expected}; connect with a name it holds, \
                     or have the certificate reissued to include {expected}"
                )
            }
            C::NotValidForName => format!(
                "{cert} is issued for other names than {host}; connect with a name it holds, \
                 or have the certificate reissued"
            ),
            C::ExpiredContext { not_after, .. } => {
                let at = i64::try_from(not_after.as_secs()).unwrap_or(i64::MAX);
                format!(
                    "{cert} expired on {} ({}); the registry's administrator must renew it",
                    tls::utc(at),
                    crate::notice::ago(now - at)
                )
            }
            C::Expired => {
                format!("{cert} has expired; the registry's administrator must renew it")
            }
            C::NotValidYetContext { not_before, .. } => {
                let at = i64::try_from(not_before.as_secs()).unwrap_or(i64::MAX);
                format!(
                    "{cert} is not valid before {} ({}); check this computer's clock",
                    tls::utc(at),
                    crate::notice::within(at - now)
                )
            }
            C::NotValidYet => format!("{cert} is not valid yet; check this computer's clock"),
            C::UnknownIssuer => format!(
                "{cert} is not trusted: it is signed by an unknown CA; if the registry uses a private CA, {}",
                ca_hint(host, "CA")
            ),
            _ if tls::is_ca_used_as_end_entity(e) => format!(
                "{cert} is not trusted: it is self-signed (a CA certificate used as the server's own); \
                 if it is the registry's certificate, {}",
                ca_hint(host, "CERT")
            ),
            other => format!("{cert} was refused: {other}"),
        },
        rustls::Error::InvalidMessage(_) => format!(
            "{host} does not speak TLS (HTTPS) on that port; for a plain-HTTP registry use http://{host} \
             (for one that is not on this machine, with --insecure)"
        ),
        other => format!("TLS with {host} failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge(r#"Bearer realm="https://h/service/token",service="harbor-registry""#),
            Some(Challenge::Bearer {
                realm: "https://h/service/token".into(),
                service: Some("harbor-registry".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="harbor""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(r#"bearer service="a,b", realm=http://x/t"#),
            Some(Challenge::Bearer {
                realm: "http://x/t".into(),
                service: Some("a,b".into())
            })
        );
        // Quoted strings keep what a backslash escapes (RFC 7230 quoted-pair).
        assert_eq!(
            parse_challenge(r#"Bearer realm="https://h/t",service="a\"b\\c",scope="x""#),
            Some(Challenge::Bearer {
                realm: "https://h/t".into(),
                service: Some(r#"a"b\c"#.into())
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(r#"Bearer realm="https://h/t"#), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

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

    fn base(input: &str, o: &NetOptions) -> String {
        target(input, o).unwrap().base.to_string()
    }

    #[test]
    fn plain_http_only_for_loopback() {
        let o = NetOptions::default();
        assert_eq!(base("http://127.0.0.1:5000", &o), "http://127.0.0.1:5000/");
        assert_eq!(base("http://localhost:5000/", &o), "http://localhost:5000/");
        assert_eq!(base("http://[::1]:5000", &o), "http://[::1]:5000/");
        let e = target("http://hub.k8s.ucar.edu", &o).unwrap_err();
        assert!(matches!(e, Error::Policy(_)), "{e:?}");
        let m = e.to_string();
        assert!(
            m.contains("hub.k8s.ucar.edu") && m.contains("--insecure"),
            "{m}"
        );
        let insecure = NetOptions {
            insecure: true,
            ..NetOptions::default()
        };
        assert!(target("http://hub.k8s.ucar.edu", &insecure).is_ok());
        assert_eq!(base("hub.k8s.ucar.edu", &o), "https://hub.k8s.ucar.edu/");
        // A path, query, fragment or user part never reaches the base.
        assert_eq!(
            base("https://u:p@h.example:8443/x?y#z", &o),
            "https://h.example:8443/"
        );
        assert!(target("ftp://h.example", &o).is_err());
        assert!(target("https://", &o).is_err());
    }

    #[test]
    fn http_fallback_only_for_loopback_without_scheme() {
        let o = NetOptions::default();
        let fallback = |s: &str| target(s, &o).unwrap().http_fallback;
        assert!(fallback("127.0.0.1:5000"));
        assert!(fallback("127.1.2.3:5000"));
        assert!(fallback("localhost:5000"));
        assert!(fallback("LOCALHOST"));
        assert!(fallback("[::1]:5000"));
        assert!(!fallback("https://127.0.0.1:5000"));
        assert!(!fallback("http://127.0.0.1:5000"));
        assert!(!fallback("192.0.2.10:5000"));
        assert!(!fallback("hub.k8s.ucar.edu"));
        assert!(!fallback("localhost.example.org"));
        assert_eq!(base("127.0.0.1:5000", &o), "https://127.0.0.1:5000/");
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn plain_http_goes_only_between_loopback_ends_or_with_insecure() {
        let o = NetOptions::default();
        let allowed =
            |registry: &str, to: &str| refuse_plain_http(&url(registry), &url(to), "r", &o).is_ok();
        assert!(allowed("https://h", "https://h/service/token"));
        assert!(allowed("https://h", "https://other/service/token"));
        assert!(allowed("http://127.0.0.1:5000", "http://127.0.0.1:8080/t"));
        assert!(allowed("http://localhost:5000", "http://[::1]:8080/t"));
        // One end on the network: never in clear without --insecure, whatever
        // the other end is (the finding: a loopback registry sending the
        // secret to a plain-HTTP token service elsewhere).
        assert!(!allowed(
            "http://127.0.0.1:5000",
            "http://tokens.example.test/t"
        ));
        assert!(!allowed("https://127.0.0.1:5000", "http://evil.example/t"));
        assert!(!allowed("https://h", "http://127.0.0.1:8080/t"));
        assert!(!allowed("https://h", "http://h/service/token"));
        assert!(!allowed("https://h", "ftp://h/t"));
        // A name that happens to resolve to 127.0.0.1 is not loopback.
        assert!(!allowed(
            "http://127.0.0.1:5000",
            "http://localhost.example.test/t"
        ));
        let insecure = NetOptions {
            insecure: true,
            ..NetOptions::default()
        };
        assert!(
            refuse_plain_http(
                &url("http://h"),
                &url("http://tokens.example.test/t"),
                "h",
                &insecure
            )
            .is_ok()
        );
        let m = refuse_plain_http(
            &url("http://127.0.0.1:5000"),
            &url("http://tokens.example.test:8080/t"),
            "127.0.0.1:5000",
            &o,
        )
        .unwrap_err()
        .to_string();
        assert!(
            m.contains("tokens.example.test:8080")
                && m.contains("127.0.0.1:5000")
                && m.contains("--insecure"),
            "{m}"
        );
    }

    #[test]
    fn tls_messages_say_what_is_wrong() {
        use rustls::CertificateError as C;
        use rustls::pki_types::{ServerName, UnixTime};
        let cert = |c: C| rustls::Error::InvalidCertificate(c);
        let at = |s: u64| UnixTime::since_unix_epoch(Duration::from_secs(s));
        let now = 1_609_459_200 + 3 * 86_400; // 2021-01-04

        let m = tls_message(
            "127.0.0.1:5000",
            &cert(C::NotValidForNameContext {
                expected: ServerName::try_from("127.0.0.1").unwrap(),
                presented: vec![
                    r#"DnsName("registry.example.test")"#.into(),
                    "IpAddress(10.0.0.1)".into(),
                    "UniformResourceIdentifier(\"spiffe://x\")".into(),
                ],
            }),
            now,
        );
        assert!(
            m.contains("is for registry.example.test and 10.0.0.1, not for 127.0.0.1"),
            "{m}"
        );
        assert!(!m.contains("--ca-file") && !m.contains("certs.d"), "{m}");

        let m = tls_message("h", &cert(C::NotValidForName), now);
        assert!(!m.contains("--ca-file") && !m.contains("certs.d"), "{m}");

        let m = tls_message(
            "h",
            &cert(C::ExpiredContext {
                time: at(now as u64),
                not_after: at(1_609_459_200),
            }),
            now,
        );
        assert!(
            m.contains("expired on 2021-01-01 00:00 UTC (3 days ago)"),
            "{m}"
        );
        assert!(!m.contains("--ca-file"), "{m}");

        let m = tls_message("h:8443", &cert(C::UnknownIssuer), now);
        assert!(m.contains("not trusted") && m.contains("unknown CA"), "{m}");
        assert!(m.contains("--ca-file CA.pem"), "{m}");
        if cfg!(unix) {
            assert!(m.contains("/etc/docker/certs.d/h:8443/ca.crt"), "{m}");
        }

        let ca_as_leaf = cert(C::Other(rustls::OtherError(std::sync::Arc::new(
            webpki::Error::CaUsedAsEndEntity,
        ))));
        let m = tls_message("h", &ca_as_leaf, now);
        assert!(
            m.contains("self-signed") && m.contains("--ca-file CERT.pem"),
            "{m}"
        );

        let m = tls_message(
            "h:80",
            &rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
            now,
        );
        assert!(
            m.contains("does not speak TLS") && m.contains("http://h:80"),
            "{m}"
        );
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
