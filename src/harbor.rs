//! Talking to a Harbor registry over HTTP(S): verify a secret the way
//! `docker login` does, and read the anonymous `systeminfo` to explain a 401.
//!
//! Only the human commands use this; the protocol path never touches the network.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;

use crate::error::{Error, Result};
use crate::secret::Secret;

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
    /// local registries as insecure, fall back to plain HTTP when TLS fails.
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
}

impl Client {
    pub fn new(target: Target, opts: &Options) -> Result<Client> {
        let mut b = reqwest::blocking::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!(
                "docker-credential-harbor/",
                env!("CARGO_PKG_VERSION")
            ))
            .redirect(reqwest::redirect::Policy::limited(5));
        if let Some(ca) = &opts.ca_file {
            b = b.tls_certs_merge(read_ca(ca)?);
        }
        let http = b
            .build()
            .map_err(|e| Error::Network(format!("cannot set up HTTPS: {}", chain(&e))))?;
        Ok(Client { http, target })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Check `username`/`secret` as `docker login` does: `GET /v2/`, then for a
    /// Bearer challenge the token realm with `service` and no scope (a scope
    /// would let an anonymous caller through); for Basic, `/v2/` with Basic.
    pub fn verify(
        &self,
        username: &str,
        secret: &Secret<String>,
    ) -> Result<(Verdict, Option<String>)> {
        let v2 = format!("{}/v2/", self.target.base);
        let resp = self.send(self.http.get(&v2))?;
        let status = resp.status().as_u16();
        if status == 200 {
            // An open registry accepts anyone; nothing to verify against.
            return Ok((Verdict::Accepted, None));
        }
        if status != 401 {
            return Err(Error::Network(format!(
                "{} answered HTTP {status} at /v2/; is this a container registry?",
                self.target.host
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
                let url = match &service {
                    Some(s) => format!(
                        "{realm}{}service={}",
                        if realm.contains('?') { '&' } else { '?' },
                        encode(s)
                    ),
                    None => realm.clone(),
                };
                let r = self.send(
                    self.http
                        .get(&url)
                        .header(reqwest::header::AUTHORIZATION, auth.expose()),
                )?;
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
                let r = self.send(
                    self.http
                        .get(&v2)
                        .header(reqwest::header::AUTHORIZATION, auth.expose()),
                )?;
                match r.status().as_u16() {
                    200 => Ok((Verdict::Accepted, None)),
                    401 | 403 => Ok((Verdict::Rejected, None)),
                    s => Err(Error::Network(format!(
                        "{} answered HTTP {s} at /v2/ with credentials",
                        self.target.host
                    ))),
                }
            }
        }
    }

    /// Harbor's anonymous `systeminfo`, from `api_base` (the token realm's
    /// origin, which is Harbor's own) or the registry itself. `None` when the
    /// registry is not a Harbor or does not answer.
    pub fn system_info(&self, api_base: Option<&str>) -> Option<SystemInfo> {
        let base = api_base.unwrap_or(&self.target.base);
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

    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Result<reqwest::blocking::Response> {
        req.send().map_err(|e| network_error(&self.target.host, &e))
    }
}

fn read_ca(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).map_err(|e| Error::file("cannot read CA file", path, e))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| Error::Config(format!("{} holds no PEM certificate", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
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
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    Some(format!("{scheme}://{host}"))
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
fn network_error(host: &str, e: &reqwest::Error) -> Error {
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
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        format!(
            "the TLS certificate of {host} is not trusted ({}); if the registry uses a private CA, \
             pass --ca-file CA.pem or set SSL_CERT_FILE",
            short_tls_reason(&lower)
        )
    } else if lower.contains("connection refused") {
        format!("{host} refused the connection; is the registry address and port right?")
    } else if e.is_connect() {
        format!("cannot connect to {host}: {detail}")
    } else {
        format!("request to {host} failed: {detail}")
    };
    Error::Network(msg)
}

fn short_tls_reason(lower: &str) -> &'static str {
    if lower.contains("unknownissuer")
        || lower.contains("unknown issuer")
        || lower.contains("self-signed")
        || lower.contains("self signed")
    {
        "unknown issuer"
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        "issued for another name"
    } else if lower.contains("expired") {
        "expired"
    } else {
        "handshake failed"
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
    fn basic_auth_is_redacted_in_debug() {
        let b = basic("u", &Secret::new("pw".into()));
        assert_eq!(b.expose(), "Basic dTpwdw==");
        assert!(!format!("{b:?}").contains("dTpwdw"));
    }
}
