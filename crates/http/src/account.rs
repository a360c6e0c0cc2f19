//! Self-service: `POST /v1/users/me/password` (seed 003's password change).

use crate::error::{api_error, json_error, missing_token};
use crate::extract::{is_json, presented_token};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tessera_core::Identity;
use zeroize::Zeroizing;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/users/me/password", post(password_post))
}

/// The caller's identity from any token carrier, or the 401 to send.
pub async fn identity(state: &AppState, headers: &HeaderMap) -> Result<Identity, Response> {
    let Some(token) = presented_token(headers) else {
        return Err(missing_token());
    };
    state.core.check(token, true).await.map_err(api_error)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    password: Zeroizing<String>,
    #[serde(default)]
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
