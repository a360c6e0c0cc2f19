//! The command line. Every command works directly on the configured store,
//! through the same core operations the admin API uses. Commands that only
//! read never create a store; see [`store`].

mod audit;
mod client;
mod domain;
mod input;
mod output;
mod role;
mod serve;
mod store;
mod tls;
mod token;
mod user;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tessera_core::Core;

use crate::config::{self, Overrides, Settings};
pub(crate) use input::read_secret_stdin;
use store::{Access, Context};

/// Token authentication server and API gateway for REST management APIs.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: ./tessera.toml when present).
    #[arg(long, global = true, env = "TESSERA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (overrides data_dir and TESSERA_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Say which configuration file, data dir and store the command uses.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Set up an empty store first (as `tessera init`) when the command
    /// writes to one that was never set up.
    #[arg(long, global = true)]
    init: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (sets up an empty store on first start).
    Serve(serve::ServeArgs),
    /// Set up the store: data dir, master key, certificate, default domain,
    /// built-in roles and the admin user; then exit. Does nothing to a
    /// store already set up.
    Init(serve::InitArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage roles and role assignments.
    #[command(subcommand)]
    Role(role::RoleCommand),
    /// Manage domains.
    #[command(subcommand)]
    Domain(domain::DomainCommand),
    /// Manage OAuth2 clients.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Issue, list and revoke tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Manage the JWT signing keys.
    #[command(subcommand)]
    Keys(token::KeysCommand),
    /// Read the audit trail, newest first.
    Audit(audit::AuditArgs),
    /// Show the TLS certificate the listener serves.
    #[command(subcommand)]
    Tls(tls::TlsCommand),
    /// Print a shell completion script (e.g. `tessera completions bash >
    /// /etc/bash_completion.d/tessera`).
    Completions {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `tessera man | man -l -`.
    Man,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it, secrets redacted.
    Check {
        /// The file to check (default: --config).
        file: Option<PathBuf>,
    },
}

/// Runs the command line and maps failure to one line on stderr.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log_guard = init_logging(cli.log_format, matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `outer: inner: innermost`, the way operators read errors. A cause
/// whose text its outer layer already quoted (a driver error wrapped by
/// the store's) is said once.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for text in e.chain().map(ToString::to_string) {
        if parts.last().is_some_and(|outer| outer.contains(text.as_str())) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

/// Logs go to stderr through a background writer, so a request never
/// waits on the log file; the guard flushes what is queued at exit.
fn init_logging(format: LogFormat, serving: bool) -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::EnvFilter;
    let default = if serving { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    guard
}

async fn run(cli: Cli) -> Result<()> {
    let ctx = Context {
        config: cli.config,
        overrides: Overrides {
            data_dir: cli.data_dir,
            listen: None,
        },
        verbose: cli.verbose,
        init: cli.init,
    };
    match cli.command {
        Command::Serve(args) => serve::run(&ctx, args).await,
        Command::Init(args) => serve::init(&ctx, args).await,
        Command::Config(ConfigCommand::Check { file }) => {
            let file = file.or(ctx.config.clone());
            let (settings, mut problems) = config::load_unchecked(file.as_deref(), &ctx.overrides)?;
            let (store_problems, warnings) = store_checks(&settings).await;
            problems.extend(store_problems);
            for w in warnings {
                eprintln!("warning: {w}");
            }
            if !problems.is_empty() {
                return Err(config::invalid(&settings, &problems));
            }
            print!("{}", config::render(&settings)?);
            eprintln!("configuration OK ({})", config::source(&settings));
            Ok(())
        }
        Command::User(cmd) => {
            cmd.check_stdin()?;
            let (_, core) = ctx.open(access(cmd.writes())).await?;
            finish(&core, user::run(&core, cmd).await).await
        }
        Command::Role(cmd) => {
            let (_, core) = ctx.open(access(cmd.writes())).await?;
            finish(&core, role::run(&core, cmd).await).await
        }
        Command::Domain(cmd) => {
            let (_, core) = ctx.open(access(cmd.writes())).await?;
            finish(&core, domain::run(&core, cmd).await).await
        }
        Command::Client(cmd) => {
            cmd.check_stdin()?;
            let (_, core) = ctx.open(access(cmd.writes())).await?;
            finish(&core, client::run(&core, cmd).await).await
        }
        Command::Token(cmd) => {
            let (settings, core) = ctx.open(access(cmd.writes())).await?;
            finish(&core, token::run(&core, &settings.doors, cmd).await).await
        }
        Command::Keys(cmd) => {
            let (_, core) = ctx.open(Access::Write).await?;
            finish(&core, token::keys(&core, cmd).await).await
        }
        Command::Tls(cmd) => tls::run(ctx.config.as_deref(), &ctx.overrides, cmd),
        Command::Audit(args) => {
            let (_, core) = ctx.open(Access::Read).await?;
            finish(&core, audit::run(&core, args).await).await
        }
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "tessera", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
    }
}

fn access(writes: bool) -> Access {
    if writes {
        Access::Write
    } else {
        Access::Read
    }
}

/// What `config check` finds with the store: the problems `serve` would
/// refuse to start with (a role or policy the configuration names that
/// the store lacks; see [`tessera_core::references`]), and warnings (SPEC
/// §7: a directory reached over plain ldap://; gateway rules allowing a
/// missing role). A store that does not exist yet holds only what a first
/// start creates; one that cannot be read is a warning, never a problem
/// of the configuration.
async fn store_checks(settings: &Settings) -> (Vec<String>, Vec<String>) {
    let config = &settings.config;
    let door_roles = settings.doors.roles_named();
    let url = &config.store.url;
    let missing = url
        .strip_prefix("sqlite://")
        .is_some_and(|path| !std::path::Path::new(path).exists());
    if missing {
        return match tessera_core::references::check_references(None, config, &door_roles).await {
            Ok(report) => (report.problems, report.warnings),
            Err(e) => (
                Vec::new(),
                vec![format!(
                    "the configuration's references could not be checked: {e}"
                )],
            ),
        };
    }
    let timeouts = tessera_store::Timeouts {
        acquire: std::time::Duration::from_secs(2),
        operation: std::time::Duration::from_secs(2),
    };
    let store = match tessera_store::Store::connect_with(url, 1, timeouts).await {
        Ok(store) => store,
        Err(e) => {
            return (
                Vec::new(),
                vec![format!(
                    "the store could not be opened to check the roles, clients and LDAP domains it holds: {e}"
                )],
            )
        }
    };
    let (mut problems, mut warnings) = (Vec::new(), Vec::new());
    match tessera_core::references::check_references(Some(&store), config, &door_roles).await {
        Ok(report) => {
            problems.extend(report.problems);
            warnings.extend(report.warnings);
        }
        Err(e) => warnings.push(format!("the store's roles and clients could not be read: {e}")),
    }
    match tessera_core::admin::cleartext_warnings(&store).await {
        Ok(w) => warnings.extend(w),
        Err(e) => warnings.push(format!("the store's LDAP domains could not be read: {e}")),
    }
    store.close().await;
    (problems, warnings)
}

/// Closes the store cleanly whatever the command's outcome.
async fn finish(core: &Core, outcome: Result<()>) -> Result<()> {
    core.close().await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_its_outer_layer_quoted_is_said_once() {
        /// An error whose text includes its source's, as sqlx's and the
        /// store's do.
        #[derive(Debug)]
        struct Wrapped(std::io::Error);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "driver: {}", self.0)
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let inner = std::io::Error::other("file is not a database");
        let e = anyhow::Error::new(Wrapped(inner)).context("opening the store");
        assert_eq!(one_line(&e), "opening the store: driver: file is not a database");
    }
}
