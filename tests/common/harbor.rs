//! A small in-process stand-in for Harbor's token service and a few of its REST
//! endpoints, built from Harbor's documented behaviour (see
//! shared/reference/harbor-auth.md). It signs real RS256 tokens that the real
//! `docker-registry` (configured with `cert_pem` as its rootcertbundle) accepts.
//!
//! Endpoints:
//! - `GET /service/token?service=harbor-registry[&scope=...]` (Basic auth
//!   optional); refused credentials asking for a scope get anonymous rights
//!   (pull on the public project `library`), which Harbor core's `/v2/`
//!   check in front of the registry ([`super::v2auth`]) then enforces.
//! - `GET /api/v2.0/systeminfo`, `/api/v2.0/users/current`, `/api/v2.0/ping`,
//!   `/api/v2.0/projects`; anything else is 404.
//! - The OIDC sign-in: `GET /c/oidc/login` redirects to a fake identity
//!   provider (`/idp/authorize`), which signs in the user the test chose and
//!   redirects back to Harbor's `/c/oidc/callback`; that revives the user's
//!   web session, so Harbor accepts the CLI secret again.
//! - Two switches for what goes wrong around Harbor: a WAF in front of the
//!   token service that answers 403 ([`HarborStandin::set_waf_block`]), and
//!   an identity provider Harbor cannot reach ([`HarborStandin::set_idp_down`]).
//!
//! docs/harbor-standin.md lists each behaviour with the Harbor source file
//! it comes from.
//!
//! The HTTP server is hand-written on `std::net` (one thread per connection,
//! `Connection: close`) to keep the rig free of heavy dependencies. Signing
//! shells out to the `openssl` CLI, one process per token.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const ISSUER: &str = "harbor-token-issuer";
pub const SERVICE: &str = "harbor-registry";
/// What `systeminfo` reports as `harbor_version` to authenticated callers.
pub const HARBOR_VERSION: &str = "v2.13.0-standin";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    /// An OIDC user logging in with the CLI secret from the web UI.
    User,
    /// A robot account (`robot$...`); works on every path and in every auth mode.
    Robot,
}

#[derive(Clone, Debug)]
pub struct Account {
    pub name: String,
    pub secret: String,
    pub kind: AccountKind,
    /// Unix seconds; the account is refused once this is in the past.
    /// `None` (or Harbor's `-1`) means never.
    pub expires_at: Option<i64>,
    pub disabled: bool,
    /// A user whose CLI secret is right but whose OIDC session Harbor can no
    /// longer refresh: refused everywhere, like a wrong secret.
    pub oidc_session_expired: bool,
}

impl Account {
    pub fn user(name: &str, secret: &str) -> Self {
        Self::new(name, secret, AccountKind::User)
    }

    pub fn robot(name: &str, secret: &str) -> Self {
        Self::new(name, secret, AccountKind::Robot)
    }

    /// A robot whose `expires_at` passed an hour ago.
    pub fn expired_robot(name: &str, secret: &str) -> Self {
        Account {
            expires_at: Some(now() - 3600),
            ..Self::robot(name, secret)
        }
    }

    fn new(name: &str, secret: &str, kind: AccountKind) -> Self {
        Account {
            name: name.to_string(),
            secret: secret.to_string(),
            kind,
            expires_at: None,
            disabled: false,
            oidc_session_expired: false,
        }
    }

    /// Whether Harbor would accept this account's secret right now
    /// (the secret itself is checked separately).
    fn usable(&self) -> bool {
        let expired = matches!(self.expires_at, Some(t) if t != -1 && t < now());
        !expired && !self.disabled && !self.oidc_session_expired
    }
}

pub struct StandinOptions {
    pub accounts: Vec<Account>,
    /// `oidc_auth` (default), `db_auth`, `ldap_auth`, `uaa_auth` or `http_auth`.
    pub auth_mode: String,
    /// What `systeminfo` names the identity provider in OIDC mode.
    pub oidc_provider_name: String,
    /// Projects anyone may pull from, even without (or with refused)
    /// credentials. Harbor creates `library` as a public project at install.
    pub public_projects: Vec<String>,
}

