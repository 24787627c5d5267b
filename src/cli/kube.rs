//! `kubelet-credential-provider` and `kube-secret`: hand the stored robot
//! account to Kubernetes through its own plug-in points.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use crate::account::AccountKind;
use crate::error::{Error, Result};
use crate::kube;
use crate::secret::Secret;
use crate::state::config::Config;
use crate::state::index;
use crate::text::say_err;

#[derive(Args)]
#[command(after_help = "\
kubelet runs this with a CredentialProviderRequest on stdin and reads a CredentialProviderResponse
from stdout. Example /etc/kubernetes/credential-provider-config.yaml:

  apiVersion: kubelet.config.k8s.io/v1
  kind: CredentialProviderConfig
  providers:
    - name: docker-credential-harbor
      matchImages: [\"hub.k8s.ucar.edu\"]
      defaultCacheDuration: \"5m\"
      apiVersion: credentialprovider.kubelet.k8s.io/v1
      args: [\"kubelet-credential-provider\", \"--credentials-file\", \"/etc/kubernetes/harbor-robot.json\"]")]
pub struct ProviderArgs {
    /// Registry this provider answers for (repeatable; default: the configured default registry).
    #[arg(long = "registry", value_name = "REGISTRY")]
    registries: Vec<String>,
    /// Robot account JSON file (as Harbor exports it), readable by its owner only; for nodes without a keychain.
    #[arg(long, value_name = "FILE")]
    credentials_file: Option<PathBuf>,
    /// How long kubelet may cache the credentials (e.g. 5m, 1h); never past a robot's expiry (1m once it passed).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    cache_duration: String,
}

#[derive(Args)]
pub struct SecretArgs {
    /// Registry (default: the configured default registry).
    registry: Option<String>,
    /// Name of the Secret.
    #[arg(long)]
    name: String,
    /// Namespace of the Secret.
    #[arg(long)]
    namespace: Option<String>,
}

/// How long kubelet may cache a robot past its recorded expiry.
const PASSED_EXPIRY_CACHE_SECS: u64 = 60;

pub fn provider(config: &Arc<Config>, a: ProviderArgs) -> Result<ExitCode> {
    let cache_secs = kube::parse_duration(&a.cache_duration).ok_or_else(|| {
        Error::Usage(format!(
            "--cache-duration {:?} is not a duration like 5m or 1h (at most 2562047h)",
            a.cache_duration
        ))
    })?;
    let served = super::registry_keys(config, &a.registries)?;
    let input = crate::protocol::read_input(std::io::stdin().lock())?;
    let req = kube::parse_request(input.expose())?;
    let registry = kube::image_registry(&req.image)?;
    if !served.contains(&registry) {
        return Err(Error::Usage(format!(
            "image {} is on {registry}, which this provider does not serve (it serves {})",
            req.image,
            served.join(", ")
        )));
    }
    let (username, secret, expires_at) = match &a.credentials_file {
        Some(f) => {
            check_private(f)?;
            let robot = crate::robot::read(f)?;
            (robot.name, robot.secret, robot.expires_at)
        }
        None => {
            // kubelet waits on the answer: a program's bound.
            let (u, s) = crate::protocol::actions::lookup(
                &crate::protocol::actions::Context::unattended(config),
                &registry,
                &mut std::io::stderr(),
            )?;
            let exp = config
                .data_dir()
                .and_then(index::load_lenient)
                .ok()
                .and_then(|(i, _)| i.registries.get(&registry).and_then(|e| e.expires_at));
            (u, s, exp)
        }
    };
    // Never cached past the robot's expiry. Past it, answer all the same: an
    // admin may have extended the robot (same secret, a new date), and the
    // registry decides; a short cache picks up a replaced file soon.
    let cache = match index::robot_time_left(expires_at, index::now()) {
        Some(left) if left <= 0 => {
            let cache = cache_secs.min(PASSED_EXPIRY_CACHE_SECS);
            say_err!(
                "warning: robot account {username} for {registry} passed its recorded expiry {}; answering anyway, \
                 as an admin may have extended it (the registry decides); cached for {} only",
                crate::text::ago(-left),
                kube::go_duration(cache)
            );
            cache
        }
        Some(left) => cache_secs.min(u64::try_from(left).unwrap_or(0)),
        None => cache_secs,
    };
    let out = kube::response(&req.api_version, &registry, &username, &secret, cache);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.expose().as_bytes())
        .and_then(|_| stdout.write_all(b"\n"))
        .map_err(|e| Error::Config(format!("cannot write the response: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// The credentials file must be the node's secret alone: owner-only and owned by us.
fn check_private(path: &std::path::Path) -> Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::file("cannot read credentials file", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if !crate::state::private_file::is_private(&meta) {
            return Err(Error::Config(format!(
                "{} is readable by other users; chmod 600 it",
                path.display()
            )));
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(Error::Config(format!(
                "{} belongs to another user; it must be owned by the user kubelet runs as",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

pub fn secret(config: &Arc<Config>, a: SecretArgs) -> Result<ExitCode> {
    let registry = crate::registry::normalize(&super::registry_or_default(config, a.registry)?)?;
    let (username, secret): (String, Secret<String>) = crate::protocol::actions::lookup(
        &crate::protocol::actions::Context::system(config),
        &registry,
        &mut std::io::stderr(),
    )?;
    if AccountKind::guess(&username) != AccountKind::Robot {
        say_err!(
            "warning: {username} is a personal account; its CLI secret stops working when your web session \
             expires, and a cluster should not pull as you. Prefer a robot account (login --robot-file)."
        );
    }
    let manifest = kube::pull_secret(
        &a.name,
        a.namespace.as_deref(),
        &registry,
        &username,
        &secret,
    )?;
    let mut stdout = std::io::stdout();
    if stdout.is_terminal() {
        say_err!(
            "warning: this manifest holds the secret; pipe it to `kubectl apply -f -` instead of showing it"
        );
    }
    stdout
        .write_all(manifest.expose().as_bytes())
        .map_err(|e| Error::Config(format!("cannot write the manifest: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
