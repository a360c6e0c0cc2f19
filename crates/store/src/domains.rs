//! Domains: namespaces of users, matched by name as RFC 8265 compares
//! usernames (so in any letter case, SPEC §1).

use crate::invalidations::{insert_invalidation, Invalidation};
use crate::names;
use crate::users::{spares_an_admin, Guarded};
use crate::{on_pool, Store, StoreError, StoreResult};
use tessera_model::names::NameKind;
use tessera_model::{Domain, DomainId, IdentitySource, LastAdmin, Timestamp, UserId};

#[derive(sqlx::FromRow)]
struct DomainRow {
    id: String,
    name: String,
    description: String,
    source: String,
    enabled: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<DomainRow> for Domain {
    type Error = StoreError;
    fn try_from(r: DomainRow) -> StoreResult<Domain> {
        let source = IdentitySource::parse(&r.source)
            .ok_or_else(|| StoreError::Corrupt(format!("domain {} has source {:?}", r.id, r.source)))?;
        Ok(Domain {
            id: DomainId::from_trusted(r.id),
            name: r.name,
            description: r.description,
            source,
            enabled: r.enabled,
            created_at: Timestamp(r.created_at),
            updated_at: Timestamp(r.updated_at),
        })
    }
}

const COLUMNS: &str = "id, name, description, source, enabled, created_at, updated_at";

/// Inserts one domain on any executor of either backend, found from now
/// on by `name_key` ([`crate::names::key`]).
pub(crate) async fn insert_domain<'e, E, DB>(exec: E, d: &Domain, name_key: &str) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query::<DB>(
        "INSERT INTO domains (id, name, name_key, description, source, enabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(d.id.as_str())
    .bind(d.name.as_str())
    .bind(name_key)
    .bind(d.description.as_str())
    .bind(d.source.as_str())
    .bind(d.enabled)
    .bind(d.created_at.0)
    .bind(d.updated_at.0)
    .execute(exec)
    .await?;
    Ok(())
}

