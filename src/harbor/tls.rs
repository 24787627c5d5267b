//! TLS for registry connections, as docker and podman do it: the platform's
//! trust roots, plus the certificates the user names (`--ca-file`,
//! `SSL_CERT_FILE`) and the ones docker and podman already use for this
//! registry (`certs.d`). A self-signed server certificate made the common way
//! (`openssl req -x509`, so CA:TRUE) is accepted when the user trusts exactly
//! that certificate, still checked for its name and validity period.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};
use crate::registry::NetOptions;

/// The rustls configuration for a client of `host` (`host[:port]`), and the
/// certs.d entries it could not use ("PATH (why)"), for error messages.
pub(super) fn client_config(
    host: &str,
    opts: &NetOptions,
) -> Result<(rustls::ClientConfig, Vec<String>)> {
    let mut skipped = Vec::new();
    let trusted = trusted_certs(host, opts, &mut skipped)?;
    let setup = |e: rustls::Error| Error::Network(format!("cannot set up HTTPS: {e}"));
    // The provider reqwest itself would pick: no second crypto stack.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    // Fails when there is no CA at all (SSL_CERT_FILE stale, store empty).
    // Extra roots only when there are some: on Windows they need a private
    // certificate chain engine, which Wine (and so the Windows suite) lacks;
    // without them the verifier is exactly the one reqwest builds.
    let inner = if trusted.is_empty() {
        rustls_platform_verifier::Verifier::new(provider.clone())
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(trusted.clone(), provider.clone())
    };
    let inner = inner.map_err(|e| verifier_failed(e, &skipped))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(setup)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier {
            inner,
            pinned: trusted,
        }))
        .with_no_client_auth();
    // reqwest is built without HTTP/2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, skipped))
}

/// The verifier could not be made. With no CA certificate at all the
/// library says "unexpected error: No CA certificates were loaded from the
/// system"; the usual cause is a stale `SSL_CERT_FILE`, which (as for
/// OpenSSL and curl) takes the place of the system's certificates: say that,
/// and what to do.
fn verifier_failed(e: rustls::Error, skipped: &[String]) -> Error {
    let no_roots = matches!(&e, rustls::Error::General(m) if m.contains("No CA certificates"));
    let stale = skipped.iter().find(|s| s.starts_with("SSL_CERT_FILE"));
    match (no_roots, stale) {
        (true, Some(why)) => Error::Network(format!(
            "cannot set up HTTPS: no CA certificate could be loaded: {why}, and SSL_CERT_FILE \
             takes the place of the system's certificates; fix or unset SSL_CERT_FILE, or pass \
             --ca-file CERT.pem"
        )),
        _ if skipped.is_empty() => Error::Network(format!("cannot set up HTTPS: {e}")),
        _ => Error::Network(format!(
            "cannot set up HTTPS: {e}; passed over {}",
            skipped.join(", ")
        )),
    }
}

/// Every certificate the user explicitly trusts for `host`: `--ca-file`,
/// `SSL_CERT_FILE`, and the `*.crt` files of its certs.d directories.
fn trusted_certs(
    host: &str,
    opts: &NetOptions,
    skipped: &mut Vec<String>,
) -> Result<Vec<CertificateDer<'static>>> {
    let mut certs = Vec::new();
    if let Some(ca) = &opts.ca_file {
        certs.extend(read_pem(ca, "cannot read CA file")?);
    }
    // An environment-wide setting, perhaps stale: noted, not fatal (the
    // platform's own loader treats it the same way).
    if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        match read_pem(Path::new(&f), "cannot read") {
            Ok(c) => certs.extend(c),
            Err(e) => skipped.push(format!("SSL_CERT_FILE: {}", e.one_line())),
        }
    }
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    for dir in certs_d_dirs(host, config_home.as_deref()) {
        read_certs_d(&dir, &mut certs, skipped);
    }
    Ok(certs)
}

/// Where docker and podman look for the CA of `host` (`host[:port]`, lower
/// case): the system and rootless places of each, `HOST:PORT` directories, and
/// for the default port also plain `HOST` (docker's name for it). Unix only:
/// Windows has no such convention (and no `:` in file names).
pub(super) fn certs_d_dirs(host: &str, config_home: Option<&Path>) -> Vec<PathBuf> {
    if !cfg!(unix) {
        return Vec::new();
    }
    let mut names = vec![host.to_string()];
    if let Some(bare) = host.strip_suffix(":443") {
        names.push(bare.to_string());
    }
    let mut roots: Vec<PathBuf> = vec!["/etc/docker/certs.d".into()];
    if let Some(c) = config_home {
        roots.push(c.join("docker/certs.d"));
    }
    if cfg!(target_os = "macos") {
        // Docker Desktop's place.
        if let Some(h) = std::env::var_os("HOME") {
            roots.push(PathBuf::from(h).join(".docker/certs.d"));
        }
    }
    roots.push("/etc/containers/certs.d".into());
    if let Some(c) = config_home {
        roots.push(c.join("containers/certs.d"));
    }
    roots
        .iter()
        .flat_map(|r| names.iter().map(move |n| r.join(n)))
        .collect()
}

