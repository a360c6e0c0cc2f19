//! The oauth2 door's other endpoints: revocation (RFC 7009),
//! introspection (RFC 7662), server metadata (RFC 8414), the JWKS, and
//! seed 003's realm list (`GET /setup`).

use super::client::authenticate;
use super::forms::{self, read_form, TOKEN_PARAM};
use super::wire::{
    self, invalid_request, refusal, Grant, IntrospectionBody, JwksBody, MetadataBody, RealmsBody,
};
use crate::error::ApiError;
use crate::extract::bearer;
use crate::{AppState, ConnInfo};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, HOST};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use tessera_core::admin::names::{canonical_name, NameKind};
use tessera_core::OAuthCode;

/// RFC 7009: the client revokes one of its own tokens. Unknown tokens
/// are not an error (§2.2); a refresh token takes its family with it.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth2",
    summary = "Token revocation (RFC 7009)",
    request_body(content = forms::TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or not a token this client holds (not an error, §2.2)"),
        (status = 400, description = "`invalid_request` (no token; HTTP Basic and `client_secret` both); \
            `unauthorized_client`: the token was issued to another client", body = wire::ErrorBody),
        (status = 401, description = "`invalid_client` (with `WWW-Authenticate: Basic`): no client authentication, \
            an unknown client or a wrong secret, or a `client_id` naming another client than HTTP Basic", body = wire::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = wire::ErrorBody),
    ),
    security((), ("basic" = [])),
)]
pub async fn revoke_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let form = read_form(&headers, &body, TOKEN_PARAM)?;
    let client = authenticate(&state, &headers, &form).await?;
    let token = form.require("token").map_err(invalid_request)?;
    let owner = &client.client.id;
    state
        .core
        .revoke_token(token, "revoked by its client", Some(owner.as_str()), Some(owner))
        .await
        .map_err(refusal)?;
    Ok(StatusCode::OK)
}

/// RFC 7662: for confidential clients (resource servers) and for
/// administrators presenting their own bearer token.
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth2",
    summary = "Token introspection (RFC 7662)",
    description = "For confidential clients (HTTP Basic or `client_id`/`client_secret`), or for a \
        system administrator presenting a bearer token (or the bootstrap admin token); with a bearer \
        token, client credentials are not used (a `client_id` must still be well-formed).",
    request_body(content = forms::TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token's facts, or `{\"active\": false}`", body = wire::IntrospectionBody),
        (status = 400, description = "`invalid_request` (no token; HTTP Basic and `client_secret` both; with a \
            bearer token, a malformed `client_id`)", body = wire::ErrorBody),
        (status = 401, description = "`invalid_client` (public clients included; with `WWW-Authenticate: Basic`), \
            or `invalid_token`: the bearer token is not valid (with a Bearer challenge)", body = wire::ErrorBody),
        (status = 403, description = "`access_denied`: the bearer token's holder is not a system administrator",
            body = wire::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = wire::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn introspect_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = read_form(&headers, &body, TOKEN_PARAM)?;
    if let Some(own) = bearer(&headers) {
        state.core.admin(own, "POST /oauth/introspect").await?;
        // The bearer token authorizes: client credentials are not used,
        // but a client_id sent along must still be one (as documented).
        if let Some(id) = form.get("client_id") {
            canonical_name(NameKind::Client, id).map_err(refusal)?;
        }
    } else if authenticate(&state, &headers, &form).await?.client.is_public() {
        return Err(ApiError::oauth(
            OAuthCode::InvalidClient,
            "public clients cannot introspect tokens",
        ));
    }
    let token = form.require("token").map_err(invalid_request)?;
    let found = state.core.introspect(token).await.map_err(refusal)?;
    let body = match &found {
        Some(found) => IntrospectionBody::active(found, state.core.issuer()),
        None => IntrospectionBody::inactive(),
    };
    Ok(Json(body).into_response())
}

/// The URL clients reached this server at: the configured issuer, else
/// scheme and `Host` of the request.
fn base_url(state: &AppState, headers: &HeaderMap, conn: Option<&ConnInfo>) -> String {
    let configured = &state.doors.oauth2.issuer;
    if !configured.is_empty() {
        return configured.trim_end_matches('/').to_owned();
    }
    let scheme = if conn.is_some_and(|c| c.tls) {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// RFC 8414 authorization server metadata.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "oauth2",
    summary = "Authorization server metadata (RFC 8414)",
    responses((status = 200, description = "The metadata", body = wire::MetadataBody)),
)]
pub async fn metadata_get(
    State(state): State<AppState>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
) -> Json<MetadataBody> {
    let base = base_url(&state, &headers, conn.as_deref());
    let auth_methods = vec!["client_secret_basic", "client_secret_post", "none"];
    Json(MetadataBody {
        token_endpoint: format!("{base}/oauth/token"),
        revocation_endpoint: format!("{base}/oauth/revoke"),
        introspection_endpoint: format!("{base}/oauth/introspect"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        issuer: base,
        grant_types_supported: Grant::ALL,
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods,
        introspection_endpoint_auth_methods_supported: vec!["client_secret_basic", "client_secret_post"],
        scopes_supported: vec!["read", "write", "emergency"],
        response_types_supported: Vec::new(),
    })
}

/// The public keys JWTs are signed with.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "oauth2",
    summary = "The public keys JWTs are signed with (JWKS)",
    responses((status = 200, description = "The key set (`Cache-Control: public, max-age=60`)", body = wire::JwksBody)),
)]
pub async fn jwks_get(State(state): State<AppState>) -> Response {
    let keys = state.core.jwks();
    (
        [(CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"))],
        Json(JwksBody::of(&keys)),
    )
        .into_response()
}

/// Seed 003: the security realms (domains) that accept logins.
#[utoipa::path(
    get,
    path = "/setup",
    tag = "oauth2",
    summary = "Seed 003's realm list: the domains that accept logins",
    responses(
        (status = 200, description = "The enabled domains", body = wire::RealmsBody),
        (status = 503, description = "`temporarily_unavailable`: the store is unavailable", body = wire::ErrorBody),
    ),
)]
pub async fn setup_get(State(state): State<AppState>) -> Result<Response, ApiError> {
    let domains = state.core.domain_list().await.map_err(refusal)?;
    Ok(Json(RealmsBody::of(&domains)).into_response())
}
