//! Talking to a Harbor registry over HTTP(S): verify a secret the way
//! `docker login` does, and read the anonymous `systeminfo` to explain a 401.
//!
//! Only the human commands use this; the protocol path never touches the network.
//! Every caller gets docker's ways of reaching a registry: certs.d, a trusted
//! self-signed certificate ([`tls`]) and plain HTTP for a loopback registry.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;

use crate::error::{Error, Result};
use crate::secret::Secret;

mod tls;

/// Harbor's network calls are small; 15 s covers a slow VPN without hanging a shell.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// Where and how to reach a registry.
#[derive(Debug, Clone)]
pub struct Target {
    /// `https://host[:port]` or, for loopback or with `--insecure`, `http://...`.
    pub base: String,
    /// The host[:port] for messages.
    pub host: String,
    /// No scheme was given and the host is loopback: like docker, which treats
    /// local registries as insecure, fall back to plain HTTP when the server
    /// does not speak TLS (never on a certificate error).
    pub http_fallback: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Options {
    pub ca_file: Option<PathBuf>,
    /// Allow `http://` to a non-loopback registry.
    pub insecure: bool,
}

/// The verdict of a credential check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected,
}

/// What the registry's anonymous `systeminfo` tells about authentication.
#[derive(Debug, Default, Clone)]
pub struct SystemInfo {
    pub auth_mode: Option<String>,
    pub oidc_provider_name: Option<String>,
}

/// Turn what the user typed (`hub.k8s.ucar.edu`, `https://h:8443/`, `http://127.0.0.1:5000`)
/// into a target. Plain HTTP only for loopback unless `insecure`.
pub fn target(input: &str, opts: &Options) -> Result<Target> {
    let s = input.trim();
    let lower = s.to_ascii_lowercase();
    let (scheme, rest, explicit) = if let Some(r) = lower.strip_prefix("https://") {
        ("https", r, true)
    } else if let Some(r) = lower.strip_prefix("http://") {
        ("http", r, true)
    } else {
        ("https", lower.as_str(), false)
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("").to_string();
    // Reuse the key normaliser's validation (host syntax, port range).
    crate::registry::normalize(&host)?;
    if scheme == "http" && !opts.insecure && !is_loopback(&host) {
        return Err(Error::Usage(format!(
            "refusing plain http:// to {host}: the secret would cross the network unencrypted; \
             use https://, or pass --insecure if you really mean it"
        )));
    }
    Ok(Target {
        base: format!("{scheme}://{host}"),
        http_fallback: !explicit && is_loopback(&host),
        host,
    })
}

fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

pub struct Client {
    http: reqwest::blocking::Client,
    target: Target,
    /// The same registry over plain HTTP, once it turned out not to speak TLS.
    plain: OnceLock<Target>,
    /// certs.d files that could not be used, for an "unknown CA" error.
    skipped: Vec<String>,
}

impl Client {
    /// Trusts the platform's roots, `opts.ca_file`, `SSL_CERT_FILE` and the
    /// registry's certs.d directories (as docker and podman do).
    pub fn new(target: Target, opts: &Options) -> Result<Client> {
        let (tls, skipped) = tls::client_config(&target.host, opts)?;
        let http = reqwest::blocking::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!(
                "docker-credential-harbor/",
                env!("CARGO_PKG_VERSION")
            ))
            .redirect(reqwest::redirect::Policy::limited(5))
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| Error::Network(format!("cannot set up HTTPS: {}", chain(&e))))?;
        Ok(Client {
            http,
            target,
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
        let request = |base: &str| {
            let r = self.http.get(format!("{base}{path}"));
            match auth {
                Some(a) => r.header(reqwest::header::AUTHORIZATION, a.expose()),
                None => r,
            }
        };
        let t = self.target();
        match request(&t.base).send() {
            Err(e) if t.http_fallback && not_tls(&e) => {
                let plain = self.plain.get_or_init(|| Target {
                    base: format!("http://{}", t.host),
                    host: t.host.clone(),
                    http_fallback: false,
                });
                request(&plain.base)
                    .send()
                    .map_err(|e| self.network_error(&plain.host, &e))
            }
            r => r.map_err(|e| self.network_error(&t.host, &e)),
        }
    }

    /// Check `username`/`secret` as `docker login` does: `GET /v2/`, then for a
    /// Bearer challenge the token realm with `service` and no scope (a scope
    /// would let an anonymous caller through); for Basic, `/v2/` with Basic.
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
            .map(parse_challenge)
            .next()
            .flatten();
        let auth = basic(username, secret);
        match challenge {
            Some(Challenge::Bearer { realm, service }) => {
                if !realm_is_safe(&self.target().base, &realm) {
                    return Err(Error::Network(format!(
                        "{} sends logins to a token service over plain HTTP ({realm}); \
                         refusing to send the secret there unencrypted",
                        self.target().host
                    )));
                }
                let url = match &service {
                    Some(s) => format!(
                        "{realm}{}service={}",
                        if realm.contains('?') { '&' } else { '?' },
                        encode(s)
                    ),
                    None => realm.clone(),
                };
                let r = self
                    .http
                    .get(&url)
                    .header(reqwest::header::AUTHORIZATION, auth.expose())
                    .send()
                    // The token service may live elsewhere: name the host that failed.
                    .map_err(|e| {
                        self.network_error(host_of(&realm).unwrap_or(&self.target().host), &e)
                    })?;
                let api = origin(&realm);
                match r.status().as_u16() {
                    200 => Ok((Verdict::Accepted, api)),
                    401 | 403 => Ok((Verdict::Rejected, api)),
                    s => Err(Error::Network(format!(
                        "the token service at {realm} answered HTTP {s}"
                    ))),
                }
            }
            Some(Challenge::Basic) | None => {
                let r = self.get("/v2/", Some(&auth))?;
                match r.status().as_u16() {
                    200 => Ok((Verdict::Accepted, None)),
                    401 | 403 => Ok((Verdict::Rejected, None)),
                    s => Err(Error::Network(format!(
                        "{} answered HTTP {s} at /v2/ with credentials",
                        self.target().host
                    ))),
                }
            }
        }
    }

    /// Harbor's anonymous `systeminfo`, from `api_base` (the token realm's
    /// origin, which is Harbor's own) or the registry itself. `None` when the
    /// registry is not a Harbor or does not answer.
    pub fn system_info(&self, api_base: Option<&str>) -> Option<SystemInfo> {
        let base = api_base.unwrap_or(&self.target().base);
        let url = format!("{}/api/v2.0/systeminfo", base.trim_end_matches('/'));
        let resp = self
            .http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let v: serde_json::Value = resp.json().ok()?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Some(SystemInfo {
            auth_mode: text("auth_mode"),
            oidc_provider_name: text("oidc_provider_name"),
        })
    }

    fn network_error(&self, host: &str, e: &reqwest::Error) -> Error {
        network_error(host, e, &self.skipped)
    }
}

