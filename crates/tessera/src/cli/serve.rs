//! `tessera serve` and `tessera init`.

use super::input::{read_secret_stdin, refuse_ignored_stdin};
use super::store::{bootstrap, AdminPassword, Context};
use crate::server;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides [server] listen).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Read the admin user's password from standard input (one line;
    /// default: TESSERA_ADMIN_PASSWORD, else one is generated and shown
    /// once).
    #[arg(long)]
    password_stdin: bool,
}

/// Serves until SIGINT or SIGTERM. An empty store is set up on first
/// start (SPEC §8), the admin password from `TESSERA_ADMIN_PASSWORD` or
/// generated.
pub async fn run(ctx: &Context, args: ServeArgs) -> Result<()> {
    let mut ctx = ctx.clone();
    ctx.overrides.listen = args.listen;
    let settings = ctx.settings()?;
    let (core, _) = bootstrap(&settings, AdminPassword::from_env()).await?;
    let running = server::start(core.clone(), settings.doors.clone(), None).await?;
    let url = running.base_url();
    tracing::info!(%url, store = core.backend(), "tessera listening");
    println!("tessera listening on {url}");
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await?;
    core.close().await;
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Sets up the store (nothing changes in one already set up) and the
/// self-signed certificate, and says where they are.
pub async fn init(ctx: &Context, args: InitArgs) -> Result<()> {
    let admin = if args.password_stdin {
        AdminPassword {
            password: Some(read_secret_stdin("admin password")?),
            source: "the password on standard input",
        }
    } else {
        let admin = AdminPassword::from_env();
        if !admin.given() {
            refuse_ignored_stdin("--password-stdin", "password")?;
        }
        admin
    };
    let settings = ctx.settings()?;
    let (core, new) = bootstrap(&settings, admin).await?;
    if !new {
        eprintln!("the store was already set up; nothing changed");
    }
    let config = &settings.config;
    if crate::tls::server_config(config)?.is_some()
        && config.server.tls == tessera_model::config::TlsMode::SelfSigned
    {
        let (cert, _) = crate::tls::self_signed_paths(&config.data_dir);
        eprintln!("TLS certificate: {}", cert.display());
    }
    eprintln!(
        "store: {} ({})",
        crate::runtime::redact_url(&config.store.url),
        core.backend()
    );
    eprintln!("ready: run `tessera serve`");
    core.close().await;
    Ok(())
}
