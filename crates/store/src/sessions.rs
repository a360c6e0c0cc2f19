//! Sessions: the server-side record of every token. Looked up by the
//! SHA-256 of the token; the token itself is never stored.

use crate::invalidations::{insert_invalidation, Invalidation};
use crate::{on_pool, Store, StoreError, StoreResult};
use tessera_model::session::TokenHash;
use tessera_model::{ClientId, DomainId, Session, SessionId, Timestamp, TokenFormat, TokenKind, UserId};

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    token_hash: Vec<u8>,
    kind: String,
    format: String,
    user_id: Option<String>,
    client_id: Option<String>,
    domain_id: Option<String>,
    door: String,
    policy: String,
    scope: String,
    family_id: Option<String>,
    auth_time: i64,
    created_at: i64,
    last_used_at: i64,
    expires_at: Option<i64>,
    idle_timeout_ms: Option<i64>,
    revoked_at: Option<i64>,
    revoke_reason: Option<String>,
    previous_hash: Option<Vec<u8>>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> StoreResult<Session> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("session {}: {what}", r.id));
        let kind = TokenKind::parse(&r.kind).ok_or_else(|| corrupt("kind"))?;
        let format = TokenFormat::parse(&r.format).ok_or_else(|| corrupt("format"))?;
        let hash: [u8; 32] = r
            .token_hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("token hash length"))?;
        let previous_hash = match &r.previous_hash {
            Some(h) => Some(TokenHash(
                h.as_slice()
                    .try_into()
                    .map_err(|_| corrupt("previous hash length"))?,
            )),
            None => None,
        };
        Ok(Session {
            id: SessionId::from_trusted(r.id),
            token_hash: Some(TokenHash(hash)),
            kind,
            format,
            user_id: r.user_id.map(UserId::from_trusted),
            client_id: r.client_id.map(ClientId),
            domain_id: r.domain_id.map(DomainId::from_trusted),
            door: r.door,
            policy: r.policy,
            scope: r.scope,
            family_id: r.family_id.map(SessionId::from_trusted),
            auth_time: Timestamp(r.auth_time),
            created_at: Timestamp(r.created_at),
            last_used_at: Timestamp(r.last_used_at),
            expires_at: r.expires_at.map(Timestamp),
            idle_timeout_ms: r.idle_timeout_ms,
            revoked_at: r.revoked_at.map(Timestamp),
            revoke_reason: r.revoke_reason,
            previous_hash,
        })
    }
}

const COLUMNS: &str = "id, token_hash, kind, format, user_id, client_id, domain_id, door, policy, scope, \
     family_id, auth_time, created_at, last_used_at, expires_at, idle_timeout_ms, revoked_at, revoke_reason, \
     previous_hash";

/// Inserts one session on any executor of either backend.
pub(crate) async fn insert_session<'e, E, DB>(exec: E, s: &Session) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let hash = s.token_hash.map(|h| h.0).unwrap_or([0; 32]);
    sqlx::query::<DB>(
        "INSERT INTO sessions (id, token_hash, kind, format, user_id, client_id, domain_id, door, policy, scope,
            family_id, auth_time, created_at, last_used_at, expires_at, idle_timeout_ms, revoked_at, revoke_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(s.id.as_str())
    .bind(&hash[..])
    .bind(s.kind.as_str())
    .bind(s.format.as_str())
    .bind(s.user_id.as_ref().map(UserId::as_str))
    .bind(s.client_id.as_ref().map(ClientId::as_str))
    .bind(s.domain_id.as_ref().map(DomainId::as_str))
    .bind(s.door.as_str())
    .bind(s.policy.as_str())
    .bind(s.scope.as_str())
    .bind(s.family_id.as_ref().map(SessionId::as_str))
    .bind(s.auth_time.0)
    .bind(s.created_at.0)
    .bind(s.last_used_at.0)
    .bind(s.expires_at.map(|t| t.0))
    .bind(s.idle_timeout_ms)
    .bind(s.revoked_at.map(|t| t.0))
    .bind(s.revoke_reason.as_deref())
    .execute(exec)
    .await?;
    Ok(())
}

/// Filters for listing sessions (admin API, `tessera token list`).
#[derive(Debug, Clone, Default)]
pub struct SessionQuery {
    pub user_id: Option<UserId>,
    pub kind: Option<TokenKind>,
    /// Only sessions not revoked and not past their absolute expiry at this
    /// instant (idle expiry is the core's to judge).
    pub live_at: Option<Timestamp>,
    /// Return sessions whose id sorts after this one (keyset pagination).
    pub after: Option<SessionId>,
    pub limit: u32,
}

/// What the per-user cap needs to know of one live access session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSessionInfo {
    pub id: SessionId,
    pub token_hash: TokenHash,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub idle_timeout_ms: Option<i64>,
}