/// Add the certificates in the `*.crt` files of one certs.d directory
/// (`*.cert`/`*.key` are client certificates, which this tool does not use).
/// Like docker and podman, an unreadable or malformed file is passed over,
/// not fatal: it may belong to root, and `--ca-file` must still work. It is
/// noted in `skipped` so an "unknown CA" error can name it.
fn read_certs_d(dir: &Path, certs: &mut Vec<CertificateDer<'static>>, skipped: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::NotADirectory =>
        {
            return;
        }
        Err(e) => {
            skipped.push(format!("{} ({e})", dir.display()));
            return;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    files.sort();
    for f in files {
        match read_pem(&f, "cannot read") {
            Ok(c) => certs.extend(c),
            Err(Error::File { source, .. }) => skipped.push(format!("{} ({source})", f.display())),
            Err(_) => skipped.push(format!("{} (no PEM certificate in it)", f.display())),
        }
    }
}

fn read_pem(path: &Path, action: &'static str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(|e| Error::file(action, path, e))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Config(format!("{} holds no PEM certificate", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// The platform verifier, plus one exception: webpki refuses a CA certificate
/// as a server's own certificate, which is what `openssl req -x509` makes and
/// what docker and curl accept when told to trust it.
#[derive(Debug)]
struct Verifier {
    inner: rustls_platform_verifier::Verifier,
    /// Certificates the user explicitly trusts (not the system roots).
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(e)
                if is_ca_used_as_end_entity(&e)
                    && self
                        .pinned
                        .iter()
                        .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                check_pinned(end_entity, server_name, now)
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// webpki's "CA certificate used as end-entity certificate", which rustls
/// passes on as an opaque `Other` error.
pub(super) fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::Other(o))
            if matches!(o.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity))
    )
}

/// A certificate the user trusts byte for byte is its own anchor: the
/// handshake signature (checked separately) proves the server holds its key;
/// what is left is the validity period and the name.
fn check_pinned(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> std::result::Result<ServerCertVerified, rustls::Error> {
    let (not_before, not_after) = validity(cert.as_ref()).ok_or(CertificateError::BadEncoding)?;
    let time = |secs: i64| {
        UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
    };
    let t = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if t < not_before {
        return Err(CertificateError::NotValidYetContext {
            time: now,
            not_before: time(not_before),
        }
        .into());
    }
    if t > not_after {
        return Err(CertificateError::ExpiredContext {
            time: now,
            not_after: time(not_after),
        }
        .into());
    }
    let parsed =
        webpki::EndEntityCert::try_from(cert).map_err(|_| CertificateError::BadEncoding)?;
    parsed
        .verify_is_valid_for_subject_name(server_name)
        .map_err(|e| match e {
            webpki::Error::CertNotValidForName(c) => CertificateError::NotValidForNameContext {
                expected: c.expected,
                presented: c.presented,
            },
            _ => CertificateError::NotValidForName,
        })?;
    Ok(ServerCertVerified::assertion())
}

/// A DER element: (tag, contents, what follows).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// notBefore and notAfter of an X.509 certificate, in Unix seconds.
pub(super) fn validity(cert: &[u8]) -> Option<(i64, i64)> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, cert, _) = der(cert)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = der(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] version, when present; then serial, signature algorithm, issuer.
    if rest.first() == Some(&0xa0) {
        rest = der(rest)?.2;
    }
    for _ in 0..3 {
        rest = der(rest)?.2;
    }
    let (SEQUENCE, validity, _) = der(rest)? else {
        return None;
    };
    let (tag, nb, rest) = der(validity)?;
    let not_before = asn1_time(tag, nb)?;
    let (tag, na, _) = der(rest)?;
    Some((not_before, asn1_time(tag, na)?))
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`), as DER
/// requires them, in Unix seconds.
fn asn1_time(tag: u8, v: &[u8]) -> Option<i64> {
    let digits = v.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |s: &[u8]| s.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0'));
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy = num(&digits[..2]);
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (0x18, 14) => (num(&digits[..4]), &digits[4..]),
        _ => return None,
    };
    let (month, day) = (num(&rest[0..2]), num(&rest[2..4]));
    let (h, m, s) = (num(&rest[4..6]), num(&rest[6..8]), num(&rest[8..10]));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3_600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD HH:MM UTC` for Unix seconds.
