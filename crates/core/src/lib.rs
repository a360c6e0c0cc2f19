//! Tessera's core: authenticate a credential, issue a token under a
//! policy, validate a token, revoke; plus the identity administration the
//! CLI and the admin API share. Knows nothing about HTTP.

pub mod admin;
pub mod audit;
pub mod bootstrap;
pub mod clock;
pub mod error;
pub mod master_key;
pub mod password;
pub mod random;

pub use audit::{Actor, Audit};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{AuthError, AuthResult};
pub use master_key::{ClientSecretHasher, MasterKey};
pub use password::PasswordHasher;

use std::sync::Arc;
use tessera_model::config::Config;
use tessera_model::Timestamp;
use tessera_store::Store;

/// Everything the core needs, assembled once at start.
pub struct CoreParts {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub master_key: MasterKey,
}

/// The core: one per process, shared behind an `Arc`.
pub struct Core {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub passwords: PasswordHasher,
    pub client_secrets: ClientSecretHasher,
    pub audit: Audit,
    master_key: MasterKey,
}

/// Cluster fact holding the master key's fingerprint.
const MASTER_KEY_FACT: &str = "master_key_fingerprint";

impl Core {
    /// Builds the core and checks that this node's master key is the one
    /// the store was first used with.
    pub async fn new(parts: CoreParts) -> AuthResult<Core> {
        let CoreParts {
            config,
            store,
            clock,
            master_key,
        } = parts;
        let fingerprint = master_key.fingerprint();
        let recorded = store
            .set_cluster_fact_once(MASTER_KEY_FACT, &fingerprint, clock.now())
            .await?;
        if recorded != fingerprint {
            return Err(AuthError::InvalidInput(format!(
                "this node's master key (fingerprint {fingerprint}) is not the one this store was set up with \
                 (fingerprint {recorded}); start every node with the same TESSERA_MASTER_KEY or key file"
            )));
        }
        let passwords = PasswordHasher::new(&config.password, 0)?;
        Ok(Core {
            passwords,
            client_secrets: ClientSecretHasher::new(&master_key),
            audit: Audit::new(store.clone()),
            config,
            store,
            clock,
            master_key,
        })
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }
}
