//! Human commands: login, logout, status, configure.

use std::ffi::OsString;
use std::process::ExitCode;

pub const COMMANDS: [&str; 7] = ["login", "logout", "status", "configure", "help", "--help", "-h"];

pub fn is_command(arg: &str) -> bool {
    COMMANDS.contains(&arg)
}

pub fn main(_args: Vec<OsString>) -> ExitCode {
    ExitCode::FAILURE
}
