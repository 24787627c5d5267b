//! Starts and stops the real `/usr/bin/docker-registry` (CNCF distribution 2.8,
//! Debian package `docker-registry`) on 127.0.0.1, either behind the Harbor
//! stand-in's token auth or with TLS + htpasswd Basic auth.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::harbor::{Account, HarborStandin, ISSUER, SERVICE, StandinOptions};
use super::v2auth::V2Front;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// How long a registry may take to answer `/v2/` after start.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Registry {
    child: Child,
    /// docker-registry's own port (clients use [`Registry::port`]).
    port: u16,
    /// Harbor core's `/v2/` check, in front of a token registry.
    front: Option<V2Front>,
    tls: bool,
    ca_cert: Option<PathBuf>,
    log_path: PathBuf,
    // Last, so it is removed after the process is gone.
    _dir: tempfile::TempDir,
}

impl Registry {
    /// A registry that trusts tokens signed by `standin`, like Harbor's
    /// registry behind Harbor core: `/v2/` answers 401 with
    /// `Www-Authenticate: Bearer realm="<standin>/service/token",service="harbor-registry"`.
    /// Clients reach it through Harbor core's `/v2/` check ([`V2Front`]).
    pub fn start_token(standin: &HarborStandin) -> Registry {
        Self::start_token_at(standin, &standin.realm())
    }

    /// Like [`Registry::start_token`], sending clients to `realm` for tokens
    /// (e.g. the stand-in under another name).
    pub fn start_token_at(standin: &HarborStandin, realm: &str) -> Registry {
        let auth = format!(
            "auth:\n  token:\n    realm: \"{realm}\"\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: \"{}\"\n",
            standin.cert_pem.display()
        );
        let mut registry = Self::start_in(new_dir(), auth, None);
        registry.front = Some(V2Front::start(registry.port));
        registry
    }

    /// A registry with HTTPS (a certificate for IP 127.0.0.1, issued by a
    /// throw-away CA: see [`Registry::ca_cert`]) and htpasswd Basic auth for
    /// `user`/`pass`: `/v2/` answers 401 with `Www-Authenticate: Basic ...`.
    pub fn start_tls_basic(user: &str, pass: &str) -> Registry {
        let dir = new_dir();
        let certs = make_tls_certs(dir.path());
        let auth = htpasswd_auth(dir.path(), user, pass);
        Self::start_in(dir, auth, Some(certs))
    }

    /// Like [`Registry::start_tls_basic`], serving the given certificate
    /// (PEM, with whatever chain it holds) and key.
    /// [`Registry::ca_cert`] is `None`: the caller knows what it trusts.
    pub fn start_tls_basic_with(user: &str, pass: &str, cert: &Path, key: &Path) -> Registry {
        let dir = new_dir();
        let auth = htpasswd_auth(dir.path(), user, pass);
        let tls = TlsFiles {
            ca: None,
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        };
        Self::start_in(dir, auth, Some(tls))
    }
}

impl Registry {
    /// Plain HTTP with htpasswd Basic auth for `user`/`pass`.
    pub fn start_basic(user: &str, pass: &str) -> Registry {
        let dir = new_dir();
        let auth = htpasswd_auth(dir.path(), user, pass);
        Self::start_in(dir, auth, None)
    }

    /// A registry anyone may pull from and push to (no `auth:` section):
    /// one no credential helper is needed for.
    pub fn start_open() -> Registry {
        Self::start_in(new_dir(), String::new(), None)
    }
}

/// An htpasswd file for `user`/`pass` in `dir` and the `auth:` config using it.
fn htpasswd_auth(dir: &Path, user: &str, pass: &str) -> String {
    let htpasswd = dir.join("htpasswd");
    // distribution 2.8 only reads bcrypt entries, hence -B.
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, pass])
        .output()
        .expect("run htpasswd (Debian package apache2-utils)");
    assert!(
        out.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&htpasswd, &out.stdout).expect("write htpasswd file");
    format!(
        "auth:\n  htpasswd:\n    realm: basic-realm\n    path: \"{}\"\n",
        htpasswd.display()
    )
}

