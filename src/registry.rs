//! Turning what clients send into one key per registry.
//!
//! docker sends `hub.k8s.ucar.edu` for a pull but `https://hub.k8s.ucar.edu/`
//! after `docker login https://hub.k8s.ucar.edu/`; `docker logout` erases four
//! spellings; podman sends `host[:port]`. All of them must land on one keychain
//! entry, so every protocol call goes through [`normalize`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The key Docker Hub has always used; podman's `docker.io` maps onto it.
pub const DOCKER_HUB: &str = "https://index.docker.io/v1/";

const DOCKER_HUB_HOSTS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// The longest key accepted (DNS names are at most 253 bytes, plus a port).
const MAX_KEY: usize = 300;

/// Normalize a server address into its key: lower-case `host[:port]` with no
/// scheme, user info, path, or default port. Docker Hub becomes [`DOCKER_HUB`]
/// unless a path other than `/v1/` names a different entry (Docker Desktop
/// keeps `.../access-token` style entries apart).
pub fn normalize(input: &str) -> Result<String> {
    parse(input).map(|r| r.key)
}

/// A registry's one identity, parsed once from what a client or user gave:
/// the key its secret is kept under, and what a connection to it needs. The
/// network code connects to `host` and nowhere else, so the secret can only
/// go to the host its key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// The keychain and index key (see [`normalize`]).
    pub key: String,
    /// The canonical `host[:port]` to connect to: the key without Docker
    /// Hub's path. IP literals are in their one spelling (`127.0.0.1`, `[::1]`).
    pub host: String,
    /// The scheme the address named, if it named one.
    pub scheme: Option<Scheme>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Parse a server address into its [`Registry`]. The authority ends at the
/// first `/`, `?`, `#` or `\` (URL parsers read a backslash as a slash, so
/// `http://a\@b` names `a` here exactly as it does on the wire).
pub fn parse(input: &str) -> Result<Registry> {
    let invalid = |why| Error::InvalidRegistry(truncate(input), why);
    let s = input.trim();
    if s.is_empty() {
        return Err(Error::MissingServerUrl);
    }
    if s.len() > MAX_KEY * 4 {
        return Err(invalid("too long"));
    }
    let lower = s.to_ascii_lowercase();
    let (scheme, rest) = if let Some(r) = lower.strip_prefix("https://") {
        (Some(Scheme::Https), r)
    } else if let Some(r) = lower.strip_prefix("http://") {
        (Some(Scheme::Http), r)
    } else if lower.contains("://") {
        return Err(invalid(
            "only http:// and https:// addresses are registries",
        ));
    } else {
        (None, lower.as_str())
    };
    let (authority, path) = match rest.find(['/', '?', '#', '\\']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    // Drop user info ("user@host"): it is never part of the registry's identity.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) =
        split_host_port(authority).ok_or_else(|| invalid("malformed host or port"))?;
    let host = canonical_host(host).map_err(invalid)?;
    let port = port_of(port).map_err(invalid)?;
    let host = match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    };
    if host.len() > MAX_KEY {
        return Err(invalid("too long"));
    }
    let key = if DOCKER_HUB_HOSTS.contains(&host.as_str()) {
        docker_hub_key(path).map_err(invalid)?
    } else {
        host.clone()
    };
    if key.len() > MAX_KEY {
        return Err(invalid("too long"));
    }
    let host = if key.starts_with(DOCKER_HUB) || key.starts_with("https://index.docker.io/") {
        "index.docker.io".to_string()
    } else {
        host
    };
    Ok(Registry { key, host, scheme })
}

/// The port that is part of a registry's identity: none for 443.
fn port_of(port: Option<&str>) -> std::result::Result<Option<u16>, &'static str> {
    const NOT_A_PORT: &str = "port is not a number from 1 to 65535";
    match port {
        None => Ok(None),
        Some("") => Err("empty port"),
        Some(p) => match p.parse::<u16>().map_err(|_| NOT_A_PORT)? {
            0 => Err(NOT_A_PORT),
            // Registries default to TLS on 443, so `:443` names the same
            // registry as no port, however it was spelled. Any other port
            // stays, 80 included: the key is host[:port] without a scheme,
            // and `h` alone would mean 443 (this keeps normalize idempotent).
            443 => Ok(None),
            n => Ok(Some(n)),
        },
    }
}

