//! The test rig: helpers every `tests/*.rs` file shares (sealed helper runs,
//! keychains, the Harbor stand-in, docker-registry, docker/podman, ...).
//!
//! How it is built, and what to do when you add to it:
//! - It is a library crate of its own (`tests/common/Cargo.toml`, crate name
//!   `common`), a (Linux-only) dev-dependency of the main package and a
//!   workspace member; a suite that uses it starts with
//!   `#![cfg(target_os = "linux")]`, so macOS and Windows build without it.
//!   Test files use it as `use common::bin::{self, Env};` and must NOT write
//!   `mod common;` (that would compile the rig into the test binary again,
//!   where every helper that binary does not call is dead code).
//! - Being a library is what keeps it free of `allow(dead_code)`: a `pub`
//!   item is part of its interface, while a private item no public one uses
//!   is still reported. So: rig code a test calls is `pub`; delete what no
//!   test calls any more.
//! - A new rig module is one more file here plus `pub mod NAME;` below; a
//!   dependency it needs goes in `tests/common/Cargo.toml` (same version as
//!   the main crate's, so nothing new is compiled).
//! - `bin::BIN` (the binary under test) and the package version come from
//!   `build.rs`: a library does not get `CARGO_BIN_EXE_*`.
pub mod bin;
pub mod commands;
pub mod completion;
pub mod dist;
pub mod docker;
pub mod docs;
pub mod harbor;
pub mod keychain;
pub mod oci;
pub mod peer_table;
pub mod registry;
pub mod rig;
pub mod text;
pub mod v2auth;
pub mod wine;
