//! Group commit for the writes on the token path. Issuing and rotating
//! tokens arrive many at a time; `write_batch` lands a whole batch in one
//! transaction of a few statements whatever its size: the rows of a table
//! travel as multi-row `VALUES` lists of bound parameters, in chunks of 32,
//! 16, 8, 4, 2 and 1 rows (a batch's binary digits), so each table has at
//! most six statement shapes, each prepared once per connection, and a
//! batch of n rows is at most six statements per table. (Rows used to
//! travel as one JSON array, unpacked by `json_each`: SQLite re-parsed each
//! row's JSON for every column, which cost more than the inserts.) Every
//! job still gets its own outcome, and nothing is answered before its
//! commit.

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

/// The statements run around a batch's transaction, per backend.
struct BatchSql {
    /// Run on the writer connection before the batch's transaction, and
    /// `restore` after it (SQLite: `synchronous` NORMAL for the batch only).
    relax: Option<&'static str>,
    restore: Option<&'static str>,
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
};

const POSTGRES_BATCH: BatchSql = BatchSql {
    relax: None,
    restore: None,
};

/// The most rows one statement carries; a larger batch takes several.
const CHUNK_MAX: usize = 32;

/// Splits `rows` into chunks of 32, 16, 8, 4, 2 and 1 rows (largest
/// first), so statements come in at most six shapes per table.
fn chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= CHUNK_MAX {
            CHUNK_MAX
        } else {
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// The columns of `sessions` a batch writes, in bind order.
const SESSION_COLUMNS: &str = "INSERT INTO sessions (id, token_hash, kind, format, user_id, client_id, domain_id, door, \
    policy, scope, family_id, auth_time, created_at, last_used_at, expires_at, idle_timeout_ms, revoked_at, revoke_reason) ";

/// The insert of one chunk of sessions. A session without a token hash
/// (none is ever written so) stores an empty one, as before.
fn insert_sessions<'a, DB>(chunk: &[&'a Session]) -> sqlx::QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::QueryBuilder::<DB>::new(SESSION_COLUMNS);
    q.push_values(chunk, |mut b, s| {
        let hash: &[u8] = s.token_hash.as_ref().map_or(&[], |h| &h.0[..]);
        b.push_bind(s.id.as_str())
            .push_bind(hash)
            .push_bind(s.kind.as_str())
            .push_bind(s.format.as_str())
            .push_bind(s.user_id.as_ref().map(UserId::as_str))
            .push_bind(s.client_id.as_ref().map(|c| c.as_str()))
            .push_bind(s.domain_id.as_ref().map(|d| d.as_str()))
            .push_bind(s.door.as_str())
            .push_bind(s.policy.as_str())
            .push_bind(s.scope.as_str())
            .push_bind(s.family_id.as_ref().map(SessionId::as_str))
            .push_bind(s.auth_time.0)
            .push_bind(s.created_at.0)
            .push_bind(s.last_used_at.0)
            .push_bind(s.expires_at.map(|t| t.0))
            .push_bind(s.idle_timeout_ms)
            .push_bind(s.revoked_at.map(|t| t.0))
            .push_bind(s.revoke_reason.as_deref());
    });
    q
}

/// The append of one chunk of audit events.
fn insert_audit_events<'a, DB>(chunk: &[&'a NewAuditEvent]) -> sqlx::QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::QueryBuilder::<DB>::new(
        "INSERT INTO audit_events (at, kind, actor, subject, subject_name, domain, door, detail) ",
    );
    q.push_values(chunk, |mut b, e| {
        b.push_bind(e.at.0)
            .push_bind(e.kind.as_str())
            .push_bind(e.actor.as_deref())
            .push_bind(e.subject.as_deref())
            .push_bind(e.subject_name.as_deref())
            .push_bind(e.domain.as_deref())
            .push_bind(e.door.as_deref())
            .push_bind(e.detail.as_str());
    });
    q
}

/// The rotation of one chunk of refresh sessions: each moves from its
/// presented token to its next one where the presented token is still its
/// current one (and the session a live refresh session). It returns the
/// ids that moved.
fn rotate_sessions<'a, DB>(chunk: &[&'a Rotation], now: Timestamp) -> sqlx::QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    // The rows as a CTE, and the sessions found by id through the primary
    // key: as `UPDATE ... FROM (VALUES ...)`, SQLite's planner scanned the
    // whole sessions table for every batch.
    let mut q = sqlx::QueryBuilder::<DB>::new("WITH j (id, next, expires, presented) AS (");
    q.push_values(chunk, |mut b, r| {
        b.push_bind(r.session.as_str())
            .push_bind(&r.next.0[..])
            .push_bind(r.expires_at.map(|t| t.0))
            .push_bind(&r.presented.0[..]);
    });
    q.push(
        ") UPDATE sessions SET previous_hash = sessions.token_hash, \
           token_hash = (SELECT j.next FROM j WHERE j.id = sessions.id), \
           expires_at = (SELECT j.expires FROM j WHERE j.id = sessions.id), \
           last_used_at = ",
    );
    q.push_bind(now.0);
    q.push(
        " WHERE sessions.id IN (SELECT j.id FROM j) \
           AND sessions.token_hash = (SELECT j.presented FROM j WHERE j.id = sessions.id) \
           AND sessions.kind = 'refresh' AND sessions.revoked_at IS NULL RETURNING sessions.id",
    );
    q
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
        let mut rotations: Vec<&Rotation> = Vec::new();
        for job in jobs {
            if let WriteJob::Rotate { rotation: r, .. } = job {
                if !rotations.iter().any(|o| o.session == r.session) {
                    rotations.push(r);
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
                // 1. Rotate every refresh session.
                let mut retired: HashSet<String> = HashSet::new();
                for chunk in chunks(&rotations) {
                    let mut q = rotate_sessions(chunk, latest);
                    let moved: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
                    retired.extend(moved);
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
                // 3. The remaining sessions and all audit events.
                for chunk in chunks(&pending) {
                    insert_sessions(chunk).build().execute(&mut *tx).await?;
                }
                for chunk in chunks(&events) {
                    insert_audit_events(chunk).build().execute(&mut *tx).await?;
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

    #[test]
    fn a_batch_goes_out_in_chunks_of_its_binary_digits() {
        let sizes = |n: usize| chunks(&vec![0u8; n]).map(<[u8]>::len).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), vec![1]);
        assert_eq!(sizes(37), vec![32, 4, 1]);
        assert_eq!(sizes(63), vec![32, 16, 8, 4, 2, 1]);
        assert_eq!(sizes(70), vec![32, 32, 4, 2]);
        // Every row once, in order.
        let rows: Vec<usize> = (0..45).collect();
        assert_eq!(chunks(&rows).flatten().copied().collect::<Vec<_>>(), rows);
    }
}
