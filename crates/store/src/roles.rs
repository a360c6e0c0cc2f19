//! Roles and role assignments. An assignment's scope is the whole system
//! (stored as an empty `scope_domain_id`) or one domain.

use crate::invalidations::{insert_invalidation, Invalidation};
use crate::names;
use crate::users::{spares_an_admin, Guarded};
use crate::{on_pool, Store, StoreError, StoreResult};
use tessera_model::names::NameKind;
use tessera_model::{
    Assignment, AssignmentScope, ClientId, DomainId, LastAdmin, Principal, Role, RoleGrant, RoleId,
    Timestamp, UserId, ADMIN_ROLE,
};

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: String,
    name: String,
    description: String,
    enabled: bool,
    builtin: bool,
    created_at: i64,
}

impl From<RoleRow> for Role {
    fn from(r: RoleRow) -> Role {
        Role {
            id: RoleId::from_trusted(r.id),
            name: r.name,
            description: r.description,
            enabled: r.enabled,
            builtin: r.builtin,
            created_at: Timestamp(r.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    #[sqlx(flatten)]
    role: RoleRow,
    scope_domain_id: String,
}

const COLUMNS: &str = "id, name, description, enabled, builtin, created_at";

fn principal_key(p: &Principal) -> (&'static str, &str) {
    match p {
        Principal::User(id) => ("user", id.as_str()),
        Principal::Client(id) => ("client", id.as_str()),
    }
}

fn principal_invalidation(p: &Principal) -> Invalidation {
    match p {
        Principal::User(id) => Invalidation::User(id.to_string()),
        Principal::Client(id) => Invalidation::Client(id.to_string()),
    }
}

fn scope_key(s: &AssignmentScope) -> &str {
    match s {
        AssignmentScope::System => "",
        AssignmentScope::Domain(d) => d.as_str(),
    }
}

fn scope_from_key(s: String) -> AssignmentScope {
    if s.is_empty() {
        AssignmentScope::System
    } else {
        AssignmentScope::Domain(DomainId::from_trusted(s))
    }
}

/// Inserts one assignment on any executor of either backend (used inside
/// the transactions that create users and clients).
pub(crate) async fn insert_assignment<'e, E, DB>(exec: E, a: &Assignment) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let (kind, id) = principal_key(&a.principal);
    sqlx::query::<DB>(
        "INSERT INTO assignments (principal_kind, principal_id, role_id, scope_domain_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(kind)
    .bind(id)
    .bind(a.role_id.as_str())
    .bind(scope_key(&a.scope))
    .execute(exec)
    .await?;
    Ok(())
}

/// Inserts one role on any executor of either backend, found from now on
/// by `name_key` ([`crate::names::key`]).
pub(crate) async fn insert_role<'e, E, DB>(exec: E, r: &Role, name_key: &str) -> Result<(), sqlx::Error>
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
        "INSERT INTO roles (id, name, name_key, description, enabled, builtin, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(r.id.as_str())
    .bind(r.name.as_str())
    .bind(name_key)
    .bind(r.description.as_str())
    .bind(r.enabled)
    .bind(r.builtin)
    .bind(r.created_at.0)
    .execute(exec)
    .await?;
    Ok(())
}

impl Store {
    /// Inserts a role; `Conflict` when the name is taken (compared as
    /// RFC 8265 says), `InvalidName` when RFC 8265 refuses it.
    pub async fn create_role(&self, r: &Role) -> StoreResult<()> {
        let key = names::key(NameKind::Role, &r.name)?;
        on_pool!(self, write, |pool| insert_role(pool, r, &key).await).map_err(
            |e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("role {:?}", r.name)),
                other => other,
            },
        )?;
        Ok(())
    }

