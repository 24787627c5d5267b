//! Tells the rig where the binary under test is and its version. A library
//! does not get `CARGO_BIN_EXE_*` (only the main crate's tests do), so the
//! path is derived from this build's output directory, which cargo puts at
//! `<target>/<profile>/build/<this crate>-<hash>/out`; the binary sits in
//! `<target>/<profile>/`.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let profile = out
        .ancestors()
        .nth(3)
        .expect("OUT_DIR is <target>/<profile>/build/<crate>/out");
    let bin = profile.join("docker-credential-harbor");
    println!("cargo:rustc-env=RIG_BIN={}", bin.display());

    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read the main Cargo.toml");
    let version = text
        .lines()
        .skip_while(|l| l.trim() != "[package]")
        .find_map(|l| l.trim().strip_prefix("version = "))
        .expect("a version in [package]")
        .trim_matches('"')
        .to_string();
    println!("cargo:rustc-env=RIG_PKG_VERSION={version}");
    println!("cargo:rerun-if-changed={}", manifest.display());
}
