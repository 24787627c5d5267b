//! Reaching registries the way docker and podman do, against real
//! docker-registry servers with certificates each test makes with openssl:
//! a self-signed CA:TRUE certificate (`openssl req -x509`, the common way),
//! a private CA with a leaf, a certificate for another name, an expired one;
//! trust through `--ca-file`, `SSL_CERT_FILE` and the certs.d directories
//! (tested under `$XDG_CONFIG_HOME`, which the test owns); and a plain-HTTP
//! registry on loopback named without a scheme.
//!
//! Each test has its own registry, port, HOME and certificates, so they run
//! in parallel. Run under a session keyring of its own:
//! `keyctl session - cargo test --locked --test suite tls::`.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::bin::{self, Output};
use common::commands::Login;
use common::harbor::{Account, HarborStandin};
use common::keychain;
use common::registry::{Harbor, Registry, openssl};
use common::rig::KeyringUser;
use common::text::{self, Normal};

/// `status --check` of USER, accepted.
const CHECKED: &str = "\
$REGISTRY
  account:  tlsuser (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  accepted N seconds ago
  check:    accepted
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
";

const USER: &str = "tlsuser";
const SECRET: &str = "tls-secret-0123456789";

// ---------------------------------------------------------------------------
// A person's machine

struct Home(KeyringUser);

impl std::ops::Deref for Home {
    type Target = KeyringUser;
    fn deref(&self) -> &KeyringUser {
        &self.0
    }
}

impl Home {
    fn new() -> Home {
        let user = KeyringUser::new();
        user.env.watch_secret(SECRET);
        Home(user)
    }

    /// `login REGISTRY -u USER --password-stdin EXTRA...` with the secret on stdin.
    fn login(&self, registry: &str, extra: &[&str]) -> Output {
        self.login_with(registry, extra, &[])
    }

    fn login_with(&self, registry: &str, extra: &[&str], vars: &[(&str, Option<&str>)]) -> Output {
        let login = Login::to(&self.env, registry)
            .user(USER, SECRET)
            .args(extra);
        let login = vars.iter().fold(login, |l, (k, v)| l.var(k, *v));
        let out = login.run();
        assert!(!out.stdout.contains(SECRET), "secret on stdout\n{out}");
        out
    }

    fn run(&self, args: &[&str]) -> Output {
        bin::run(&self.env, args, b"")
    }

    /// `$XDG_CONFIG_HOME/<tool>/certs.d/<host>/`, created.
    /// The home's directories and `key` as `$REGISTRY`.
    fn normal(&self, key: &str) -> Normal {
        Normal::registry(&self.env, key)
    }

    fn certs_d(&self, tool: &str, host: &str) -> PathBuf {
        let d = self.env.config_home.join(tool).join("certs.d").join(host);
        std::fs::create_dir_all(&d).expect("create certs.d directory");
        d
    }

    fn assert_stored(&self, key: &str) {
        assert_eq!(
            bin::get_ok(&self.env, key),
            (USER.to_string(), SECRET.to_string()),
            "what login stored for {key}"
        );
    }

    fn assert_nothing_stored(&self, key: &str) {
        bin::assert_not_found(&self.env, key);
        assert!(
            !keychain::keyutils_has(key),
            "the kernel keyring holds an entry for {key}"
        );
    }
}

fn assert_succeeded(out: &Output) {
    assert_eq!(out.code(), 0, "login should succeed\n{out}");
    assert!(out.stdout.starts_with("Login Succeeded"), "{out}");
}

/// Exit 1 and exactly one `error: ...` line on stderr: that line.
fn error_line(out: &Output) -> String {
    assert_eq!(out.code(), 1, "expected exit status 1\n{out}");
    assert_eq!(out.stdout, "", "nothing on stdout\n{out}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "one line on stderr\n{out}");
    assert!(lines[0].starts_with("error: "), "{out}");
    lines[0].to_string()
}

/// A failed login, all of it: exit 1, nothing on stdout, and its one
/// stderr line, normalised, is `want`.
#[track_caller]
fn assert_error(out: &Output, normal: &Normal, want: &str) {
    error_line(out);
    text::assert_text(normal, &out.stderr, want);
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

// ---------------------------------------------------------------------------
// Certificates made with openssl

struct Certs {
    dir: tempfile::TempDir,
}

/// A certificate and its key.
struct Pair {
    cert: PathBuf,
    key: PathBuf,
}

impl Certs {
    fn new() -> Certs {
        Certs {
            dir: tempfile::Builder::new()
                .prefix("dch-tls-certs-")
                .tempdir()
                .expect("temp dir for certificates"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The common way: `openssl req -x509`, which marks it CA:TRUE.
    fn self_signed(&self, name: &str, san: &str) -> Pair {
        let p = self.pair(name);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=test registry",
            "-addext",
            &format!("subjectAltName={san}"),
            "-keyout",
            s(&p.key),
            "-out",
            s(&p.cert),
        ]);
        let text = openssl(&[
            "x509",
            "-in",
            s(&p.cert),
            "-noout",
            "-ext",
            "basicConstraints",
        ]);
        assert!(
            text.contains("CA:TRUE"),
            "openssl req -x509 should make a CA:TRUE certificate: {text}"
        );
        p
    }

    /// A CA that signs leaves.
    fn ca(&self, name: &str) -> Pair {
        let p = self.pair(name);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            &format!("/CN={name} test CA"),
            "-keyout",
            s(&p.key),
            "-out",
            s(&p.cert),
        ]);
        p
    }

    /// A server certificate for `san` signed by `ca`, valid for 30 days or,
    /// with `dates` (`YYYYMMDDHHMMSSZ`), for exactly that period.
    fn leaf(&self, name: &str, ca: &Pair, san: &str, dates: Option<(&str, &str)>) -> Pair {
        let (p, csr, ext) = self.request(
            name,
            &format!(
                "subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n\
                 keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
            ),
        );
        match dates {
            None => {
                openssl(&[
                    "x509",
                    "-req",
                    "-in",
                    s(&csr),
                    "-CA",
                    s(&ca.cert),
                    "-CAkey",
                    s(&ca.key),
                    "-CAcreateserial",
                    "-days",
                    "30",
                    "-extfile",
                    s(&ext),
                    "-out",
                    s(&p.cert),
                ]);
            }
            // OpenSSL 3.0's x509 cannot set past dates; `openssl ca` can.
            Some(dates) => self.ca_sign(name, &csr, &ext, Some(ca), dates, &p.cert),
        }
        p
    }

    /// A self-signed CA:TRUE certificate for `san` with exactly these dates.
    fn self_signed_dated(&self, name: &str, san: &str, dates: (&str, &str)) -> Pair {
        let (p, csr, ext) = self.request(
            name,
            &format!("subjectAltName={san}\nbasicConstraints=critical,CA:TRUE\n"),
        );
        self.ca_sign(name, &csr, &ext, None, dates, &p.cert);
        p
    }

    /// `openssl ca` (OpenSSL 3.0's x509 cannot set past dates): sign `csr`
    /// with `signer`, or with its own key when `None`.
    fn ca_sign(
        &self,
        name: &str,
        csr: &Path,
        ext: &Path,
        signer: Option<&Pair>,
        (start, end): (&str, &str),
        out: &Path,
    ) {
        let db = self.path(&format!("{name}-ca-db"));
        std::fs::create_dir_all(&db).expect("ca db dir");
        std::fs::write(db.join("index.txt"), "").expect("ca index");
        std::fs::write(db.join("serial"), "01\n").expect("ca serial");
        let cnf = db.join("ca.cnf");
        std::fs::write(
            &cnf,
            format!(
                "[ca]\ndefault_ca = d\n[d]\ndatabase = {db}/index.txt\nnew_certs_dir = {db}\n\
                 serial = {db}/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n",
                db = s(&db)
            ),
        )
        .expect("ca config");
        let own_key = self.pair(name).key;
        let mut args = vec!["ca", "-batch", "-config", s(&cnf)];
        match signer {
            Some(ca) => args.extend(["-cert", s(&ca.cert), "-keyfile", s(&ca.key)]),
            None => args.extend(["-selfsign", "-keyfile", s(&own_key)]),
        }
        args.extend([
            "-in",
            s(csr),
            "-startdate",
            start,
            "-enddate",
            end,
            "-extfile",
            s(ext),
            "-notext",
            "-out",
            s(out),
        ]);
        openssl(&args);
    }

    /// A new key, its certificate request, and an extensions file holding
    /// `extensions`: what every certificate here is signed from.
    fn request(&self, name: &str, extensions: &str) -> (Pair, PathBuf, PathBuf) {
        let p = self.pair(name);
        let csr = self.path(&format!("{name}.csr"));
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=test registry",
            "-keyout",
            s(&p.key),
            "-out",
            s(&csr),
        ]);
        let ext = self.path(&format!("{name}.ext"));
        std::fs::write(&ext, extensions).expect("write certificate extensions");
        (p, csr, ext)
    }

    fn pair(&self, name: &str) -> Pair {
        Pair {
            cert: self.path(&format!("{name}.pem")),
            key: self.path(&format!("{name}-key.pem")),
        }
    }
}

