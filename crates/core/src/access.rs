//! Who may administer Tessera, decided once for every surface (the admin
//! API, seed 002's role list, introspection by bearer, the CLI's view of a
//! token): the system `admin` role, or the bootstrap admin token, whose
//! every use is audited (seed 002).

use crate::audit::Actor;
use crate::error::{AuthError, AuthResult};
use crate::tokens::Subject;
use crate::Core;
use tessera_model::{AssignmentScope, AuditKind, NewAuditEvent};

/// The built-in role that administers Tessera (on the system scope); the
/// store's last-administrator guard counts its holders by the same name.
pub use tessera_model::ADMIN_ROLE;

impl Subject {
    /// Whether the subject holds the enabled `admin` role on the whole
    /// system (a client: on its own roles); the service principal never.
    pub fn is_system_admin(&self) -> bool {
        match self {
            Subject::User { user, .. } => user
                .roles
                .iter()
                .any(|g| g.role.enabled && g.role.name == ADMIN_ROLE && g.scope == AssignmentScope::System),
            Subject::Client(c) => c
                .roles
                .iter()
                .any(|g| g.role.enabled && g.role.name == ADMIN_ROLE),
            Subject::Service => false,
        }
    }

    /// The actor an administrative change made with this subject's token
    /// is recorded as.
    pub fn actor(&self) -> Actor {
        match self {
            Subject::User { user, .. } => Actor::User {
                id: user.user.id.to_string(),
                name: user.user.name.clone(),
            },
            Subject::Client(c) => Actor::User {
                id: c.client.id.to_string(),
                name: c.client.id.to_string(),
            },
            Subject::Service => Actor::Service,
        }
    }
}

impl Core {
    /// The administrator presenting token `presented` for `operation` (a
    /// description for the audit trail, such as `GET /v1/admin/users`).
    /// The bootstrap admin token is accepted here and only here, and each
    /// use is audited; any other token must be valid and its subject a
    /// system administrator.
    ///
    /// Errors: the token's own refusal (`UnknownToken`, `Expired`, ...);
    /// [`AuthError::Forbidden`] for a valid token without the role.
    pub async fn admin(&self, presented: &str, operation: &str) -> AuthResult<Actor> {
        if self.is_admin_token(presented) {
            self.audit
                .record(NewAuditEvent {
                    at: self.now(),
                    kind: AuditKind::AdminTokenUsed,
                    actor: Some(Actor::AdminToken.label()),
                    subject: None,
                    subject_name: None,
                    domain: None,
                    door: None,
                    detail: operation.to_owned(),
                })
                .await?;
            return Ok(Actor::AdminToken);
        }
        let who = self.check(presented, true).await?;
        if crate::scope::has(who.scope(), crate::scope::EMERGENCY) {
            // Seed 000: an emergency token reaches only its allow-list,
            // whatever roles its account holds.
            return Err(AuthError::Forbidden(
                "an emergency token may call only the emergency operations, not the admin API".into(),
            ));
        }
        if !who.subject.is_system_admin() {
            return Err(AuthError::Forbidden(
                "this needs the admin role on the system".into(),
            ));
        }
        Ok(who.subject.actor())
    }
}
