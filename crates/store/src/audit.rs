//! The audit trail: append-only events, queried by subject, kind and time.

use crate::{on_pool, Store, StoreError, StoreResult};
use tessera_model::{AuditEvent, AuditKind, NewAuditEvent, Timestamp};

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    kind: String,
    actor: Option<String>,
    subject: Option<String>,
    subject_name: Option<String>,
    domain: Option<String>,
    door: Option<String>,
    detail: String,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> StoreResult<AuditEvent> {
        let kind = AuditKind::parse(&r.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("audit event {} has kind {:?}", r.id, r.kind)))?;
        Ok(AuditEvent {
            id: r.id,
            event: NewAuditEvent {
                at: Timestamp(r.at),
                kind,
                actor: r.actor,
                subject: r.subject,
                subject_name: r.subject_name,
                domain: r.domain,
                door: r.door,
                detail: r.detail,
            },
        })
    }
}

/// Appends one event on any executor of either backend.
pub(crate) async fn insert_audit_event<'e, E, DB>(exec: E, e: &NewAuditEvent) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query::<DB>(
        "INSERT INTO audit_events (at, kind, actor, subject, subject_name, domain, door, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.at.0)
    .bind(e.kind.as_str())
    .bind(e.actor.as_deref())
    .bind(e.subject.as_deref())
    .bind(e.subject_name.as_deref())
    .bind(e.domain.as_deref())
    .bind(e.door.as_deref())
    .bind(e.detail.as_str())
    .execute(exec)
    .await?;
    Ok(())
}

/// Filters for reading the audit trail; newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Matches the subject id, the name the caller gave, or the actor.
    pub subject: Option<String>,
    pub kind: Option<AuditKind>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only events older than this id (keyset pagination).
    pub before_id: Option<i64>,
    pub limit: u32,
}

impl Store {
    /// Appends events in one transaction.
    pub async fn insert_audit_events(&self, events: &[NewAuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let result: Result<(), sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                for e in events {
                    insert_audit_event(&mut *tx, e).await?;
                }
                tx.commit().await
            }
            .await
        });
        Ok(result?)
    }

    pub async fn list_audit_events(&self, q: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        let limit = i64::from(if q.limit == 0 { 100 } else { q.limit });
        let rows: Vec<AuditRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT id, at, kind, actor, subject, subject_name, domain, door, detail FROM audit_events
                 WHERE ($1 IS NULL OR subject = $1 OR subject_name = $1 OR actor = $1)
                   AND ($2 IS NULL OR kind = $2)
                   AND ($3 IS NULL OR at >= $3)
                   AND ($4 IS NULL OR at < $4)
                   AND ($5 IS NULL OR id < $5)
                 ORDER BY id DESC LIMIT $6",
            )
            .bind(&q.subject)
            .bind(q.kind.map(AuditKind::as_str))
            .bind(q.since.map(|t| t.0))
            .bind(q.until.map(|t| t.0))
            .bind(q.before_id)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(AuditEvent::try_from).collect()
    }
}
