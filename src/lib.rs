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

// The architecture, a folder (or file) each:
// - the helper protocol and its actions (what docker and podman run);
pub mod protocol;
// - the keychains behind one trait, and the kernel-keyring cache;
pub mod keychain;
// - Harbor over HTTP, and the one check service with its background runs;
pub mod check;
#[cfg(feature = "net")]
pub mod harbor;
#[cfg(not(feature = "net"))]
#[path = "harbor/offline.rs"]
pub mod harbor;
pub mod robot;
// - the clients (docker, podman, Helm, ...) and their auth files;
pub mod clients;
// - Kubernetes (the kubelet provider, pull secrets);
pub mod kube;
// - state on disk: the configuration read once, the index, the one writer;
pub mod state;
// - the human commands;
pub mod cli;
// - and what they all share: a registry's address, accounts and verdicts,
//   the secret type, errors, text for people, the platform, variable names.
pub mod account;
pub mod env_vars;
pub mod error;
pub mod platform;
pub mod registry;
pub mod secret;
pub mod text;
pub mod verdict;
