//! Name keys (SPEC §5: one identity per visible name). Users, domains and
//! roles keep a `name_key` beside their name, clients an `id_key` beside
//! their id: the RFC 8265 UsernameCaseMapped form that
//! [`tessera_model::names`] computes. A unique index on the key makes two
//! names that look the same one name, and every lookup by name compares
//! keys. SQL cannot compute the key (NFC, Unicode lowercase, width
//! mapping), so it is written from Rust: by each insert, and for rows
//! written before migration 0002 by [`Store::backfill_name_keys`] when the
//! store is opened.

use crate::{on_pool, Store, StoreResult};
use tessera_model::names::{self, NameKind};

/// The key `name` is stored and found by.
///
/// Errors: [`crate::StoreError::InvalidName`] when RFC 8265 refuses the
/// name (its message names the offending code point).
pub(crate) fn key(kind: NameKind, name: &str) -> StoreResult<String> {
    Ok(names::lookup_key(kind, name)?)
}

/// One table whose rows carry a name key.
struct Keyed {
    kind: NameKind,
    table: &'static str,
    /// The column holding the name as given.
    name: &'static str,
    key: &'static str,
    /// The column the key is unique within (users: their domain).
    scope: Option<&'static str>,
}

const KEYED: [Keyed; 4] = [
    Keyed {
        kind: NameKind::Domain,
        table: "domains",
        name: "name",
        key: "name_key",
        scope: None,
    },
    Keyed {
        kind: NameKind::Role,
        table: "roles",
        name: "name",
        key: "name_key",
        scope: None,
    },
    Keyed {
        kind: NameKind::Client,
        table: "clients",
        name: "id",
        key: "id_key",
        scope: None,
    },
    Keyed {
        kind: NameKind::User,
        table: "users",
        name: "name",
        key: "name_key",
        scope: Some("domain_id"),
    },
];

/// A row left without a key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnkeyedName {
    /// `domains`, `roles`, `clients` or `users`.
    pub table: &'static str,
    pub id: String,
    pub name: String,
    pub reason: String,
}

impl Store {
    /// Gives every row written before name keys existed its key, oldest
    /// first. A row whose name RFC 8265 now refuses, or whose key an older
    /// row already holds (`josé` typed twice in two normalization forms,
    /// `admin` + U+200B beside `admin`), is left without one: no lookup by
    /// name finds it, so nobody can log in as it or name it in a command,
    /// while its data, its existing sessions and listings stay as they
    /// were. Such rows are returned (and logged as warnings) at every
    /// start until someone deals with them. Safe to run on several nodes
    /// at once.
    ///
    /// Errors: the store's.
    pub async fn backfill_name_keys(&self) -> StoreResult<Vec<UnkeyedName>> {
        let mut left = Vec::new();
        for t in &KEYED {
            left.extend(self.backfill_table(t).await?);
        }
        for u in &left {
            tracing::warn!(
                table = u.table,
                id = %u.id,
                name = ?u.name,
                reason = %u.reason,
                "a name written before names followed RFC 8265 has no key: no login or command by name \
                 finds it (its sessions can still be revoked with `tessera token revoke`)"
            );
        }
        Ok(left)
    }

    async fn backfill_table(&self, t: &Keyed) -> StoreResult<Vec<UnkeyedName>> {
        let unkeyed = format!(
            "SELECT id, {name}, {scope} FROM {table} WHERE {key} IS NULL ORDER BY created_at, id",
            name = t.name,
            scope = t.scope.unwrap_or("''"),
            table = t.table,
            key = t.key,
        );
        let rows: Vec<(String, String, String)> =
            on_pool!(self, write, |pool| sqlx::query_as(&unkeyed).fetch_all(pool).await)?;
        let mut left = Vec::new();
        // Short transactions, oldest rows first: a large table never holds
        // the writer (or a PostgreSQL operation) for long.
        for chunk in rows.chunks(256) {
            let mut attempt = 0;
            loop {
                match self.backfill_chunk(t, chunk).await {
                    Ok(rows) => {
                        left.extend(rows);
                        break;
                    }
                    // Another node filled the same rows at the same moment;
                    // the next attempt sees its keys.
                    Err(crate::StoreError::Conflict(_)) if attempt < 3 => attempt += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(left)
    }

    async fn backfill_chunk(
        &self,
        t: &Keyed,
        rows: &[(String, String, String)],
    ) -> StoreResult<Vec<UnkeyedName>> {
        let holder = format!(
            "SELECT id, {name} FROM {table} WHERE {scope} = $1 AND {key} = $2 AND id <> $3",
            name = t.name,
            scope = t.scope.unwrap_or("''"),
            table = t.table,
            key = t.key,
        );
        let fill = format!(
            "UPDATE {table} SET {key} = $1 WHERE id = $2 AND {key} IS NULL",
            table = t.table,
            key = t.key,
        );
        let result: Result<Vec<UnkeyedName>, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let mut left = Vec::new();
                for (id, name, scope) in rows {
                    let key = match names::lookup_key(t.kind, name) {
                        Ok(key) => key,
                        Err(e) => {
                            left.push(UnkeyedName {
                                table: t.table,
                                id: id.clone(),
                                name: name.clone(),
                                reason: e.to_string(),
                            });
                            continue;
                        }
                    };
                    let taken: Option<(String, String)> = sqlx::query_as(&holder)
                        .bind(scope)
                        .bind(&key)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some((other_id, other_name)) = taken {
                        left.push(UnkeyedName {
                            table: t.table,
                            id: id.clone(),
                            name: name.clone(),
                            reason: format!(
                                "{} {name:?} is the same name under RFC 8265 as {other_name:?} (id {other_id}), \
                                 which was there first and keeps it",
                                t.kind.noun()
                            ),
                        });
                        continue;
                    }
                    sqlx::query(&fill).bind(&key).bind(id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(left)
            }
            .await
        });
        Ok(result?)
    }
}