/// A registry with TLS and Basic auth for USER/SECRET serving `pair`.
fn registry(pair: &Pair) -> Registry {
    Registry::start_tls_basic_with(USER, SECRET, &pair.cert, &pair.key)
}

/// A registry serving `pair` and a fresh home that has claimed its key.
/// (Bound as `let (reg, home, key)`, the home drops before the registry.)
fn serve(pair: &Pair) -> (Registry, Home, String) {
    let reg = registry(pair);
    let home = Home::new();
    let key = reg.addr();
    home.claim(&key);
    (reg, home, key)
}

/// A registry whose certificate a private CA issued for 127.0.0.1, and a
/// fresh home that trusts neither yet. (Fields drop in order: the home, the
/// registry, then the certificate files.)
struct PrivateCa {
    home: Home,
    reg: Registry,
    ca: Pair,
    key: String,
    certs: Certs,
}

fn behind_private_ca() -> PrivateCa {
    let certs = Certs::new();
    let ca = certs.ca("private");
    let leaf = certs.leaf("server", &ca, "IP:127.0.0.1", None);
    let (reg, home, key) = serve(&leaf);
    PrivateCa {
        home,
        reg,
        ca,
        key,
        certs,
    }
}

// ---------------------------------------------------------------------------
// Self-signed (CA:TRUE) certificates