fn basic(username: &str, secret: &Secret<String>) -> Secret<String> {
    let raw = Secret::new(format!("{username}:{}", secret.expose()));
    Secret::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw.expose())
    ))
}

#[derive(Debug, PartialEq)]
enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
    },
    Basic,
}

/// Parse one `WWW-Authenticate` value.
fn parse_challenge(h: &str) -> Option<Challenge> {
    let (scheme, params) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    for (k, v) in auth_params(params) {
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

/// `k="v",k2=v2` pairs; quoted values may hold commas.
fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let key = k.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (val, remain) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (q[..end].to_string(), q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.push((key, val));
        rest = remain.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// Percent-encode a query value (RFC 3986 unreserved characters pass).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn origin(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once("://")?;
    Some(format!("{scheme}://{}", host_of(url)?))
}

/// Whether Basic credentials may go to this token service: over HTTPS, or
/// where the registry itself is plain HTTP (loopback, or `--insecure`), or to
/// this machine. A registry reached over HTTPS must not be able to send the
/// secret across the network in clear.
fn realm_is_safe(registry_base: &str, realm: &str) -> bool {
    let realm = realm.to_ascii_lowercase();
    realm.starts_with("https://")
        || registry_base.starts_with("http://")
        || (realm.starts_with("http://") && host_of(&realm).is_some_and(is_loopback))
}

/// The `host[:port]` of an absolute URL.
fn host_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())
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

/// One clear line for each way the network can fail.
fn network_error(host: &str, e: &reqwest::Error, skipped: &[String]) -> Error {
    let detail = chain(e);
    let lower = detail.to_ascii_lowercase();
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
    } else if let Some(t) = tls_error(e) {
        let mut m = tls_message(host, t, now());
        let untrusted = matches!(
            t,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ) || tls::is_ca_used_as_end_entity(t);
        if untrusted && !skipped.is_empty() {
            m.push_str(&format!("; passed over {}", skipped.join(", ")));
        }
        m
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
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
                let at = not_after.as_secs() as i64;
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
                let at = not_before.as_secs() as i64;
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
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn plain_http_only_for_loopback() {
        let o = Options::default();
        assert_eq!(
            target("http://127.0.0.1:5000", &o).unwrap().base,
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            target("http://localhost:5000/", &o).unwrap().base,
            "http://localhost:5000"
        );
        assert_eq!(
            target("http://[::1]:5000", &o).unwrap().base,
            "http://[::1]:5000"
        );
        assert!(target("http://hub.k8s.ucar.edu", &o).is_err());
        let insecure = Options {
            insecure: true,
            ..Options::default()
        };
        assert!(target("http://hub.k8s.ucar.edu", &insecure).is_ok());
        assert_eq!(
            target("hub.k8s.ucar.edu", &o).unwrap().base,
            "https://hub.k8s.ucar.edu"
        );
    }

    #[test]
    fn http_fallback_only_for_loopback_without_scheme() {
        let o = Options::default();
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
        assert_eq!(
            target("127.0.0.1:5000", &o).unwrap().base,
            "https://127.0.0.1:5000"
        );
    }

    #[test]
    fn secrets_go_to_a_plain_http_token_service_only_where_allowed() {
        assert!(realm_is_safe("https://h", "https://h/service/token"));
        assert!(realm_is_safe("https://h", "HTTPS://other/service/token"));
        assert!(realm_is_safe(
            "https://h",
            "http://127.0.0.1:8080/service/token"
        ));
        assert!(realm_is_safe("https://h", "http://localhost/service/token"));
        // Plain HTTP already (loopback, or --insecure): nothing more to lose.
        assert!(realm_is_safe("http://h", "http://h/service/token"));
        assert!(!realm_is_safe("https://h", "http://h/service/token"));
        assert!(!realm_is_safe(
            "https://127.0.0.1:5000",
            "http://evil.example/t"
        ));
        assert!(!realm_is_safe("https://h", "ftp://h/t"));
        assert!(!realm_is_safe("https://h", "/service/token"));
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
        assert!(!format!("{b:?}").contains("dTpwdw"));
    }
}
