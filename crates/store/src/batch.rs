//! Group commit for the writes on the token path. Issuing and rotating
//! tokens arrive many at a time; `write_batch` lands a whole batch in one
//! transaction of five statements whatever its size: the rows travel as
//! one JSON array per table (`json_each` on SQLite, `jsonb_array_elements`
//! on PostgreSQL), so each statement is prepared once and every batch is
//! a handful of round trips. Every job still gets its own outcome, and
//! nothing is answered before its commit.

use crate::invalidations::{insert_invalidation, Invalidation};
use crate::sessions::{hex, insert_session, LiveRow, LiveSessionInfo, LIVE_ACCESS_SQL};
use crate::{on_pool, Store, StoreResult};
use std::collections::HashSet;
use tessera_model::session::TokenHash;
use tessera_model::{NewAuditEvent, Session, SessionId, Timestamp, UserId};

/// The per-user cap to enforce while issuing.
#[derive(Debug, Clone)]
pub struct CapCheck {
    pub user: UserId,
    pub max: u32,
    /// Revoke the oldest instead of refusing.
    pub evict_oldest: bool,
}

/// What an issue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    /// Recorded; `evicted` lists sessions revoked to make room.
    Issued { evicted: Vec<(SessionId, TokenHash)> },
    /// At the cap; nothing written. `retry_at` is when the first live
    /// session dies (`None`: never, on its own).
    Refused { retry_at: Option<Timestamp> },
}

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    Rotated,
    /// The presented refresh token was no longer the session's current one
    /// (a replay, or a concurrent use that won): nothing written.
    AlreadyUsed,
}

/// A refresh rotation: the refresh session keeps its row and id, and moves
/// from the presented token to the next one (remembering the presented one
/// to catch replays).
#[derive(Debug, Clone)]
pub struct Rotation {
    pub session: SessionId,
    pub presented: TokenHash,
    pub next: TokenHash,
    pub expires_at: Option<Timestamp>,
}

/// One write on the token path.
#[derive(Debug, Clone)]
pub enum WriteJob {
    /// Record new sessions (and their audit events), under a cap if given.
    Issue {
        sessions: Vec<Session>,
        cap: Option<CapCheck>,
        audit: Vec<NewAuditEvent>,
        now: Timestamp,
    },
    /// Rotate a refresh session and record what it issued (the new access
    /// session), only if the presented token is still its current one.
    Rotate {
        rotation: Rotation,
        issued: Vec<Session>,
        audit: Vec<NewAuditEvent>,
        now: Timestamp,
    },
}

/// The outcome of one job, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    Issue(IssueOutcome),
    Rotate(RotateOutcome),
}

/// The statements of a batch, per backend: the rows arrive as one JSON
/// array of arrays, in `SESSION_COLUMNS` / `AUDIT_COLUMNS` order.
struct BatchSql {
    /// Run on the writer connection before the batch's transaction, and
    /// `restore` after it (SQLite: `synchronous` NORMAL for the batch only).
    relax: Option<&'static str>,
    restore: Option<&'static str>,
    rotate: &'static str,
    sessions: &'static str,
    audit: &'static str,
}

/// The writer connection while a token batch runs relaxed: unless the
/// batch put it back (`armed` cleared), it is closed instead of returned
/// to the pool (an error or a cancelled batch), so no other write ever
/// commits on it with `synchronous = NORMAL`. The pool opens the next one
/// from the store's options, with FULL.
struct Relaxed<DB: sqlx::Database> {
    conn: sqlx::pool::PoolConnection<DB>,
    armed: bool,
}

impl<DB: sqlx::Database> Drop for Relaxed<DB> {
    fn drop(&mut self) {
        if self.armed {
            self.conn.close_on_drop();
        }
    }
}

