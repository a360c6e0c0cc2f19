//! The oauth2 door's other endpoints: revocation (RFC 7009),
//! introspection (RFC 7662), server metadata (RFC 8414), the JWKS, and
//! seed 003's realm list (`GET /setup`).

use super::client::authenticate;
use super::wire::{error_response, invalid_client, invalid_request};
use crate::extract::{bearer, is_form, Form};
use crate::{AppState, ConnInfo};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, HOST};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};
use tessera_core::tokens::JWT_AUDIENCE;
use tessera_core::Subject;
use tessera_model::TokenKind;

/// The role that may use the admin surfaces (introspection by bearer).
const ADMIN_ROLE: &str = "admin";

fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<Form, Response> {
    if !is_form(headers) {
        return Err(invalid_request(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    Form::parse(body).map_err(|why| invalid_request(&why))
}

/// RFC 7009: the client revokes one of its own tokens. Unknown tokens
/// are not an error (§2.2); a refresh token takes its family with it.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth2",
    summary = "Token revocation (RFC 7009)",
    request_body(content = crate::schema::doors::TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or not a token this client holds (not an error, §2.2)"),
        (status = 400, description = "`invalid_request`", body = super::wire::ErrorBody),
        (status = 401, description = "`invalid_client`", body = super::wire::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = super::wire::ErrorBody),
    ),
    security((), ("basic" = [])),
)]
pub async fn revoke_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match parse_form(&headers, &body) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let auth = match authenticate(&state, &headers, &form).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let Some(token) = form.get("token") else {
        return invalid_request("the token parameter is missing");
    };
    let owner = auth.client.client.id.clone();
    match state
        .core
        .revoke_token(token, "revoked by its client", Some(owner.as_str()), Some(&owner))
        .await
    {
        Ok(_) => (axum::http::StatusCode::OK, [(CACHE_CONTROL, "no-store")]).into_response(),
        Err(e) => error_response(e, auth.used_basic),
    }
}

/// RFC 7662: for confidential clients (resource servers) and for
/// administrators presenting their own bearer token.
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth2",
    summary = "Token introspection (RFC 7662)",
    description = "For confidential clients (HTTP Basic or `client_id`/`client_secret`), or for a \
        system administrator presenting a bearer token.",
    request_body(content = crate::schema::doors::TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token's facts, or `{\"active\": false}`", body = crate::schema::doors::Introspection),
        (status = 400, description = "`invalid_request`", body = super::wire::ErrorBody),
        (status = 401, description = "`invalid_client` (public clients included), or the bearer token is not valid \
            (then Tessera's `{error, message}` shape)", body = super::wire::ErrorBody),
        (status = 403, description = "The bearer token's holder is not an administrator", body = crate::schema::ApiError),
        (status = 503, description = "`temporarily_unavailable`", body = super::wire::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn introspect_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match parse_form(&headers, &body) {
        Ok(f) => f,
        Err(res) => return res,
    };
    if let Some(own) = bearer(&headers) {
        match state.core.check(own, true).await {
            Ok(id) if id.subject.has_role(ADMIN_ROLE) => {}
            Ok(_) => {
                return crate::error::json_error(
                    axum::http::StatusCode::FORBIDDEN,
                    "forbidden",
                    "introspection needs the admin role or a confidential client",
                )
            }
            Err(e) => return crate::error::api_error(e),
        }
    } else {
        match authenticate(&state, &headers, &form).await {
            Ok(auth) if auth.client.client.is_public() => {
                return invalid_client("public clients cannot introspect tokens", auth.used_basic)
            }
            Ok(_) => {}
            Err(res) => return res,
        }
    }
    let Some(token) = form.get("token") else {
        return invalid_request("the token parameter is missing");
    };
    let body = match state.core.introspect(token).await {
        Ok(Some(found)) => introspection_body(&state, &found),
        Ok(None) => json!({ "active": false }),
        Err(e) => return error_response(e, false),
    };
    ([(CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn introspection_body(state: &AppState, found: &tessera_core::clients::Introspection) -> Value {
    let s = &found.session;
    let mut body = json!({
        "active": true,
        "scope": s.scope,
        "token_type": "bearer",
        "token_kind": s.kind.as_str(),
        "iat": s.created_at.secs(),
        "sub": found.subject.id(),
        "aud": JWT_AUDIENCE,
        "iss": state.core.issuer(),
        "jti": s.id,
        "roles": found.subject.role_names(),
    });
    if let Some(exp) = s.expires_at {
        body["exp"] = json!(exp.secs());
    }
    if let Some(client) = &s.client_id {
        body["client_id"] = json!(client);
    }
    if let Subject::User { user, domain } = &found.subject {
        body["username"] = json!(user.user.name);
        body["domain"] = json!(domain.domain.name);
    }
    if s.kind == TokenKind::Refresh {
        body["token_type"] = json!("refresh_token");
    }
    body
}

/// The URL clients reached this server at: the configured issuer, else
/// scheme and `Host` of the request.
pub fn base_url(state: &AppState, headers: &HeaderMap, conn: Option<&ConnInfo>) -> String {
    let configured = &state.core.config.doors.oauth2.issuer;
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
    responses((status = 200, description = "The metadata", body = crate::schema::doors::ServerMetadata)),
)]
pub async fn metadata_get(
    State(state): State<AppState>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&state, &headers, conn.as_deref());
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    Json(json!({
        "issuer": base,
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": tessera_core::admin::GRANT_TYPES,
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["read", "write", "emergency"],
        "response_types_supported": [],
    }))
    .into_response()
}

/// The public keys JWTs are signed with.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "oauth2",
    summary = "The public keys JWTs are signed with (JWKS)",
    responses((status = 200, description = "The key set (`Cache-Control: public, max-age=60`)", body = crate::schema::doors::Jwks)),
)]
pub async fn jwks_get(State(state): State<AppState>) -> Response {
    let mut res = Json(json!({ "keys": state.core.keys.jwks() })).into_response();
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    res
}

/// Seed 003: the security realms (domains) that accept logins.
#[utoipa::path(
    get,
    path = "/setup",
    tag = "oauth2",
    summary = "Seed 003's realm list: the domains that accept logins",
    responses(
        (status = 200, description = "The enabled domains", body = crate::schema::doors::Realms),
        (status = 503, description = "`temporarily_unavailable`: the store is unavailable", body = super::wire::ErrorBody),
    ),
)]
pub async fn setup_get(State(state): State<AppState>) -> Response {
    match state.core.domain_list().await {
        Ok(domains) => {
            let realms: Vec<Value> = domains
                .into_iter()
                .filter(|d| d.enabled)
                .map(|d| json!({ "id": d.id, "name": d.name, "description": d.description, "source": d.source }))
                .collect();
            Json(json!({ "realms": realms })).into_response()
        }
        Err(e) => error_response(e, false),
    }
}
