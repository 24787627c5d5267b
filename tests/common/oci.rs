//! Writes a tiny OCI image layout that `skopeo copy oci:DIR:TAG docker://...`
//! (or `podman pull oci:DIR:TAG`) can push: one gzip layer holding one text
//! file, a config, a manifest, `index.json` and `oci-layout`.
//!
//! The layer is gzip-compressed because skopeo compresses uncompressed layers
//! on their way to a registry, which changes the manifest digest; with a gzip
//! layer the pushed manifest is byte-for-byte the one written here.

use std::path::Path;
use std::process::Command;

use crate::dist::sha256_hex;
use serde_json::json;

/// Media types used by the layout.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Creates (or overwrites) an OCI image layout in `dir` with a single image
/// tagged `tag` (`dir` is created if missing; use `oci:<dir>:<tag>` with
/// skopeo), and returns the manifest digest (`sha256:...`), which
/// `skopeo inspect` reports as `Digest` after a push.
pub fn make_oci_layout_with_digest(dir: &Path, tag: &str) -> String {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).unwrap_or_else(|e| panic!("create {}: {e}", blobs.display()));

    // The layer: a real tar made by `tar`, with fixed metadata so that the same
    // content always gives the same digest.
    let staging = tempfile::tempdir().expect("temp dir for the layer contents");
    std::fs::write(
        staging.path().join("hello.txt"),
        "hello from the test rig\n",
    )
    .expect("write layer file");
    let layer_tar = staging.path().join("layer.tar");
    let out = Command::new("tar")
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
        ])
        .arg("-cf")
        .arg(&layer_tar)
        .arg("-C")
        .arg(staging.path())
        .arg("hello.txt")
        .output()
        .expect("run tar");
    assert!(
        out.status.success(),
        "tar failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("gzip")
        .args(["-n", "-k"]) // -n: no name or time stamp, so the bytes are stable
        .arg(&layer_tar)
        .output()
        .expect("run gzip");
    assert!(
        out.status.success(),
        "gzip failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tar_bytes = std::fs::read(&layer_tar).expect("read layer tar");
    let gz_bytes = std::fs::read(staging.path().join("layer.tar.gz")).expect("read layer tar.gz");
    let layer_desc = write_blob(&blobs, LAYER_MEDIA_TYPE, &gz_bytes);

    // diff_ids are digests of the uncompressed layer.
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&tar_bytes))]},
    });
    let config_desc = write_blob(&blobs, CONFIG_MEDIA_TYPE, config.to_string().as_bytes());

    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": config_desc,
        "layers": [layer_desc],
    });
    let mut manifest_desc =
        write_blob(&blobs, MANIFEST_MEDIA_TYPE, manifest.to_string().as_bytes());
    let digest = manifest_desc["digest"]
        .as_str()
        .expect("digest string")
        .to_string();
    manifest_desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});

    let index = json!({"schemaVersion": 2, "manifests": [manifest_desc]});
    std::fs::write(dir.join("index.json"), index.to_string()).expect("write index.json");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("write oci-layout");
    digest
}

/// Stores `data` under its digest and returns its OCI descriptor.
fn write_blob(blobs: &Path, media_type: &str, data: &[u8]) -> serde_json::Value {
    let hex = sha256_hex(data);
    std::fs::write(blobs.join(&hex), data).expect("write OCI blob");
    json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": data.len()})
}