impl Default for StandinOptions {
    fn default() -> Self {
        StandinOptions {
            accounts: Vec::new(),
            auth_mode: "oidc_auth".to_string(),
            oidc_provider_name: "Entra ID".to_string(),
            public_projects: vec!["library".to_string()],
        }
    }
}

/// One request to `/service/token`, as the stand-in saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenLogEntry {
    /// The Basic-auth username (even when refused); `None` for anonymous calls.
    pub account: Option<String>,
    /// The `scope` parameters, as sent.
    pub scopes: Vec<String>,
    pub status: u16,
    /// Harbor accepted the credentials. Refused (and absent) credentials
    /// that ask for a scope still get 200, with anonymous rights.
    pub accepted: bool,
}

/// Shared between the stand-in handle and its server threads.
struct State {
    accounts: Mutex<Vec<Account>>,
    auth_mode: Mutex<String>,
    oidc_provider_name: String,
    public_projects: Vec<String>,
    token_log: Mutex<Vec<TokenLogEntry>>,
    /// What `systeminfo` reports as `registry_url` (the stand-in's own address
    /// until a test says where its registry is).
    registry_url: Mutex<String>,
    url: String,
    key_pem: PathBuf,
    kid: String,
    jti: AtomicU64,
    stop: AtomicBool,
    /// Who the fake identity provider signs in (as a person at the browser would).
    idp_user: Mutex<Option<String>>,
    /// `state` values handed out by `/c/oidc/login`, and codes by the IdP.
    oidc_states: Mutex<Vec<String>>,
    oidc_codes: Mutex<Vec<(String, String)>>,
    sign_ins: Mutex<Vec<String>>,
    /// How long `/service/token` sits before answering (a hanging Harbor);
    /// cut short, with a 503, when the stand-in is dropped.
    token_delay: Mutex<Duration>,
    /// `/service/token` requests that arrived (counted before the delay).
    token_arrivals: std::sync::atomic::AtomicUsize,
    /// The body a WAF in front of the token service answers 403 with.
    waf_block: Mutex<Option<String>>,
    /// Harbor cannot reach its identity provider.
    idp_down: AtomicBool,
    /// Requests that reached the fake identity provider.
    idp_visits: std::sync::atomic::AtomicUsize,
}

pub struct HarborStandin {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    /// The token signing certificate: docker-registry's `rootcertbundle`.
    pub cert_pem: PathBuf,
    /// The libtrust key id put in every token's `kid` header.
    pub kid: String,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
    // Last, so it is removed after the server thread has stopped.
    _dir: tempfile::TempDir,
}

