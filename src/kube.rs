//! Kubernetes: the kubelet image credential provider protocol
//! (`credentialprovider.kubelet.k8s.io/v1`) and `kubernetes.io/dockerconfigjson`
//! pull secrets, built from the same stored credentials.
//!
//! Field names and required fields follow k8s.io/kubelet's
//! `pkg/apis/credentialprovider/v1` types: the request carries `image`; the
//! response must carry `cacheKeyType` and may carry `cacheDuration` (a Go
//! duration string such as `5m0s`) and `auth` (match key to username/password).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secret::{Secret, SecretBuf};

/// The API versions kubelet speaks that share this request/response shape.
pub const API_VERSIONS: [&str; 2] = [
    "credentialprovider.kubelet.k8s.io/v1",
    "credentialprovider.kubelet.k8s.io/v1beta1",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRequest {
    api_version: Option<String>,
    kind: Option<String>,
    image: Option<String>,
}

/// A validated `CredentialProviderRequest`.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub api_version: String,
    pub image: String,
}

pub fn parse_request(input: &str) -> Result<Request> {
    let raw: RawRequest = serde_json::from_str(input).map_err(|e| {
        Error::BadInput(format!(
            "invalid CredentialProviderRequest JSON: {}",
            crate::protocol::json_error(&e)
        ))
    })?;
    let api_version = raw.api_version.unwrap_or_default();
    if !API_VERSIONS.contains(&api_version.as_str()) {
        return Err(Error::BadInput(format!(
            "unsupported apiVersion {api_version:?}; this provider speaks {}",
            API_VERSIONS.join(" and ")
        )));
    }
    match raw.kind.as_deref() {
        Some("CredentialProviderRequest") => {}
        other => {
            return Err(Error::BadInput(format!(
                "unexpected kind {:?}; expected \"CredentialProviderRequest\"",
                other.unwrap_or("")
            )));
        }
    }
    let image = raw.image.unwrap_or_default();
    if image.trim().is_empty() {
        return Err(Error::BadInput("the request has no image".into()));
    }
    Ok(Request { api_version, image })
}

/// The registry part of an image reference, as a registry key: the first path
/// component when it looks like a host (has a dot or a port, or is localhost),
/// else Docker Hub.
pub fn image_registry(image: &str) -> Result<String> {
    let image = image.trim();
    let first = image.split('/').next().unwrap_or("");
    let is_host =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if is_host {
        crate::registry::normalize(first)
    } else {
        Ok(crate::registry::DOCKER_HUB.to_string())
    }
}

/// Borrows the secret: the only copy is the serialised response.
#[derive(Serialize)]
pub struct AuthConfig<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response<'a> {
    pub api_version: &'a str,
    pub kind: &'static str,
    pub cache_key_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_duration: Option<String>,
    pub auth: BTreeMap<&'a str, AuthConfig<'a>>,
}

/// docker's `config.json` as a pull secret holds it; borrows the secret.
#[derive(Serialize)]
struct DockerConfig<'a> {
    auths: BTreeMap<&'a str, DockerAuth<'a>>,
}

#[derive(Serialize)]
struct DockerAuth<'a> {
    username: &'a str,
    password: &'a str,
    auth: &'a str,
}

/// The response granting `username`/`secret` for `registry`, cached per registry.
pub fn response(
    api_version: &str,
    registry: &str,
    username: &str,
    secret: &Secret<String>,
    cache_secs: u64,
) -> Secret<String> {
    let mut auth = BTreeMap::new();
    auth.insert(
        registry,
        AuthConfig {
            username,
            password: secret.expose(),
        },
    );
    let r = Response {
        api_version,
        kind: "CredentialProviderResponse",
        cache_key_type: "Registry",
        cache_duration: Some(go_duration(cache_secs)),
        auth,
    };
    // Serialised straight into a wiping buffer: the secret is only borrowed.
    let mut out = SecretBuf::default();
    match serde_json::to_writer(&mut out, &r) {
        Ok(()) => out.into_secret(),
        Err(_) => Secret::default(),
    }
}

/// Seconds as Go's `time.Duration.String()` prints them: `0s`, `45s`, `5m0s`, `1h30m0s`.
pub fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// The longest duration the kubelet can take: Go's `time.Duration` holds
/// at most 2562047h47m16s; whole hours keep the arithmetic simple.
pub const MAX_DURATION_SECS: u64 = 2_562_047 * 3600;

/// Parse a duration flag such as `300`, `90s`, `5m`, `1h30m`; `None` for
/// anything else, or for more than [`MAX_DURATION_SECS`] (never wrapped).
pub fn parse_duration(text: &str) -> Option<u64> {
    parse_duration_unbounded(text).filter(|s| *s <= MAX_DURATION_SECS)
}

fn parse_duration_unbounded(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Some(n);
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    num.is_empty().then_some(total)
}

