#![allow(dead_code)]
pub mod harbor;
pub mod oci;
pub mod registry;