impl HarborStandin {
    pub fn start(opts: StandinOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("harbor-standin-")
            .tempdir()
            .expect("create a temp dir for the Harbor stand-in");
        let key_pem = dir.path().join("key.pem");
        let cert_pem = dir.path().join("cert.pem");
        run_openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            "/CN=harbor-token-issuer",
            "-keyout",
            path_str(&key_pem),
            "-out",
            path_str(&cert_pem),
        ]);
        let spki_der = run_openssl(&[
            "pkey",
            "-in",
            path_str(&key_pem),
            "-pubout",
            "-outform",
            "DER",
        ]);
        let kid = libtrust_key_id(&spki_der);

        let listener =
            TcpListener::bind("127.0.0.1:0").expect("bind the Harbor stand-in to 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("stand-in local address")
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let state = Arc::new(State {
            accounts: Mutex::new(opts.accounts),
            auth_mode: Mutex::new(opts.auth_mode),
            oidc_provider_name: opts.oidc_provider_name,
            public_projects: opts.public_projects,
            token_log: Mutex::new(Vec::new()),
            registry_url: Mutex::new(format!("127.0.0.1:{port}")),
            url: url.clone(),
            key_pem,
            kid: kid.clone(),
            jti: AtomicU64::new(1),
            stop: AtomicBool::new(false),
            idp_user: Mutex::new(None),
            oidc_states: Mutex::new(Vec::new()),
            oidc_codes: Mutex::new(Vec::new()),
            sign_ins: Mutex::new(Vec::new()),
            token_delay: Mutex::new(Duration::ZERO),
            token_arrivals: std::sync::atomic::AtomicUsize::new(0),
            waf_block: Mutex::new(None),
            idp_down: AtomicBool::new(false),
            idp_visits: std::sync::atomic::AtomicUsize::new(0),
        });

        let server_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("harbor-standin".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if server_state.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = conn else { continue };
                    let st = Arc::clone(&server_state);
                    std::thread::spawn(move || handle_connection(stream, &st));
                }
            })
            .expect("spawn the Harbor stand-in thread");

        HarborStandin {
            url,
            port,
            cert_pem,
            kid,
            state,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// `/service/token` requests seen so far, oldest first.
    pub fn token_log(&self) -> Vec<TokenLogEntry> {
        self.state.token_log.lock().expect("token log lock").clone()
    }

    pub fn clear_token_log(&self) {
        self.state.token_log.lock().expect("token log lock").clear();
    }

    /// Change one account in place; panics if there is no account of that name.
    pub fn update_account(&self, name: &str, change: impl FnOnce(&mut Account)) {
        let mut accounts = self.state.accounts.lock().expect("accounts lock");
        let account = accounts
            .iter_mut()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("stand-in has no account named {name:?}"));
        change(account);
    }

    pub fn set_auth_mode(&self, mode: &str) {
        *self.state.auth_mode.lock().expect("auth mode lock") = mode.to_string();
    }

    /// What authenticated `systeminfo` calls report as `registry_url`, e.g. a
    /// [`super::registry::Registry::addr`]. (In a real Harbor the API and `/v2/`
    /// share one host; in this rig they are two ports.)
    pub fn set_registry_url(&self, registry_url: &str) {
        *self.state.registry_url.lock().expect("registry url lock") = registry_url.to_string();
    }

    /// `http://127.0.0.1:PORT/service/token`, the registry's token realm.
    pub fn realm(&self) -> String {
        format!("{}/service/token", self.url)
    }

    /// The person the fake identity provider signs in when a browser comes
    /// by; `None` (the default) refuses everyone, as if nobody completed it.
    pub fn set_idp_user(&self, name: Option<&str>) {
        *self.state.idp_user.lock().expect("idp lock") = name.map(str::to_string);
    }

    /// Accounts whose web session a completed sign-in revived, in order.
    pub fn sign_ins(&self) -> Vec<String> {
        self.state.sign_ins.lock().expect("sign-ins lock").clone()
    }

    /// Make `/service/token` wait this long before it answers.
    pub fn set_token_delay(&self, delay: Duration) {
        *self.state.token_delay.lock().expect("delay lock") = delay;
    }

    /// A WAF (or rate limiter, or proxy) in front of Harbor: while `Some`,
    /// every `/service/token` request gets 403 with this body before Harbor
    /// sees it (Harbor's token service itself never answers 403).
    pub fn set_waf_block(&self, body: Option<&str>) {
        *self.state.waf_block.lock().expect("waf lock") = body.map(str::to_string);
    }

    /// Harbor cannot reach its identity provider: every CLI secret gets the
    /// empty 401 of a dead one, robots keep working, and `/c/oidc/login`
    /// answers 500 instead of redirecting.
    pub fn set_idp_down(&self, down: bool) {
        self.state.idp_down.store(down, Ordering::SeqCst);
    }

    /// How many requests reached the fake identity provider (a browser
    /// following Harbor's sign-in redirect).
    pub fn idp_visits(&self) -> usize {
        self.state.idp_visits.load(Ordering::SeqCst)
    }

    /// How many token requests have arrived, answered or still delayed: the
    /// event "a client is waiting on the token service".
    pub fn token_arrivals(&self) -> usize {
        self.state.token_arrivals.load(Ordering::SeqCst)
    }
}

impl Drop for HarborStandin {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // The accept loop is blocked in accept(): one connection wakes it up.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP plumbing

struct Request {
    path: String,
    query: Vec<(String, String)>,
    /// Decoded HTTP Basic credentials, if any.
    basic: Option<(String, String)>,
}

struct Response {
    status: u16,
    content_type: &'static str,
    body: String,
    location: Option<String>,
}

impl Response {
    fn json(status: u16, body: Value) -> Self {
        Response {
            status,
            content_type: "application/json",
            body: body.to_string(),
            location: None,
        }
    }

    fn text(status: u16, body: &str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            location: None,
        }
    }

