//! The protocol table that `tests/suite/peer_compat.rs` runs through both our
//! helper and `docker-credential-secretservice`, and `tests/suite/windows.rs` through
//! the Windows build under Wine: rows of protocol calls, in order, with the
//! answers where ours deliberately differs from the peer's and why.

use super::bin::{self, NAME, NOT_FOUND, VERSION};

pub const PEER: &str = "/usr/bin/docker-credential-secretservice";

/// What one helper prints on stdout and its exit status.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub code: i32,
    pub stdout: String,
}

pub fn ok(stdout: &str) -> Answer {
    Answer {
        code: 0,
        stdout: stdout.to_string(),
    }
}

pub fn fail(line: &str) -> Answer {
    Answer {
        code: 1,
        stdout: format!("{line}\n"),
    }
}

pub enum Expect {
    /// Both print the same bytes and exit the same way.
    Same,
    /// A deliberate difference; `why` says which side we follow and why.
    Differs {
        peer: Answer,
        ours: Answer,
        why: &'static str,
    },
}

pub struct Row {
    pub args: Vec<&'static str>,
    pub stdin: String,
    pub expect: Expect,
}

pub fn row(action: &'static str, stdin: &str, expect: Expect) -> Row {
    Row {
        args: vec![action],
        stdin: stdin.to_string(),
        expect,
    }
}

pub fn get_line(url: &str, user: &str, secret: &str) -> String {
    let mut s = String::from("{\"ServerURL\":");
    go_json(&mut s, url);
    s.push_str(",\"Username\":");
    go_json(&mut s, user);
    s.push_str(",\"Secret\":");
    go_json(&mut s, secret);
    s.push_str("}\n");
    s
}

