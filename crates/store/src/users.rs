//! Users: creation with their initial role grants, lookups, enable and
//! disable, password changes, and the failed-login counter behind lockout.

use crate::invalidations::{insert_invalidation, Invalidation};
use crate::names;
use crate::roles::insert_assignment;
use crate::{on_pool, Store, StoreError, StoreResult};
use std::time::Duration;
use tessera_model::names::NameKind;
use tessera_model::{Assignment, DomainId, LastAdmin, Timestamp, User, UserId, ADMIN_ROLE};

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    domain_id: String,
    name: String,
    common_name: Option<String>,
    distinguished_name: Option<String>,
    password_hash: Option<String>,
    enabled: bool,
    emergency: bool,
    failed_logins: i64,
    first_failed_at: Option<i64>,
    locked_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> User {
        User {
            id: UserId::from_trusted(r.id),
            domain_id: DomainId::from_trusted(r.domain_id),
            name: r.name,
            common_name: r.common_name,
            distinguished_name: r.distinguished_name,
            password_hash: r.password_hash,
            enabled: r.enabled,
            emergency: r.emergency,
            failed_logins: r.failed_logins,
            first_failed_at: r.first_failed_at.map(Timestamp),
            locked_until: r.locked_until.map(Timestamp),
            created_at: Timestamp(r.created_at),
            updated_at: Timestamp(r.updated_at),
        }
    }
}

const COLUMNS: &str = "id, domain_id, name, common_name, distinguished_name, password_hash, enabled, \
     emergency, failed_logins, first_failed_at, locked_until, created_at, updated_at";

/// Whether a password attempt may go ahead (SPEC §5: admitted atomically
/// before any password work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; `counted` attempts (this one included) are now counted in
    /// the window.
    Admitted { counted: i64 },
    /// The account is locked, or the window's attempts are used up.
    Refused,
}

/// A condition, for the `WHERE` of a change, that holds unless the change
/// would take away the last enabled administrator ([`LastAdmin`]): no
/// enabled administrator is among those `hit` picks out (a condition on
/// their user row `u`, such as `u.id = $3`), or one outside them remains.
/// Atomic on its own only where writers take turns (SQLite); PostgreSQL
/// takes [`Store::admin_lock`] first.
pub(crate) fn spares_an_admin(hit: &str) -> String {
    let admins = format!(
        "SELECT 1 FROM users u
           JOIN domains d ON d.id = u.domain_id
           JOIN assignments a ON a.principal_kind = 'user' AND a.principal_id = u.id
                             AND a.scope_domain_id = ''
           JOIN roles r ON r.id = a.role_id
          WHERE r.name = '{ADMIN_ROLE}' AND r.enabled AND u.enabled AND NOT u.emergency AND d.enabled"
    );
    format!("(NOT EXISTS ({admins} AND {hit}) OR EXISTS ({admins} AND NOT ({hit})))")
}

/// What a change guarded by [`spares_an_admin`] did, decided inside its
/// transaction.
pub(crate) enum Guarded {
    /// Done; `false` when there was nothing to change (no such row).
    Done(bool),
    /// Refused: it would have left no enabled administrator.
    Refused,
}

impl Guarded {
    pub(crate) fn into_result(self) -> StoreResult<bool> {
        match self {
            Guarded::Done(done) => Ok(done),
            Guarded::Refused => Err(StoreError::LastAdministrator),
        }
    }
}

impl Store {
    /// The statement that makes changes which could take away an
    /// administrator take turns on PostgreSQL, run first in their
    /// transaction: it locks the `admin` role's row until the transaction
    /// ends. Under READ COMMITTED each later statement reads a snapshot
    /// taken after the lock was granted, so it sees what the previous
    /// holder committed; without the lock, two transactions disabling two
    /// different administrators would each still see the other enabled and
    /// both succeed. `FOR NO KEY UPDATE` leaves the key-share locks of new
    /// assignments' foreign keys unblocked. SQLite needs none: one write
    /// transaction at a time, and the guarded statement comes first in it.
    pub(crate) fn admin_lock(&self, guard: LastAdmin) -> Option<String> {
        match (self, guard) {
            (Store::Postgres { .. }, LastAdmin::Keep) => Some(format!(
                "SELECT id FROM roles WHERE name = '{ADMIN_ROLE}' FOR NO KEY UPDATE"
            )),
            _ => None,
        }
    }
}