    /// The role called `name`, compared as RFC 8265 says (any letter case,
    /// any normalization form).
    ///
    /// Errors: `InvalidName` when RFC 8265 refuses `name`.
    pub async fn find_role_by_name(&self, name: &str) -> StoreResult<Option<Role>> {
        let key = names::key(NameKind::Role, name)?;
        let sql = format!("SELECT {COLUMNS} FROM roles WHERE name_key = $1");
        let row: Option<RoleRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .bind(&key)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(Role::from))
    }

    /// Every role, by name.
    pub async fn list_roles(&self) -> StoreResult<Vec<Role>> {
        let sql = format!("SELECT {COLUMNS} FROM roles ORDER BY name");
        let rows: Vec<RoleRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(Role::from).collect())
    }

    /// Grants a role; `Conflict` when the principal already holds it in
    /// that scope.
    pub async fn grant(&self, a: &Assignment, now: Timestamp) -> StoreResult<()> {
        let result: Result<(), sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                insert_assignment(&mut *tx, a).await?;
                insert_invalidation(&mut *tx, &principal_invalidation(&a.principal), now).await?;
                tx.commit().await
            }
            .await
        });
        result.map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("that role assignment".into()),
            other => other,
        })
    }

    /// Withdraws a role, every node told; `false` when the principal did
    /// not hold it there.
    ///
    /// Errors: [`StoreError::LastAdministrator`] when `guard` is
    /// [`LastAdmin::Keep`] and this is the system `admin` role of the last
    /// enabled administrator; decided and written in one transaction (see
    /// [`Store::set_user_enabled`]).
    pub async fn revoke_grant(&self, a: &Assignment, now: Timestamp, guard: LastAdmin) -> StoreResult<bool> {
        let (kind, id) = principal_key(&a.principal);
        let lock = self.admin_lock(guard);
        let matching = "principal_kind = $1 AND principal_id = $2 AND role_id = $3 AND scope_domain_id = $4";
        let sql = match guard {
            // Only a user's system `admin` role counts; any other goes.
            LastAdmin::Keep => format!(
                "DELETE FROM assignments WHERE {matching}
                   AND (principal_kind <> 'user' OR scope_domain_id <> ''
                        OR role_id NOT IN (SELECT id FROM roles WHERE name = '{ADMIN_ROLE}')
                        OR {})",
                spares_an_admin("u.id = $2")
            ),
            LastAdmin::Override => format!("DELETE FROM assignments WHERE {matching}"),
        };
        let result: Result<Guarded, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                if let Some(lock) = &lock {
                    sqlx::query(lock).fetch_optional(&mut *tx).await?;
                }
                let done = sqlx::query(&sql)
                    .bind(kind)
                    .bind(id)
                    .bind(a.role_id.as_str())
                    .bind(scope_key(&a.scope))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if !done {
                    let held: Option<String> =
                        sqlx::query_scalar(&format!("SELECT principal_id FROM assignments WHERE {matching}"))
                            .bind(kind)
                            .bind(id)
                            .bind(a.role_id.as_str())
                            .bind(scope_key(&a.scope))
                            .fetch_optional(&mut *tx)
                            .await?;
                    return Ok(if held.is_some() {
                        Guarded::Refused
                    } else {
                        Guarded::Done(false)
                    });
                }
                insert_invalidation(&mut *tx, &principal_invalidation(&a.principal), now).await?;
                tx.commit().await?;
                Ok(Guarded::Done(true))
            }
            .await
        });
        result?.into_result()
    }

    /// Roles a principal holds, with the scope of each.
    pub async fn roles_of(&self, principal: &Principal) -> StoreResult<Vec<RoleGrant>> {
        let (kind, id) = principal_key(principal);
        let rows: Vec<GrantRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT r.id, r.name, r.description, r.enabled, r.builtin, r.created_at, a.scope_domain_id
                 FROM assignments a JOIN roles r ON r.id = a.role_id
                 WHERE a.principal_kind = $1 AND a.principal_id = $2
                 ORDER BY r.name, a.scope_domain_id",
            )
            .bind(kind)
            .bind(id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|r| RoleGrant {
                role: Role::from(r.role),
                scope: scope_from_key(r.scope_domain_id),
            })
            .collect())
    }

    pub async fn roles_of_user(&self, id: &UserId) -> StoreResult<Vec<RoleGrant>> {
        self.roles_of(&Principal::User(id.clone())).await
    }

    pub async fn roles_of_client(&self, id: &ClientId) -> StoreResult<Vec<RoleGrant>> {
        self.roles_of(&Principal::Client(id.clone())).await
    }
}
