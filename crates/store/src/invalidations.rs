//! The invalidation log: how a change made anywhere (another node, the
//! CLI) reaches every node's session cache. Writers append a row in the
//! same transaction as the change; nodes read rows newer than the last
//! one they saw. On PostgreSQL a trigger also NOTIFYs, so nodes read at
//! once instead of at their next poll.

use crate::{on_pool, Store, StoreResult};
use std::sync::Arc;
use tessera_model::Timestamp;

/// What an invalidation names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// One session, by the hex SHA-256 of its token.
    Token(String),
    /// Every session of a user (mass revocation).
    UserSessions(String),
    /// A user's state or roles changed.
    User(String),
    /// A domain was enabled or disabled.
    Domain(String),
    /// A client changed or was removed.
    Client(String),
    /// The signing keys were rotated.
    Keys,
}

impl Invalidation {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Invalidation::Token(t) => ("token", t),
            Invalidation::UserSessions(t) => ("user-sessions", t),
            Invalidation::User(t) => ("user", t),
            Invalidation::Domain(t) => ("domain", t),
            Invalidation::Client(t) => ("client", t),
            Invalidation::Keys => ("keys", ""),
        }
    }

    fn from_parts(kind: &str, target: String) -> Option<Self> {
        Some(match kind {
            "token" => Invalidation::Token(target),
            "user-sessions" => Invalidation::UserSessions(target),
            "user" => Invalidation::User(target),
            "domain" => Invalidation::Domain(target),
            "client" => Invalidation::Client(target),
            "keys" => Invalidation::Keys,
            _ => return None,
        })
    }
}

/// Appends one invalidation on any executor of either backend.
pub(crate) async fn insert_invalidation<'e, E, DB>(
    exec: E,
    inv: &Invalidation,
    now: Timestamp,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let (kind, target) = inv.parts();
    sqlx::query::<DB>("INSERT INTO invalidations (at, kind, target) VALUES ($1, $2, $3)")
        .bind(now.0)
        .bind(kind)
        .bind(target)
        .execute(exec)
        .await?;
    Ok(())
}

impl Store {
    /// Records invalidations on their own (for changes made outside a
    /// store transaction).
    pub async fn record_invalidations(&self, invs: &[Invalidation], now: Timestamp) -> StoreResult<()> {
        let result: Result<(), sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                for inv in invs {
                    insert_invalidation(&mut *tx, inv, now).await?;
                }
                tx.commit().await
            }
            .await
        });
        Ok(result?)
    }

    /// The newest invalidation id (0 when there is none): where a starting
    /// node begins reading.
    pub async fn latest_invalidation_id(&self) -> StoreResult<i64> {
        let id: Option<i64> = on_pool!(self, read, |pool| {
            sqlx::query_scalar("SELECT MAX(id) FROM invalidations")
                .fetch_one(pool)
                .await
        })?;
        Ok(id.unwrap_or(0))
    }

    /// Invalidations after `after`, oldest first, at most `limit`.
    pub async fn invalidations_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, Invalidation)>> {
        let rows: Vec<(i64, String, String)> = on_pool!(self, read, |pool| {
            sqlx::query_as("SELECT id, kind, target FROM invalidations WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, kind, target)| Invalidation::from_parts(&kind, target).map(|inv| (id, inv)))
            .collect())
    }

    /// Drops invalidations older than `before`; every node has read them.
    pub async fn purge_invalidations(&self, before: Timestamp) -> StoreResult<u64> {
        let n = on_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM invalidations WHERE at < $1")
                .bind(before.0)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(n)
    }

    /// Wakes `wake` whenever another node records an invalidation
    /// (PostgreSQL LISTEN). Returns at once on SQLite, where only this
    /// process and the CLI write and polling suffices. Runs until the
    /// store is closed; reconnects after errors.
    pub async fn listen_invalidations(&self, wake: Arc<tokio::sync::Notify>) {
        let Store::Postgres { pool, .. } = self else {
            return;
        };
        loop {
            if pool.is_closed() {
                return;
            }
            match sqlx::postgres::PgListener::connect_with(pool).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen("tessera_invalidations").await {
                        tracing::warn!(error = %e, "LISTEN tessera_invalidations failed");
                    } else {
                        loop {
                            match listener.recv().await {
                                Ok(_) => wake.notify_one(),
                                Err(e) => {
                                    tracing::warn!(error = %e, "invalidation listener lost its connection");
                                    // Anything missed meanwhile is caught by the poll.
                                    wake.notify_one();
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot connect the invalidation listener"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}