/// Token issues and refresh rotations commit with `synchronous = NORMAL`:
/// what a power cut can undo here is only ever a grant (a token that then
/// no longer works, fail-closed), and the next FULL commit (any other
/// write) or checkpoint makes it durable too; one fsync per batch would
/// cost a quarter of the grant rate (docs/decisions.md, "SQLite commits
/// with synchronous = FULL, token batches excepted").
const SQLITE_BATCH: BatchSql = BatchSql {
    relax: Some("PRAGMA synchronous = NORMAL"),
    restore: Some("PRAGMA synchronous = FULL"),
    rotate: "UPDATE sessions SET previous_hash = token_hash, token_hash = unhex(j.value->>1),
               expires_at = j.value->>2, last_used_at = ?1
             FROM (SELECT value FROM json_each(?2)) AS j
             WHERE sessions.id = j.value->>0 AND sessions.token_hash = unhex(j.value->>3)
               AND sessions.kind = 'refresh' AND sessions.revoked_at IS NULL
             RETURNING sessions.id",
    sessions: "INSERT INTO sessions (id, token_hash, kind, format, user_id, client_id, domain_id, door, policy,
                 scope, family_id, auth_time, created_at, last_used_at, expires_at, idle_timeout_ms, revoked_at,
                 revoke_reason)
               SELECT r->>0, unhex(r->>1), r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9, r->>10,
                 r->>11, r->>12, r->>13, r->>14, r->>15, r->>16, r->>17
               FROM (SELECT value AS r FROM json_each(?1))",
    audit: "INSERT INTO audit_events (at, kind, actor, subject, subject_name, domain, door, detail)
            SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7 FROM (SELECT value AS r FROM json_each(?1))",
};

const POSTGRES_BATCH: BatchSql = BatchSql {
    relax: None,
    restore: None,
    rotate: "UPDATE sessions SET previous_hash = sessions.token_hash, token_hash = decode(j.value->>1, 'hex'),
               expires_at = (j.value->>2)::bigint, last_used_at = $1
             FROM jsonb_array_elements($2::jsonb) AS j(value)
             WHERE sessions.id = j.value->>0 AND sessions.token_hash = decode(j.value->>3, 'hex')
               AND sessions.kind = 'refresh' AND sessions.revoked_at IS NULL
             RETURNING sessions.id",
    sessions: "INSERT INTO sessions (id, token_hash, kind, format, user_id, client_id, domain_id, door, policy,
                 scope, family_id, auth_time, created_at, last_used_at, expires_at, idle_timeout_ms, revoked_at,
                 revoke_reason)
               SELECT r->>0, decode(r->>1, 'hex'), r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9,
                 r->>10, (r->>11)::bigint, (r->>12)::bigint, (r->>13)::bigint, (r->>14)::bigint,
                 (r->>15)::bigint, (r->>16)::bigint, r->>17
               FROM jsonb_array_elements($1::jsonb) AS r",
    audit: "INSERT INTO audit_events (at, kind, actor, subject, subject_name, domain, door, detail)
            SELECT (r->>0)::bigint, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7
            FROM jsonb_array_elements($1::jsonb) AS r",
};

/// A session as one JSON row of the batch insert.
fn session_row(s: &Session) -> serde_json::Value {
    serde_json::json!([
        s.id.as_str(),
        s.token_hash.map(|h| hex(&h)).unwrap_or_default(),
        s.kind.as_str(),
        s.format.as_str(),
        s.user_id.as_ref().map(UserId::as_str),
        s.client_id.as_ref().map(|c| c.as_str()),
        s.domain_id.as_ref().map(|d| d.as_str()),
        s.door,
        s.policy,
        s.scope,
        s.family_id.as_ref().map(SessionId::as_str),
        s.auth_time.0,
        s.created_at.0,
        s.last_used_at.0,
        s.expires_at.map(|t| t.0),
        s.idle_timeout_ms,
        s.revoked_at.map(|t| t.0),
        s.revoke_reason,
    ])
}

/// An audit event as one JSON row of the batch insert.
fn audit_row(e: &NewAuditEvent) -> serde_json::Value {
    serde_json::json!([
        e.at.0,
        e.kind.as_str(),
        e.actor,
        e.subject,
        e.subject_name,
        e.domain,
        e.door,
        e.detail
    ])
}

impl Store {
    /// Lands `jobs` in one transaction and returns each one's outcome. If
    /// the transaction fails as a whole, each job is retried alone, so one
    /// bad job cannot sink the others.
    pub async fn write_batch(&self, jobs: &[WriteJob]) -> StoreResult<Vec<WriteOutcome>> {
        match self.write_batch_once(jobs).await {
            Ok(out) => Ok(out),
            Err(e) if jobs.len() > 1 => {
                tracing::warn!(error = %e, jobs = jobs.len(), "batched write failed; retrying job by job");
                let mut out = Vec::with_capacity(jobs.len());
                for job in jobs {
                    let one = self.write_batch_once(std::slice::from_ref(job)).await?;
                    out.extend(one);
                }
                Ok(out)
            }
            Err(e) => Err(e),
        }
    }