/// A Kubernetes object name (DNS-1123 subdomain) or namespace (DNS-1123 label).
pub fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (max > 63 && b == b'.')
        })
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

/// A `kubernetes.io/dockerconfigjson` Secret manifest (YAML) for `kubectl apply -f -`.
pub fn pull_secret(
    name: &str,
    namespace: Option<&str>,
    registry: &str,
    username: &str,
    secret: &Secret<String>,
) -> Result<Secret<String>> {
    if !valid_name(name, 253) {
        return Err(Error::Usage(format!(
            "{name:?} is not a valid Secret name (lower-case letters, digits, '-' and '.')"
        )));
    }
    if let Some(ns) = namespace
        && !valid_name(ns, 63)
    {
        return Err(Error::Usage(format!(
            "{ns:?} is not a valid namespace (lower-case letters, digits and '-')"
        )));
    }
    let userpass = Secret::new(format!("{username}:{}", secret.expose()));
    let auth = crate::secret::base64("", userpass.expose().as_bytes());
    let config = DockerConfig {
        auths: BTreeMap::from([(
            registry,
            DockerAuth {
                username,
                password: secret.expose(),
                auth: auth.expose(),
            },
        )]),
    };
    let mut json = SecretBuf::default();
    serde_json::to_writer(&mut json, &config)
        .map_err(|e| Error::Config(format!("cannot encode the pull secret: {e}")))?;
    let json = json.into_secret();
    let encoded = crate::secret::base64("", json.expose().as_bytes());
    let mut out = SecretBuf::default();
    out.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n  name: ");
    out.push_str(name);
    out.push('\n');
    if let Some(ns) = namespace {
        out.push_str("  namespace: ");
        out.push_str(ns);
        out.push('\n');
    }
    out.push_str("type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: ");
    out.push_str(encoded.expose());
    out.push('\n');
    Ok(out.into_secret())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn requests_are_validated() {
        let ok = parse_request(
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"hub.k8s.ucar.edu/p/i:t"}"#,
        )
        .unwrap();
        assert_eq!(ok.image, "hub.k8s.ucar.edu/p/i:t");
        for bad in [
            "",
            "{",
            "[]",
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v2","kind":"CredentialProviderRequest","image":"x/y"}"#,
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"Other","image":"x/y"}"#,
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest"}"#,
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":5}"#,
        ] {
            assert!(parse_request(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_registries() {
        assert_eq!(
            image_registry("hub.k8s.ucar.edu/p/i:t").unwrap(),
            "hub.k8s.ucar.edu"
        );
        assert_eq!(
            image_registry("HUB.k8s.ucar.edu:443/p/i@sha256:ab").unwrap(),
            "hub.k8s.ucar.edu"
        );
        assert_eq!(
            image_registry("localhost:5000/i").unwrap(),
            "localhost:5000"
        );
        assert_eq!(
            image_registry("library/nginx").unwrap(),
            crate::registry::DOCKER_HUB
        );
        assert_eq!(
            image_registry("nginx").unwrap(),
            crate::registry::DOCKER_HUB
        );
    }

    #[test]
    fn durations_match_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(300), "5m0s");
        assert_eq!(go_duration(5400), "1h30m0s");
        assert_eq!(go_duration(3601), "1h0m1s");
        assert_eq!(parse_duration("5m"), Some(300));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("45"), Some(45));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("5m3"), None);
        // Never wrapped (security review 2, item 10): refused past Go's limit.
        assert_eq!(parse_duration("2562047h"), Some(MAX_DURATION_SECS));
        for big in [
            "2562048h",
            "18446744073709551615",
            "5124095576030431h",
            "99999999999999999999s",
            "3074457345618258603m",
        ] {
            assert_eq!(parse_duration(big), None, "{big}");
        }
    }

    #[test]
    fn pull_secret_decodes_back() {
        let y = pull_secret(
            "harbor-pull",
            Some("ci"),
            "hub.k8s.ucar.edu",
            "robot$p+ci",
            &Secret::new("s3".into()),
        )
        .unwrap();
        let line = y
            .expose()
            .lines()
            .find(|l| l.contains(".dockerconfigjson"))
            .unwrap();
        let b = line.split(": ").nth(1).unwrap();
        let json = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let e = &v["auths"]["hub.k8s.ucar.edu"];
        assert_eq!(e["username"], "robot$p+ci");
        assert_eq!(e["password"], "s3");
        let auth = base64::engine::general_purpose::STANDARD
            .decode(e["auth"].as_str().unwrap())
            .unwrap();
        assert_eq!(auth, b"robot$p+ci:s3");
        assert!(pull_secret("Bad_Name", None, "h", "u", &Secret::new("s".into())).is_err());
        assert!(pull_secret("ok", Some("a.b"), "h", "u", &Secret::new("s".into())).is_err());
    }
}