/// Inserts one user (with no failures counted) on any executor of either
/// backend, found from now on by `name_key` ([`crate::names::key`]).
pub(crate) async fn insert_user<'e, E, DB>(exec: E, u: &User, name_key: &str) -> Result<(), sqlx::Error>
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
        "INSERT INTO users (id, domain_id, name, name_key, common_name, distinguished_name, password_hash,
            enabled, emergency, failed_logins, first_failed_at, locked_until, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, NULL, $10, $11)",
    )
    .bind(u.id.as_str())
    .bind(u.domain_id.as_str())
    .bind(u.name.as_str())
    .bind(name_key)
    .bind(u.common_name.as_deref())
    .bind(u.distinguished_name.as_deref())
    .bind(u.password_hash.as_deref())
    .bind(u.enabled)
    .bind(u.emergency)
    .bind(u.created_at.0)
    .bind(u.updated_at.0)
    .execute(exec)
    .await?;
    Ok(())
}

impl Store {
    /// Inserts a user and its initial assignments in one transaction:
    /// either all of it lands or none does. `Conflict` when the domain
    /// has a user of the same name under RFC 8265 (any case, any
    /// normalization form); `InvalidName` when RFC 8265 refuses the name.
    pub async fn create_user(&self, u: &User, assignments: &[Assignment]) -> StoreResult<()> {
        let key = names::key(NameKind::User, &u.name)?;
        let result: Result<(), sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                insert_user(&mut *tx, u, &key).await?;
                for a in assignments {
                    insert_assignment(&mut *tx, a).await?;
                }
                tx.commit().await
            }
            .await
        });
        result.map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("user {:?} in that domain", u.name)),
            other => other,
        })
    }

    /// The user called `name` in `domain`, compared as RFC 8265 says (any
    /// letter case, any normalization form, fullwidth or not).
    ///
    /// Errors: `InvalidName` when RFC 8265 refuses `name` (an invisible,
    /// control or bidirectional-control character), so a login can say so.
    pub async fn find_user_by_name(&self, domain: &DomainId, name: &str) -> StoreResult<Option<User>> {
        let key = names::key(NameKind::User, name)?;
        let sql = format!("SELECT {COLUMNS} FROM users WHERE domain_id = $1 AND name_key = $2");
        let row: Option<UserRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql)
                .bind(domain.as_str())
                .bind(&key)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(User::from))
    }

    pub async fn find_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql).bind(id.as_str()).fetch_optional(pool).await
        })?;
        Ok(row.map(User::from))
    }

    /// Users of one domain, or of all, ordered by domain name, then name.
    pub async fn list_users(&self, domain: Option<&DomainId>) -> StoreResult<Vec<User>> {
        let rows: Vec<UserRow> = match domain {
            Some(d) => {
                let sql = format!("SELECT {COLUMNS} FROM users WHERE domain_id = $1 ORDER BY lower(name)");
                on_pool!(self, read, |pool| sqlx::query_as(&sql)
                    .bind(d.as_str())
                    .fetch_all(pool)
                    .await)?
            }
            None => {
                let cols: Vec<String> = COLUMNS.split(", ").map(|c| format!("u.{}", c.trim())).collect();
                let sql = format!(
                    "SELECT {} FROM users u JOIN domains d ON d.id = u.domain_id ORDER BY lower(d.name), lower(u.name)",
                    cols.join(", ")
                );
                on_pool!(self, read, |pool| sqlx::query_as(&sql).fetch_all(pool).await)?
            }
        };
        Ok(rows.into_iter().map(User::from).collect())
    }

    /// Enables or disables a user, every node told. `false` when no such
    /// user exists.
    ///
    /// Errors: [`StoreError::LastAdministrator`] when `guard` is
    /// [`LastAdmin::Keep`] and disabling would leave no enabled
    /// administrator; decided and written in one transaction, so two
    /// concurrent disables of the last two administrators (on any nodes)
    /// never both succeed.
    pub async fn set_user_enabled(
        &self,
        id: &UserId,
        enabled: bool,
        now: Timestamp,
        guard: LastAdmin,
    ) -> StoreResult<bool> {
        let guard = if enabled { LastAdmin::Override } else { guard };
        let lock = self.admin_lock(guard);
        let sql = match guard {
            LastAdmin::Keep => format!(
                "UPDATE users SET enabled = $1, updated_at = $2 WHERE id = $3 AND {}",
                spares_an_admin("u.id = $3")
            ),
            LastAdmin::Override => "UPDATE users SET enabled = $1, updated_at = $2 WHERE id = $3".to_owned(),
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
                    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Ok(if exists.is_some() {
                        Guarded::Refused
                    } else {
                        Guarded::Done(false)
                    });
                }
                insert_invalidation(&mut *tx, &Invalidation::User(id.to_string()), now).await?;
                tx.commit().await?;
                Ok(Guarded::Done(true))
            }
            .await
        });
        result?.into_result()
    }

    /// Removes a user, their role assignments and (by cascade) their
    /// sessions, every node told (their cached state and sessions dropped).
    /// `false` when no such user exists.
    ///
    /// Errors: [`StoreError::LastAdministrator`] when `guard` is
    /// [`LastAdmin::Keep`] and the user is the last enabled administrator;
    /// decided and written in one transaction (see
    /// [`Store::set_user_enabled`]).
    pub async fn remove_user(&self, id: &UserId, now: Timestamp, guard: LastAdmin) -> StoreResult<bool> {
        let lock = self.admin_lock(guard);
        let sql = match guard {
            LastAdmin::Keep => format!(
                "DELETE FROM users WHERE id = $1 AND {}",
                spares_an_admin("u.id = $1")
            ),
            LastAdmin::Override => "DELETE FROM users WHERE id = $1".to_owned(),
        };
        let result: Result<Guarded, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                if let Some(lock) = &lock {
                    sqlx::query(lock).fetch_optional(&mut *tx).await?;
                }
                let done = sqlx::query(&sql)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if !done {
                    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Ok(if exists.is_some() {
                        Guarded::Refused
                    } else {
                        Guarded::Done(false)
                    });
                }
                sqlx::query("DELETE FROM assignments WHERE principal_kind = 'user' AND principal_id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                for inv in [
                    Invalidation::UserSessions(id.to_string()),
                    Invalidation::User(id.to_string()),
                ] {
                    insert_invalidation(&mut *tx, &inv, now).await?;
                }
                tx.commit().await?;
                Ok(Guarded::Done(true))
            }
            .await
        });
        result?.into_result()
    }

    /// Replaces the password hash. `false` when no such user exists.
    pub async fn set_password_hash(&self, id: &UserId, hash: &str, now: Timestamp) -> StoreResult<bool> {
        let done = on_pool!(self, write, |pool| {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(now.0)
                .bind(id.as_str())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Lifts a lockout and forgets counted failures.
    pub async fn unlock_user(&self, id: &UserId, now: Timestamp) -> StoreResult<bool> {
        let result: Result<bool, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE users SET locked_until = NULL, failed_logins = 0, first_failed_at = NULL, updated_at = $1
                     WHERE id = $2",
                )
                .bind(now.0)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
                insert_invalidation(&mut *tx, &Invalidation::User(id.to_string()), now).await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }
            .await
        });
        Ok(result?)
    }

    /// Admits one password attempt on the account, or refuses it, in one
    /// statement, before any password work (SPEC §5). An admitted attempt
    /// is counted as a failure at once (it is taken back by
    /// [`Store::settle_login_attempt`] if the password proves right), so
    /// attempts in flight on any node count against `max` together: within
    /// one `window` at most `max` attempts are ever admitted. Refused when
    /// the account is locked at `now` or `max` attempts are already counted
    /// in the window. `max` of 0 admits everything and counts nothing.
    ///
    /// Errors: the store's; an unknown id is [`Admission::Refused`].
    pub async fn admit_login_attempt(
        &self,
        id: &UserId,
        now: Timestamp,
        window: Duration,
        max: u32,
    ) -> StoreResult<Admission> {
        if max == 0 {
            return Ok(Admission::Admitted { counted: 0 });
        }
        let window_start = now.minus(window).0;
        let counted: Option<i64> = on_pool!(self, write, |pool| {
            sqlx::query_scalar(
                "UPDATE users SET
                    failed_logins = CASE WHEN first_failed_at IS NULL OR first_failed_at <= $1
                                         THEN 1 ELSE failed_logins + 1 END,
                    first_failed_at = CASE WHEN first_failed_at IS NULL OR first_failed_at <= $1
                                           THEN $2 ELSE first_failed_at END
                 WHERE id = $3
                   AND (locked_until IS NULL OR locked_until <= $2)
                   AND (first_failed_at IS NULL OR first_failed_at <= $1 OR failed_logins < $4)
                 RETURNING failed_logins",
            )
            .bind(window_start)
            .bind(now.0)
            .bind(id.as_str())
            .bind(i64::from(max))
            .fetch_optional(pool)
            .await
        })?;
        Ok(match counted {
            Some(counted) => Admission::Admitted { counted },
            None => Admission::Refused,
        })
    }

    /// Settles an attempt [`Store::admit_login_attempt`] admitted. A right
    /// password takes its own count back; a wrong one leaves it counted,
    /// and when `max` attempts are counted in the window the account is
    /// locked until `now + lock_for` (the count restarts) and every node is
    /// told. Returns the lock's end when this attempt started one.
    ///
    /// Errors: the store's.
    pub async fn settle_login_attempt(
        &self,
        id: &UserId,
        right: bool,
        now: Timestamp,
        window: Duration,
        max: u32,
        lock_for: Duration,
    ) -> StoreResult<Option<Timestamp>> {
        if max == 0 {
            return Ok(None);
        }
        if right {
            on_pool!(self, write, |pool| {
                sqlx::query(
                    "UPDATE users SET failed_logins = failed_logins - 1
                     WHERE id = $1 AND failed_logins > 0",
                )
                .bind(id.as_str())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            })?;
            return Ok(None);
        }
        let window_start = now.minus(window).0;
        let until = now.plus(lock_for).0;
        let result: Result<Option<Timestamp>, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let locked = sqlx::query(
                    "UPDATE users SET locked_until = $1, failed_logins = 0, first_failed_at = NULL,
                        updated_at = $2
                     WHERE id = $3 AND failed_logins >= $4 AND first_failed_at > $5
                       AND (locked_until IS NULL OR locked_until <= $2)",
                )
                .bind(until)
                .bind(now.0)
                .bind(id.as_str())
                .bind(i64::from(max))
                .bind(window_start)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if locked {
                    insert_invalidation(&mut *tx, &Invalidation::User(id.to_string()), now).await?;
                }
                tx.commit().await?;
                Ok(locked.then_some(Timestamp(until)))
            }
            .await
        });
        Ok(result?)
    }

    /// Counts one wrong password given outside a login (the current
    /// password of a password change): admitted and settled as a failure.
    /// Returns the lock's end when it started one.
    ///
    /// Errors: the store's.
    pub async fn record_failed_login(
        &self,
        id: &UserId,
        now: Timestamp,
        window: Duration,
        max: u32,
        lock_for: Duration,
    ) -> StoreResult<Option<Timestamp>> {
        match self.admit_login_attempt(id, now, window, max).await? {
            Admission::Admitted { .. } => {
                self.settle_login_attempt(id, false, now, window, max, lock_for)
                    .await
            }
            Admission::Refused => Ok(None),
        }
    }
}
