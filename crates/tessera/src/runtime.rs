//! Assembling a running core from the configuration: the data dir, the
//! store, the master key.

use crate::config::Settings;
use crate::private_files::{create_private_dir, write_private};
use anyhow::{Context, Result};
use std::sync::Arc;
use tessera_core::{Core, CoreParts, MasterKey, SharedClock};
use tessera_model::config::Config;
use tessera_store::Store;

/// The master key: `TESSERA_MASTER_KEY`, else `<data_dir>/master.key`,
/// created (mode 0600) on first use.
pub fn master_key(config: &Config) -> Result<MasterKey> {
    if let Ok(text) = std::env::var("TESSERA_MASTER_KEY") {
        return MasterKey::from_text(&text).context("TESSERA_MASTER_KEY");
    }
    let path = config.data_dir.join("master.key");
    if !path.exists() {
        create_private_dir(&config.data_dir)?;
        write_private(&path, MasterKey::generate_text().as_bytes())?;
        tracing::info!(path = %path.display(), "created a master key file; back it up with the store");
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading master key {}", path.display()))?;
    MasterKey::from_text(&text).with_context(|| format!("master key file {}", path.display()))
}

/// Opens the store (applying migrations) and builds the core on it. Of
/// the doors' tables the core gets only the JWT issuer (`[doors.oauth2]
/// issuer`).
pub async fn open_core(settings: &Settings, clock: SharedClock) -> Result<Arc<Core>> {
    let config = settings.config.clone();
    if config.store.url.starts_with("sqlite:") {
        create_private_dir(&config.data_dir)?;
    }
    let timeouts = tessera_store::Timeouts {
        acquire: config.store.acquire_timeout,
        operation: config.store.operation_timeout,
    };
    let store = Store::connect_with(&config.store.url, config.store.max_connections, timeouts)
        .await
        .with_context(|| format!("opening the store ({})", redact_url(&config.store.url)))?;
    let master_key = master_key(&config)?;
    let core = Core::new(CoreParts {
        issuer: settings.doors.oauth2.issuer.clone(),
        config,
        store,
        clock,
        master_key,
    })
    .await?;
    Ok(Arc::new(core))
}

/// A store URL fit for messages: any password removed.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!(
                "{}://{user}{}{}",
                &url[..scheme_end],
                if userinfo.contains(':') { ":[redacted]" } else { "" },
                &url[at..]
            )
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_lose_their_password_in_messages() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/x"),
            "postgres://u:[redacted]@db:5432/x"
        );
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(redact_url("sqlite://./data/t.db"), "sqlite://./data/t.db");
    }
}
