//! Tessera's own token endpoints: `GET /v1/auth/whoami` and
//! `POST /v1/auth/logout` (JSON; SPEC §3.5).

use crate::account::{identity, json_body};
use crate::error::{api_error, json_error};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_core::{Identity, Subject};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/whoami", get(whoami_get))
        .route("/v1/auth/logout", post(logout_post))
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

async fn whoami_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match identity(&state, &headers).await {
        Ok(who) => Json(whoami_json(&who)).into_response(),
        Err(res) => res,
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LogoutBody {
    /// End every session of the user, not just this one.
    #[serde(default)]
    all: bool,
    /// With `all`, proxy tokens too.
    #[serde(default)]
    proxy_tokens: bool,
}

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
