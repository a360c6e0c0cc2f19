//! Assembling a running core from the configuration: the data dir, the
//! store, the master key.

use crate::config::Settings;
use crate::private_files::{create_private_dir, ensure_private, io_error, process_user, write_private};
use anyhow::{anyhow, bail, Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use tessera_core::{Core, CoreParts, MasterKey, SharedClock};
use tessera_model::config::Config;
use tessera_store::{OpenFailure, Store, StoreError};
use zeroize::Zeroizing;

/// Where this node's master key comes from.
enum KeySource {
    /// `TESSERA_MASTER_KEY` or an existing, private key file.
    Found(MasterKey),
    /// No key anywhere: one may be generated at this path, but only for
    /// a store that has never had one.
    Missing(PathBuf),
}

/// The master key: `TESSERA_MASTER_KEY`, else `<data_dir>/master.key`
/// (which must be readable by its owner only). Writes nothing.
fn find_master_key(config: &Config) -> Result<KeySource> {
    if let Ok(text) = std::env::var("TESSERA_MASTER_KEY") {
        return Ok(KeySource::Found(
            MasterKey::from_text(&text).context("TESSERA_MASTER_KEY")?,
        ));
    }
    let path = config.data_dir.join("master.key");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => Zeroizing::new(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(KeySource::Missing(path)),
        Err(e) => return Err(io_error("reading the master key file", &path, &e, "read")),
    };
    ensure_private(&path, "master key file")?;
    Ok(KeySource::Found(MasterKey::from_text(&text).with_context(
        || format!("master key file {}", path.display()),
    )?))
}

/// The master key for `store`: the one found, else a new key file
/// (mode 0600), created only when the store has never been set up with a
/// key. A store that has one is refused before a key file is written: a
/// new key could read none of its sealed signing keys or secrets.
async fn master_key(config: &Config, store: &Store) -> Result<MasterKey> {
    let path = match find_master_key(config)? {
        KeySource::Found(key) => return Ok(key),
        KeySource::Missing(path) => path,
    };
    if let Some(fingerprint) = Core::recorded_master_key(store)
        .await
        .context("reading the store's master key fingerprint")?
    {
        bail!(
            "the master key file {path} is missing, but the store ({url}) was set up with a master key \
             (fingerprint {fingerprint}); without that key the store's signing keys and secrets cannot be read. \
             Restore {path} from the backup taken with the store (mode 0600), or set TESSERA_MASTER_KEY to that key. \
             No new key was written",
            path = path.display(),
            url = redact_url(&config.store.url),
        );
    }
    create_private_dir(&config.data_dir)?;
    let text = MasterKey::generate_text();
    write_private(&path, text.as_bytes())?;
    tracing::info!(path = %path.display(), "created a master key file; back it up with the store");
    MasterKey::from_text(&text).with_context(|| format!("master key file {}", path.display()))
}

/// Opens the store (applying migrations), finds the master key (making
/// one only for a store that never had one) and builds the core on them.
/// Of the doors' tables the core gets only the JWT issuer
/// (`[doors.oauth2] issuer`). Each failure is one message saying where and
/// what to do.
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
        .map_err(|e| store_open_error(&config.store.url, &e))?;
    let master_key = match master_key(&config, &store).await {
        Ok(key) => key,
        Err(e) => {
            store.close().await;
            return Err(e);
        }
    };
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

/// One message for a store that would not open: what failed, where, and
/// what to do, with the driver's own words once.
fn store_open_error(url: &str, e: &StoreError) -> anyhow::Error {
    let cause = e.root_cause();
    let Some(file) = sqlite_path(url) else {
        return anyhow!("opening the store ({}): {cause}", redact_url(url));
    };
    let file = file.display();
    match e.open_failure() {
        OpenFailure::Corrupt => anyhow!(
            "the SQLite store {file} is damaged or is not a SQLite database ({cause}). \
             Restore it from your backup, or move it aside to start with an empty store: \
             `mv {file} {file}.damaged` (and its {file}-wal and {file}-shm files, if present)"
        ),
        OpenFailure::Denied => anyhow!(
            "the SQLite store {file} cannot be opened for reading and writing ({cause}). \
             Tessera runs as {user}: that user needs read and write access to {file} and to the \
             directory it is in (SQLite creates {file}-wal and {file}-shm beside it), on a writable file system",
            user = process_user(),
        ),
        OpenFailure::Other => anyhow!("opening the SQLite store {file}: {cause}"),
    }
}

/// The file a `sqlite:` store URL names (`sqlite://PATH?options`).
pub(crate) fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
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

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/t.db?mode=rwc"),
            Some("/var/lib/t.db".into())
        );
        assert_eq!(sqlite_path("sqlite://./data/t.db"), Some("./data/t.db".into()));
        assert_eq!(sqlite_path("sqlite:t.db"), Some("t.db".into()));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@db/x"), None);
    }
}