    /// Records newly issued sessions with their audit events (one job).
    pub async fn issue_sessions(
        &self,
        sessions: &[Session],
        cap: Option<&CapCheck>,
        audit: &[NewAuditEvent],
        now: Timestamp,
    ) -> StoreResult<IssueOutcome> {
        let job = WriteJob::Issue {
            sessions: sessions.to_vec(),
            cap: cap.cloned(),
            audit: audit.to_vec(),
            now,
        };
        match self.write_batch(&[job]).await?.pop() {
            Some(WriteOutcome::Issue(o)) => Ok(o),
            _ => Err(crate::StoreError::Corrupt(
                "batch returned no issue outcome".into(),
            )),
        }
    }

    /// Rotates one refresh session and records what it issued (one job).
    pub async fn rotate_refresh(
        &self,
        rotation: Rotation,
        issued: &[Session],
        audit: &[NewAuditEvent],
        now: Timestamp,
    ) -> StoreResult<RotateOutcome> {
        let job = WriteJob::Rotate {
            rotation,
            issued: issued.to_vec(),
            audit: audit.to_vec(),
            now,
        };
        match self.write_batch(&[job]).await?.pop() {
            Some(WriteOutcome::Rotate(o)) => Ok(o),
            _ => Err(crate::StoreError::Corrupt(
                "batch returned no rotate outcome".into(),
            )),
        }
    }

