//! Tessera's persistence layer: the only crate that speaks SQL.
//!
//! `Store` is an enum over the two backends. Queries are written once, in
//! the SQL both backends accept (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`), and the `on_pool!` macro compiles each one against both
//! drivers. SQLite gets one writer connection and a pool of readers, so
//! writers queue in the pool instead of failing with `SQLITE_BUSY`.

mod audit;
mod batch;
mod clients;
mod cluster;
mod domains;
mod error;
mod invalidations;
mod keys;
mod ldap;
mod names;
mod roles;
mod sessions;
/// Test helpers (a fresh PostgreSQL schema per test); only with the
/// `testing` feature, which only dev-dependencies enable.
#[cfg(feature = "testing")]
pub mod testing;
mod users;

pub use audit::AuditQuery;
pub use batch::{CapCheck, IssueOutcome, RotateOutcome, Rotation, WriteJob, WriteOutcome};
pub use cluster::BootstrapRecords;
pub use domains::DomainRemoval;
pub use error::{OpenFailure, StoreError, StoreResult};
pub use invalidations::Invalidation;
pub use keys::SigningKeyRecord;
pub use ldap::group_key;
pub use names::UnkeyedName;
pub use sessions::{hex, LiveSessionInfo, SessionQuery};
pub use users::Admission;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// A connection to Tessera's store. Cheap to clone (pools are shared).
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite {
        reader: SqlitePool,
        writer: SqlitePool,
        /// One read-write connection that copies the WAL into the database
        /// (`checkpoint`) beside the writer instead of inside its commits.
        checkpointer: SqlitePool,
    },
    Postgres {
        pool: PgPool,
        /// The longest any one store operation may take before it fails
        /// (a server whose packets are dropped never answers at all).
        op_timeout: Duration,
    },
}

/// The longest a write waits in the queue for SQLite's one writer
/// connection (writes serialise there; the queue moves even when long).
const SQLITE_WRITER_QUEUE: Duration = Duration::from_secs(30);

/// How long the store may take (SPEC §6: never a 10 s hang).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To get a connection from the pool, opening one included.
    pub acquire: Duration,
    /// For one operation, a connection's acquiry included (PostgreSQL;
    /// SQLite is a local file and waits on its own busy timeout).
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            acquire: Duration::from_secs(3),
            operation: Duration::from_secs(5),
        }
    }
}

/// Runs `$body` with `$pool` bound to the backend's pool: the reader pool
/// (`read`) or the single writer (`write`) on SQLite, the one pool on
/// PostgreSQL. `$body` is compiled once per backend.
macro_rules! on_pool {
    ($store:expr, read, |$pool:ident| $body:expr) => {
        match $store {
            $crate::Store::Sqlite { reader: $pool, .. } => $body,
            $crate::Store::Postgres {
                pool: $pool,
                op_timeout,
            } => match tokio::time::timeout(*op_timeout, async { $body }).await {
                Ok(result) => result,
                Err(_) => Err(::core::convert::From::from(sqlx::Error::PoolTimedOut)),
            },
        }
    };
    ($store:expr, write, |$pool:ident| $body:expr) => {
        match $store {
            $crate::Store::Sqlite { writer: $pool, .. } => $body,
            $crate::Store::Postgres {
                pool: $pool,
                op_timeout,
            } => match tokio::time::timeout(*op_timeout, async { $body }).await {
                Ok(result) => result,
                Err(_) => Err(::core::convert::From::from(sqlx::Error::PoolTimedOut)),
            },
        }
    };
}
pub(crate) use on_pool;

/// Which database a `Store` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl Store {
    /// Opens the store at `url` (`sqlite://PATH` or `postgres://...`),
    /// creating a SQLite file when missing, and applies the migrations.
    /// `max_connections` of 0 picks a default.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Store> {
        Store::connect_with(url, max_connections, Timeouts::default()).await
    }

    /// [`Store::connect`] with the given timeouts.
    pub async fn connect_with(url: &str, max_connections: u32, timeouts: Timeouts) -> StoreResult<Store> {
        let store = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("bad SQLite URL: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is on disk (the WAL fsynced) before it is
                // acknowledged, so a power cut cannot roll back a
                // revocation, logout, lockout, password change or any
                // admin change; NORMAL only survived a killed process.
                // The one exception is the token path's group commit
                // (batch.rs), which relaxes to NORMAL for its own
                // transaction: it can only lose grants (docs/decisions.md,
                // "SQLite commits with synchronous = FULL, token batches
                // excepted").
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(timeouts.operation)
                .pragma("temp_store", "memory")
                // Checkpoints run beside the writer (`checkpoint`, called
                // by the server's background work); the writer itself
                // checkpoints only when the WAL reaches 64 MiB, which then
                // finds most of it copied already and lets the WAL restart.
                .pragma("wal_autocheckpoint", "16384");
            // SQLite connections cannot go stale: skip the ping before each use.
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .test_before_acquire(false)
                // Every write of the node queues for this one connection:
                // under a storm the queue is long but moving.
                .acquire_timeout(SQLITE_WRITER_QUEUE)
                .connect_with(opts.clone())
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
            let readers = if max_connections == 0 { 8 } else { max_connections };
            let reader = SqlitePoolOptions::new()
                .max_connections(readers)
                .test_before_acquire(false)
                .acquire_timeout(timeouts.acquire)
                .connect_with(opts.clone().read_only(true))
                .await?;
            let checkpointer = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(SQLITE_WRITER_QUEUE)
                .connect_with(opts)
                .await?;
            Store::Sqlite {
                reader,
                writer,
                checkpointer,
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
            let max = if max_connections == 0 { 16 } else { max_connections };
            let pool = PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(timeouts.acquire)
                .connect_with(opts)
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Store::Postgres {
                pool,
                op_timeout: timeouts.operation,
            }
        } else {
            return Err(StoreError::Config(
                "store URL must start with sqlite: or postgres://".into(),
            ));
        };
        // Rows from before migration 0002 get their name keys here: SQL
        // cannot compute them (crates/store/src/names.rs).
        store.backfill_name_keys().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite { .. } => Backend::Sqlite,
            Store::Postgres { .. } => Backend::Postgres,
        }
    }

    /// A PostgreSQL pool, for LISTEN/NOTIFY; `None` on SQLite.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match self {
            Store::Postgres { pool, .. } => Some(pool),
            Store::Sqlite { .. } => None,
        }
    }

    /// Round trip to the database; `/readyz` is green only when this is.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, read, |pool| {
            sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    /// SQLite: copies what the WAL holds into the database file without
    /// blocking the writer or readers (a PASSIVE checkpoint), and returns
    /// how many of the WAL's pages are now in the database. Done on its own
    /// connection, the copy and its fsync stay off the writer's commits.
    /// PostgreSQL: nothing.
    pub async fn checkpoint(&self) -> StoreResult<i64> {
        match self {
            Store::Sqlite { checkpointer, .. } => {
                let (_busy, _log, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(checkpointer)
                    .await?;
                Ok(copied.max(0))
            }
            Store::Postgres { .. } => Ok(0),
        }
    }

    /// Closes every connection, waiting for queries in flight.
    pub async fn close(&self) {
        match self {
            Store::Sqlite {
                reader,
                writer,
                checkpointer,
            } => {
                reader.close().await;
                writer.close().await;
                checkpointer.close().await;
            }
            Store::Postgres { pool, .. } => pool.close().await,
        }
    }
}