/// Docker Hub's key for `path` on one of its hosts.
fn docker_hub_key(path: &str) -> std::result::Result<String, &'static str> {
    let p = path.trim_end_matches('/');
    if p.is_empty() || p == "/v1" {
        Ok(DOCKER_HUB.to_string())
    } else if path
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._/-".contains(&b))
    {
        Ok(format!("https://index.docker.io{path}"))
    } else {
        // The path is part of this key and is printed: no control bytes,
        // no query or fragment, nothing a terminal would act on.
        Err("a Docker Hub path may hold only a-z, 0-9, '.', '_', '/' and '-'")
    }
}

/// Why `0.0.0.0` and `::` are no registry.
const UNSPECIFIED: &str = "0.0.0.0 and :: are addresses a server listens on, not one to connect to; \
                           name the registry's host or address (127.0.0.1 for this machine)";

/// The host in its one spelling: IP literals canonical (so `127.1`,
/// `0x7f000001`, `[::ffff:127.0.0.1]` and `127.0.0.1` are one registry, as
/// they reach one listener), names validated. The unspecified address is
/// refused: a connection to it reaches this machine under a third key.
fn canonical_host(host: &str) -> std::result::Result<String, &'static str> {
    if host.is_empty() {
        return Err("no host name");
    }
    let ip = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let v6 = inner
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| "malformed IPv6 address")?;
        // An IPv4-mapped address is the IPv4 address on the wire.
        match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => std::net::IpAddr::V6(v6),
        }
    } else if let Some(v4) = ipv4_literal(host)? {
        std::net::IpAddr::V4(v4)
    } else {
        validate_host(host)?;
        return Ok(host.to_string());
    };
    match ip {
        _ if ip.is_unspecified() => Err(UNSPECIFIED),
        std::net::IpAddr::V4(v4) => Ok(v4.to_string()),
        std::net::IpAddr::V6(v6) => Ok(format!("[{v6}]")),
    }
}

/// An IPv4 address in any spelling the WHATWG URL standard (and so reqwest)
/// accepts: one to four parts, each decimal, `0x` hex or `0` octal, the last
/// filling the remaining bytes. `None` where the last label is not a number,
/// so the host is a name.
fn ipv4_literal(host: &str) -> std::result::Result<Option<std::net::Ipv4Addr>, &'static str> {
    let bad = "malformed IPv4 address";
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = trimmed.split('.').collect();
    let number = |p: &str| -> Option<u64> {
        if p.is_empty() {
            return None;
        }
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x") {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (p, 10)
        };
        if digits.is_empty() {
            return Some(0);
        }
        if digits.len() > 12 {
            return Some(u64::MAX);
        }
        u64::from_str_radix(digits, radix).ok()
    };
    let last = parts.last().copied().unwrap_or("");
    let looks_numeric = !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || last
                .strip_prefix("0x")
                .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())));
    if !looks_numeric {
        return Ok(None);
    }
    if parts.len() > 4 {
        return Err(bad);
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        nums.push(number(p).ok_or(bad)?);
    }
    let (last, init) = nums.split_last().ok_or(bad)?;
    if init.iter().any(|&n| n > 255) {
        return Err(bad);
    }
    let room = 4 - init.len();
    if *last >= 1u64 << (8 * room) {
        return Err(bad);
    }
    let mut value = *last;
    for (i, &n) in init.iter().enumerate() {
        value += n << (8 * (3 - i));
    }
    Ok(Some(std::net::Ipv4Addr::from(
        u32::try_from(value).map_err(|_| bad)?,
    )))
}

fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        // IPv6 literal: keep the brackets, they are part of the host[:port] form.
        let end = rest.find(']')?;
        let host = &authority[..end + 2];
        let after = &rest[end + 1..];
        return match after.strip_prefix(':') {
            Some(p) => Some((host, Some(p))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match authority.split_once(':') {
        Some((h, p)) if !p.contains(':') => Some((h, Some(p))),
        Some(_) => None,
        None => Some((authority, None)),
    }
}

fn validate_host(host: &str) -> std::result::Result<(), &'static str> {
    if host.len() > 253 {
        return Err("host name too long");
    }
    for label in host.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("malformed host name");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("host name has characters a registry name cannot have");
        }
    }
    Ok(())
}