impl Registry {
    fn start_in(dir: tempfile::TempDir, auth: String, tls: Option<TlsFiles>) -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: install the Debian package `docker-registry` \
             (apt-get install -y docker-registry); the registry tests cannot run without it"
        );
        let config = dir.path().join("config.yml");
        // The free port is found by binding and releasing it, so another process
        // can grab it before the registry does: retry a few times if so.
        for attempt in 1..=3 {
            let port = free_port();
            std::fs::write(&config, config_yaml(dir.path(), port, &auth, tls.as_ref()))
                .expect("write registry config");
            let log_path = dir.path().join(format!("registry-{port}.log"));
            let log = std::fs::File::create(&log_path).expect("create registry log file");
            let mut child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log file handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {REGISTRY_BIN}: {e}"));
            match wait_ready(&mut child, port, tls.is_some()) {
                Ok(()) => {
                    return Registry {
                        child,
                        port,
                        front: None,
                        tls: tls.is_some(),
                        ca_cert: tls.as_ref().and_then(|t| t.ca.clone()),
                        log_path,
                        _dir: dir,
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    if attempt < 3 && log.contains("address already in use") {
                        continue;
                    }
                    panic!("docker-registry did not start: {e}\n--- registry log ---\n{log}");
                }
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// `127.0.0.1:PORT`, as used in image references.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    /// The port clients use: the front's, if there is one.
    pub fn port(&self) -> u16 {
        self.front.as_ref().map_or(self.port, V2Front::port)
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr())
    }

    /// The CA certificate (PEM) that issued the TLS registry's certificate.
    pub fn ca_cert(&self) -> Option<PathBuf> {
        self.ca_cert.clone()
    }

    /// Everything the registry has logged so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Kill our own child by its pid handle, then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls until the registry answers, the process dies, or the time is up.
fn wait_ready(child: &mut Child, port: u16, tls: bool) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("docker-registry exited early with {status}"));
        }
        if answers(port, tls) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "docker-registry gave no answer on 127.0.0.1:{port} within {START_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Plain HTTP: `GET /v2/` gets an HTTP status line back. TLS: the port
/// accepts connections (the Go server listens only once TLS is set up).
fn answers(port: u16, tls: bool) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    if tls {
        return true;
    }
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    let mut head = [0u8; 5];
    s.write_all(req.as_bytes()).is_ok() && s.read_exact(&mut head).is_ok() && &head == b"HTTP/"
}

struct TlsFiles {
    ca: Option<PathBuf>,
    cert: PathBuf,
    key: PathBuf,
}

fn new_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("docker-registry-")
        .tempdir()
        .expect("create a temp dir for docker-registry")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port on 127.0.0.1")
        .port()
}

fn config_yaml(dir: &Path, port: u16, auth: &str, tls: Option<&TlsFiles>) -> String {
    let storage = dir.join("storage");
    let tls = match tls {
        Some(t) => format!(
            "  tls:\n    certificate: \"{}\"\n    key: \"{}\"\n",
            t.cert.display(),
            t.key.display()
        ),
        None => String::new(),
    };
    // A fixed http.secret avoids a startup warning; upload purging is off so
    // the registry does no background work during short tests. No debug or
    // metrics listener is configured, so only 127.0.0.1:PORT is opened.
    format!(
        "version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: \"{storage}\"
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: rig-http-secret
{tls}{auth}",
        storage = storage.display()
    )
}

/// A throw-away CA and a server certificate for IP 127.0.0.1 signed by it.
/// A single self-signed certificate would do for curl, but `openssl req -x509`
/// marks it CA:TRUE, and rustls/webpki refuse a CA certificate as a server
/// certificate; a CA plus a leaf works with every client.
fn make_tls_certs(dir: &Path) -> TlsFiles {
    let p = |name: &str| dir.join(name);
    let s = |path: &PathBuf| path.to_str().expect("temp paths are UTF-8").to_string();
    let (ca, ca_key, cert, key, csr, ext) = (
        p("ca.pem"),
        p("ca-key.pem"),
        p("server.pem"),
        p("server-key.pem"),
        p("server.csr"),
        p("server-ext.cnf"),
    );
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=docker-credential-harbor test CA",
        "-keyout",
        &s(&ca_key),
        "-out",
        &s(&ca),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &s(&key),
        "-out",
        &s(&csr),
    ]);
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server cert extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        &s(&csr),
        "-CA",
        &s(&ca),
        "-CAkey",
        &s(&ca_key),
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        &s(&ext),
        "-out",
        &s(&cert),
    ]);
    TlsFiles {
        ca: Some(ca),
        cert,
        key,
    }
}

/// Runs `openssl ARGS`, failing the test with its stderr; returns stdout.
pub fn openssl(args: &[&str]) -> String {
    String::from_utf8_lossy(&super::harbor::openssl_with_stdin(args, b"")).into_owned()
}

/// A private Harbor: the stand-in token service with `accounts`, and a real
/// docker-registry that trusts its tokens (and that the stand-in reports).
pub struct Harbor {
    pub registry: Registry,
    pub standin: HarborStandin,
}

impl Harbor {
    pub fn start(accounts: Vec<Account>) -> Harbor {
        Harbor::start_with(StandinOptions {
            accounts,
            ..StandinOptions::default()
        })
    }

    /// A stand-in started with `options` (OIDC provider name, ...), and its registry.
    pub fn start_with(options: StandinOptions) -> Harbor {
        let standin = HarborStandin::start(options);
        let registry = Registry::start_token(&standin);
        standin.set_registry_url(&registry.addr());
        Harbor { registry, standin }
    }
}
