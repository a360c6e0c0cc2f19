//! The store's error type: what went wrong, in terms a caller can act on.

/// Errors from the store. `Conflict`, `NotFound`, `InvalidName` and
/// `LastAdministrator` are the caller's to explain to a user; the rest are
/// operational and are logged, not shown.
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
    /// The change would leave no enabled administrator, and the caller
    /// asked to keep one ([`tessera_model::LastAdmin::Keep`]). Nothing was
    /// written.
    #[error("that would leave no enabled administrator")]
    LastAdministrator,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Why the store could not be opened, in the terms of what an operator
/// does about it ([`StoreError::open_failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFailure {
    /// The SQLite file is damaged or is not a SQLite database: restore it
    /// from a backup or move it aside.
    Corrupt,
    /// The SQLite file, or the directory it and its `-wal`/`-shm` files
    /// live in, cannot be opened for writing by this process (permissions,
    /// a read-only file system).
    Denied,
    /// Anything else (the network, PostgreSQL's answer, the URL).
    Other,
}

/// SQLite's primary result codes (the low byte of an extended code) that
/// [`StoreError::open_failure`] tells apart.
mod sqlite_code {
    pub const PERM: u32 = 3;
    pub const READONLY: u32 = 8;
    pub const CORRUPT: u32 = 11;
    pub const CANTOPEN: u32 = 14;
    pub const NOTADB: u32 = 26;
}

impl StoreError {
    /// The driver error underneath, through a failed migration too.
    fn driver(&self) -> Option<&sqlx::Error> {
        match self {
            StoreError::Database(e) => Some(e),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => Some(e),
            StoreError::Migrate(sqlx::migrate::MigrateError::ExecuteMigration(e, _)) => Some(e),
            _ => None,
        }
    }

    /// Classifies an error from [`crate::Store::connect_with`] by what an
    /// operator should do about it. Only SQLite's own codes and I/O
    /// permission errors are told apart; everything else is `Other`.
    pub fn open_failure(&self) -> OpenFailure {
        match self.driver() {
            Some(sqlx::Error::Database(db))
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() =>
            {
                let code = db.code().and_then(|c| c.parse::<u32>().ok()).unwrap_or(0) & 0xff;
                match code {
                    sqlite_code::CORRUPT | sqlite_code::NOTADB => OpenFailure::Corrupt,
                    sqlite_code::PERM | sqlite_code::READONLY | sqlite_code::CANTOPEN => OpenFailure::Denied,
                    _ => OpenFailure::Other,
                }
            }
            Some(sqlx::Error::Io(io)) if io.kind() == std::io::ErrorKind::PermissionDenied => {
                OpenFailure::Denied
            }
            _ => OpenFailure::Other,
        }
    }

    /// The driver's own words, said once (this error's `Display` and its
    /// sources repeat them layer by layer): a database's message and its
    /// code, else the innermost cause.
    pub fn root_cause(&self) -> String {
        if let Some(sqlx::Error::Database(db)) = self.driver() {
            return match db.code() {
                Some(code) => format!("{} (code {code})", db.message()),
                None => db.message().to_owned(),
            };
        }
        let mut err: &(dyn std::error::Error + 'static) = self;
        while let Some(next) = err.source() {
            err = next;
        }
        err.to_string()
    }
}

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