#[test]
fn self_signed_certificate_is_refused_until_trusted_then_accepted_with_ca_file() {
    let certs = Certs::new();
    let cert = certs.self_signed("self", "IP:127.0.0.1");
    let (reg, home, key) = serve(&cert);

    let out = home.login(&reg.url(), &[]);
    assert_error(
        &out,
        &home.normal(&key),
        "error: the TLS certificate of $REGISTRY is not trusted: it is self-signed (a CA certificate used as the server's own); if it is the registry's certificate, pass --ca-file CERT.pem, or put it in /etc/docker/certs.d/$REGISTRY/ca.crt (docker and podman read it there too)\n",
    );
    home.assert_nothing_stored(&key);

    let out = home.login(&reg.url(), &["--ca-file", s(&cert.cert)]);
    assert_succeeded(&out);
    home.assert_stored(&key);
}

#[test]
fn self_signed_certificate_is_trusted_through_ssl_cert_file() {
    let certs = Certs::new();
    let cert = certs.self_signed("self", "IP:127.0.0.1");
    let other = certs.self_signed("other", "IP:127.0.0.1");
    let (_reg, home, key) = serve(&cert);

    // Another certificate, however self-signed, is not this one.
    let out = home.login_with(&key, &[], &[("SSL_CERT_FILE", Some(s(&other.cert)))]);
    assert_error(
        &out,
        &home.normal(&key),
        "error: the TLS certificate of $REGISTRY is not trusted: it is self-signed (a CA certificate used as the server's own); if it is the registry's certificate, pass --ca-file CERT.pem, or put it in /etc/docker/certs.d/$REGISTRY/ca.crt (docker and podman read it there too)\n",
    );
    home.assert_nothing_stored(&key);

    // A stale SSL_CERT_FILE leaves no CA to trust (it takes the place of the
    // system's certificates): the error says so in words, not the library's
    // "unexpected error", and --ca-file still works beside it.
    let missing = certs.path("gone.pem");
    let out = home.login_with(&key, &[], &[("SSL_CERT_FILE", Some(s(&missing)))]);
    assert_error(
        &out,
        &home.normal(&key).name(s(&missing), "$MISSING"),
        "error: cannot set up HTTPS: no CA certificate could be loaded: SSL_CERT_FILE: cannot read $MISSING: No such file or directory (os error 2), and SSL_CERT_FILE takes the place of the system's certificates; fix or unset SSL_CERT_FILE, or pass --ca-file CERT.pem\n",
    );
    let out = home.login_with(
        &key,
        &["--ca-file", s(&cert.cert)],
        &[("SSL_CERT_FILE", Some(s(&missing)))],
    );
    assert_succeeded(&out);
    home.run(&["logout", &key]);
    home.assert_nothing_stored(&key);

    let out = home.login_with(&key, &[], &[("SSL_CERT_FILE", Some(s(&cert.cert)))]);
    assert_succeeded(&out);
    home.assert_stored(&key);
}

