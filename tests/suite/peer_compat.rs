//! Side by side with the reference helper most Linux users have:
//! `/usr/bin/docker-credential-secretservice` from Debian's
//! golang-docker-credential-helpers 0.6.4. One table of protocol calls
//! (tests/common/peer_table.rs) runs, in order, through both helpers, each
//! against its own fresh private Secret Service; stdout and exit status must
//! match, row by row, except where the table states the difference and why.
//!
//! The peer's outputs in the table were learnt by running it, not guessed.
//! Where 0.6.4 and current upstream differ, we follow current upstream and the
//! row says so: 0.6.4 is a Go 1.19 build, and Go 1.22 changed how
//! encoding/json writes backspace and form feed.
//!
//! A fresh Secret Service per helper keeps the `list` rows comparable: 0.6.4
//! lists every item in the collection that carries its `docker_cli` label, so
//! in a shared (or the user's real) collection it would show more than its
//! own stores.

use common::bin::{self, Env, NO_SERVER_URL, NO_USERNAME, NOT_FOUND, Output, run_program};
use common::keychain::SecretService;
use common::peer_table::{Answer, Expect, PEER, Row, table};

/// One helper with its own private Secret Service. Fields drop in order: the
/// daemon before the temp dirs.
struct Side {
    program: &'static str,
    ss: SecretService,
    env: Env,
}

impl Side {
    fn new(program: &'static str) -> Side {
        assert!(
            std::path::Path::new(program).exists(),
            "{program} is missing: install the Debian package `golang-docker-credential-helpers`"
        );
        let mut env = Env::new();
        let ss = SecretService::start(&env);
        env.set_bus(ss.address());
        Side { program, ss, env }
    }

    fn run(&self, row: &Row) -> Output {
        run_program(
            &self.env,
            self.env.vars(),
            self.program,
            &[],
            &row.args,
            row.stdin.as_bytes(),
        )
    }
}

fn answer(out: &Output) -> Answer {
    Answer {
        code: out.code(),
        stdout: out.stdout.clone(),
    }
}

#[test]
fn same_answers_as_docker_credential_secretservice() {
    let peer = Side::new(PEER);
    let ours = Side::new(bin::BIN);
    let mut failures = Vec::new();
    for (i, r) in table().iter().enumerate() {
        let p = peer.run(r);
        let o = ours.run(r);
        let (pa, oa) = (answer(&p), answer(&o));
        let what = format!("row {i}: {:?} with stdin {:?}", r.args, shorten(&r.stdin));
        match &r.expect {
            Expect::Same => {
                if pa != oa {
                    failures.push(format!(
                        "{what}: expected the same answer\n  peer: {pa:?}\n  ours: {oa:?}"
                    ));
                }
            }
            Expect::Differs {
                peer: want_p,
                ours: want_o,
                why,
            } => {
                if &pa != want_p {
                    failures.push(format!(
                        "{what}: the peer no longer answers as the table says ({why})\n  want: {want_p:?}\n  got:  {pa:?}"
                    ));
                }
                if &oa != want_o {
                    failures.push(format!(
                        "{what}: our answer differs from the table ({why})\n  want: {want_o:?}\n  got:  {oa:?}\n{o}"
                    ));
                }
                assert_ne!(want_p, want_o, "{what}: a Differs row must really differ");
            }
        }
        // Both speak the protocol's shapes: errors are one line with exit 1.
        // (No arguments at all is no protocol call: we add a line for people.)
        for (side, out) in [("peer", &p), ("ours", &o)] {
            if out.code() != 0 && !(side == "ours" && r.args.is_empty()) {
                assert_eq!(out.code(), 1, "{what}: {side} exits 1 on errors\n{out}");
                let lines = out.stdout.lines().count();
                assert!(
                    lines == 1 && out.stdout.ends_with('\n'),
                    "{what}: {side} prints one line\n{out}"
                );
            }
        }
        assert!(
            o.stderr_lines().is_empty(),
            "{what}: we print nothing on stderr\n{o}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} row(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // Each helper kept to its own items: ours are filed under our service name.
    assert!(
        peer.ss.keys().is_empty(),
        "the peer created no docker-credential-harbor items"
    );
    assert_eq!(
        ours.ss.keys(),
        vec![
            "empty.example",
            "fields.example",
            "https://index.docker.io/v1/",
            "mixed.case.example",
            "special.example",
            "trailing.example"
        ],
        "our Secret Service holds exactly what list shows"
    );
}

/// Exact error texts that clients compare, straight from both helpers.
#[test]
fn client_visible_error_texts_match_the_peer() {
    let peer = Side::new(PEER);
    let ours = Side::new(bin::BIN);
    for (args, stdin, want) in [
        (vec!["get"], "nothing-here.example", NOT_FOUND),
        (vec!["get"], "", NO_SERVER_URL),
        (vec!["erase"], "", NO_SERVER_URL),
        (
            vec!["store"],
            r#"{"Username":"u","Secret":"s"}"#,
            NO_SERVER_URL,
        ),
        (
            vec!["store"],
            r#"{"ServerURL":"h.example","Secret":"s"}"#,
            NO_USERNAME,
        ),
        (vec!["store"], "null", NO_SERVER_URL),
    ] {
        let r = Row {
            args,
            stdin: stdin.into(),
            expect: Expect::Same,
        };
        for side in [&peer, &ours] {
            let out = side.run(&r);
            assert_eq!(
                out.error_line(),
                want,
                "{} {:?}\n{out}",
                side.program,
                r.args
            );
        }
    }
}

fn shorten(s: &str) -> String {
    if s.len() > 80 {
        format!("{}…({} bytes)", &s[..60], s.len())
    } else {
        s.to_string()
    }
}
