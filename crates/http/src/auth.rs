//! Tessera's own token endpoints: `GET /v1/auth/whoami` and
//! `POST /v1/auth/logout` (JSON; SPEC §3.5).

use crate::account::{identity, json_body};
use crate::error::{api_error, json_error};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_core::{Identity, Subject};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami_get))
        .routes(routes!(logout_post))
}

/// The caller as JSON: who, which domain, which roles where, and the
/// session the token belongs to.
pub fn whoami_json(who: &Identity) -> Value {
    let mut body = match &who.subject {
        Subject::User { user, domain } => {
            let roles: Vec<Value> = user
                .roles
                .iter()
                .filter(|g| g.role.enabled)
                .map(|g| {
                    let scope = match &g.scope {
                        tessera_model::AssignmentScope::System => "system".to_owned(),
                        tessera_model::AssignmentScope::Domain(id) if *id == domain.domain.id => {
                            domain.domain.name.clone()
                        }
                        tessera_model::AssignmentScope::Domain(id) => id.to_string(),
                    };
                    json!({ "name": g.role.name, "scope": scope })
                })
                .collect();
            json!({
                "kind": "user",
                "id": user.user.id,
                "name": user.user.name,
                "common_name": user.user.common_name,
                "distinguished_name": user.user.distinguished_name,
                "domain": domain.domain.name,
                "domain_id": domain.domain.id,
                "roles": roles,
            })
        }
        Subject::Client(c) => {
            json!({ "kind": "client", "id": c.client.id, "name": c.client.id, "roles": who.subject.role_names() })
        }
        Subject::Service => json!({ "kind": "service", "name": "service", "roles": ["service"] }),
    };
    body["scope"] = json!(who.scope());
    if let Some(s) = &who.session {
        let s = &s.session;
        body["session"] = json!({
            "id": s.id,
            "kind": s.kind.as_str(),
            "door": s.door,
            "policy": s.policy,
            "created_at": s.created_at,
            "expires_at": s.expires_at,
        });
    }
    body
}

#[utoipa::path(
    get,
    path = "/v1/auth/whoami",
    tag = "tessera",
    operation_id = "tessera_whoami_get",
    summary = "Who the presented token speaks for",
    responses(
        (status = 200, description = "The caller, its roles and its session", body = crate::schema::Whoami),
        (status = 401, description = "No valid token", body = crate::schema::ApiError),
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn whoami_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match identity(&state, &headers).await {
        Ok(who) => Json(whoami_json(&who)).into_response(),
        Err(res) => res,
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LogoutBody {
    /// End every session of the user, not just this one.
    #[serde(default)]
    all: bool,
    /// With `all`, proxy tokens too.
    #[serde(default)]
    proxy_tokens: bool,
}

#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    tag = "tessera",
    operation_id = "tessera_logout_post",
    summary = "End the presented token's session, or every session of its user",
    request_body(content = Option<LogoutBody>, description = "Optional; no body ends this session only"),
    responses(
        (status = 200, description = "How many sessions ended", body = crate::schema::Revoked),
        (status = 400, description = "Bad body, or the service token (no session)", body = crate::schema::ApiError),
        (status = 401, description = "No valid token", body = crate::schema::ApiError),
        (status = 415, description = "A body that is not JSON", body = crate::schema::ApiError),
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn logout_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let who = match identity(&state, &headers).await {
        Ok(id) => id,
        Err(res) => return res,
    };
    let opts: LogoutBody = if body.is_empty() {
        LogoutBody::default()
    } else {
        match json_body(&headers, &body) {
            Ok(b) => b,
            Err(res) => return res,
        }
    };
    let Some(session) = &who.session else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the service token has no session to end",
        );
    };
    let result = match (&who.subject, opts.all) {
        (Subject::User { user, .. }, true) => {
            state
                .core
                .revoke_user(
                    &user.user.id,
                    opts.proxy_tokens,
                    "logout (all sessions)",
                    Some(user.user.id.as_str()),
                )
                .await
        }
        _ => state
            .core
            .revoke_session_id(&session.session.id, "logout", None)
            .await
            .map(usize::from),
    };
    match result {
        Ok(n) => Json(json!({ "revoked": n })).into_response(),
        Err(e) => api_error(e),
    }
}
