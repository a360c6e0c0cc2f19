//! Helpers for tests of every crate: a fresh PostgreSQL schema per test,
//! so store tests and integration tests never see each other's rows.

use crate::StoreResult;
use sqlx::Connection;
use std::sync::atomic::{AtomicU32, Ordering};

/// The PostgreSQL URL tests use, from `TESSERA_TEST_POSTGRES`; `None` when
/// it is unset or empty.
pub fn postgres_test_url() -> Option<String> {
    std::env::var("TESSERA_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// Creates a new, empty schema on the server at `base_url` and returns a
/// URL whose connections use it (through `search_path`).
pub async fn fresh_postgres_schema(base_url: &str) -> StoreResult<String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand_suffix()
    );
    let mut conn = sqlx::PgConnection::connect(base_url).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let sep = if base_url.contains('?') { '&' } else { '?' };
    Ok(format!("{base_url}{sep}options=-c%20search_path%3D{schema}"))
}

fn rand_suffix() -> String {
    // Distinguishes schemas of test runs that reuse a pid after a restart.
    let nanos = std::time::UNIX_EPOCH
        .elapsed()
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{nanos:x}")
}
