//! Admin API for access: OAuth2 clients, sessions, and the audit trail.

use super::{query, Admin, Page};
use crate::account::json_body;
use crate::error::{api_error, json_error};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tessera_core::admin::{AuditFilter, ClientSecretInput, NewClient};
use tessera_model::{AuditKind, SessionId, Timestamp};
use zeroize::Zeroizing;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/clients", get(clients_list).post(clients_create))
        .route("/v1/admin/clients/{id}", delete(clients_delete))
        .route("/v1/admin/sessions", get(sessions_list))
        .route("/v1/admin/sessions/{id}", delete(sessions_delete))
        .route(
            "/v1/admin/users/{domain}/{name}/sessions",
            delete(user_sessions_delete),
        )
        .route("/v1/admin/audit", get(audit_list))
}

async fn clients_list(State(state): State<AppState>, _admin: Admin, uri: Uri) -> Response {
    let page: Page = match query(&uri) {
        Ok(p) => p,
        Err(res) => return res,
    };
    match state.core.client_list().await {
        Ok(clients) => {
            let (clients, next) = page.cut(clients);
            Json(json!({ "clients": clients, "next_offset": next })).into_response()
        }
        Err(e) => api_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientCreate {
    id: String,
    /// `true`: a public client without a secret.
    #[serde(default)]
    public: bool,
    /// Omitted for a confidential client: one is generated, returned once.
    #[serde(default)]
    secret: Option<Zeroizing<String>>,
    #[serde(default)]
    grants: Vec<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

async fn clients_create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c: ClientCreate = match json_body(&headers, &body) {
        Ok(c) => c,
        Err(res) => return res,
    };
    let secret = match (c.public, c.secret) {
        (true, Some(_)) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "a public client has no secret: send public or secret, not both",
            )
        }
        (true, None) => ClientSecretInput::Public,
        (false, Some(s)) => ClientSecretInput::Given(s),
        (false, None) => ClientSecretInput::Generate,
    };
    let new = NewClient {
        id: c.id,
        secret,
        grants: c.grants,
        policy: c.policy,
        roles: c.roles,
    };
    match state.core.client_add(&actor, new).await {
        Ok(created) => {
            let mut body = json!({
                "id": created.client.id,
                "public": created.client.is_public(),
                "grants": created.client.grants,
                "policy": created.client.policy,
            });
            if let Some(s) = &created.generated_secret {
                body["generated_secret"] = json!(s.as_str());
            }
            (
                StatusCode::CREATED,
                [(axum::http::header::CACHE_CONTROL, "no-store")],
                Json(body),
            )
                .into_response()
        }
        Err(e) => api_error(e),
    }
}

async fn clients_delete(
    State(state): State<AppState>,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> Response {
    match state.core.client_remove(&actor, &id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => api_error(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct SessionListQuery {
    user: Option<String>,
    domain: Option<String>,
    /// The last id of the previous page.
    after: Option<String>,
    limit: Option<u32>,
}

async fn sessions_list(State(state): State<AppState>, _admin: Admin, uri: Uri) -> Response {
    let q: SessionListQuery = match query(&uri) {
        Ok(q) => q,
        Err(res) => return res,
    };
    let after = match q.after.as_deref().map(SessionId::parse) {
        Some(None) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "after must be a session id",
            )
        }
        Some(Some(id)) => Some(id),
        None => None,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let user = q.user.as_deref().map(|u| (q.domain.as_deref(), u));
    match state.core.session_list(user, after, limit).await {
        Ok(sessions) => {
            let next = (sessions.len() == limit as usize)
                .then(|| sessions.last().map(|s| s.id.clone()))
                .flatten();
            Json(json!({ "sessions": sessions, "next_after": next })).into_response()
        }
        Err(e) => api_error(e),
    }
}

async fn sessions_delete(
    State(state): State<AppState>,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = SessionId::parse(&id) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "a session id is 32 lowercase hex characters",
        );
    };
    match state
        .core
        .revoke_session_id(&id, "revoked by an administrator", Some(&actor.label()))
        .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => json_error(StatusCode::NOT_FOUND, "not_found", "no live session with that id"),
        Err(e) => api_error(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RevokeAll {
    proxy_tokens: bool,
}

async fn user_sessions_delete(
    State(state): State<AppState>,
    Admin(actor): Admin,
    Path((domain, name)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let q: RevokeAll = match query(&uri) {
        Ok(q) => q,
        Err(res) => return res,
    };
    let user = match state.core.user_named(Some(&domain), &name).await {
        Ok((_, u)) => u,
        Err(e) => return api_error(e),
    };
    match state
        .core
        .revoke_user(
            &user.id,
            q.proxy_tokens,
            "revoked by an administrator",
            Some(&actor.label()),
        )
        .await
    {
        Ok(n) => Json(json!({ "revoked": n })).into_response(),
        Err(e) => api_error(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct AuditListQuery {
    user: Option<String>,
    domain: Option<String>,
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

/// A time given as milliseconds since the epoch or as RFC 3339.
pub fn parse_time(name: &str, s: &str) -> Result<Timestamp, String> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(Timestamp(ms));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| Timestamp(t.timestamp_millis()))
        .map_err(|_| {
            format!("{name} must be milliseconds since the epoch or an RFC 3339 time (2026-11-23T12:00:00Z)")
        })
}

async fn audit_list(State(state): State<AppState>, _admin: Admin, uri: Uri) -> Response {
    let q: AuditListQuery = match query(&uri) {
        Ok(q) => q,
        Err(res) => return res,
    };
    let kind = match q.kind.as_deref().map(|k| (k, AuditKind::parse(k))) {
        Some((k, None)) => {
            let kinds: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("kind {k:?} is not one of {}", kinds.join(", ")),
            );
        }
        Some((_, kind)) => kind,
        None => None,
    };
    let time = |name: &str, v: &Option<String>| v.as_deref().map(|s| parse_time(name, s)).transpose();
    let (since, until) = match (time("since", &q.since), time("until", &q.until)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return json_error(StatusCode::BAD_REQUEST, "invalid_request", e),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let filter = AuditFilter {
        who: q.user,
        domain: q.domain,
        kind,
        since,
        until,
        before: q.before,
        limit,
    };
    match state.core.audit_events(&filter).await {
        Ok(events) => {
            let next = (events.len() == limit as usize)
                .then(|| events.last().map(|e| e.id))
                .flatten();
            Json(json!({ "events": events, "next_before": next })).into_response()
        }
        Err(e) => api_error(e),
    }
}