    fn redirect(to: String) -> Self {
        Response {
            location: Some(to),
            ..Response::text(302, "")
        }
    }
}

fn handle_connection(stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let response = match read_request(&mut reader) {
        Some((method, req)) if method == "GET" => route(&req, state),
        Some(_) => Response::text(405, "method not allowed"),
        None => Response::text(400, "bad request"),
    };
    let mut out = &stream;
    let location = response
        .location
        .as_ref()
        .map(|l| format!("Location: {l}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{location}Connection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(response.body.as_bytes());
    let _ = out.flush();
}

/// Reads the request line and headers; returns the method and the parsed request.
fn read_request(reader: &mut impl BufRead) -> Option<(String, Request)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();

    let mut basic = None;
    let mut content_length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            break;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("authorization") {
            basic = parse_basic(value);
        } else if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().unwrap_or(0);
        }
    }
    // Drain a body, if any, so the client does not see a reset.
    let _ = std::io::copy(
        &mut reader.take(content_length as u64),
        &mut std::io::sink(),
    );

    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Some((
        method,
        Request {
            path: path.to_string(),
            query,
            basic,
        },
    ))
}

fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    // Usernames (robot$proj+name, e-mail addresses) never contain ':', secrets may.
    let (user, pass) = decoded.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        412 => "Precondition Failed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

// ---------------------------------------------------------------------------
// Harbor behaviour

/// Who the Basic credentials of a request turned out to be.
enum Caller {
    Anonymous,
    Valid(Account),
    /// Wrong secret, unknown name, expired/disabled robot, dead OIDC session.
    Refused(String),
}

impl Caller {
    /// The Basic-auth username, if any (even when refused).
    fn name(&self) -> Option<String> {
        match self {
            Caller::Anonymous => None,
            Caller::Valid(a) => Some(a.name.clone()),
            Caller::Refused(name) => Some(name.clone()),
        }
    }
}

fn authenticate(req: &Request, state: &State) -> Caller {
    let Some((user, secret)) = &req.basic else {
        return Caller::Anonymous;
    };
    let accounts = state.accounts.lock().expect("accounts lock");
    match accounts.iter().find(|a| &a.name == user) {
        // Harbor checks a CLI secret with the identity provider (it refreshes
        // the user's stored token); unreachable, that check fails like a
        // dead session. Robots never involve the provider.
        Some(a) if a.kind == AccountKind::User && idp_unreachable(state) => {
            Caller::Refused(user.clone())
        }
        Some(a) if &a.secret == secret && a.usable() => Caller::Valid(a.clone()),
        _ => Caller::Refused(user.clone()),
    }
}

/// Harbor in OIDC mode with its identity provider out of reach.
fn idp_unreachable(state: &State) -> bool {
    state.idp_down.load(Ordering::SeqCst)
        && *state.auth_mode.lock().expect("auth mode lock") == "oidc_auth"
}

fn route(req: &Request, state: &State) -> Response {
    if req.path == "/service/token"
        && let Some(body) = state.waf_block.lock().expect("waf lock").clone()
    {
        // Answered in front of Harbor: Harbor never sees the request.
        return Response {
            content_type: "text/html",
            ..Response::text(403, &body)
        };
    }
    let caller = authenticate(req, state);
    match req.path.as_str() {
        "/service/token" => token(req, caller, state),
        "/api/v2.0/ping" => Response::text(200, "Pong"),
        "/api/v2.0/systeminfo" => systeminfo(caller, state),
        "/api/v2.0/users/current" => users_current(caller, state),
        // Harbor lets the CLI secret through here. Refused credentials fall back
        // to an anonymous security context in Harbor, which lists public
        // projects with 200: this endpoint is no credential check. The
        // stand-in has no projects at all.
        "/api/v2.0/projects" => Response::json(200, json!([])),
        "/c/oidc/login" => oidc_login(state),
        "/idp/authorize" => idp_authorize(req, state),
        "/c/oidc/callback" => oidc_callback(req, state),
        _ => Response::json(
            404,
            json!({"errors":[{"code":"NOT_FOUND","message":"not found"}]}),
        ),
    }
}

fn unauthorized_json() -> Response {
    harbor_error(401, "UNAUTHORIZED", "unauthorized")
}

