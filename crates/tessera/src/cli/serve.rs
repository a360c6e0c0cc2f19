//! `tessera serve` and `tessera init`.

use crate::config::{self, Overrides};
use crate::server;
use anyhow::Result;
use clap::Args;
use std::path::Path;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides [server] listen).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

pub async fn run(file: Option<&Path>, mut overrides: Overrides, args: ServeArgs) -> Result<()> {
    overrides.listen = args.listen;
    let settings = config::load(file, &overrides)?;
    let core = super::prepare(&settings).await?;
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

pub async fn init(file: Option<&Path>, overrides: &Overrides) -> Result<()> {
    let settings = config::load(file, overrides)?;
    let core = super::prepare(&settings).await?;
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
