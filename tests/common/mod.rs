#![allow(dead_code)]
pub mod bin;
pub mod docker;
pub mod harbor;
pub mod keychain;
pub mod oci;
pub mod peer_table;
pub mod registry;
pub mod rig;