pub(super) fn utc(secs: i64) -> String {
    let z = secs.div_euclid(86_400) + 719_468;
    let tod = secs.rem_euclid(86_400);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        tod / 3_600,
        tod % 3_600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Self-signed with `openssl ca -selfsign` for fixed dates: P-256 key,
    /// CA:TRUE, subjectAltName IP:127.0.0.1, valid 2020-01-01 00:00:00 to
    /// 2049-12-31 23:59:59 (both UTCTime).
    const SELF_SIGNED: &str = include_str!("testdata/self-signed.pem");
    /// The same with a notAfter in 2050, which DER writes as GeneralizedTime.
    const GENERALIZED: &str = include_str!("testdata/generalized-time.pem");

    fn der_of(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).expect("test certificate")
    }

    #[test]
    fn validity_is_read_from_der() {
        assert_eq!(
            validity(der_of(SELF_SIGNED).as_ref()),
            Some((1_577_836_800, 2_524_607_999))
        );
        assert_eq!(
            validity(der_of(GENERALIZED).as_ref()),
            Some((1_577_836_800, 2_556_143_999))
        );
        assert_eq!(validity(b""), None);
        assert_eq!(validity(&[0x30, 0x82, 0xff]), None);
        let mut cut = der_of(SELF_SIGNED).as_ref().to_vec();
        cut.truncate(60);
        assert_eq!(validity(&cut), None);
    }

    #[test]
    fn asn1_times_parse() {
        assert_eq!(asn1_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(asn1_time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(asn1_time(0x18, b"20000229120000Z"), Some(951_825_600));
        assert_eq!(asn1_time(0x17, b"7001010000Z"), None);
        assert_eq!(asn1_time(0x17, b"701301000000Z"), None);
        assert_eq!(asn1_time(0x18, b"700101000000Z"), None);
        assert_eq!(asn1_time(0x17, b"700101000000+0100"), None);
    }

    #[test]
    fn utc_dates_print() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_825_600), "2000-02-29 12:00 UTC");
        assert_eq!(utc(1_609_459_200), "2021-01-01 00:00 UTC");
        assert_eq!(utc(2_524_607_999), "2049-12-31 23:59 UTC");
    }

    #[test]
    fn pinned_self_signed_checks_name_and_time() {
        let cert = der_of(SELF_SIGNED);
        let ip = ServerName::try_from("127.0.0.1").unwrap();
        let at = |s: u64| UnixTime::since_unix_epoch(Duration::from_secs(s));
        assert!(check_pinned(&cert, &ip, at(1_700_000_000)).is_ok());
        assert!(matches!(
            check_pinned(&cert, &ip, at(2_600_000_000)),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ExpiredContext { .. }
            ))
        ));
        assert!(matches!(
            check_pinned(&cert, &ip, at(1_500_000_000)),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYetContext { .. }
            ))
        ));
        let other = ServerName::try_from("registry.example.org").unwrap();
        match check_pinned(&cert, &other, at(1_700_000_000)) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                presented,
                ..
            })) => assert_eq!(presented, vec!["IpAddress(127.0.0.1)".to_string()]),
            other => panic!("expected a name mismatch, got {other:?}"),
        }
    }

    #[test]
    #[cfg(unix)]
    fn certs_d_places_follow_docker_and_podman() {
        let dirs = certs_d_dirs("reg.example:5000", Some(Path::new("/home/u/.config")));
        let mut want = vec![
            PathBuf::from("/etc/docker/certs.d/reg.example:5000"),
            PathBuf::from("/home/u/.config/docker/certs.d/reg.example:5000"),
        ];
        if cfg!(target_os = "macos") {
            want.push(
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".docker/certs.d/reg.example:5000"),
            );
        }
        want.push("/etc/containers/certs.d/reg.example:5000".into());
        want.push("/home/u/.config/containers/certs.d/reg.example:5000".into());
        assert_eq!(dirs, want);
        // The default port: docker names the directory without it.
        let dirs = certs_d_dirs("reg.example:443", None);
        assert!(dirs.contains(&PathBuf::from("/etc/docker/certs.d/reg.example:443")));
        assert!(dirs.contains(&PathBuf::from("/etc/docker/certs.d/reg.example")));
        let dirs = certs_d_dirs("reg.example", None);
        assert_eq!(
            dirs,
            vec![
                PathBuf::from("/etc/docker/certs.d/reg.example"),
                PathBuf::from("/etc/containers/certs.d/reg.example"),
            ]
        );
    }
}
