//! docker-credential-harbor: a Docker credential helper for Harbor registries
//! that keeps secrets in the operating system's keychain.
//!
//! The binary speaks the docker-credential-helpers protocol (see [`actions`])
//! and offers human commands (see [`cli`]).

/// The binary's name: what clients run and what every hint tells people to type.
pub const NAME: &str = "docker-credential-harbor";

/// A command for people to run, as every message spells it: `` `NAME ARGS` ``.
pub fn cmd(args: &str) -> String {
    format!("`{NAME} {args}`")
}

pub mod account;
pub mod actions;
pub mod auth_file;
pub mod cache;
pub mod caller;
pub mod check;
pub mod ci_env;
pub mod cli;
pub mod clients;
pub mod config;
pub mod desktop;
pub mod env_vars;
pub mod error;
#[cfg(feature = "net")]
pub mod harbor;
#[cfg(not(feature = "net"))]
#[path = "harbor/offline.rs"]
pub mod harbor;

pub mod index;
pub mod keychain;
pub mod kube;
pub mod notice;
pub mod paths;
pub mod platform;
pub mod private_file;
pub mod protocol;
pub mod registry;
pub mod robot;
pub mod secret;
pub mod settings;
pub mod text;
pub mod verdict;
