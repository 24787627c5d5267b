//! State on disk and the configuration: what the tool keeps between runs
//! (the index, configure's record lives with `configure`), where it keeps it,
//! the one writer of every file, and the settings and variables read once.

pub mod config;
pub mod index;
pub mod notice;
pub mod paths;
pub mod private_file;
pub mod settings;
