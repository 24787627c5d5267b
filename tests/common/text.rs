//! Whole-output asserts for the human commands (as ripgrep's `eqnice!`):
//! where the text is the behaviour (login's, logout's, status's, renew's,
//! configure's messages, the one-line errors a user reads), a test compares
//! all of it, so a changed word, an extra line or a lost hint fails it, which
//! a `contains` check lets through.
//!
//! What differs from run to run is replaced first by a [`Normal`], a named
//! normaliser: the Env's temporary directories become `$HOME`,
//! `$XDG_CONFIG_HOME`, ..., the registry's `127.0.0.1:PORT` becomes
//! `$REGISTRY`, and (when asked) a time span such as `3 seconds` becomes
//! `N seconds`. On a mismatch [`assert_text`] prints both texts line by line,
//! marks the lines that differ, and gives what was printed as a Rust literal
//! to paste once it has been read and found right.
//!
//! Keep `contains` for one part of a large or platform-varying output
//! (doctor's full report, docker's own output, logs).
use crate::bin::Env;

/// The run-dependent parts of a text and the names they are replaced by.
#[derive(Clone, Debug, Default)]
pub struct Normal {
    /// (what was printed, its name), replaced in this order.
    names: Vec<(String, String)>,
    /// The time units whose spans are written `N units`.
    spans: &'static [&'static str],
}

impl Normal {
    /// Nothing replaced yet.
    pub fn new() -> Normal {
        Normal::default()
    }

    /// The temporary directories of `env`: `$HOME`, `$XDG_DATA_HOME`,
    /// `$XDG_CONFIG_HOME`, `$XDG_CACHE_HOME`, `$XDG_RUNTIME_DIR`, and the
    /// rest of its temporary tree as `$ROOT`.
    pub fn env(env: &Env) -> Normal {
        let mut n = Normal::new();
        for (dir, name) in [
            (&env.home, "$HOME"),
            (&env.data_home, "$XDG_DATA_HOME"),
            (&env.config_home, "$XDG_CONFIG_HOME"),
            (&env.cache_home, "$XDG_CACHE_HOME"),
            (&env.runtime_dir, "$XDG_RUNTIME_DIR"),
        ] {
            n = n.name(&dir.display().to_string(), name);
        }
        n.name(&env.root().display().to_string(), "$ROOT")
    }

    /// The Env's directories and the registry's `host:port` as `$REGISTRY`.
    pub fn registry(env: &Env, key: &str) -> Normal {
        Normal::env(env).name(key, "$REGISTRY")
    }

    /// Also replace `printed` by `name` (a port, another server, a file).
    pub fn name(mut self, printed: &str, name: &str) -> Normal {
        assert!(!printed.is_empty(), "an empty text cannot be named");
        self.names.push((printed.to_string(), name.to_string()));
        self
    }

    /// Also write every time span (`1 second`, `4 days`) as `N seconds`,
    /// `N days`: for texts that say how long ago or until when, where even
    /// the days depend on when the test ran.
    pub fn durations(mut self) -> Normal {
        self.spans = &UNITS;
        self
    }

    /// Also write spans of seconds (`0 seconds ago`, `1 second ago`) as
    /// `N seconds`: how long the test took; days and hours stay as printed.
    pub fn seconds(mut self) -> Normal {
        self.spans = &UNITS[..1];
        self
    }

    /// `text` with the run-dependent parts replaced.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (printed, name) in &self.names {
            out = out.replace(printed.as_str(), name);
        }
        if !self.spans.is_empty() {
            out = spans_as_n(&out, self.spans);
        }
        out
    }
}

const UNITS: [&str; 5] = ["second", "minute", "hour", "day", "week"];

/// `3 days` -> `N days`, `1 second` -> `N seconds`.
fn spans_as_n(text: &str, units: &[&str]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let digits = rest[start..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len(), |n| start + n);
        let glued = rest[..start].ends_with(|c: char| c.is_alphanumeric() || c == '.');
        let after = &rest[digits..];
        // The unit, with or without its `s`, and nothing glued after it.
        let unit_len = |u: &str| {
            let a = after.strip_prefix(' ')?.strip_prefix(u)?;
            let a = a.strip_prefix('s').unwrap_or(a);
            (!a.starts_with(char::is_alphanumeric)).then(|| after.len() - a.len())
        };
        let unit = units.iter().find_map(|u| Some((*u, unit_len(u)?)));
        match unit {
            Some((unit, len)) if !glued => {
                out.push_str(&rest[..start]);
                out.push_str(&format!("N {unit}s"));
                rest = &after[len..];
            }
            _ => {
                out.push_str(&rest[..digits]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Assert that `got`, normalised by `normal`, is `want`, the whole of it.
/// On a mismatch, print both line by line, the differing lines marked.
#[track_caller]
pub fn assert_text(normal: &Normal, got: &str, want: &str) {
    let got = normal.apply(got);
    if got == want {
        return;
    }
    panic!("{}", difference(want, &got, normal));
}

fn difference(want: &str, got: &str, normal: &Normal) -> String {
    let (want_lines, got_lines): (Vec<&str>, Vec<&str>) =
        (want.split('\n').collect(), got.split('\n').collect());
    let mut report = String::from("the output is not the expected text\n");
    for i in 0..want_lines.len().max(got_lines.len()) {
        let (w, g) = (want_lines.get(i), got_lines.get(i));
        if w == g {
            report.push_str(&format!("  {:>3} | {}\n", i + 1, w.unwrap_or(&"")));
            continue;
        }
        match w {
            Some(w) => report.push_str(&format!("- {:>3} | {w:?}\n", i + 1)),
            None => report.push_str(&format!("- {:>3} | (no line)\n", i + 1)),
        }
        match g {
            Some(g) => report.push_str(&format!("+ {:>3} | {g:?}\n", i + 1)),
            None => report.push_str(&format!("+ {:>3} | (no line)\n", i + 1)),
        }
    }
    report.push_str("(- expected, + printed)\nnames: ");
    for (printed, name) in &normal.names {
        report.push_str(&format!("{name} = {printed}; "));
    }
    report.push_str(&format!("\nprinted, as a literal:\n{}\n", literal(got)));
    report
}

/// `text` as a Rust string literal, one source line per line of text.
pub fn literal(text: &str) -> String {
    let escaped = format!("{text:?}");
    // A continuation `\` would skip the first line's leading blanks, and
    // one line reads well as it is.
    if text.starts_with([' ', '\t']) || text.trim_end_matches('\n').lines().count() < 2 {
        return escaped;
    }
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let e = format!("{l:?}");
            e[1..e.len() - 1].to_string()
        })
        .collect();
    format!("\"\\\n{}\"", lines.join("\n"))
}
