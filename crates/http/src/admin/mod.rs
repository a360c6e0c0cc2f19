//! The admin API under `/v1/admin/` (SPEC §3.5): everything the CLI can
//! do, for holders of the system `admin` role or the bootstrap admin token
//! (seed 002), whose every use is audited.

mod access;
mod identity;
mod users;

pub use access::parse_time;

use crate::error::{api_error, json_error, missing_token};
use crate::extract::presented_token;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde::de::DeserializeOwned;
use tessera_core::{Actor, Subject};
use tessera_model::{AssignmentScope, AuditKind, NewAuditEvent};
use utoipa_axum::router::OpenApiRouter;

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

/// An administrator's request: the extractor refuses everyone else.
pub struct Admin(pub Actor);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        admin_caller(state, &parts.method, &parts.uri, &parts.headers)
            .await
            .map(Admin)
    }
}

/// Parses the query string, answering 400 with what is wrong.
pub fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, Response> {
    serde_urlencoded::from_str(uri.query().unwrap_or("")).map_err(|e| {
        json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("the query string is not what this endpoint takes: {e}"),
        )
    })
}

/// A page of a short list: `limit` (1..=1000, default 100) from `offset`.
#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// How many (1 to 1000; 100 when absent).
    pub limit: Option<usize>,
    /// How many to skip.
    pub offset: Option<usize>,
}

impl Page {
    /// The page of `items`, and the offset of the next page if any.
    pub fn cut<T>(&self, items: Vec<T>) -> (Vec<T>, Option<usize>) {
        let offset = self.offset.unwrap_or(0);
        let limit = self.limit.unwrap_or(100).clamp(1, 1000);
        let total = items.len();
        let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
        let next = (offset + limit < total).then_some(offset + limit);
        (page, next)
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(identity::routes())
        .merge(access::routes())
}
