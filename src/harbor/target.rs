//! Where a registry is reached and over what: the target built from the
//! registry's one parsed identity, the plain-HTTP rule, and the proxies.

use std::net::IpAddr;

use reqwest::Url;

use crate::error::{Error, Result};
use crate::registry;
use crate::registry::NetOptions;

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

pub(super) fn target_of(r: &registry::Registry, opts: &NetOptions) -> Result<Target> {
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
pub(super) fn host_port(url: &Url) -> Option<String> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// Loopback by its name alone (`localhost`, 127.0.0.0/8, `::1`): a name that
/// merely resolves to 127.0.0.1 today may resolve elsewhere tomorrow.
pub(super) fn is_loopback(url: &Url) -> bool {
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
pub(super) fn plain_http_allowed(registry: &Url, to: &Url, opts: &NetOptions) -> bool {
    opts.insecure || (is_loopback(registry) && is_loopback(to))
}

/// An error unless a secret may go to `to` for the registry at `registry`.
pub(super) fn refuse_plain_http(
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
pub(super) fn plain_http_refusal(registry: &Url, to: &Url, registry_host: &str) -> String {
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
pub(super) struct RefusedRedirect(pub(super) String);

impl std::fmt::Display for RefusedRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedRedirect {}

/// Proxies as docker's Go client takes them: `HTTPS_PROXY` for https,
/// `HTTP_PROXY` for http (either case), hosts in `NO_PROXY` reached directly,
/// and loopback never proxied, whatever `NO_PROXY` says.
pub(super) fn env_proxies() -> Result<Vec<reqwest::Proxy>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
