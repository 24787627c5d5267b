//! The integration suite: one test binary (issue 35), so the crate and the
//! rig (`tests/common`, the `common` crate) are linked once, not once per
//! file. Each module is one area; the line beside it says what it holds.
//! Linux only, as the rig is: the macOS and Windows CI jobs run the unit
//! tests and `tests/keychain_roundtrip.rs`.
//!
//! Two suites stay binaries of their own, and say why at their top:
//! `tests/freed_memory.rs` (a global allocator that scans freed memory) and
//! `tests/keychain_roundtrip.rs` (runs on the macOS and Windows runners,
//! without the rig).
//!
//! Run one area with a filter: `keyctl session - cargo test --test suite login::`.

#![cfg(target_os = "linux")]

mod completions; // bash, zsh and fish completions and the man page, really completed
mod configure; // `configure` on every shape of config.json and auth.json, plaintext migration, `--undo`
mod doctor; // every bypass `doctor` names, with its file and fix, and what `configure` clears
mod e2e; // docker, podman and skopeo end to end through the helper, a secret that dies and `renew`
mod hostile_input; // property tests of every stdin parser; huge, nested and binary input
mod install; // install.sh into a temporary HOME: build, configure, rerun, `--uninstall`
mod kube; // the kubelet credential provider and pull-secret manifests
mod lifecycle; // background checks, the refusal warning, `renew`, the check interval, notifications
mod login; // login, status, logout against the Harbor stand-in, and no secret leaked anywhere
mod packages; // the .deb in a clean Debian root, the .rpm with the real rpm
mod pass; // the `pass` keychain with real gpg, pass and docker-credential-pass
mod peer_compat; // the same protocol calls through docker-credential-secretservice
mod podman; // podman, skopeo and buildah in a desktop user's default environment
mod protocol; // store, get, erase, list, version against the real Secret Service and kernel keyring
mod readme; // every command line in README.md and docs/, run
mod release; // the cargo-dist release: archives, installers, formula, sums, the installer run
mod reliability; // injected faults, many helpers at once, a final sweep for leaks and modes
mod rig_selftest; // the rig itself: the Harbor stand-in answers as Harbor does; the whole-output assert
mod secrets; // no core dumps, no ptrace: the helper is non-dumpable before it reads anything
mod tls; // private CAs, self-signed and mismatched certificates, proxies, plain HTTP rules
mod windows; // the Windows build under Wine against Wine's Credential Manager
mod wsl; // WSL: the Linux build keeps the secret in Windows Credential Manager via interop