#[test]
fn self_signed_certificate_in_docker_certs_d_serves_login_and_status_check() {
    let certs = Certs::new();
    let cert = certs.self_signed("self", "IP:127.0.0.1");
    let (_reg, home, key) = serve(&cert);
    let ca_crt = home.certs_d("docker", &key).join("ca.crt");
    std::fs::copy(&cert.cert, &ca_crt).expect("copy into certs.d");

    // No scheme, no flag: as `docker login 127.0.0.1:PORT` would be typed.
    let out = home.login(&key, &[]);
    assert_succeeded(&out);
    home.assert_stored(&key);

    let out = home.run(&["status", "--check"]);
    assert_eq!(out.code(), 0, "status --check through certs.d\n{out}");
    text::assert_text(&home.normal(&key).seconds(), &out.stdout, CHECKED);

    // Without the file the same check is blocked (nothing is sent): certs.d
    // is what made it work.
    std::fs::remove_file(&ca_crt).expect("remove from certs.d");
    let out = home.run(&["status", "--check"]);
    assert_eq!(out.code(), 1, "{out}");
    text::assert_text(&home.normal(&key).seconds(), &out.stdout, "\
$REGISTRY
  account:  tlsuser (user)
  keychain: keyutils
  stored:   N seconds ago
  checked:  blocked N seconds ago
            nothing was sent: the TLS certificate of $REGISTRY is not trusted: it is self-signed (a CA certificate used as the server's own); if it is the registry's certificate, pass --ca-file CERT.pem, or put it in /etc/docker/certs.d/$REGISTRY/ca.crt (docker and podman read it there too)
  check:    blocked: nothing was sent: the TLS certificate of $REGISTRY is not trusted: it is self-signed (a CA certificate used as the server's own); if it is the registry's certificate, pass --ca-file CERT.pem, or put it in /etc/docker/certs.d/$REGISTRY/ca.crt (docker and podman read it there too)
settings: $XDG_CONFIG_HOME/docker-credential-harbor/config.json (not there: defaults)
");
}

// ---------------------------------------------------------------------------
// A private CA and a leaf

#[test]
fn private_ca_in_docker_or_containers_certs_d_is_trusted() {
    let PrivateCa {
        home,
        reg: _reg,
        ca,
        key,
        certs: _certs,
    } = behind_private_ca();

    for tool in ["docker", "containers"] {
        let dir = home.certs_d(tool, &key);
        // containers-certs.d(5): any *.crt file is a CA.
        let file = dir.join(format!("{tool}-private-ca.crt"));
        std::fs::copy(&ca.cert, &file).expect("copy the CA into certs.d");
        let out = home.login(&key, &[]);
        assert_succeeded(&out);
        home.assert_stored(&key);

        let out = home.run(&["status", "--check", "--json"]);
        assert_eq!(out.code(), 0, "status --check via {tool} certs.d\n{out}");
        assert!(out.stdout.contains("\"check\": \"accepted\""), "{out}");

        std::fs::remove_file(&file).expect("remove the CA");
        let out = home.run(&["logout", &key]);
        assert_eq!(out.code(), 0, "{out}");
        home.assert_nothing_stored(&key);
    }
}

#[test]
fn unknown_ca_is_still_refused() {
    let PrivateCa {
        home,
        reg,
        ca,
        key,
        certs,
    } = behind_private_ca();
    let stranger = certs.ca("stranger");
    // Neither a CA for the port-less name (docker keys directories by
    // HOST:PORT) nor an unrelated CA under the right name helps.
    std::fs::copy(&ca.cert, home.certs_d("docker", "127.0.0.1").join("ca.crt")).unwrap();
    std::fs::copy(
        &stranger.cert,
        home.certs_d("containers", &key).join("ca.crt"),
    )
    .unwrap();

    for args in [vec![], vec!["--ca-file", s(&stranger.cert)]] {
        let out = home.login(&reg.url(), &args);
        assert_error(
            &out,
            &home.normal(&key),
            "error: the TLS certificate of $REGISTRY is not trusted: it is signed by an unknown CA; if the registry uses a private CA, pass --ca-file CA.pem, or put it in /etc/docker/certs.d/$REGISTRY/ca.crt (docker and podman read it there too)\n",
        );
        home.assert_nothing_stored(&key);
    }
}

#[test]
fn unusable_certs_d_files_are_passed_over_and_named() {
    let PrivateCa {
        home,
        reg: _reg,
        ca,
        key,
        certs: _certs,
    } = behind_private_ca();
    let broken = home.certs_d("docker", &key).join("broken.crt");
    std::fs::write(&broken, "not a certificate\n").unwrap();

    // A malformed --ca-file is the user's own input: one clear line.
    let out = home.login(&key, &["--ca-file", s(&broken)]);
    assert_error(
        &out,
        &home.normal(&key),
        "error: $XDG_CONFIG_HOME/docker/certs.d/$REGISTRY/broken.crt holds no PEM certificate\n",
    );
    home.assert_nothing_stored(&key);

    // In certs.d it is passed over, as docker and podman do, and named.
    let out = home.login(&key, &[]);
    assert_error(
        &out,
        &home.normal(&key),
        "error: the TLS certificate of $REGISTRY is not trusted: it is signed by an unknown CA; if the registry uses a private CA, pass --ca-file CA.pem, or put it in /etc/docker/certs.d/$REGISTRY/ca.crt (docker and podman read it there too); passed over $XDG_CONFIG_HOME/docker/certs.d/$REGISTRY/broken.crt (no PEM certificate in it)\n",
    );
    home.assert_nothing_stored(&key);

    // It does not stand in the way of a good CA next to it.
    std::fs::copy(&ca.cert, broken.with_file_name("ca.crt")).unwrap();
    assert_succeeded(&home.login(&key, &[]));
    home.assert_stored(&key);
}

/// A certificate the user trusts (its issuer given with `--ca-file`) that is
/// still wrong: one error line names what is wrong, and suggests no fix that
/// would not help; nothing is stored.
struct Refusal {
    what: &'static str,
    /// The server's certificate, and the file given to `--ca-file`.
    make: fn(&Certs) -> (Pair, PathBuf),
    /// Log in with `HOST:PORT` as typed (`true`) or `https://HOST:PORT`.
    by_key: bool,
    /// The one error line, the registry's `127.0.0.1:PORT` as `$REGISTRY`
    /// (and how many days ago an expiry was as `N days`): it names what is
    /// wrong, and no fix that would not help (`--ca-file`, certs.d).
    says: &'static str,
}

const REFUSALS: &[Refusal] = &[
    Refusal {
        // Trusted byte for byte, yet still checked for its name.
        what: "a self-signed certificate for another name",
        make: |c| {
            let cert = c.self_signed("self", "DNS:registry.example.test");
            let trust = cert.cert.clone();
            (cert, trust)
        },
        by_key: false,
        says: "error: the TLS certificate of $REGISTRY is for registry.example.test, not for 127.0.0.1; \
               connect with a name it holds, or have the certificate reissued to include 127.0.0.1",
    },
    Refusal {
        what: "a CA's certificate for other names",
        make: |c| {
            let ca = c.ca("private");
            let names = "DNS:registry.example.test,DNS:mirror.example.test";
            (c.leaf("server", &ca, names, None), ca.cert)
        },
        by_key: false,
        says: "error: the TLS certificate of $REGISTRY is for registry.example.test and mirror.example.test, \
               not for 127.0.0.1; connect with a name it holds, or have the certificate reissued to include \
               127.0.0.1",
    },
    Refusal {
        what: "an expired certificate from a trusted CA",
        make: |c| {
            let ca = c.ca("private");
            let dates = ("20200101000000Z", "20210101000000Z");
            (c.leaf("server", &ca, "IP:127.0.0.1", Some(dates)), ca.cert)
        },
        by_key: false,
        says: "error: the TLS certificate of $REGISTRY expired on 2021-01-01 00:00 UTC (N days ago); \
               the registry's administrator must renew it",
    },
    Refusal {
        what: "an expired self-signed certificate, trusted",
        make: |c| {
            let dates = ("20200101000000Z", "20220301120000Z");
            let cert = c.self_signed_dated("self", "IP:127.0.0.1", dates);
            let trust = cert.cert.clone();
            (cert, trust)
        },
        by_key: true,
        says: "error: the TLS certificate of $REGISTRY expired on 2022-03-01 12:00 UTC (N days ago); \
               the registry's administrator must renew it",
    },
];

#[test]
fn a_trusted_certificate_that_is_wrong_is_refused_naming_why() {
    for r in REFUSALS {
        let certs = Certs::new();
        let (pair, trust) = (r.make)(&certs);
        let (reg, home, key) = serve(&pair);
        let url = if r.by_key { key.clone() } else { reg.url() };
        let out = home.login(&url, &["--ca-file", s(&trust)]);
        let want = format!("{}\n", r.says);
        assert_error(&out, &home.normal(&key).durations(), &want);
        home.assert_nothing_stored(&key);
        eprintln!("refused as it should: {}", r.what);
    }
}

// ---------------------------------------------------------------------------
// Configure's check of a plaintext secret

#[test]
fn configure_checks_a_plaintext_secret_through_certs_d_before_moving_it() {
    let PrivateCa {
        home,
        reg: _reg,
        ca,
        key,
        certs: _certs,
    } = behind_private_ca();
    let config = home.env.home.join(".docker/config.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{SECRET}"));
    std::fs::write(
        &config,
        format!(r#"{{"auths":{{"{key}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();

    // Without the CA nothing can be checked: the secret stays where it was,
    // and the credHelpers entry (which wins in that file) is in place.
    let out = home.run(&["configure", "--docker", "--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&home.normal(&key), &out.stderr, "\
warning: docker: $HOME/.docker/config.json: the plaintext secret for $REGISTRY was left in the file: it could not be checked (the TLS certificate of $REGISTRY is not trusted: it is signed by an unknown CA; if the registry uses a private CA, pass --ca-file CA.pem, or put it in /etc/docker/certs.d/$REGISTRY/ca.crt (docker and podman read it there too)); run configure again when the registry can be reached
warning: docker-credential-harbor is not on PATH, so docker and podman cannot run it; add its directory to PATH
");
    assert!(std::fs::read_to_string(&config).unwrap().contains(&auth));
    home.assert_nothing_stored(&key);

    std::fs::copy(&ca.cert, home.certs_d("docker", &key).join("ca.crt")).unwrap();
    let out = home.run(&["configure", "--docker", "--registry", &key]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&home.normal(&key), &out.stdout, "\
docker: $HOME/.docker/config.json: $REGISTRY already uses this helper
docker: $HOME/.docker/config.json: moved the plaintext secret of tlsuser for $REGISTRY into the keychain and removed it from the file
");
    home.assert_stored(&key);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains(&auth), "the secret left the file: {text}");
}

// ---------------------------------------------------------------------------
// Plain HTTP

/// A Harbor on loopback over plain HTTP: the stand-in's token service and a
/// docker-registry that trusts its tokens.
fn plain_harbor() -> (HarborStandin, Registry) {
    let Harbor { registry, standin } = Harbor::start(vec![Account::user(USER, SECRET)]);
    (standin, registry)
}

#[test]
fn plain_http_registry_on_loopback_is_reached_without_a_scheme() {
    let (standin, reg) = plain_harbor();
    let home = Home::new();
    let key = reg.addr();
    let by_name = format!("localhost:{}", reg.port());
    home.claim(&key);
    home.claim(&by_name);

    // An explicit https:// never falls back.
    let out = home.login(&format!("https://{key}"), &[]);
    assert_error(
        &out,
        &home.normal(&key),
        "error: $REGISTRY does not speak TLS (HTTPS) on that port; for a plain-HTTP registry use http://$REGISTRY (for one that is not on this machine, with --insecure)\n",
    );
    home.assert_nothing_stored(&key);
    assert!(standin.token_log().is_empty(), "no credentials were sent");

    // No scheme, as docker users type it: HTTPS first, then HTTP.
    let out = home.login(&key, &[]);
    assert_succeeded(&out);
    home.assert_stored(&key);
    assert!(
        standin
            .token_log()
            .iter()
            .any(|e| e.account.as_deref() == Some(USER) && e.status == 200),
        "the secret was checked with the token service"
    );
    let out = home.run(&["status", "--check", &key]);
    assert_eq!(out.code(), 0, "{out}");
    text::assert_text(&home.normal(&key).seconds(), &out.stdout, CHECKED);

    let out = home.login(&by_name, &[]);
    assert_succeeded(&out);
    home.assert_stored(&by_name);
}

/// The first address of this machine that is not loopback.
fn non_loopback_ip() -> IpAddr {
    // Connecting a UDP socket sends nothing; it only picks a route and source address.
    let ip = ["192.0.2.1:9", "198.51.100.1:9", "10.255.255.1:9"]
        .iter()
        .find_map(|a| {
            let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
            sock.connect(a).ok()?;
            Some(sock.local_addr().ok()?.ip())
        })
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    ip.expect(
        "this test needs an IPv4 address that is not loopback (a network interface with a route)",
    )
}

/// A plain-HTTP server that answers everything with 400, as docker-registry
/// does to a TLS hello, and records the first bytes of each connection.
struct PlainServer {
    addr: String,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PlainServer {
    fn start(ip: IpAddr) -> PlainServer {
        let listener = TcpListener::bind((ip, 0)).expect("bind the plain server");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((mut conn, _)) => {
                            conn.set_nonblocking(false).unwrap();
                            conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                            let mut buf = [0u8; 4096];
                            let n = conn.read(&mut buf).unwrap_or(0);
                            seen.lock().unwrap().push(buf[..n.min(16)].to_vec());
                            // Read the rest of the hello: closing with unread
                            // data would reset the connection instead.
                            conn.set_read_timeout(Some(Duration::from_millis(100)))
                                .unwrap();
                            while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
                            let _ = conn.write_all(
                                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            );
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        PlainServer {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for PlainServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn plain_http_to_a_host_that_is_not_loopback_is_never_used() {
    let server = PlainServer::start(non_loopback_ip());
    let home = Home::new();
    let key = server.addr.clone();
    home.claim(&key);

    // No scheme: HTTPS only; the server's HTTP answer is not a reason to
    // send anything in the clear.
    let out = home.login(&key, &[]);
    assert_error(
        &out,
        &home.normal(&key),
        "error: $REGISTRY does not speak TLS (HTTPS) on that port; for a plain-HTTP registry use http://$REGISTRY (for one that is not on this machine, with --insecure)\n",
    );
    home.assert_nothing_stored(&key);
    let seen = server.seen();
    assert!(!seen.is_empty(), "the login never reached the server");
    for first in &seen {
        assert_eq!(
            first.first(),
            Some(&0x16),
            "every connection should start with a TLS handshake, got {:?}",
            String::from_utf8_lossy(first)
        );
    }

    // http:// is refused before any connection.
    let before = server.seen().len();
    let out = home.login(&format!("http://{key}"), &[]);
    assert_error(
        &out,
        &home.normal(&key),
        "error: refusing http:// to $REGISTRY: the secret would cross the network unencrypted; use https://, or pass --insecure for $REGISTRY if you really mean it\n",
    );
    assert_eq!(server.seen().len(), before, "no connection for http://");
    home.assert_nothing_stored(&key);
}
