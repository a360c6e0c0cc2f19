//! Tessera's core: authenticate a credential, issue a token under a
//! policy, validate a token, revoke; plus the identity administration the
//! CLI and the admin API share. Knows nothing about HTTP.

pub mod access;
pub mod account;
pub mod admin;
pub mod audit;
pub mod authn;
pub mod background;
pub mod bootstrap;
pub mod cache;
pub mod clients;
pub mod clock;
pub mod directory;
pub mod error;
pub mod identity;
pub mod keys;
pub mod login;
pub mod master_key;
pub mod metrics;
pub mod password;
pub mod password_policy;
pub mod policy;
pub mod random;
pub mod references;
pub mod refresh;
pub mod scope;
pub mod session_admin;
pub mod staleness;
pub mod token;
pub mod tokens;
pub mod writer;

pub use audit::{Actor, Audit};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{AuthError, AuthResult, OAuthCode};
pub use login::{LoggedIn, LoginRequest, Logout};
pub use master_key::{ClientSecretHasher, MasterKey};
pub use password::PasswordHasher;
pub use tokens::{Identity, IssueRequest, Issued, IssuedToken, Subject};

use std::sync::Arc;
use subtle::ConstantTimeEq;
use tessera_model::config::Config;
use tessera_model::session::TokenHash;
use tessera_model::Timestamp;
use tessera_store::Store;

/// Everything the core needs, assembled once at start.
pub struct CoreParts {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub master_key: MasterKey,
    /// The `iss` of the JWTs this core signs (`[doors.oauth2] issuer`);
    /// empty means `tessera`.
    pub issuer: String,
}

/// The core: one per process, shared behind an `Arc`.
pub struct Core {
    config: Arc<Config>,
    store: Store,
    clock: SharedClock,
    passwords: PasswordHasher,
    client_secrets: ClientSecretHasher,
    audit: Audit,
    /// Sessions, users, domains and clients in memory (the check path).
    cache: cache::SessionCache,
    /// JWT signing keys.
    keys: keys::KeyRing,
    /// Group commit for token issues and rotations.
    writer: writer::Writer,
    /// The gateway's compiled rules.
    policy: policy::Policy,
    /// This node's Prometheus metrics (logins, token checks, lockouts,
    /// gateway upstream errors), recorded where each happens.
    metrics: metrics::Metrics,
    /// SHA-256 of the cluster service token, when one is configured.
    service_token: Option<TokenHash>,
    /// SHA-256 of the bootstrap admin token, when one is configured.
    admin_token: Option<TokenHash>,
    master_key: MasterKey,
    issuer: String,
    /// Whether this node has heard the store's invalidations recently
    /// enough to trust its cache (`[cluster] max_staleness`).
    freshness: staleness::Freshness,
    /// The connection pools of LDAP domains' directories (SPEC §7).
    directories: directory::Directories,
}

/// Cluster fact holding the master key's fingerprint.
const MASTER_KEY_FACT: &str = "master_key_fingerprint";
/// Cluster fact holding the SHA-256 of the service token.
const SERVICE_TOKEN_FACT: &str = "service_token_sha256";

impl Core {
    /// The fingerprint of the master key `store` was set up with, or `None`
    /// for a store no node has started on yet. Whoever is about to generate
    /// a master key asks this first: a store that has one must never get a
    /// new one (its sealed signing keys and secrets would be unreadable).
    ///
    /// # Errors
    /// The store's, when it cannot be read.
    pub async fn recorded_master_key(store: &Store) -> AuthResult<Option<String>> {
        Ok(store.cluster_fact(MASTER_KEY_FACT).await?)
    }

    /// Builds the core and checks that this node's master key is the one
    /// the store was first used with.
    pub async fn new(parts: CoreParts) -> AuthResult<Core> {
        let CoreParts {
            config,
            store,
            clock,
            master_key,
            issuer,
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
        let service_token = match &config.cluster.service_token {
            Some(t) => {
                let hash = token::hash(t.expose());
                let hexed = tessera_store::hex(&hash);
                let recorded = store
                    .set_cluster_fact_once(SERVICE_TOKEN_FACT, &hexed, clock.now())
                    .await?;
                if recorded != hexed {
                    return Err(AuthError::InvalidInput(
                        "this node's service token ([cluster] service_token / TESSERA_SERVICE_TOKEN) differs from \
                         the one the cluster recorded; every node must share the same service token"
                            .into(),
                    ));
                }
                Some(hash)
            }
            None => None,
        };
        let passwords = PasswordHasher::new(&config.password, 0)?;
        let policy = policy::Policy::compile(&config.gateway).map_err(AuthError::InvalidInput)?;
        let metrics = metrics::Metrics::new()?;
        let keys = keys::KeyRing::load(store.clone(), &master_key, clock.now()).await?;
        let freshness = staleness::Freshness::new(config.cluster.max_staleness);
        Ok(Core {
            directories: directory::Directories::new(&config.ldap),
            freshness,
            passwords,
            client_secrets: ClientSecretHasher::new(&master_key),
            audit: Audit::new(store.clone()),
            cache: cache::SessionCache::default(),
            keys,
            writer: writer::Writer::start(store.clone())?,
            policy,
            metrics,
            service_token,
            admin_token: config
                .bootstrap
                .admin_token
                .as_ref()
                .map(|t| token::hash(t.expose())),
            config,
            store,
            clock,
            master_key,
            issuer: if issuer.is_empty() {
                "tessera".to_owned()
            } else {
                issuer
            },
        })
    }

    /// The configuration this node started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The same configuration, shared (for the listener).
    pub fn config_shared(&self) -> Arc<Config> {
        self.config.clone()
    }

    /// The gateway's compiled rules and emergency allow-list.
    pub fn rules(&self) -> &policy::Policy {
        &self.policy
    }

    /// This node's metrics, for what happens outside the core (the
    /// gateway's upstream failures).
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// The public JWT keys (the JWKS document's `keys`).
    pub fn jwks(&self) -> Vec<keys::Jwk> {
        self.keys.jwks()
    }

    /// Whether this node can serve (`/readyz`): it has heard the store's
    /// invalidations within `[cluster] max_staleness` and the store
    /// answers; `Ok` names the backend.
    ///
    /// Errors: [`AuthError::Stale`]; the store's, when it does not answer.
    pub async fn ready(&self) -> AuthResult<&'static str> {
        self.freshness.check()?;
        self.store.ping().await?;
        Ok(self.store.backend().as_str())
    }

    /// The store's backend name (`sqlite`, `postgres`).
    pub fn backend(&self) -> &'static str {
        self.store.backend().as_str()
    }

    /// Closes the store's connections; the last thing a process does with
    /// its core (after the server's shutdown flushed the idle clocks).
    pub async fn close(&self) {
        self.store.close().await;
    }
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    /// Whether a presented token is the bootstrap admin token (seed 002);
    /// compared in constant time. Only [`Core::admin`] asks.
    fn is_admin_token(&self, presented: &str) -> bool {
        let hash = token::hash(presented);
        self.admin_token
            .as_ref()
            .is_some_and(|want| bool::from(want.0.ct_eq(&hash.0)))
    }

    /// Whether a presented token (by hash) is the cluster service token;
    /// compared in constant time.
    pub fn is_service_token(&self, hash: &TokenHash) -> bool {
        self.service_token
            .as_ref()
            .is_some_and(|want| bool::from(want.0.ct_eq(&hash.0)))
    }
}
