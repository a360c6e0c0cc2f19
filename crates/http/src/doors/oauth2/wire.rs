//! The oauth2 door's wire: RFC 6749 §5.1 success bodies and §5.2 errors,
//! always with `Cache-Control: no-store`.

use crate::error::with_retry_after;
use axum::http::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::time::Duration;
use tessera_core::{AuthError, Issued};
use tessera_model::Timestamp;

/// Seed 000's exact description for a wrong user or password.
pub const INVALID_CREDENTIALS: &str = "Invalid credentials";

/// RFC 6749 §5.1's success body, plus seed 000's `updated_at`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OAuthToken)]
pub(super) struct TokenBody<'a> {
    access_token: &'a str,
    #[schema(example = "bearer")]
    token_type: &'static str,
    /// Seconds; absent for tokens that never expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[schema(example = "read write")]
    scope: &'a str,
    /// When the client may use the refresh_token grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    /// Milliseconds since the epoch.
    updated_at: i64,
}

/// RFC 6749 §5.2's error body.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OAuthError)]
pub(super) struct ErrorBody<'a> {
    #[schema(example = "invalid_grant")]
    error: &'a str,
    #[schema(example = "Invalid credentials")]
    error_description: &'a str,
}

fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// The 200 of a token request.
pub fn token_response(issued: &Issued, now: Timestamp) -> Response {
    let body = TokenBody {
        access_token: &issued.access.token,
        token_type: "bearer",
        expires_in: issued.expires_in(now),
        scope: &issued.access.session.scope,
        refresh_token: issued.refresh.as_ref().map(|r| r.token.as_str()),
        updated_at: now.millis(),
    };
    no_store(Json(body).into_response())
}

/// An RFC 6749 §5.2 error.
pub fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    no_store(
        (
            status,
            Json(ErrorBody {
                error: code,
                error_description: description,
            }),
        )
            .into_response(),
    )
}

/// `invalid_client` (401), with a Basic challenge when the client used Basic.
pub fn invalid_client(description: &str, used_basic: bool) -> Response {
    let mut res = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    if used_basic {
        res.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tessera\""),
        );
    }
    res
}

pub fn invalid_request(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// How each core error looks on the oauth2 wire.
pub fn error_response(e: AuthError, used_basic: bool) -> Response {
    let bad = |code: &str, d: &str| oauth_error(StatusCode::BAD_REQUEST, code, d);
    match e {
        AuthError::InvalidCredentials => bad("invalid_grant", INVALID_CREDENTIALS),
        AuthError::UnknownToken | AuthError::Revoked | AuthError::Expired | AuthError::Idle => {
            bad("invalid_grant", "the grant is not valid")
        }
        AuthError::UserDisabled => bad("invalid_grant", "the account is disabled"),
        AuthError::DomainDisabled => bad("invalid_grant", "the account's domain is disabled"),
        AuthError::Locked { until: _ } => bad("invalid_grant", INVALID_CREDENTIALS),
        AuthError::TokenLimit { retry_after } => with_retry_after(
            oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_tokens",
                &format!(
                    "this account already holds as many live tokens as allowed; log out elsewhere or retry in {} s",
                    retry_after.as_secs()
                ),
            ),
            retry_after,
        ),
        AuthError::Forbidden(m) => bad("access_denied", &m),
        AuthError::OAuth { code: "invalid_client", description } => invalid_client(&description, used_basic),
        AuthError::OAuth { code, description } => bad(code, &description),
        AuthError::InvalidInput(m) => bad("invalid_request", &m),
        AuthError::NotFound(m) => bad("invalid_request", &format!("{m} does not exist; GET /setup lists the realms")),
        AuthError::Conflict(m) => bad("invalid_request", &format!("{m} already exists")),
        AuthError::Busy => with_retry_after(
            oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "too many logins at once; retry in a moment"),
            Duration::from_secs(1),
        ),
        AuthError::SourceUnavailable(m) => oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", &m),
        AuthError::Store(e) => {
            tracing::error!(error = %e, "store error");
            oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the store is unavailable; retry shortly")
        }
        AuthError::Internal(e) => {
            tracing::error!(error = %e, "internal error");
            oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error; see the server log")
        }
    }
}