/// An error as Harbor's `SendError` writes it (src/lib/http/error.go): one
/// error in an `errors` array, then a newline.
fn harbor_error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message}]});
    Response {
        content_type: "application/json; charset=utf-8",
        body: format!("{body}\n"),
        ..Response::text(status, "")
    }
}

fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn unique(state: &State, what: &str) -> String {
    format!("{what}-{}", state.jti.fetch_add(1, Ordering::SeqCst))
}

/// Harbor's "LOGIN VIA OIDC PROVIDER": off to the identity provider, with a
/// `state` to match on the way back.
fn oidc_login(state: &State) -> Response {
    if *state.auth_mode.lock().expect("auth mode lock") != "oidc_auth" {
        return Response::json(
            412,
            json!({"errors":[{"code":"PRECONDITION","message":"the auth mode is not oidc_auth"}]}),
        );
    }
    if idp_unreachable(state) {
        // The redirect needs the provider's discovery document.
        return Response::json(
            500,
            json!({"errors":[{"code":"UNKNOWN","message":"internal server error"}]}),
        );
    }
    let s = unique(state, "state");
    state
        .oidc_states
        .lock()
        .expect("states lock")
        .push(s.clone());
    let back = format!("{}/c/oidc/callback", state.url);
    Response::redirect(format!(
        "{}/idp/authorize?client_id=harbor&response_type=code&state={s}&redirect_uri={}",
        state.url,
        back.replace(':', "%3A").replace('/', "%2F")
    ))
}

/// The fake identity provider (Entra ID and Duo at UCAR): signs in the
/// chosen person at once, or refuses when the test chose nobody.
fn idp_authorize(req: &Request, state: &State) -> Response {
    state.idp_visits.fetch_add(1, Ordering::SeqCst);
    let (Some(s), Some(back)) = (query(req, "state"), query(req, "redirect_uri")) else {
        return Response::text(400, "missing state or redirect_uri");
    };
    if state.idp_down.load(Ordering::SeqCst) {
        return Response::text(503, "the identity provider is down");
    }
    let Some(user) = state.idp_user.lock().expect("idp lock").clone() else {
        return Response::text(401, "sign-in not completed");
    };
    let code = unique(state, "code");
    state
        .oidc_codes
        .lock()
        .expect("codes lock")
        .push((code.clone(), user));
    Response::redirect(format!("{back}?code={code}&state={s}"))
}

/// Harbor's callback: a known `state` and a code from the IdP revive the
/// person's web session (Harbor stores fresh OIDC tokens for the user).
fn oidc_callback(req: &Request, state: &State) -> Response {
    let (Some(s), Some(code)) = (query(req, "state"), query(req, "code")) else {
        return Response::text(400, "missing state or code");
    };
    if !state
        .oidc_states
        .lock()
        .expect("states lock")
        .iter()
        .any(|x| x == s)
    {
        return Response::text(400, "unknown state");
    }
    let user = state
        .oidc_codes
        .lock()
        .expect("codes lock")
        .iter()
        .find(|(c, _)| c == code)
        .map(|(_, u)| u.clone());
    let Some(user) = user else {
        return Response::text(400, "unknown code");
    };
    let mut accounts = state.accounts.lock().expect("accounts lock");
    match accounts
        .iter_mut()
        .find(|a| a.name == user && a.kind == AccountKind::User)
    {
        Some(a) => a.oidc_session_expired = false,
        None => return Response::text(403, "no such Harbor user"),
    }
    state.sign_ins.lock().expect("sign-ins lock").push(user);
    Response::text(200, "Signed in to Harbor")
}

