//! Turning what clients send into one key per registry.
//!
//! docker sends `hub.k8s.ucar.edu` for a pull but `https://hub.k8s.ucar.edu/`
//! after `docker login https://hub.k8s.ucar.edu/`; `docker logout` erases four
//! spellings; podman sends `host[:port]`. All of them must land on one keychain
//! entry, so every protocol call goes through [`normalize`].

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
    let invalid = |why| Error::InvalidRegistry(truncate(input), why);
    let s = input.trim();
    if s.is_empty() {
        return Err(Error::MissingServerUrl);
    }
    if s.len() > MAX_KEY * 4 {
        return Err(invalid("too long"));
    }
    let lower = s.to_ascii_lowercase();
    let rest = if let Some(r) = lower.strip_prefix("https://") {
        r
    } else if let Some(r) = lower.strip_prefix("http://") {
        r
    } else if lower.contains("://") {
        return Err(invalid(
            "only http:// and https:// addresses are registries",
        ));
    } else {
        lower.as_str()
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    // Drop user info ("user@host"): it is never part of the registry's identity.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) =
        split_host_port(authority).ok_or_else(|| invalid("malformed host or port"))?;
    validate_host(host).map_err(invalid)?;
    let port = match port {
        Some("") => return Err(invalid("empty port")),
        Some(p) => {
            let n: u16 = p
                .parse()
                .map_err(|_| invalid("port is not a number from 1 to 65535"))?;
            if n == 0 {
                return Err(invalid("port is not a number from 1 to 65535"));
            }
            // Registries default to TLS on 443, so `:443` names the same
            // registry as no port, however it was spelled. Any other port
            // stays, 80 included: the key is host[:port] without a scheme,
            // and `h` alone would mean 443 (this keeps normalize idempotent).
            if n == 443 { None } else { Some(n) }
        }
        None => None,
    };
    if DOCKER_HUB_HOSTS.contains(&host) && port.is_none() {
        let p = path.trim_end_matches('/');
        if p.is_empty() || p == "/v1" {
            return Ok(DOCKER_HUB.to_string());
        }
        return Ok(format!("https://index.docker.io{path}"));
    }
    let key = match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    if key.len() > MAX_KEY {
        return Err(invalid("too long"));
    }
    Ok(key)
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
    if host.is_empty() {
        return Err("no host name");
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| "malformed IPv6 address");
    }
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
}
