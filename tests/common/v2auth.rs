//! Harbor core's `/v2/` check in front of the real docker-registry.
//!
//! In Harbor, core answers every `/v2/` request before its distribution sees
//! it (goharbor/harbor src/server/middleware/v2auth/auth.go): a request whose
//! bearer token does not grant the action on the repository's project gets
//! 401 with `Www-Authenticate: Basic realm="harbor"` and "unauthorized to
//! access repository: P/R, action: A: ...". docker-registry alone answers
//! such a token with its own 401 (`error="insufficient_scope"`), which
//! clients show as "requested access to the resource is denied". This front
//! gives Harbor's answer and passes every other request to the registry
//! unchanged (one request per connection). docs/harbor-standin.md lists what
//! it does not model.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub struct V2Front {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl V2Front {
    /// A front on a free 127.0.0.1 port for the registry at `upstream`.
    pub fn start(upstream: u16) -> V2Front {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("bind Harbor's /v2/ front to 127.0.0.1:0");
        let port = listener.local_addr().expect("front address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("harbor-v2-front".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stopped.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = conn else { continue };
                    std::thread::spawn(move || {
                        let _ = serve(client, upstream);
                    });
                }
            })
            .expect("spawn Harbor's /v2/ front");
        V2Front {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for V2Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The accept loop is blocked in accept(): one connection wakes it up.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one request: Harbor's refusal, or the registry's answer.
fn serve(client: TcpStream, upstream: u16) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    // Anything but HTTP (a TLS handshake, say) goes to the registry as it
    // came, so the registry answers it as before.
    let mut first = [0u8; 1];
    let http = client.peek(&mut first)? == 1 && first[0].is_ascii_uppercase();
    let (head, early_body) = if http {
        let mut reader = BufReader::new(client.try_clone()?);
        let head = read_head(&mut reader)?;
        // Bytes of the body that came in with the head.
        (Some(head), reader.buffer().to_vec())
    } else {
        (None, Vec::new())
    };
    client.set_read_timeout(None)?;
    if let Some(refusal) = head.as_deref().and_then(refusal) {
        (&client).write_all(refusal.as_bytes())?;
        // Read what the client still sends (a body) before closing, so it
        // gets the answer rather than a reset.
        client.shutdown(Shutdown::Write)?;
        client.set_read_timeout(Some(Duration::from_secs(2)))?;
        let _ = std::io::copy(&mut &client, &mut std::io::sink());
        return Ok(());
    }
    let server = TcpStream::connect(("127.0.0.1", upstream))?;
    if let Some(head) = &head {
        // One request per connection: the registry closes after its
        // answer, which ends the copy back to the client.
        let mut forwarded = String::new();
        for line in head.iter().filter(|l| !is_hop_header(l)) {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
        forwarded.push_str("Connection: close\r\n\r\n");
        (&server).write_all(forwarded.as_bytes())?;
    }
    (&server).write_all(&early_body)?;
    let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
    let upload = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut &server, &mut &client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = upload.join();
    Ok(())
}

/// The request line and headers, without their line ends.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Vec<String>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Ok(head);
        }
        head.push(line.to_string());
    }
}

fn is_hop_header(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or("").trim();
    ["connection", "keep-alive", "proxy-connection"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Harbor's 401 when the bearer token does not grant what the request
/// needs (auth.go, `reqChecker.check`), or `None` to pass the request on.
/// Requests without a bearer token, or with one this cannot read, are the
/// registry's to answer.
fn refusal(head: &[String]) -> Option<String> {
    let mut request_line = head.first()?.split_whitespace();
    let (method, target) = (request_line.next()?, request_line.next()?);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let token = header(head, "authorization")?.strip_prefix("Bearer ")?;
    let granted = project_actions(token)?;
    let (repo, action) = needed(method, path, query)
        .into_iter()
        .find(|(repo, action)| {
            let project = repo.split('/').next().unwrap_or_default();
            !granted.get(project).is_some_and(|a| a.contains(action))
        })?;
    let reason = format!("unauthorized to access repository: {repo}, action: {action}");
    // `errors.UnauthorizedError(err).WithMessage(err.Error())`: the message,
    // then its cause, which is the same text (src/lib/errors/errors.go).
    let body =
        json!({"errors": [{"code": "UNAUTHORIZED", "message": format!("{reason}: {reason}")}]});
    let body = if method == "HEAD" {
        String::new()
    } else {
        format!("{body}\n")
    };
    Some(format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json; charset=utf-8\r\n\
         Docker-Distribution-Api-Version: registry/2.0\r\nWww-Authenticate: Basic realm=\"harbor\"\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
}

/// The repositories and actions a request needs (access.go, `accessList`
/// and `getAction`): the action follows the method; a blob upload `from`
/// another repository (a mount) also needs pull there
/// (src/server/middleware/artifactinfo/artifact_info.go).
fn needed(method: &str, path: &str, query: &str) -> Vec<(String, &'static str)> {
    let action = match method {
        "GET" | "HEAD" => "pull",
        "POST" | "PUT" | "PATCH" => "push",
        "DELETE" => "delete",
        _ => return Vec::new(),
    };
    let Some(repo) = repository(path) else {
        return Vec::new();
    };
    let mut needed = vec![(repo.to_string(), action)];
    let from = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("from="))
        .filter(|from| !from.is_empty());
    if path.contains("/blobs/uploads")
        && let Some(from) = from
    {
        // Names are [a-z0-9._/-]: only '/' may come percent-encoded.
        needed.push((from.replace("%2F", "/").replace("%2f", "/"), "pull"));
    }
    needed
}

/// The repository a `/v2/` path names (src/lib/patterns.go: manifests,
/// blobs, uploads, tags, referrers); `None` for `/v2/` and the catalog.
fn repository(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v2/")?;
    ["/manifests/", "/blobs/", "/tags/list", "/referrers/"]
        .iter()
        .filter_map(|marker| rest.rfind(marker))
        .min()
        .map(|end| &rest[..end])
        .filter(|name| !name.is_empty())
}

/// What the token's `access` claim grants, by project: Harbor's token
/// security context keeps one set of actions per project
/// (src/common/security/v2token/context.go), `*` meaning all three.
fn project_actions(jwt: &str) -> Option<BTreeMap<String, BTreeSet<&'static str>>> {
    let payload = jwt.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let mut granted: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for entry in claims["access"].as_array()? {
        if entry["type"] != "repository" {
            continue;
        }
        let project = entry["name"].as_str()?.split('/').next()?.to_string();
        // Harbor grants one project-wide set per project, so the entries of
        // one project agree there; the stand-in grants what each asked for,
        // hence the union.
        let actions = granted.entry(project).or_default();
        for action in entry["actions"]
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
        {
            match action {
                "pull" => actions.extend(["pull"]),
                "push" => actions.extend(["push"]),
                "delete" => actions.extend(["delete"]),
                "*" => actions.extend(["pull", "push", "delete"]),
                _ => {}
            }
        }
    }
    Some(granted)
}
