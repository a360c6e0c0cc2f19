//! The store's error type: what went wrong, in terms a caller can act on.

/// Errors from the store. `Conflict` and `NotFound` are the caller's to
/// explain to a user; the rest are operational and are logged, not shown.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (duplicate name, id, token hash).
    #[error("already exists: {0}")]
    Conflict(String),
    /// A referenced record does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The store URL or options are unusable.
    #[error("store configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A batched write failed; every job in it gets this.
    #[error("batched write failed: {0}")]
    Batch(String),
    /// A stored value could not be read back (corrupt or foreign data).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A name (user, domain, role, client id) that RFC 8265 refuses, so
    /// it can neither be stored nor looked up; the text says why.
    #[error("{0}")]
    InvalidName(#[from] tessera_model::names::NameError),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_owned());
            }
            if db.is_foreign_key_violation() {
                return StoreError::NotFound(db.message().to_owned());
            }
        }
        StoreError::Database(e)
    }
}
