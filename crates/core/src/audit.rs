//! The audit trail: every event goes to the store and to the structured
//! log (target `tessera::audit`). Callers never pass secrets here; detail
//! strings name what happened, not the credential used.

use crate::error::AuthResult;
use tessera_model::{AuditKind, NewAuditEvent, Timestamp};
use tessera_store::Store;

/// Who performed an administrative action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The `tessera` command line, run by whoever can read the store.
    Cli,
    /// The bootstrap admin token (seed 002).
    AdminToken,
    /// An administrator logged in as this user id.
    User { id: String, name: String },
    /// The cluster's service principal.
    Service,
    /// The system itself (bootstrap, background jobs).
    System,
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::Cli => "cli".into(),
            Actor::AdminToken => "admin-token".into(),
            Actor::User { id, .. } => id.clone(),
            Actor::Service => "service".into(),
            Actor::System => "system".into(),
        }
    }
}

/// Records audit events.
#[derive(Clone, Debug)]
pub struct Audit {
    store: Store,
}

impl Audit {
    pub fn new(store: Store) -> Self {
        Audit { store }
    }

    /// Writes one event to the log and the store.
    pub async fn record(&self, ev: NewAuditEvent) -> AuthResult<()> {
        Audit::log(&ev);
        self.store.insert_audit_events(std::slice::from_ref(&ev)).await?;
        Ok(())
    }

    /// Writes one event to the structured log only: for events the token
    /// writer has just committed to the store with their sessions.
    pub fn log(ev: &NewAuditEvent) {
        tracing::info!(
            target: "tessera::audit",
            kind = ev.kind.as_str(),
            actor = ev.actor.as_deref(),
            subject = ev.subject.as_deref(),
            subject_name = ev.subject_name.as_deref(),
            domain = ev.domain.as_deref(),
            door = ev.door.as_deref(),
            detail = %ev.detail,
            "audit"
        );
    }

    /// Records an administrative change made by `actor`.
    pub async fn admin_change(
        &self,
        at: Timestamp,
        actor: &Actor,
        subject: Option<(&str, &str)>,
        domain: Option<&str>,
        detail: String,
    ) -> AuthResult<()> {
        self.record(NewAuditEvent {
            at,
            kind: AuditKind::AdminChange,
            actor: Some(actor.label()),
            subject: subject.map(|(id, _)| id.to_owned()),
            subject_name: subject.map(|(_, name)| name.to_owned()),
            domain: domain.map(str::to_owned),
            door: None,
            detail,
        })
        .await
    }
}
