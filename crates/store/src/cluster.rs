//! Cluster facts (values every node must agree on) and the one-time
//! bootstrap of an empty store.

use crate::domains::insert_domain;
use crate::names;
use crate::roles::{insert_assignment, insert_role};
use crate::users::insert_user;
use crate::{on_pool, Store, StoreResult};
use tessera_model::names::NameKind;
use tessera_model::{Assignment, Domain, Role, Timestamp, User};

/// What a first start writes: all of it, or (when another node got there
/// first) none of it.
#[derive(Debug)]
pub struct BootstrapRecords {
    pub domain: Domain,
    pub roles: Vec<Role>,
    pub admin: User,
    pub admin_assignments: Vec<Assignment>,
}

/// The fact that marks a store as bootstrapped.
const BOOTSTRAPPED: &str = "bootstrapped_at";

impl Store {
    pub async fn cluster_fact(&self, key: &str) -> StoreResult<Option<String>> {
        let v: Option<String> = on_pool!(self, read, |pool| {
            sqlx::query_scalar("SELECT value FROM cluster_facts WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
        })?;
        Ok(v)
    }

    /// Records `key = value` unless the key is already set. Returns the
    /// value now in force, so racing nodes all agree on the first writer's.
    pub async fn set_cluster_fact_once(&self, key: &str, value: &str, now: Timestamp) -> StoreResult<String> {
        let v: String = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query("INSERT INTO cluster_facts (key, value, set_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING")
                    .bind(key)
                    .bind(value)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
                let v: String = sqlx::query_scalar("SELECT value FROM cluster_facts WHERE key = $1")
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(v)
            }
            .await
        })?;
        Ok(v)
    }

    /// Whether an earlier start already bootstrapped this store.
    pub async fn is_bootstrapped(&self) -> StoreResult<bool> {
        Ok(self.cluster_fact(BOOTSTRAPPED).await?.is_some())
    }

    /// Writes the default domain, built-in roles and admin user, unless the
    /// store was bootstrapped before. Returns whether this call did it.
    pub async fn bootstrap(&self, b: &BootstrapRecords, now: Timestamp) -> StoreResult<bool> {
        let domain_key = names::key(NameKind::Domain, &b.domain.name)?;
        let role_keys = b
            .roles
            .iter()
            .map(|r| names::key(NameKind::Role, &r.name))
            .collect::<StoreResult<Vec<_>>>()?;
        let admin_key = names::key(NameKind::User, &b.admin.name)?;
        let result: Result<bool, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let claimed = sqlx::query(
                    "INSERT INTO cluster_facts (key, value, set_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
                )
                .bind(BOOTSTRAPPED)
                .bind(now.0.to_string())
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
                if claimed.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                insert_domain(&mut *tx, &b.domain, &domain_key).await?;
                for (r, key) in b.roles.iter().zip(&role_keys) {
                    insert_role(&mut *tx, r, key).await?;
                }
                insert_user(&mut *tx, &b.admin, &admin_key).await?;
                for a in &b.admin_assignments {
                    insert_assignment(&mut *tx, a).await?;
                }
                tx.commit().await?;
                Ok(true)
            }
            .await
        });
        Ok(result?)
    }
}