impl Store {
    /// Inserts a domain; `Conflict` when the name is taken (compared as
    /// RFC 8265 says), `InvalidName` when RFC 8265 refuses it.
    pub async fn create_domain(&self, d: &Domain) -> StoreResult<()> {
        let key = names::key(NameKind::Domain, &d.name)?;
        on_pool!(self, write, |pool| insert_domain(pool, d, &key).await).map_err(
            |e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("domain {:?}", d.name)),
                other => other,
            },
        )?;
        Ok(())
    }

    /// The domain called `name`, compared as RFC 8265 says (any letter
    /// case, any normalization form).
    ///
    /// Errors: `InvalidName` when RFC 8265 refuses `name`.
    pub async fn find_domain_by_name(&self, name: &str) -> StoreResult<Option<Domain>> {
        let key = names::key(NameKind::Domain, name)?;
        let sql = format!("SELECT {COLUMNS} FROM domains WHERE name_key = $1");
        let row: Option<DomainRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql).bind(&key).fetch_optional(pool).await
        })?;
        row.map(Domain::try_from).transpose()
    }

    pub async fn find_domain(&self, id: &DomainId) -> StoreResult<Option<Domain>> {
        let sql = format!("SELECT {COLUMNS} FROM domains WHERE id = $1");
        let row: Option<DomainRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql).bind(id.as_str()).fetch_optional(pool).await
        })?;
        row.map(Domain::try_from).transpose()
    }

    /// Every domain, by name.
    pub async fn list_domains(&self) -> StoreResult<Vec<Domain>> {
        let sql = format!("SELECT {COLUMNS} FROM domains ORDER BY lower(name)");
        let rows: Vec<DomainRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql).fetch_all(pool).await)?;
        rows.into_iter().map(Domain::try_from).collect()
    }

    /// Enables or disables a domain, every node told; `false` when no such
    /// domain exists.
    ///
    /// Errors: [`StoreError::LastAdministrator`] when `guard` is
    /// [`LastAdmin::Keep`] and every enabled administrator is a user of
    /// this domain; decided and written in one transaction (see
    /// [`Store::set_user_enabled`]).
    pub async fn set_domain_enabled(
        &self,
        id: &DomainId,
        enabled: bool,
        now: Timestamp,
        guard: LastAdmin,
    ) -> StoreResult<bool> {
        let guard = if enabled { LastAdmin::Override } else { guard };
        let lock = self.admin_lock(guard);
        let sql = match guard {
            LastAdmin::Keep => format!(
                "UPDATE domains SET enabled = $1, updated_at = $2 WHERE id = $3 AND {}",
                spares_an_admin("u.domain_id = $3")
            ),
            LastAdmin::Override => {
                "UPDATE domains SET enabled = $1, updated_at = $2 WHERE id = $3".to_owned()
            }
        };
        let result: Result<Guarded, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                if let Some(lock) = &lock {
                    sqlx::query(lock).fetch_optional(&mut *tx).await?;
                }
                let done = sqlx::query(&sql)
                    .bind(enabled)
                    .bind(now.0)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if !done {
                    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM domains WHERE id = $1")
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Ok(if exists.is_some() {
                        Guarded::Refused
                    } else {
                        Guarded::Done(false)
                    });
                }
                insert_invalidation(&mut *tx, &Invalidation::Domain(id.to_string()), now).await?;
                tx.commit().await?;
                Ok(Guarded::Done(true))
            }
            .await
        });
        result?.into_result()
    }

    /// Removes a domain with its users (their role assignments and, by
    /// cascade, their sessions), the role assignments scoped to it and its
    /// LDAP settings, every node told. A domain that holds users is
    /// removed only when `with_users`; one holding every enabled
    /// administrator never is.
    ///
    /// Errors: [`StoreError::LastAdministrator`] when every enabled
    /// administrator is a user of this domain (decided in the removing
    /// transaction, see [`Store::set_user_enabled`]).
    pub async fn remove_domain(
        &self,
        id: &DomainId,
        now: Timestamp,
        with_users: bool,
    ) -> StoreResult<DomainRemoval> {
        let lock = self.admin_lock(LastAdmin::Keep);
        let sql = format!(
            "DELETE FROM domains WHERE id = $1 AND {}",
            spares_an_admin("u.domain_id = $1")
        );
        let result: Result<Result<DomainRemoval, StoreError>, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                if let Some(lock) = &lock {
                    sqlx::query(lock).fetch_optional(&mut *tx).await?;
                }
                let users: Vec<String> = sqlx::query_scalar("SELECT id FROM users WHERE domain_id = $1")
                    .bind(id.as_str())
                    .fetch_all(&mut *tx)
                    .await?;
                if !users.is_empty() && !with_users {
                    return Ok(Ok(DomainRemoval::HasUsers(users.len())));
                }
                let done = sqlx::query(&sql)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if !done {
                    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM domains WHERE id = $1")
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Ok(match exists {
                        Some(_) => Err(StoreError::LastAdministrator),
                        None => Ok(DomainRemoval::NotFound),
                    });
                }
                sqlx::query("DELETE FROM assignments WHERE scope_domain_id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                for user in &users {
                    sqlx::query(
                        "DELETE FROM assignments WHERE principal_kind = 'user' AND principal_id = $1",
                    )
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                    for inv in [
                        Invalidation::UserSessions(user.clone()),
                        Invalidation::User(user.clone()),
                    ] {
                        insert_invalidation(&mut *tx, &inv, now).await?;
                    }
                }
                insert_invalidation(&mut *tx, &Invalidation::Domain(id.to_string()), now).await?;
                tx.commit().await?;
                Ok(Ok(DomainRemoval::Removed {
                    users: users.into_iter().map(UserId::from_trusted).collect(),
                }))
            }
            .await
        });
        result?
    }
}

/// What [`Store::remove_domain`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRemoval {
    /// Removed, with these users.
    Removed { users: Vec<UserId> },
    /// Not removed: it holds this many users and `with_users` was false.
    HasUsers(usize),
    /// No such domain.
    NotFound,
}
