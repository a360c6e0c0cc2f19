//! JWT signing keys. Private halves are stored only encrypted (the core
//! encrypts under the master key); public halves are published in the JWKS.

use crate::{on_pool, Store, StoreResult};
use tessera_model::Timestamp;

/// One signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    pub public_key: Vec<u8>,
    /// Nonce followed by ciphertext; opaque to the store.
    pub private_key_enc: Vec<u8>,
    pub created_at: i64,
    /// Set when a newer key took over signing.
    pub retired_at: Option<i64>,
    /// A retired key stays in the JWKS until the last token it signed expires.
    pub publish_until: Option<i64>,
}

impl Store {
    pub async fn insert_signing_key(&self, k: &SigningKeyRecord) -> StoreResult<()> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO signing_keys (kid, algorithm, public_key, private_key_enc, created_at, retired_at, publish_until)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&k.kid)
            .bind(&k.algorithm)
            .bind(&k.public_key)
            .bind(&k.private_key_enc)
            .bind(k.created_at)
            .bind(k.retired_at)
            .bind(k.publish_until)
            .execute(pool)
            .await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Keys still worth publishing at `now`, newest first.
    pub async fn published_signing_keys(&self, now: Timestamp) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT kid, algorithm, public_key, private_key_enc, created_at, retired_at, publish_until
                 FROM signing_keys WHERE publish_until IS NULL OR publish_until > $1
                 ORDER BY created_at DESC, kid",
            )
            .bind(now.0)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Retires every active key except `keep`, keeping each published
    /// until `publish_until`.
    pub async fn retire_signing_keys_except(
        &self,
        keep: &str,
        now: Timestamp,
        publish_until: Timestamp,
    ) -> StoreResult<u64> {
        let done = on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE signing_keys SET retired_at = $1, publish_until = $2 WHERE kid <> $3 AND retired_at IS NULL",
            )
            .bind(now.0)
            .bind(publish_until.0)
            .bind(keep)
            .execute(pool)
            .await.map(|r| r.rows_affected())
        })?;
        Ok(done)
    }
}
