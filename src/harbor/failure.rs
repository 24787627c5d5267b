//! One clear line for each way a connection can fail: the network, a
//! certificate, a refused redirect.

use super::target::RefusedRedirect;
use super::{TIMEOUT, tls};
use crate::error::Error;

/// Flatten an error and its sources into one line.
pub(super) fn chain(e: &dyn std::error::Error) -> String {
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
pub(super) fn network_error(host: &str, e: &reqwest::Error, skipped: &[String]) -> Error {
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

/// How much of a 403's body its line quotes, in characters.
const QUOTED: usize = 100;

/// A 403 to the credential check. Harbor answers a refused secret with 401
/// (its token service answers only 200, 400, 401 or 5xx:
/// src/core/service/token/token.go), so a 403 comes from something in front
/// of it and says nothing about the secret.
pub(super) fn forbidden(host: &str, body: impl std::io::Read) -> Error {
    let said = first_line(body)
        .map(|l| format!(" (\"{l}\")"))
        .unwrap_or_default();
    Error::Blocked(format!(
        "{host} answered HTTP 403{said} to the credential check: something in front of the registry \
         (a firewall, a rate limiter or a proxy) stopped it, so it says nothing about the secret, which is \
         kept; try again later, or ask the registry's administrators"
    ))
}

/// The first non-blank line of a body (of its first 4 KiB), bounded and escaped.
fn first_line(body: impl std::io::Read) -> Option<String> {
    use std::io::Read as _;
    let mut head = Vec::new();
    let _ = body.take(4096).read_to_end(&mut head);
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut quoted: String = line.chars().take(QUOTED).collect();
    if quoted.len() < line.len() {
        quoted.push('…');
    }
    Some(crate::text::escape(&quoted).into_owned())
}

pub(super) fn now() -> i64 {
    crate::state::index::now()
}

/// `e` and the errors under it. `io::Error::source()` skips the error an
/// `io::Error` wraps (tokio-rustls wraps rustls's in one, hyper-util that in
/// another), so look inside those instead.
pub(super) fn causes<'a>(
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
pub(super) fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    causes(e).find_map(|c| c.downcast_ref::<rustls::Error>())
}

/// The connection failed in a way that shows the server does not speak TLS:
/// it answered the TLS hello with something else (a plain-HTTP server sends
/// "HTTP/1.1 400"), or hung up on it. Certificate trouble means it does speak TLS.
pub(super) fn not_tls(e: &reqwest::Error) -> bool {
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
pub(super) fn readable_name(n: &str) -> Option<String> {
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
pub(super) fn ca_hint(host: &str, what: &str) -> String {
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
pub(super) fn tls_message(host: &str, e: &rustls::Error, now: i64) -> String {
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
                    crate::text::ago(now - at)
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
                    crate::text::within(at - now)
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
    use std::time::Duration;

    #[test]
    fn a_403_quotes_the_first_line_of_its_body_bounded_and_escaped() {
        let e = forbidden("h:1", &b"\r\n  Request blocked by WAF \r\nref 42\n"[..]);
        assert!(matches!(e, Error::Blocked(_)), "{e:?}");
        let line = e.to_string();
        assert!(
            line.starts_with(
                "h:1 answered HTTP 403 (\"Request blocked by WAF\") to the credential check"
            ),
            "{line}"
        );
        assert!(!line.contains("ref 42"), "{line}");
        let e = forbidden("h", &b""[..]).to_string();
        assert!(
            e.starts_with("h answered HTTP 403 to the credential check"),
            "{e}"
        );
        let long = format!("\u{1b}[2J{}", "x".repeat(5000));
        let e = forbidden("h", long.as_bytes()).to_string();
        assert!(e.contains("(\"\\u{1b}[2Jxxx") && e.contains("x…\")"), "{e}");
        assert!(e.len() < 400, "{e}");
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
}
