//! Human commands: login, logout, status, configure. Each prints what it did
//! on stdout and one `error: ...` line on stderr when it fails.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::state::config::Config;

mod configure;
mod doctor;
mod kube;
mod login;
mod renew;
mod status;

const ABOUT: &str = "Docker credential helper for Harbor registries: keeps your Harbor secret in the \
OS keychain instead of ~/.docker/config.json.";

const LONG_ABOUT: &str = "\
Docker credential helper for Harbor registries: keeps your Harbor secret in the OS keychain
(macOS Keychain, Windows Credential Manager, Secret Service, or the Linux kernel keyring)
instead of base64 in ~/.docker/config.json.

docker, podman, skopeo and buildah call it through a credHelpers entry
(`docker-credential-harbor configure` adds one) with the protocol actions
store, get, erase, list and version. The commands below are for people.

Two kinds of Harbor account:
  CLI secret   Web users who sign in through an identity provider (at UCAR: Entra ID and Duo)
               cannot use that password with docker. Open the Harbor web UI, click your name,
               User Profile, and copy the CLI secret. Log in with your Harbor username (at UCAR
               your ucar.edu e-mail address) and that secret. It stops working when your web
               session expires: log in to the web UI once and it works again.
  Robot        Project admins create robot accounts (Project > Robot Accounts) for CI and
               servers. Their names carry the site's prefix (at UCAR robot-project+name;
               Harbor's default is robot$project+name). Harbor offers the new robot as a
               JSON file: `login --robot-file FILE` imports it, expiry included.";

#[derive(Parser)]
#[command(name = crate::NAME, version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a Harbor secret with the registry and keep it in the OS keychain.
    Login(login::LoginArgs),
    /// Remove the stored secret for a registry.
    Logout(LogoutArgs),
    /// Show stored registries, accounts, keychains, robot expiry and the last check.
    Status(status::StatusArgs),
    /// Revive a refused CLI secret: sign in to the Harbor web UI, wait until Harbor accepts it again.
    Renew(renew::RenewArgs),
    /// Point docker and podman at this helper (credHelpers) and move plaintext secrets into the keychain.
    Configure(configure::ConfigureArgs),
    /// List every file each client reads for a registry and name what would bypass this helper.
    Doctor(doctor::DoctorArgs),
    /// Answer kubelet's image credential provider requests (credentialprovider.kubelet.k8s.io/v1).
    KubeletCredentialProvider(kube::ProviderArgs),
    /// Print a kubernetes.io/dockerconfigjson Secret for the stored account (for kubectl apply -f -).
    KubeSecret(kube::SecretArgs),
    /// Print a shell completion script to stdout (e.g. `completions bash > /etc/bash_completion.d/docker-credential-harbor`).
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the manual page (roff) to stdout.
    Man,
    /// Started by `get`, detached: check one stored secret with its registry.
    #[command(name = crate::check::background::COMMAND, hide = true)]
    BackgroundCheck {
        /// The registry key.
        key: String,
    },
}

/// The shells `completions` writes for.
#[derive(Clone, Copy, clap::ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl CompletionShell {
    fn generator(self) -> clap_complete::Shell {
        match self {
            CompletionShell::Bash => clap_complete::Shell::Bash,
            CompletionShell::Zsh => clap_complete::Shell::Zsh,
            CompletionShell::Fish => clap_complete::Shell::Fish,
            CompletionShell::Powershell => clap_complete::Shell::PowerShell,
        }
    }
}

/// The command line as clap knows it: the completions and the man page are
/// generated from it, so they cannot drift from the commands.
fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command()
}

#[derive(Args)]
struct LogoutArgs {
    /// Registry (default: $DOCKER_CREDENTIAL_HARBOR_REGISTRY, the settings file, or hub.k8s.ucar.edu).
    registry: Option<String>,
}

/// TLS and address options shared by the commands that reach the registry.
#[derive(Args, Clone, Default)]
pub struct NetArgs {
    /// PEM file with the CA that signed the registry's certificate, or its self-signed certificate
    /// (SSL_CERT_FILE and docker's and podman's certs.d directories are read too).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Allow plain http:// to a registry that is not on this machine.
    #[arg(long)]
    pub insecure: bool,
}

impl NetArgs {
    /// How to reach a registry: the flags given now, else what its login
    /// used (`remembered`). A relative CA path is made absolute, since the
    /// background check that reuses it runs elsewhere.
    pub fn options(
        &self,
        remembered: Option<&crate::registry::NetOptions>,
    ) -> crate::registry::NetOptions {
        let remembered = remembered.cloned().unwrap_or_default();
        crate::registry::NetOptions {
            ca_file: self
                .ca_file
                .as_deref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
                .or(remembered.ca_file),
            insecure: self.insecure || remembered.insecure,
        }
    }
}

/// Whether `arg` starts a human command (the protocol actions are handled before).
pub fn is_command(arg: &str) -> bool {
    matches!(arg, "help" | "--help" | "-h" | "-V" | "--version")
        || command().get_subcommands().any(|c| c.get_name() == arg)
}

pub fn main(args: Vec<OsString>, config: &Arc<Config>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Login(a) => login::run(config, a),
        Command::Logout(a) => logout(config, a),
        Command::Status(a) => status::run(config, a),
        Command::Configure(a) => configure::run(config, a),
        Command::Doctor(a) => doctor::run(config, a),
        Command::KubeletCredentialProvider(a) => kube::provider(config, a),
        Command::KubeSecret(a) => kube::secret(config, a),
        Command::Renew(a) => renew::run(config, a),
        Command::Completions { shell } => {
            let mut out = std::io::stdout();
            clap_complete::generate(shell.generator(), &mut command(), crate::NAME, &mut out);
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => clap_mangen::Man::new(command())
            .render(&mut std::io::stdout())
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| crate::error::Error::Config(format!("cannot write the man page: {e}"))),
        Command::BackgroundCheck { key } => {
            crate::check::background::run(config, &key);
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.one_line());
            ExitCode::FAILURE
        }
    }
}

/// The registry the user named, or the configured default.
pub fn registry_or_default(config: &Config, r: Option<String>) -> crate::error::Result<String> {
    match r {
        Some(r) if !r.trim().is_empty() => Ok(r),
        _ => config.default_registry(),
    }
}

/// The keys of the registries named with `--registry`, or of the default one.
pub fn registry_keys(config: &Config, named: &[String]) -> crate::error::Result<Vec<String>> {
    if named.is_empty() {
        return Ok(vec![crate::registry::normalize(
            &config.default_registry()?,
        )?]);
    }
    named
        .iter()
        .map(|r| crate::registry::normalize(r))
        .collect()
}

fn logout(config: &Arc<Config>, a: LogoutArgs) -> crate::error::Result<ExitCode> {
    let registry = registry_or_default(config, a.registry)?;
    let key = crate::registry::normalize(&registry)?;
    match crate::protocol::actions::erase(
        &crate::protocol::actions::Context::system(config),
        &key,
        &mut std::io::stderr(),
    ) {
        Ok(()) => {
            println!("Removed the credentials for {key}.");
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::error::Error::NotFound) => {
            println!("Not logged in to {key}.");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
    }
}
