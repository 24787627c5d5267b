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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                files_under(&p, out);
            }
            out.push(p);
        }
    }

    /// docs/layout.md is the map a newcomer reads: every file and folder it
    /// names is in the tree (a bare name, as a section says `os.rs` for
    /// `keychain/os.rs`, is found where its path ends so).
    #[test]
    fn the_layout_page_names_only_what_is_there() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let page = std::fs::read_to_string(root.join("docs/layout.md")).unwrap();
        let mut tree = Vec::new();
        files_under(&root.join("src"), &mut tree);
        files_under(&root.join("tests"), &mut tree);
        let named: Vec<&str> = page
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|t| !t.contains([' ', ':']) && !t.starts_with('/'))
            .filter(|t| t.ends_with(".rs") || t.ends_with('/'))
            .collect();
        assert!(named.len() > 40, "too few names read: {named:?}");
        let missing: Vec<&&str> = named
            .iter()
            .filter(|t| {
                let t = t.trim_end_matches('/');
                !tree.iter().any(|p| p.ends_with(t))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "docs/layout.md names {missing:?}, not in the tree"
        );
    }
}