/// Go's encoding/json string encoding (HTML-safe) as Go 1.22 and later write
/// it (backspace and form feed as `\b` and `\f`; current upstream releases
/// are built with it), written out independently of the product's own encoder.
pub fn go_json(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn creds(url: &str, user: &str, secret: &str) -> String {
    bin::store_json(url, user, secret)
}

const GO_1_22_ESCAPES: &str = "0.6.4 here is a Go 1.19 build; we print what current upstream \
     releases (0.9.0 and later, built with Go >= 1.22) print";

pub fn table() -> Vec<Row> {
    use Expect::*;
    let special_user = "a<b>&\"c";
    let special_secret = "<>&\"\\ \u{2028} é";
    let big = "x".repeat(20 * 1024);
    vec![
        // --- backspace and form feed: Debian's 0.6.4 is built with Go 1.19,
        // whose encoding/json wrote them as `\u0008` and `\u000c`; Go 1.22
        // writes `\b` and `\f`, and docker-credential-helpers 0.9.0 and later
        // (built with Go 1.23 and newer) print those. First in the table, so
        // that `list` shows this entry alone; erased again below.
        row(
            "store",
            &creds("control.example", "u\u{c}", "a\u{8}b\u{c}"),
            Same,
        ),
        row(
            "get",
            "control.example",
            Differs {
                peer: ok(
                    "{\"ServerURL\":\"control.example\",\"Username\":\"u\\u000c\",\
                     \"Secret\":\"a\\u0008b\\u000c\"}\n",
                ),
                ours: ok(&get_line("control.example", "u\u{c}", "a\u{8}b\u{c}")),
                why: GO_1_22_ESCAPES,
            },
        ),
        row(
            "list",
            "unused\n",
            Differs {
                peer: ok("{\"control.example\":\"u\\u000c\"}\n"),
                ours: ok("{\"control.example\":\"u\\f\"}\n"),
                why: GO_1_22_ESCAPES,
            },
        ),
        row("erase", "control.example", Same),
        // --- a plain login, as `docker login registry.example` stores it
        row("store", &creds("registry.example", "jdoe", "s3cret"), Same),
        row("get", "registry.example", Same),
        // Both trim surrounding white space from the key.
        row("get", "  registry.example\n", Same),
        row(
            "get",
            "https://registry.example/",
            Differs {
                peer: fail(NOT_FOUND),
                ours: ok(&get_line("https://registry.example/", "jdoe", "s3cret")),
                why: "we normalise keys: docker sends `host` for pulls but `https://host/` after \
                      `docker login https://host/`; both must find the one entry",
            },
        ),
        // Re-store with the same account replaces the secret in both.
        row(
            "store",
            &creds("registry.example", "jdoe", "s3cret-2"),
            Same,
        ),
        row("get", "registry.example", Same),
        row("get", "missing.example", Same),
        // --- exact error texts that clients compare
        row("get", "", Same),
        row("get", " \n", Same),
        row("erase", "", Same),
        row("store", r#"{"Username":"u","Secret":"s"}"#, Same),
        row(
            "store",
            r#"{"ServerURL":"","Username":"u","Secret":"s"}"#,
            Same,
        ),
        row(
            "store",
            r#"{"ServerURL":"nouser.example","Secret":"s"}"#,
            Same,
        ),
        row(
            "store",
            r#"{"ServerURL":"nouser.example","Username":"","Secret":"s"}"#,
            Same,
        ),
        row("get", "nouser.example", Same),
        // Go decodes `null` into an empty struct: no server URL.
        row("store", "null", Same),
        // --- malformed input: both fail with one line and exit 1, in different words
        row(
            "store",
            "",
            Differs {
                peer: fail("EOF"),
                ours: fail(
                    "no credentials on stdin: expected a JSON object with ServerURL, Username and Secret",
                ),
                why: "Go prints its decoder's bare `EOF`; we say what was expected",
            },
        ),
        row(
            "store",
            "not json",
            Differs {
                peer: fail("invalid character 'o' in literal null (expecting 'u')"),
                ours: fail("invalid credentials JSON: expected ident"),
                why: "parser messages differ (Go's encoding/json vs serde_json); both are one line, exit 1",
            },
        ),
        row(
            "store",
            "[]",
            Differs {
                peer: fail(
                    "json: cannot unmarshal array into Go value of type credentials.Credentials",
                ),
                ours: fail("invalid credentials JSON: expected a JSON object, found an array"),
                why: "Go names its internal type; we name what was expected",
            },
        ),
        row(
            "store",
            r#"{"ServerURL":1,"Username":"u","Secret":"s"}"#,
            Differs {
                peer: fail(
                    "json: cannot unmarshal number into Go struct field Credentials.ServerURL of type string",
                ),
                ours: fail(
                    "invalid credentials JSON: field serverurl: expected a string, found a number",
                ),
                why: "same failure, our own words; neither quotes the value",
            },
        ),
        // --- Go's decoding rules, which we follow: case-insensitive field
        // names, unknown fields ignored, data after the object ignored.
        row(
            "store",
            r#"{"serverurl":"fields.example","USERNAME":"u","secret":"s","Extra":[1,{"x":2}]}"#,
            Same,
        ),
        row("get", "fields.example", Same),
        row(
            "store",
            "{\"ServerURL\":\"trailing.example\",\"Username\":\"u\",\"Secret\":\"s\"} trailing",
            Same,
        ),
        row("get", "trailing.example", Same),
        // --- identity token and HTML-escaping of special characters
        row(
            "store",
            &creds("token.example", "<token>", "refresh-token-value"),
            Same,
        ),
        row("get", "token.example", Same),
        row(
            "store",
            &creds("special.example", special_user, special_secret),
            Same,
        ),
        row("get", "special.example", Same),
        // --- Docker Hub
        row(
            "store",
            &creds("https://index.docker.io/v1/", "hubuser", "hubsecret"),
            Same,
        ),
        row("get", "https://index.docker.io/v1/", Same),
        row(
            "get",
            "docker.io",
            Differs {
                peer: fail(NOT_FOUND),
                ours: ok(&get_line("docker.io", "hubuser", "hubsecret")),
                why: "podman and skopeo ask for Docker Hub as `docker.io`; we map it onto \
                      docker's `https://index.docker.io/v1/` entry",
            },
        ),
        // --- an empty secret
        row("store", &creds("empty.example", "u", ""), Same),
        row(
            "get",
            "empty.example",
            Differs {
                peer: fail(NOT_FOUND),
                ours: ok(&get_line("empty.example", "u", "")),
                why: "0.6.4 stores the item but then reports an empty secret as not found; \
                      the protocol allows an empty Secret, so we return what was stored",
            },
        ),
        // --- list: same keys and usernames, same encoding (sorted, escaped)
        row("list", "unused\n", Same),
        // --- erase
        row("erase", "registry.example", Same),
        row("get", "registry.example", Same),
        // Both succeed quietly for a key that is not stored (podman/skopeo
        // logout, containers/image <= 5.30, crash on a failed erase).
        row("erase", "missing.example", Same),
        row("erase", "https://token.example/", Same),
        row(
            "get",
            "token.example",
            Differs {
                peer: ok(&get_line("token.example", "<token>", "refresh-token-value")),
                ours: fail(NOT_FOUND),
                why: "normalised keys: `docker logout` erases `https://host`, which must remove \
                      what `docker login host` stored; 0.6.4 exits 0 but erases nothing",
            },
        ),
        // --- a secret no registry issues
        row(
            "store",
            &creds("big.example", "u", &big),
            Differs {
                peer: ok(""),
                ours: fail("the secret is longer than 16 KiB; registry secrets are much shorter"),
                why: "we refuse secrets over 16 KiB (some keychains cannot hold them); 0.6.4 takes anything",
            },
        ),
        row(
            "get",
            "big.example",
            Differs {
                peer: ok(&get_line("big.example", "u", &big)),
                ours: fail(NOT_FOUND),
                why: "follows from the refused store above",
            },
        ),
        // --- list keys: ours are normalised
        row("erase", "big.example", Same),
        row("store", &creds("Mixed.Case.Example", "mc", "mixed"), Same),
        row(
            "list",
            "unused\n",
            Differs {
                peer: ok(
                    "{\"Mixed.Case.Example\":\"mc\",\"empty.example\":\"u\",\"fields.example\":\"u\",\
                     \"https://index.docker.io/v1/\":\"hubuser\",\"special.example\":\"a\\u003cb\\u003e\\u0026\\\"c\",\
                     \"token.example\":\"\\u003ctoken\\u003e\",\"trailing.example\":\"u\"}\n",
                ),
                ours: ok(
                    "{\"empty.example\":\"u\",\"fields.example\":\"u\",\"https://index.docker.io/v1/\":\"hubuser\",\
                     \"mixed.case.example\":\"mc\",\"special.example\":\"a\\u003cb\\u003e\\u0026\\\"c\",\
                     \"trailing.example\":\"u\"}\n",
                ),
                why: "we list the normalised key (lower-case host), 0.6.4 the address as sent; \
                      token.example is still in the peer's list because its erase above removed nothing",
            },
        ),
        // --- usage and unknown actions
        row(
            "bogus",
            "",
            Differs {
                peer: fail("Unknown credential action `bogus`"),
                ours: fail(&format!("{NAME}: unknown action: bogus")),
                why: "0.6.4's text; current upstream prints `<name>: unknown action: <x>` and we follow upstream",
            },
        ),
        row(
            "version",
            "",
            Differs {
                peer: ok("0.6.4\n"),
                ours: ok(&format!("{NAME} ({NAME}) {}\n", VERSION)),
                why: "0.6.4 prints a bare version; current upstream prints `<name> (<module>) <version>`, as we do",
            },
        ),
        Row {
            args: vec![],
            stdin: String::new(),
            expect: Differs {
                peer: fail(&format!("Usage: {PEER} <store|get|erase|list|version>")),
                ours: fail(&format!(
                    "Usage: {NAME} <store|get|erase|list|version>\n\
                     For login, status, configure and the other commands for people, run `{NAME} --help`."
                )),
                why: "same first line (Go prints os.Args[0], here the full path; we print our name), \
                      then a pointer to --help for a person who ran it without arguments",
            },
        },
        Row {
            args: vec!["get", "extra"],
            stdin: "registry.example".into(),
            expect: Differs {
                peer: fail(&format!("Usage: {PEER} <store|get|erase|list|version>")),
                ours: fail(&format!("Usage: {NAME} <store|get|erase|list|version>")),
                why: "as above",
            },
        },
    ]
}