    async fn write_batch_once(&self, jobs: &[WriteJob]) -> StoreResult<Vec<WriteOutcome>> {
        let latest = jobs
            .iter()
            .map(|j| match j {
                WriteJob::Issue { now, .. } | WriteJob::Rotate { now, .. } => *now,
            })
            .max()
            .unwrap_or(Timestamp(0));
        // A session rotated twice in one batch (the same token presented
        // twice at once): only its first rotation may win.
        let mut rotating: Vec<&str> = Vec::new();
        let mut rotation_rows: Vec<serde_json::Value> = Vec::new();
        for job in jobs {
            if let WriteJob::Rotate { rotation: r, .. } = job {
                if !rotating.contains(&r.session.as_str()) {
                    rotating.push(r.session.as_str());
                    rotation_rows.push(serde_json::json!([
                        r.session.as_str(),
                        hex(&r.next),
                        r.expires_at.map(|t| t.0),
                        hex(&r.presented)
                    ]));
                }
            }
        }
        let sql = match self.backend() {
            crate::Backend::Sqlite => &SQLITE_BATCH,
            crate::Backend::Postgres => &POSTGRES_BATCH,
        };
        let result: Result<Vec<WriteOutcome>, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut held = Relaxed {
                    conn: pool.acquire().await?,
                    armed: false,
                };
                if let Some(relax) = sql.relax {
                    held.armed = true;
                    sqlx::query(relax).execute(&mut *held.conn).await?;
                }
                let mut tx = sqlx::Connection::begin(&mut *held.conn).await?;
                // 1. Rotate every refresh session, in one statement.
                let mut retired: HashSet<String> = HashSet::new();
                if !rotation_rows.is_empty() {
                    let rows = serde_json::Value::Array(rotation_rows.clone()).to_string();
                    let rotated: Vec<String> =
                        sqlx::query_scalar(sql.rotate).bind(latest.0).bind(rows).fetch_all(&mut *tx).await?;
                    retired.extend(rotated);
                }
                // 2. Decide each job; cap checks see everything before them.
                let mut outcomes = Vec::with_capacity(jobs.len());
                let mut pending: Vec<&Session> = Vec::new();
                let mut events: Vec<&NewAuditEvent> = Vec::new();
                for job in jobs {
                    match job {
                        WriteJob::Rotate { rotation, issued, audit, .. } => {
                            if retired.remove(rotation.session.as_str()) {
                                pending.extend(issued.iter());
                                events.extend(audit.iter());
                                outcomes.push(WriteOutcome::Rotate(RotateOutcome::Rotated));
                            } else {
                                outcomes.push(WriteOutcome::Rotate(RotateOutcome::AlreadyUsed));
                            }
                        }
                        WriteJob::Issue { sessions, cap: None, audit, .. } => {
                            pending.extend(sessions.iter());
                            events.extend(audit.iter());
                            outcomes.push(WriteOutcome::Issue(IssueOutcome::Issued { evicted: vec![] }));
                        }
                        WriteJob::Issue { sessions, cap: Some(cap), audit, now } => {
                            for s in pending.drain(..) {
                                insert_session(&mut *tx, s).await?;
                            }
                            // A no-op write takes the user's row lock on PostgreSQL (the
                            // write lock on SQLite), so concurrent logins count in turn.
                            sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
                                .bind(cap.user.as_str())
                                .execute(&mut *tx)
                                .await?;
                            let rows: Vec<LiveRow> = sqlx::query_as(LIVE_ACCESS_SQL)
                                .bind(cap.user.as_str())
                                .bind(now.0)
                                .fetch_all(&mut *tx)
                                .await?;
                            let live: Vec<LiveSessionInfo> =
                                rows.into_iter().filter_map(LiveRow::into_info).filter(|s| s.alive_at(*now)).collect();
                            let max = usize::try_from(cap.max).unwrap_or(usize::MAX);
                            if live.len() >= max && !cap.evict_oldest {
                                let retry_at = live.iter().filter_map(LiveSessionInfo::dies_at).min();
                                outcomes.push(WriteOutcome::Issue(IssueOutcome::Refused { retry_at }));
                                continue;
                            }
                            let mut evicted = Vec::new();
                            if live.len() >= max {
                                for old in live.iter().take(live.len() + 1 - max) {
                                    sqlx::query(
                                        "UPDATE sessions SET revoked_at = $1, revoke_reason = 'evicted' WHERE id = $2",
                                    )
                                    .bind(now.0)
                                    .bind(old.id.as_str())
                                    .execute(&mut *tx)
                                    .await?;
                                    insert_invalidation(&mut *tx, &Invalidation::Token(hex(&old.token_hash)), *now)
                                        .await?;
                                    evicted.push((old.id.clone(), old.token_hash));
                                }
                            }
                            for s in sessions {
                                insert_session(&mut *tx, s).await?;
                            }
                            events.extend(audit.iter());
                            outcomes.push(WriteOutcome::Issue(IssueOutcome::Issued { evicted }));
                        }
                    }
                }
                // 3. The remaining sessions and all audit events, one statement each.
                if !pending.is_empty() {
                    let rows = serde_json::Value::Array(pending.iter().map(|s| session_row(s)).collect()).to_string();
                    sqlx::query(sql.sessions).bind(rows).execute(&mut *tx).await?;
                }
                if !events.is_empty() {
                    let rows = serde_json::Value::Array(events.iter().map(|e| audit_row(e)).collect()).to_string();
                    sqlx::query(sql.audit).bind(rows).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                if let Some(restore) = sql.restore {
                    // Committed either way: a failure here only costs the
                    // connection (closed on drop), never the batch.
                    match sqlx::query(restore).execute(&mut *held.conn).await {
                        Ok(_) => held.armed = false,
                        Err(e) => tracing::warn!(error = %e, "could not restore the writer's synchronous = FULL; closing it"),
                    }
                }
                Ok(outcomes)
            }
            .await
        });
        Ok(result?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_model::{TokenFormat, TokenKind};

    #[test]
    fn rows_carry_every_column_in_order_with_nulls() {
        let s = Session {
            id: SessionId::from_bytes([1; 16]),
            token_hash: Some(TokenHash([0xab; 32])),
            kind: TokenKind::Access,
            format: TokenFormat::Opaque,
            user_id: None,
            client_id: None,
            domain_id: None,
            door: "oauth2".into(),
            policy: "p".into(),
            scope: "read".into(),
            family_id: None,
            auth_time: Timestamp(1),
            created_at: Timestamp(2),
            last_used_at: Timestamp(3),
            expires_at: None,
            idle_timeout_ms: Some(600_000),
            revoked_at: None,
            revoke_reason: None,
            previous_hash: None,
        };
        let row = session_row(&s);
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), 18);
        assert_eq!(row[1], "ab".repeat(32));
        assert!(row[4].is_null());
        assert_eq!(row[15], 600_000);
    }
}