fn token(req: &Request, caller: Caller, state: &State) -> Response {
    state.token_arrivals.fetch_add(1, Ordering::SeqCst);
    let delay = *state.token_delay.lock().expect("delay lock");
    let until = Instant::now() + delay;
    while Instant::now() < until {
        // A stand-in dropped mid-delay has removed its signing key: the
        // caller (a background check its test left behind) gets an error.
        if state.stop.load(Ordering::SeqCst) {
            return Response::text(503, "the Harbor stand-in stopped");
        }
        let left = until.saturating_duration_since(Instant::now());
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    let scopes: Vec<String> = req
        .query
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    let requested: Vec<Value> = scopes
        .iter()
        // One `scope` parameter may hold several scopes separated by spaces.
        .flat_map(|s| s.split(' '))
        .filter(|s| !s.is_empty())
        .map(parse_scope)
        .collect();
    let (account, accepted, response) = match caller {
        Caller::Valid(a) => {
            let token = issue_token(state, &a.name, requested);
            (Some(a.name), true, token)
        }
        // Refused credentials leave Harbor with the anonymous security
        // context (middleware/security/security.go, unauthorized.go). For
        // it `Create` (creator.go) fails a request without a scope ("for
        // docker login": token.go answers an empty 401) and grants a scoped
        // one anonymous rights.
        Caller::Refused(_) | Caller::Anonymous if requested.is_empty() => {
            (caller.name(), false, Response::text(401, ""))
        }
        Caller::Refused(_) | Caller::Anonymous => {
            let access = anonymous_access(state, requested);
            (caller.name(), false, issue_token(state, "", access))
        }
    };
    state
        .token_log
        .lock()
        .expect("token log lock")
        .push(TokenLogEntry {
            account,
            scopes,
            status: response.status,
            accepted,
        });
    response
}

/// What Harbor's access filters leave an anonymous caller (creator.go,
/// `repositoryFilter` and `registryFilter`): pull on a public project's
/// repositories (src/common/rbac/project/rbac_util.go,
/// `publicProjectPolicies`), whatever was asked; nothing else.
fn anonymous_access(state: &State, requested: Vec<Value>) -> Vec<Value> {
    requested
        .into_iter()
        .map(|mut entry| {
            let project = entry["name"]
                .as_str()
                .and_then(|n| n.split_once('/'))
                .map(|(p, _)| p.to_string());
            let public = entry["type"] == "repository"
                && project.is_some_and(|p| state.public_projects.contains(&p));
            entry["actions"] = if public { json!(["pull"]) } else { json!([]) };
            entry
        })
        .collect()
}

/// Builds the token response with these `access` entries.
fn issue_token(state: &State, sub: &str, access: Vec<Value>) -> Response {
    let iat = now();
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": state.kid});
    let claims = json!({
        "iss": ISSUER,
        "sub": sub,
        "aud": SERVICE,
        "exp": iat + 1800,
        "nbf": iat,
        "iat": iat,
        "jti": format!("standin-{}-{}", std::process::id(), state.jti.fetch_add(1, Ordering::SeqCst)),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = openssl_with_stdin(
        &["dgst", "-sha256", "-sign", path_str(&state.key_pem)],
        signing_input.as_bytes(),
    );
    let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    Response::json(
        200,
        // Harbor fills `token` and leaves `access_token` empty.
        json!({"token": jwt, "access_token": "", "expires_in": 1800, "issued_at": rfc3339(iat)}),
    )
}

/// `type:name:actions` as Harbor splits it (authutils.go,
/// `GetResourceActions`): the name may itself contain ':' (a host:port);
/// a scope without actions keeps its entry, with none.
fn parse_scope(scope: &str) -> Value {
    let items: Vec<&str> = scope.split(':').collect();
    let (name, actions) = match items.len() {
        1 => ("".to_string(), Vec::new()),
        2 => (items[1].to_string(), Vec::new()),
        n => {
            let last = items[n - 1];
            let actions = if last.is_empty() {
                Vec::new()
            } else {
                last.split(',').collect()
            };
            (items[1..n - 1].join(":"), actions)
        }
    };
    json!({"type": items[0], "name": name, "actions": actions})
}

fn systeminfo(caller: Caller, state: &State) -> Response {
    let auth_mode = state.auth_mode.lock().expect("auth mode lock").clone();
    let mut info = json!({
        "auth_mode": auth_mode,
        "banner_message": "",
        "self_registration": false,
        "primary_auth_mode": false,
    });
    if auth_mode == "oidc_auth" {
        info["oidc_provider_name"] = json!(state.oidc_provider_name);
    }
    // Refused credentials get the anonymous view (Harbor falls back to an
    // anonymous security context on its REST API).
    if let Caller::Valid(_) = caller {
        info["harbor_version"] = json!(HARBOR_VERSION);
        info["external_url"] = json!(state.url);
        info["registry_url"] = json!(
            state
                .registry_url
                .lock()
                .expect("registry url lock")
                .clone()
        );
        info["read_only"] = json!(false);
        info["current_time"] = json!(rfc3339(now()));
    }
    Response::json(200, info)
}

fn users_current(caller: Caller, state: &State) -> Response {
    match caller {
        // A robot's security context is not a local user's
        // (src/server/v2.0/handler/user.go, `GetCurrentUserInfo`).
        Caller::Valid(a) if a.kind == AccountKind::Robot => harbor_error(
            412,
            "PRECONDITION",
            "get current user not available for security context: robot",
        ),
        // In db_auth/ldap_auth the "secret" is the password, which this
        // endpoint accepts. An OIDC user's CLI secret is not accepted here.
        Caller::Valid(a) if *state.auth_mode.lock().expect("auth mode lock") != "oidc_auth" => {
            Response::json(
                200,
                json!({"user_id": 3, "username": a.name, "email": "", "realname": a.name,
                       "sysadmin_flag": false, "admin_role_in_auth": false}),
            )
        }
        _ => unauthorized_json(),
    }
}

// ---------------------------------------------------------------------------
// Helpers

/// A robot account file as Harbor's web UI exports it, mode 0600, in `dir`
/// (named for the robot: `robot_proj_ci.json`).
pub fn robot_file(dir: &Path, name: &str, secret: &str, expires_at: i64) -> PathBuf {
    let file = dir.join(format!("{}.json", name.replace(['$', '+'], "_")));
    let body = json!({
        "id": 7,
        "name": name,
        "secret": secret,
        "creation_time": rfc3339(now() - 60),
        "expires_at": expires_at,
    });
    std::fs::write(&file, body.to_string()).expect("write a robot file");
    super::bin::set_mode(&file, 0o600);
    file
}

/// A `BROWSER` script that does what a person does: follows the sign-in
/// address through the identity provider back to Harbor; it writes the
/// address it was given to the second path.
pub fn browser_script(dir: &Path) -> (PathBuf, PathBuf) {
    let ran = dir.join("browser-ran");
    let script = dir.join("browser.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" > '{}'\nexec curl -sSL --max-time 20 -o /dev/null \"$1\"\n",
            ran.display()
        ),
    )
    .expect("write the browser script");
    super::bin::set_mode(&script, 0o755);
    (script, ran)
}

/// Token requests by `account` that Harbor accepted and that asked for
/// `action` on `repo`.
pub fn token_requests(log: &[TokenLogEntry], account: &str, repo: &str, action: &str) -> usize {
    let prefix = format!("repository:{repo}:");
    log.iter()
        .filter(|e| e.account.as_deref() == Some(account) && e.accepted)
        .filter(|e| {
            e.scopes.iter().flat_map(|s| s.split(' ')).any(|s| {
                s.strip_prefix(&prefix)
                    .is_some_and(|acts| acts.split(',').any(|a| a == action))
            })
        })
        .count()
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (UTC), without a date crate.
pub fn rfc3339(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// libtrust key id, which docker-registry matches against the token's `kid`:
/// SHA-256 of the DER SubjectPublicKeyInfo, first 30 bytes, base32 without
/// padding, in 12 groups of 4 joined by ':'.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(spki_der);
    // 30 bytes = 240 bits = exactly 48 base32 characters, so no padding arises.
    let mut b32 = String::new();
    for chunk in digest[..30].chunks(5) {
        let n = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        for i in (0..8).rev() {
            b32.push(ALPHABET[((n >> (i * 5)) & 31) as usize] as char);
        }
    }
    b32.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("base32 is ASCII"))
        .collect::<Vec<_>>()
        .join(":")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Runs `openssl ARGS`, panicking with its stderr on failure; returns stdout.
fn run_openssl(args: &[&str]) -> Vec<u8> {
    openssl_with_stdin(args, b"")
}

/// Run `openssl ARGS` with `input` on stdin; its stdout. Fails the test
/// when openssl does (the one openssl runner of the rig).
pub fn openssl_with_stdin(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl (Debian package `openssl`) for the Harbor stand-in");
    child
        .stdin
        .take()
        .expect("openssl stdin")
        .write_all(input)
        .expect("write to openssl");
    let out = child.wait_with_output().expect("wait for openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