impl LiveSessionInfo {
    /// When this session stops being usable if nothing else happens.
    pub fn dies_at(&self) -> Option<Timestamp> {
        let idle_end = self
            .idle_timeout_ms
            .map(|ms| Timestamp(self.last_used_at.0.saturating_add(ms)));
        match (self.expires_at, idle_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn alive_at(&self, now: Timestamp) -> bool {
        self.dies_at().is_none_or(|t| t > now)
    }
}

pub(crate) const LIVE_ACCESS_SQL: &str =
    "SELECT id, token_hash, created_at, last_used_at, expires_at, idle_timeout_ms
     FROM sessions
     WHERE user_id = $1 AND kind = 'access' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
     ORDER BY created_at, id";

#[derive(sqlx::FromRow)]
pub(crate) struct LiveRow {
    id: String,
    token_hash: Vec<u8>,
    created_at: i64,
    last_used_at: i64,
    expires_at: Option<i64>,
    idle_timeout_ms: Option<i64>,
}

impl LiveRow {
    pub(crate) fn into_info(self) -> Option<LiveSessionInfo> {
        let hash: [u8; 32] = self.token_hash.as_slice().try_into().ok()?;
        Some(LiveSessionInfo {
            id: SessionId::from_trusted(self.id),
            token_hash: TokenHash(hash),
            created_at: Timestamp(self.created_at),
            last_used_at: Timestamp(self.last_used_at),
            expires_at: self.expires_at.map(Timestamp),
            idle_timeout_ms: self.idle_timeout_ms,
        })
    }
}

/// Lowercase hex of a token hash (the invalidation log's form).
pub fn hex(h: &TokenHash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in h.0 {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[derive(sqlx::FromRow)]
struct RevokedRow {
    id: String,
    token_hash: Vec<u8>,
}

fn revoked(rows: Vec<RevokedRow>) -> Vec<(SessionId, TokenHash)> {
    rows.into_iter()
        .filter_map(|r| {
            let hash: [u8; 32] = r.token_hash.as_slice().try_into().ok()?;
            Some((SessionId::from_trusted(r.id), TokenHash(hash)))
        })
        .collect()
}

impl Store {
    /// Records a newly issued session. `Conflict` on a duplicate id or hash.
    pub async fn insert_session(&self, s: &Session) -> StoreResult<()> {
        on_pool!(self, write, |pool| insert_session(pool, s).await)?;
        Ok(())
    }

    /// The access or proxy session behind a presented token. (Refresh
    /// sessions are found by id: their tokens carry it.)
    pub async fn find_session_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<Session>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE token_hash = $1 AND kind <> 'refresh'");
        let row: Option<SessionRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql).bind(&hash.0[..]).fetch_optional(pool).await
        })?;
        row.map(Session::try_from).transpose()
    }

