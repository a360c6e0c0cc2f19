//! Admin API for access: OAuth2 clients, sessions, and the audit trail.

use super::{query, Admin, Page};
use crate::account::json_body;
use crate::error::{api_error, json_error};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tessera_core::admin::{AuditFilter, ClientSecretInput, NewClient};
use tessera_model::{AuditKind, SessionId, Timestamp};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

/// One `routes!` per path: it registers each handler on its annotation's
/// path and methods.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(clients_list, clients_create))
        .routes(routes!(clients_delete))
        .routes(routes!(sessions_list))
        .routes(routes!(sessions_delete))
        .routes(routes!(user_sessions_delete))
        .routes(routes!(audit_list))
}

#[utoipa::path(
    get,
    path = "/v1/admin/clients",
    tag = "admin",
    summary = "List OAuth2 clients",
    params(super::Page),
    responses(
        (status = 200, description = "A page of clients", body = crate::schema::ClientPage),
        (status = 400, description = "A query parameter this does not take", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ClientCreate {
    id: String,
    /// `true`: a public client without a secret.
    #[serde(default)]
    public: bool,
    /// Omitted for a confidential client: one is generated, returned once.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    secret: Option<Zeroizing<String>>,
    #[serde(default)]
    grants: Vec<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/clients",
    tag = "admin",
    summary = "Register an OAuth2 client",
    request_body = ClientCreate,
    responses(
        (status = 201, description = "Created (`Cache-Control: no-store`: a generated secret is in it)", body = crate::schema::ClientCreated),
        (status = 400, description = "Bad body, id or grant; both public and secret", body = crate::schema::ApiError),
        (status = 404, description = "No such role or policy", body = crate::schema::ApiError),
        (status = 409, description = "The client exists", body = crate::schema::ApiError),
        (status = 415, description = "The body is not JSON", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
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

#[utoipa::path(
    delete,
    path = "/v1/admin/clients/{id}",
    tag = "admin",
    summary = "Remove an OAuth2 client",
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such client", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
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

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SessionListQuery {
    /// Only this user's sessions.
    user: Option<String>,
    /// The user's domain (the default domain when absent).
    domain: Option<String>,
    /// The last id of the previous page.
    after: Option<String>,
    /// How many (1 to 1000; 100 when absent).
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/sessions",
    tag = "admin",
    summary = "List live sessions",
    params(SessionListQuery),
    responses(
        (status = 200, description = "A page of live sessions", body = crate::schema::SessionPage),
        (status = 400, description = "A bad query parameter", body = crate::schema::ApiError),
        (status = 404, description = "No such domain or user", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
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

#[utoipa::path(
    delete,
    path = "/v1/admin/sessions/{id}",
    tag = "admin",
    summary = "Revoke one session",
    params(("id" = String, Path, description = "The session id (32 lowercase hex characters)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "Not a session id", body = crate::schema::ApiError),
        (status = 404, description = "No live session with that id", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
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

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RevokeAll {
    /// Proxy tokens too.
    proxy_tokens: bool,
}

#[utoipa::path(
    delete,
    path = "/v1/admin/users/{domain}/{name}/sessions",
    tag = "admin",
    summary = "Revoke every session of a user",
    params(
        ("domain" = String, Path, description = "The user's domain"),
        ("name" = String, Path, description = "The user's name"),
        RevokeAll,
    ),
    responses(
        (status = 200, description = "How many sessions ended", body = crate::schema::Revoked),
        (status = 400, description = "A query parameter this does not take", body = crate::schema::ApiError),
        (status = 404, description = "No such domain or user", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
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

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditListQuery {
    /// Only events about this: a user name (looked up in `domain`), a user
    /// or client id, or an actor label (`cli`, `admin-token`).
    user: Option<String>,
    /// The domain `user` is looked up in (the default domain when absent);
    /// not a filter by itself.
    domain: Option<String>,
    /// Only events of this kind.
    #[param(value_type = Option<crate::schema::AuditKindName>)]
    kind: Option<String>,
    /// From this time: milliseconds since the epoch or RFC 3339.
    since: Option<String>,
    /// Up to this time: milliseconds since the epoch or RFC 3339.
    until: Option<String>,
    /// Events with ids below this (the previous page's `next_before`).
    before: Option<i64>,
    /// How many (1 to 1000; 100 when absent).
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

#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    tag = "admin",
    summary = "Audit events, newest first, filtered",
    params(AuditListQuery),
    responses(
        (status = 200, description = "A page of events", body = crate::schema::AuditPage),
        (status = 400, description = "A bad query parameter (kind, time)", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
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
