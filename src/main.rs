//! Entry point: protocol actions go straight to `actions` (no argument parser on
//! the hot `get` path); everything else is a human command for `cli`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use docker_credential_harbor::protocol::actions;
use docker_credential_harbor::state::config::Config;
use docker_credential_harbor::{NAME, cli};

fn main() -> ExitCode {
    harden();
    // A panic must still give clients one line on stdout and exit status 1.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        println!(
            "{}: internal error: {}",
            NAME,
            msg.lines().next().unwrap_or("")
        );
        std::process::exit(1);
    }));

    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let first = args.get(1).map(|a| a.to_string_lossy().into_owned());
    match first.as_deref() {
        // The Go helpers' usage line, then a pointer for the person who typed it.
        None => fail(&format!(
            "{}\nFor login, status, configure and the other commands for people, run `{} --help`.",
            actions::usage(),
            NAME
        )),
        Some(a) if actions::ACTIONS.contains(&a) => {
            if args.len() != 2 {
                return fail(&actions::usage());
            }
            protocol_action(a)
        }
        Some("--version" | "-v") if args.len() == 2 => {
            print!("{}", actions::version_line());
            ExitCode::SUCCESS
        }
        Some(a) if cli::is_command(a) => cli::main(args, &Arc::new(Config::from_env())),
        Some(a) => fail(&format!("{}: unknown action: {a}", NAME)),
    }
}

fn protocol_action(action: &str) -> ExitCode {
    let mut stderr = std::io::stderr();
    let result = actions::run(
        &actions::Context::for_clients(&Arc::new(Config::from_env())),
        action,
        std::io::stdin().lock(),
        &mut stderr,
    );
    let mut out = std::io::stdout().lock();
    match result {
        Ok(text) => {
            if out
                .write_all(text.expose().as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(out, "{}", e.one_line());
            ExitCode::FAILURE
        }
    }
}

/// Errors go to stdout with status 1: that is where clients read them.
fn fail(msg: &str) -> ExitCode {
    println!("{msg}");
    ExitCode::FAILURE
}

/// Keep secrets out of core dumps and away from same-user ptrace.
fn harden() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's dumpable flag.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}
