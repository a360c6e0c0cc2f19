//! How errors look on Tessera's own JSON API (`/v1/...`):
//! `{"error": CODE, "message": TEXT}` with a fitting status. Each front
//! door has its own mapping in its own file; this is the default one.
//! Internal error text is logged here and never sent.

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::time::Duration;
use tessera_core::AuthError;

/// A JSON error response.
pub fn json_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": code, "message": message.into() }))).into_response()
}

/// A 401 for a token that is missing or not valid, with the RFC 6750
/// challenge naming the problem.
pub fn unauthorized(code: &str, message: &str) -> Response {
    let mut res = json_error(StatusCode::UNAUTHORIZED, code, message);
    let challenge = format!(
        "Bearer realm=\"tessera\", error=\"{code}\", error_description=\"{}\"",
        message.replace('"', "'")
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    res
}

/// The 401 for a request that carries no token at all.
pub fn missing_token() -> Response {
    unauthorized(
        "invalid_request",
        "no token: send Authorization: Bearer <token>, X-Auth-Token or X-SDS-AUTH-TOKEN",
    )
}

/// Sets `Retry-After` in whole seconds (at least one).
pub fn with_retry_after(mut res: Response, after: Duration) -> Response {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    res.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
    res
}

/// The generic mapping of a core error onto the JSON API.
pub fn api_error(e: AuthError) -> Response {
    match e {
        AuthError::InvalidCredentials => unauthorized("invalid_credentials", "wrong user name or password"),
        AuthError::UnknownToken => unauthorized("invalid_token", "the token is not valid"),
        AuthError::Revoked => unauthorized("invalid_token", "the token has been revoked"),
        // Seed 004's words: its API server tells clients exactly this.
        AuthError::Expired => unauthorized("invalid_token", "Token is already expired"),
        AuthError::Idle => unauthorized("invalid_token", "the token expired after being unused too long"),
        AuthError::UserDisabled => unauthorized("invalid_token", "the account is disabled"),
        AuthError::DomainDisabled => unauthorized("invalid_token", "the account's domain is disabled"),
        AuthError::Locked { until: _ } => unauthorized("invalid_token", "the account is locked for now"),
        AuthError::TokenLimit { retry_after } => with_retry_after(
            json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_tokens",
                format!(
                    "this account already holds as many live tokens as allowed; log out elsewhere or retry in {} s",
                    retry_after.as_secs()
                ),
            ),
            retry_after,
        ),
        AuthError::Forbidden(m) => json_error(StatusCode::FORBIDDEN, "forbidden", m),
        AuthError::OAuth { code, description } => {
            let status = if code == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
            json_error(status, code, description)
        }
        AuthError::InvalidInput(m) => json_error(StatusCode::BAD_REQUEST, "invalid_request", m),
        AuthError::NotFound(m) => json_error(StatusCode::NOT_FOUND, "not_found", format!("{m} not found")),
        AuthError::Conflict(m) => json_error(StatusCode::CONFLICT, "conflict", format!("{m} already exists")),
        AuthError::Busy => with_retry_after(
            json_error(StatusCode::SERVICE_UNAVAILABLE, "busy", "too many logins at once; retry in a moment"),
            Duration::from_secs(1),
        ),
        AuthError::SourceUnavailable(m) => json_error(StatusCode::SERVICE_UNAVAILABLE, "source_unavailable", m),
        AuthError::Store(e) => {
            tracing::error!(error = %e, "store error");
            json_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the store is unavailable; retry shortly")
        }
        AuthError::Internal(e) => {
            tracing::error!(error = %e, "internal error");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
        }
    }
}