/// Quote at most a short prefix of bad input in messages.
fn truncate(input: &str) -> String {
    let t: String = input.trim().chars().take(80).collect();
    if t.len() < input.trim().len() {
        format!("{t}…")
    } else {
        t
    }
}

/// The non-secret options that decide how a registry is reached: given to
/// `login` and remembered for the background check, `status --check` and `renew`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetOptions {
    /// PEM file with the CA (or the self-signed certificate) to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Plain `http://` allowed to this registry and its token service.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

impl NetOptions {
    pub fn is_default(&self) -> bool {
        *self == NetOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_one_registry_is_one_key() {
        for s in [
            "hub.k8s.ucar.edu",
            "https://hub.k8s.ucar.edu",
            "https://hub.k8s.ucar.edu/",
            "http://hub.k8s.ucar.edu",
            "HUB.K8S.UCAR.EDU",
            "Https://Hub.K8s.Ucar.Edu/v2/",
            "hub.k8s.ucar.edu/project/repo:tag",
            "hub.k8s.ucar.edu:443",
            "https://hub.k8s.ucar.edu:443/",
            "  hub.k8s.ucar.edu\n",
            "https://user@hub.k8s.ucar.edu/",
        ] {
            assert_eq!(normalize(s).unwrap(), "hub.k8s.ucar.edu", "{s}");
        }
    }

    #[test]
    fn non_default_ports_stay() {
        assert_eq!(normalize("127.0.0.1:5000").unwrap(), "127.0.0.1:5000");
        assert_eq!(
            normalize("http://127.0.0.1:5000/").unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            normalize("https://hub.k8s.ucar.edu:8443").unwrap(),
            "hub.k8s.ucar.edu:8443"
        );
        assert_eq!(normalize("http://h.example:443").unwrap(), "h.example");
        assert_eq!(normalize("http://h.example:80").unwrap(), "h.example:80");
        // Idempotent: a key normalises to itself (proptest found http://a:443).
        for s in ["http://a:443", "http://a:80", "https://a:8443"] {
            let k = normalize(s).unwrap();
            assert_eq!(normalize(&k).unwrap(), k, "{s}");
        }
        assert_eq!(normalize("[::1]:5000").unwrap(), "[::1]:5000");
        assert_eq!(normalize("https://[::1]/").unwrap(), "[::1]");
    }

    #[test]
    fn docker_hub_round_trips() {
        for s in [
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://index.docker.io/v1",
        ] {
            assert_eq!(normalize(s).unwrap(), DOCKER_HUB, "{s}");
        }
        assert_eq!(
            normalize("https://index.docker.io/v1/access-token").unwrap(),
            "https://index.docker.io/v1/access-token"
        );
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        for s in [
            "ftp://x",
            "host:",
            "host:99999",
            "host:0",
            "host:abc",
            "a b",
            "[::zz]",
            "a..b",
            "h\u{0}x",
            "://",
            "-:1:2",
        ] {
            assert!(
                matches!(normalize(s), Err(Error::InvalidRegistry(..))),
                "{s:?}"
            );
        }
        assert!(matches!(normalize("  "), Err(Error::MissingServerUrl)));
        let long = "a".repeat(5000);
        assert!(normalize(&long).is_err());
    }

    /// The authority ends where a URL parser ends it, backslash included:
    /// the key is the host a connection reaches (security review 2, item 2).
    #[test]
    fn a_backslash_ends_the_host() {
        let r = parse("http://127.0.0.2:5000\\@127.0.0.1:6000").unwrap();
        assert_eq!(r.key, "127.0.0.2:5000");
        assert_eq!(r.host, "127.0.0.2:5000");
        assert_eq!(r.scheme, Some(Scheme::Http));
        assert_eq!(
            normalize("https://evil\\@hub.k8s.ucar.edu").unwrap(),
            "evil"
        );
    }

    /// Every spelling of one loopback address is one key.
    #[test]
    fn ip_literals_have_one_spelling() {
        for s in [
            "127.0.0.1:5000",
            "127.1:5000",
            "0x7f000001:5000",
            "0177.0.0.1:5000",
            "127.0.1:5000",
        ] {
            assert_eq!(normalize(s).unwrap(), "127.0.0.1:5000", "{s}");
        }
        for s in ["[::1]", "[0:0:0:0:0:0:0:1]", "[0000::0001]:443"] {
            assert_eq!(normalize(s).unwrap(), "[::1]", "{s}");
        }
        assert_eq!(normalize("2130706433").unwrap(), "127.0.0.1");
        for s in ["256.0.0.1", "1.2.3.4.5", "example.123", "1.2.3.256"] {
            assert!(normalize(s).is_err(), "{s}");
        }
        // Names are names, even with digits in them.
        assert_eq!(normalize("h1.example").unwrap(), "h1.example");
        assert_eq!(normalize("123.example").unwrap(), "123.example");
    }

    /// An IPv4-mapped IPv6 address reaches the IPv4 listener: one key (issue 31, item 9).
    #[test]
    fn ipv4_mapped_ipv6_is_its_ipv4_address() {
        for s in [
            "[::ffff:127.0.0.1]:5000",
            "[::FFFF:7f00:1]:5000",
            "http://[0:0:0:0:0:ffff:127.0.0.1]:5000/v2/",
            "https://user@[::ffff:7f00:0001]:5000",
        ] {
            let r = parse(s).unwrap();
            assert_eq!(r.key, "127.0.0.1:5000", "{s}");
            assert_eq!(r.host, "127.0.0.1:5000", "{s}");
        }
        assert_eq!(normalize("[::ffff:10.1.2.3]").unwrap(), "10.1.2.3");
        // IPv4-compatible (deprecated) and other IPv6 addresses stay IPv6.
        assert_eq!(normalize("[::7f00:1]:5000").unwrap(), "[::7f00:1]:5000");
        assert_eq!(normalize("[64:ff9b::7f00:1]").unwrap(), "[64:ff9b::7f00:1]");
    }

    /// `0.0.0.0` and `::` name no host to connect to: refused, with the reason.
    #[test]
    fn the_unspecified_address_is_no_registry() {
        for s in [
            "0.0.0.0",
            "0.0.0.0:5000",
            "http://0.0.0.0:5000/",
            "https://u@0.0.0.0",
            "0",
            "0x0:5000",
            "0.0:5000",
            "00.0.0.0",
            "[::]",
            "[::]:5000",
            "http://[0:0:0:0:0:0:0:0]:5000",
            "[::ffff:0.0.0.0]:5000",
            "[::ffff:0:0]",
        ] {
            match parse(s) {
                Err(Error::InvalidRegistry(_, why)) => assert_eq!(why, UNSPECIFIED, "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
        assert_eq!(
            normalize("0.0.0.0:5000").unwrap_err().to_string(),
            "invalid registry address \"0.0.0.0:5000\": 0.0.0.0 and :: are addresses a server \
             listens on, not one to connect to; name the registry's host or address (127.0.0.1 for \
             this machine)"
        );
        // Other addresses with zeros in them are addresses.
        assert_eq!(normalize("0.0.0.1:5000").unwrap(), "0.0.0.1:5000");
        assert_eq!(normalize("10.0.0.0").unwrap(), "10.0.0.0");
    }

    /// Docker Hub keys keep a path: only the bytes a path of Docker's has.
    #[test]
    fn docker_hub_paths_hold_no_control_bytes() {
        for s in [
            "docker.io/\u{1b}[2J",
            "docker.io/a\nb",
            "index.docker.io/v1/x?y",
        ] {
            assert!(
                matches!(normalize(s), Err(Error::InvalidRegistry(..))),
                "{s:?}"
            );
        }
        assert_eq!(
            parse("https://index.docker.io/v1/access-token")
                .unwrap()
                .host,
            "index.docker.io"
        );
    }
}
