//! Who may use the admin surfaces: holders of the system `admin` role, or
//! the bootstrap admin token (seed 002), whose every use is audited.

use crate::error::{api_error, json_error, missing_token};
use crate::extract::presented_token;
use crate::AppState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use tessera_core::{Actor, Subject};
use tessera_model::{AssignmentScope, AuditKind, NewAuditEvent};

/// The role that administers Tessera (on the system scope).
pub const ADMIN_ROLE: &str = "admin";

/// Whether `subject` holds the admin role on the whole system.
pub fn is_system_admin(subject: &Subject) -> bool {
    match subject {
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

/// The administrator making this request, or the refusal to send.
pub async fn admin_caller(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Actor, Response> {
    let Some(token) = presented_token(headers) else {
        return Err(missing_token());
    };
    let core = &state.core;
    if core.is_admin_token(token) {
        let event = NewAuditEvent {
            at: core.now(),
            kind: AuditKind::AdminTokenUsed,
            actor: Some(Actor::AdminToken.label()),
            subject: None,
            subject_name: None,
            domain: None,
            door: None,
            detail: format!("{method} {}", uri.path()),
        };
        core.audit.record(event).await.map_err(api_error)?;
        return Ok(Actor::AdminToken);
    }
    let who = core.check(token, true).await.map_err(api_error)?;
    if !is_system_admin(&who.subject) {
        return Err(json_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this needs the admin role on the system",
        ));
    }
    Ok(match &who.subject {
        Subject::User { user, .. } => Actor::User {
            id: user.user.id.to_string(),
            name: user.user.name.clone(),
        },
        Subject::Client(c) => Actor::User {
            id: c.client.id.to_string(),
            name: c.client.id.to_string(),
        },
        Subject::Service => Actor::Service,
    })
}
