//! Reading the audit trail (admin API, `tessera audit`).

use crate::error::AuthResult;
use crate::Core;
use tessera_model::{AuditEvent, AuditKind, Timestamp};
use tessera_store::AuditQuery;

/// Which events to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// A user name (in `domain`, default domain when `None`), a user or
    /// client id, or an actor label (`cli`, `admin-token`).
    pub who: Option<String>,
    pub domain: Option<String>,
    pub kind: Option<AuditKind>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only events older than this id (the `next` of the previous page).
    pub before: Option<i64>,
    pub limit: u32,
}

impl Core {
    /// Audit events matching `f`. A user named by name is looked up, so
    /// events that carry only its id are found too.
    pub async fn audit_events(&self, f: &AuditFilter) -> AuthResult<Vec<AuditEvent>> {
        let subject = match &f.who {
            Some(who) => match self.user_named(f.domain.as_deref(), who).await {
                Ok((_, user)) => Some(user.id.to_string()),
                // Not a user (any more): an id, an actor, or a name that failed to log in.
                // Not a user's name (or not one RFC 8265 accepts, or in a
                // domain that is not there): an id or a label, as given.
                Err(crate::error::AuthError::NotFound(_) | crate::error::AuthError::InvalidInput(_)) => {
                    Some(who.clone())
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        let limit = f.limit.clamp(1, 1000);
        Ok(self
            .store
            .list_audit_events(&AuditQuery {
                subject,
                kind: f.kind,
                since: f.since,
                until: f.until,
                before_id: f.before,
                limit,
            })
            .await?)
    }
}
