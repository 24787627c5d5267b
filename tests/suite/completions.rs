//! Shell completions and the man page, generated from the same clap
//! definitions as the commands: bash really completes, the page names every
//! command, and the protocol actions are untouched by either.

use common::bin::{self, Env, NAME};
use common::completion;

/// What bash offers for `docker-credential-harbor WORD<TAB>`, through the
/// script `completions bash` prints, loaded as bash-completion loads it.
fn bash_offers(env: &Env, word: &str) -> Vec<String> {
    let script = bin::run(env, &["completions", "bash"], b"");
    assert_eq!(script.code(), 0, "{script}");
    let file = env.root().join("completion.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let driver = completion::bash_driver(&format!("source '{}'", file.display()), word);
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &driver])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    completion::offers(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn bash_completes_the_commands() {
    let env = Env::new();
    assert_eq!(bash_offers(&env, "logi"), ["login"]);
    assert_eq!(bash_offers(&env, "lo"), ["login", "logout"]);
    assert_eq!(bash_offers(&env, "con"), ["configure"]);
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_one_is_refused() {
    let env = Env::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef docker-credential-harbor"),
        ("fish", "complete -c docker-credential-harbor"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = bin::run(&env, &["completions", shell], b"");
        assert_eq!(out.code(), 0, "{out}");
        assert!(out.stdout.contains(marker), "{shell}: {marker:?}\n{out}");
        assert!(out.stdout.contains("login"), "{shell}\n{out}");
    }
    let out = bin::run(&env, &["completions", "tcsh"], b"");
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("invalid value 'tcsh'"), "{out}");
    assert_eq!(out.stdout, "");
}

#[test]
fn the_man_page_names_every_command() {
    let env = Env::new();
    let out = bin::run(&env, &["man"], b"");
    assert_eq!(out.code(), 0, "{out}");
    let page = &out.stdout;
    assert!(page.contains(&format!(".TH {NAME} 1 ")), "{page}");
    assert!(
        page.contains(".SH NAME") && page.contains(".SH SUBCOMMANDS"),
        "{page}"
    );
    for cmd in [
        "login",
        "logout",
        "status",
        "renew",
        "configure",
        "doctor",
        "completions",
        "man",
    ] {
        assert!(
            page.contains(&format!("{cmd}(1)")) || page.contains(&format!("\\fB{cmd}\\fR")),
            "{cmd}\n{page}"
        );
    }
    assert!(!page.contains("background"), "{page}");
    // It says where the protocol actions are, which stay as they were.
    assert!(
        page.contains("store, get, erase, list and version"),
        "{page}"
    );
    let out = bin::run(&env, &["version"], b"");
    assert_eq!(
        out.stdout,
        format!("{NAME} ({NAME}) {}\n", env!("CARGO_PKG_VERSION"))
    );
}
