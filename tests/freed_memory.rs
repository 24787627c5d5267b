//! No copy of a secret is left in memory given back to the allocator: every
//! allocation is scanned for a canary as it is freed (or outgrown), while
//! the parsers and encoders that handle secrets run (security review 2,
//! item 7: a growing stdin buffer, serde_json's scratch buffer for strings
//! with escapes, and the keychain blob each left one behind).
//!
//! A binary of its own, not a module of tests/suite: its scanning global
//! allocator would see every other test's allocations (and slow them all).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use docker_credential_harbor::secret::{Secret, SecretBuf};
use docker_credential_harbor::{keychain, protocol, robot};

const CANARY: &[u8] = b"freed-canary-3b9f";

static ARMED: AtomicBool = AtomicBool::new(false);
static HITS: AtomicUsize = AtomicUsize::new(0);

struct Scanning;

// SAFETY: forwards to the system allocator; `dealloc` only reads the block
// it is given back before freeing it. `realloc` is the trait's default
// (alloc, copy, dealloc), so an outgrown block is scanned too.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::SeqCst) {
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if block.windows(CANARY.len()).any(|w| w == CANARY) {
                HITS.fetch_add(1, Ordering::SeqCst);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

/// Text built in one allocation that is wiped when dropped.
fn secret_text(parts: &[&str]) -> Secret<String> {
    let mut b = SecretBuf::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        b.push_str(p);
    }
    b.into_secret()
}

/// Reads one byte per call, so a growing buffer grows many times.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// How many freed blocks held the canary while `f` ran.
fn leaks(f: impl FnOnce()) -> usize {
    HITS.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    HITS.load(Ordering::SeqCst)
}

#[test]
fn secrets_leave_no_copy_in_freed_memory() {
    let canary = std::str::from_utf8(CANARY).unwrap();
    // A long secret with escapes (a quote, a backslash, `<`), as a JSON payload.
    let filler = "x".repeat(3000);
    let payload = secret_text(&[
        r#"{"ServerURL":"hub.example","Username":"u","Secret":""#,
        canary,
        &filler,
        r#"\"\\<&"}"#,
    ]);
    let mut failures = Vec::new();

    let n = leaks(|| {
        let text = protocol::read_input(Trickle(payload.expose().as_bytes())).unwrap();
        assert!(text.expose().contains(canary));
    });
    if n > 0 {
        failures.push(format!("read_input: {n} freed blocks held the secret"));
    }

    // Larger than the first read: the buffer grows (by hand) several times.
    let long_filler = "y".repeat(40_000);
    let long = secret_text(&[
        r#"{"ServerURL":"h","Username":"u","Secret":""#,
        canary,
        &long_filler,
        r#""}"#,
    ]);
    let n = leaks(|| {
        let text = protocol::read_input(Trickle(long.expose().as_bytes())).unwrap();
        assert_eq!(text.expose().len(), long.expose().len());
    });
    if n > 0 {
        failures.push(format!(
            "read_input, grown: {n} freed blocks held the secret"
        ));
    }

    let n = leaks(|| {
        let creds = protocol::parse_store(payload.expose()).unwrap();
        assert!(creds.secret.expose().ends_with("\"\\<&"));
    });
    if n > 0 {
        failures.push(format!("parse_store: {n} freed blocks held the secret"));
    }

    let stored = keychain::Stored {
        username: "u".into(),
        secret: secret_text(&[canary, &filler, "\"\\<&\u{1}"]),
    };
    let n = leaks(|| {
        let blob = keychain::encode_blob(&stored);
        let back = keychain::decode_blob(blob.expose()).unwrap();
        assert_eq!(back.secret, stored.secret);
    });
    if n > 0 {
        failures.push(format!("keychain blob: {n} freed blocks held the secret"));
    }

    let n = leaks(|| {
        let line = protocol::format_get("hub.example", "u", &stored.secret);
        assert!(line.expose().contains(canary));
    });
    if n > 0 {
        failures.push(format!("get's line: {n} freed blocks held the secret"));
    }
    // A robot account file with escapes in its secret, as `login --robot-file`
    // and the kubelet provider read it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("robot.json");
    let text = secret_text(&[
        r#"{"name":"robot$p+ci","secret":""#,
        canary,
        &filler,
        r#"\"\\<&","expires_at":-1}"#,
    ]);
    std::fs::write(&file, text.expose()).unwrap();
    let n = leaks(|| {
        let r = robot::read(&file).unwrap();
        assert!(r.secret.expose().ends_with("\"\\<&"));
    });
    if n > 0 {
        failures.push(format!("robot file: {n} freed blocks held the secret"));
    }

    // The kernel-keyring cache's read (this suite runs in its own session
    // keyring: `keyctl session -`), small and larger than its stack buffer.
    use docker_credential_harbor::keychain::cache::{Cache, KernelKeyring};
    for (i, secret) in [secret_text(&[canary]), secret_text(&[canary, &filler])]
        .into_iter()
        .enumerate()
    {
        let key = format!("freed-memory-{}-{i}.example", std::process::id());
        let stored = keychain::Stored {
            username: "u".into(),
            secret,
        };
        let cache = KernelKeyring::new(600);
        cache.put(&key, 7, &stored);
        let n = leaks(|| {
            let back = cache
                .get(&key, 7)
                .expect("cached: run the suite in `keyctl session -`");
            assert_eq!(back.secret, stored.secret);
        });
        cache.invalidate(&key);
        if n > 0 {
            failures.push(format!("cache read {i}: {n} freed blocks held the secret"));
        }
    }

    // The scan itself works: a plain String is freed unwiped.
    let n = leaks(|| drop(String::from(canary)));
    assert_eq!(n, 1, "the scan sees an unwiped copy");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
