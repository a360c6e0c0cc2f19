//! OAuth2 clients and their client_credentials roles.

use crate::invalidations::{insert_invalidation, Invalidation};
use crate::names;
use crate::roles::insert_assignment;
use crate::{on_pool, Store, StoreError, StoreResult};
use tessera_model::names::NameKind;
use tessera_model::{Assignment, Client, ClientId, Timestamp};

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    secret_hash: Option<String>,
    grants: String,
    policy: Option<String>,
    enabled: bool,
    created_at: i64,
}

impl From<ClientRow> for Client {
    fn from(r: ClientRow) -> Client {
        Client {
            id: ClientId(r.id),
            secret_hash: r.secret_hash,
            grants: r.grants.split_whitespace().map(str::to_owned).collect(),
            policy: r.policy,
            enabled: r.enabled,
            created_at: Timestamp(r.created_at),
        }
    }
}

const COLUMNS: &str = "id, secret_hash, grants, policy, enabled, created_at";

impl Store {
    /// Inserts a client and its roles in one transaction. `Conflict` when
    /// the id is taken (compared as RFC 8265 says), `InvalidName` when
    /// RFC 8265 refuses it.
    pub async fn create_client(&self, c: &Client, assignments: &[Assignment]) -> StoreResult<()> {
        let key = names::key(NameKind::Client, c.id.as_str())?;
        let grants = c.grants.join(" ");
        let result: Result<(), sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO clients (id, id_key, secret_hash, grants, policy, enabled, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(c.id.as_str())
                .bind(&key)
                .bind(&c.secret_hash)
                .bind(&grants)
                .bind(&c.policy)
                .bind(c.enabled)
                .bind(c.created_at.0)
                .execute(&mut *tx)
                .await?;
                for a in assignments {
                    insert_assignment(&mut *tx, a).await?;
                }
                tx.commit().await
            }
            .await
        });
        result.map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("client {:?}", c.id.as_str())),
            other => other,
        })
    }

    /// The client whose id is `id`, compared as RFC 8265 says (any letter
    /// case, any normalization form); the client keeps the id it was
    /// registered with.
    ///
    /// Errors: `InvalidName` when RFC 8265 refuses `id`.
    pub async fn find_client(&self, id: &str) -> StoreResult<Option<Client>> {
        let key = names::key(NameKind::Client, id)?;
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE id_key = $1");
        let row: Option<ClientRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .bind(&key)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(Client::from))
    }

    pub async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let sql = format!("SELECT {COLUMNS} FROM clients ORDER BY id");
        let rows: Vec<ClientRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(Client::from).collect())
    }

    /// Removes a client, its role assignments and (by cascade) its
    /// sessions. `false` when no such client exists.
    pub async fn remove_client(&self, id: &ClientId, now: Timestamp) -> StoreResult<bool> {
        let result: Result<bool, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query("DELETE FROM assignments WHERE principal_kind = 'client' AND principal_id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query("DELETE FROM clients WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                insert_invalidation(&mut *tx, &Invalidation::Client(id.to_string()), now).await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }
            .await
        });
        Ok(result?)
    }

    /// Rewrites a client's secret hash, grants, policy and enabled flag
    /// and, when `roles` is given, replaces its role assignments, in one
    /// transaction, every node told. `false` when no such client exists.
    pub async fn update_client(
        &self,
        c: &Client,
        roles: Option<&[Assignment]>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let grants = c.grants.join(" ");
        let result: Result<bool, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE clients SET secret_hash = $1, grants = $2, policy = $3, enabled = $4 WHERE id = $5",
                )
                .bind(&c.secret_hash)
                .bind(&grants)
                .bind(&c.policy)
                .bind(c.enabled)
                .bind(c.id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !done {
                    return Ok(false);
                }
                if let Some(roles) = roles {
                    sqlx::query("DELETE FROM assignments WHERE principal_kind = 'client' AND principal_id = $1")
                        .bind(c.id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    for a in roles {
                        insert_assignment(&mut *tx, a).await?;
                    }
                }
                insert_invalidation(&mut *tx, &Invalidation::Client(c.id.to_string()), now).await?;
                tx.commit().await?;
                Ok(true)
            }
            .await
        });
        Ok(result?)
    }
}