    pub async fn find_session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE id = $1");
        let row: Option<SessionRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .bind(id.as_str())
            .fetch_optional(pool)
            .await)?;
        row.map(Session::try_from).transpose()
    }

    /// Sessions matching `q`, ordered by id.
    pub async fn list_sessions(&self, q: &SessionQuery) -> StoreResult<Vec<Session>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sessions
             WHERE ($1 IS NULL OR user_id = $1)
               AND ($2 IS NULL OR kind = $2)
               AND ($3 IS NULL OR (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)))
               AND ($4 IS NULL OR id > $4)
             ORDER BY id LIMIT $5"
        );
        let limit = i64::from(if q.limit == 0 { 100 } else { q.limit });
        let rows: Vec<SessionRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql)
                .bind(q.user_id.as_ref().map(UserId::as_str))
                .bind(q.kind.map(TokenKind::as_str))
                .bind(q.live_at.map(|t| t.0))
                .bind(q.after.as_ref().map(SessionId::as_str))
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(Session::try_from).collect()
    }

    /// A user's access sessions that are neither revoked nor past their
    /// absolute expiry at `now`, oldest first (idle expiry is for the
    /// caller to judge: its idle clocks may be newer than the store's).
    pub async fn live_access_sessions(
        &self,
        user: &UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<LiveSessionInfo>> {
        let rows: Vec<LiveRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(LIVE_ACCESS_SQL)
                .bind(user.as_str())
                .bind(now.0)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().filter_map(LiveRow::into_info).collect())
    }

    /// Revokes one session; returns its token hash when it was live.
    pub async fn revoke_session(
        &self,
        id: &SessionId,
        now: Timestamp,
        reason: &str,
    ) -> StoreResult<Option<TokenHash>> {
        let rows = self
            .revoke_where("id = $3", &[id.as_str()], now, reason, |hashes| {
                hashes.iter().map(|(_, h)| Invalidation::Token(hex(h))).collect()
            })
            .await?;
        Ok(rows.into_iter().next().map(|(_, h)| h))
    }

    /// Revokes a user's sessions: access and refresh tokens always, proxy
    /// tokens only when `with_proxy`. Returns what it revoked.
    pub async fn revoke_user_sessions(
        &self,
        user: &UserId,
        with_proxy: bool,
        now: Timestamp,
        reason: &str,
    ) -> StoreResult<Vec<(SessionId, TokenHash)>> {
        let filter = if with_proxy {
            "user_id = $3"
        } else {
            "user_id = $3 AND kind <> 'proxy'"
        };
        let uid = user.as_str().to_owned();
        self.revoke_where(filter, &[user.as_str()], now, reason, move |_| {
            vec![Invalidation::UserSessions(uid.clone())]
        })
        .await
    }

    /// Revokes a user's access and refresh sessions except `keep` and its
    /// refresh family (a password change keeps the session that made it).
    pub async fn revoke_user_sessions_except(
        &self,
        user: &UserId,
        keep: &SessionId,
        keep_family: Option<&SessionId>,
        now: Timestamp,
        reason: &str,
    ) -> StoreResult<Vec<(SessionId, TokenHash)>> {
        let family = keep_family.unwrap_or(keep).as_str();
        let filter =
            "user_id = $3 AND kind <> 'proxy' AND id <> $4 AND (family_id IS NULL OR family_id <> $5)";
        self.revoke_where(
            filter,
            &[user.as_str(), keep.as_str(), family],
            now,
            reason,
            |hashes| hashes.iter().map(|(_, h)| Invalidation::Token(hex(h))).collect(),
        )
        .await
    }

    /// Revokes every live session of a refresh family.
    pub async fn revoke_family(
        &self,
        family: &SessionId,
        now: Timestamp,
        reason: &str,
    ) -> StoreResult<Vec<(SessionId, TokenHash)>> {
        self.revoke_where("family_id = $3", &[family.as_str()], now, reason, |hashes| {
            hashes.iter().map(|(_, h)| Invalidation::Token(hex(h))).collect()
        })
        .await
    }

    /// Revokes the live sessions matching `filter` (which reads `args` as
    /// `$3`, `$4`, ...) and records the invalidations `invs` derives from
    /// them, in one transaction. The UPDATE runs twice: on PostgreSQL each
    /// statement sees the data committed when it starts, so a rotation that
    /// committed while the first one waited for its row lock (a refresh
    /// racing a logout) has its new access token revoked by the second.
    async fn revoke_where(
        &self,
        filter: &str,
        args: &[&str],
        now: Timestamp,
        reason: &str,
        invs: impl Fn(&[(SessionId, TokenHash)]) -> Vec<Invalidation>,
    ) -> StoreResult<Vec<(SessionId, TokenHash)>> {
        let sql = format!(
            "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE {filter} AND revoked_at IS NULL
             RETURNING id, token_hash"
        );
        let result: Result<Vec<(SessionId, TokenHash)>, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let mut query = sqlx::query_as(&sql).bind(now.0).bind(reason);
                for arg in args {
                    query = query.bind(*arg);
                }
                let mut rows: Vec<RevokedRow> = query.fetch_all(&mut *tx).await?;
                let mut again = sqlx::query_as(&sql).bind(now.0).bind(reason);
                for arg in args {
                    again = again.bind(*arg);
                }
                let more: Vec<RevokedRow> = again.fetch_all(&mut *tx).await?;
                rows.extend(more);
                let done = revoked(rows);
                if !done.is_empty() {
                    for inv in invs(&done) {
                        insert_invalidation(&mut *tx, &inv, now).await?;
                    }
                }
                tx.commit().await?;
                Ok(done)
            }
            .await
        });
        Ok(result?)
    }

    /// Writes idle clocks in one transaction; a stored clock only moves
    /// forward, so late or repeated batches are harmless.
    pub async fn touch_sessions(&self, touches: &[(SessionId, Timestamp)]) -> StoreResult<()> {
        if touches.is_empty() {
            return Ok(());
        }
        let result: Result<(), sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                for (id, at) in touches {
                    sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2 AND last_used_at < $1")
                        .bind(at.0)
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }
            .await
        });
        Ok(result?)
    }

    /// Deletes sessions that ended (expired or revoked) before `before`.
    /// Returns how many went.
    pub async fn purge_sessions(&self, before: Timestamp) -> StoreResult<u64> {
        let done = on_pool!(self, write, |pool| {
            sqlx::query(
                "DELETE FROM sessions WHERE (revoked_at IS NOT NULL AND revoked_at < $1)
                    OR (expires_at IS NOT NULL AND expires_at < $1)",
            )
            .bind(before.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(done)
    }
}
