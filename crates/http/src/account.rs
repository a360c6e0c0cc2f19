//! Self-service: `POST /v1/users/me/password` (seed 003's password change).

use crate::error::{api_error, json_error, missing_token};
use crate::extract::{is_json, presented_token};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tessera_core::Identity;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(password_post))
}

/// The caller's identity from any token carrier, or the 401 to send.
pub async fn identity(state: &AppState, headers: &HeaderMap) -> Result<Identity, Response> {
    let Some(token) = presented_token(headers) else {
        return Err(missing_token());
    };
    state.core.check(token, true).await.map_err(api_error)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    /// The new password.
    #[schema(value_type = String, format = Password)]
    password: Zeroizing<String>,
    /// Needed unless the token comes from a password login in the last
    /// few minutes (`[doors.oauth2] recent_auth`).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<Zeroizing<String>>,
}

/// Parses a JSON body, answering 400 with what is wrong.
pub fn json_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Response> {
    if !is_json(headers) {
        return Err(json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "send a JSON body with Content-Type: application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde_json's message names the field or position; it never echoes values.
        json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("the JSON body is not what this endpoint takes: {e}"),
        )
    })
}

/// Seed 003's password change. A stolen token must not take over the
/// account: it needs the current password or a fresh login.
#[utoipa::path(
    post,
    path = "/v1/users/me/password",
    tag = "tessera",
    summary = "Change the caller's own password",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed", body = crate::schema::Message),
        (status = 400, description = "Bad body, weak password, or a directory user", body = crate::schema::ApiError),
        (status = 401, description = "No valid token", body = crate::schema::ApiError),
        (status = 403, description = "Wrong current password, a stale login, a read-only token, or not a user's token", body = crate::schema::ApiError),
        (status = 415, description = "The body is not JSON", body = crate::schema::ApiError),
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn password_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let who = match identity(&state, &headers).await {
        Ok(id) => id,
        Err(res) => return res,
    };
    let change: PasswordChange = match json_body(&headers, &body) {
        Ok(c) => c,
        Err(res) => return res,
    };
    match state
        .core
        .change_own_password(&who, change.password, change.current_password)
        .await
    {
        Ok(()) => Json(json!({ "message": "password changed" })).into_response(),
        Err(e) => api_error(e),
    }
}
