//! The `domain-login` front door: seed 002 (HPE VAN SDN controller, after
//! OpenStack Keystone). `POST /sdn/v2.0/auth` with user, password and
//! domain answers with a `record` and the token in `X-Auth-Token`;
//! `DELETE /sdn/v2.0/auth` ends it; `GET /v1/roles` lists the roles.

use crate::admin::admin_caller;
use crate::extract::AUTH_TOKEN;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_core::authn::{Login, LoginKind};
use tessera_core::{AuthError, IssueRequest, Subject};
use tessera_model::{Timestamp, TokenKind};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

const DOOR: &str = "domain-login";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auth_post, auth_delete))
        .routes(routes!(roles_get))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DomainLogin)]
struct LoginBody {
    login: Credentials,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DomainLoginCredentials)]
struct Credentials {
    user: String,
    #[schema(value_type = String, format = Password)]
    password: Zeroizing<String>,
    /// The default domain when absent.
    #[serde(default)]
    domain: Option<String>,
}

/// Seed 002's record, fields in the seed's order.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DomainLoginRecord)]
struct Record<'a> {
    domain_id: &'a str,
    domain_name: &'a str,
    expiration: i64,
    expiration_date: String,
    token: &'a str,
    user_id: &'a str,
    user_name: &'a str,
    roles: Vec<&'a str>,
}

/// The reply: serialised from structs (not a JSON map) so the fields keep
/// the seed's order.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DomainLoginReply)]
struct RecordBody<'a> {
    record: Record<'a>,
}

/// Keystone's error shape.
fn error(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    (
        status,
        Json(json!({ "error": { "code": status.as_u16(), "title": title, "message": message } })),
    )
        .into_response()
}

/// `2013-08-30 19-49-19 -0700`: the seed's form, in the server's zone.
fn expiration_date(t: Timestamp) -> String {
    match chrono::Local.timestamp_millis_opt(t.millis()) {
        chrono::LocalResult::Single(dt) | chrono::LocalResult::Ambiguous(dt, _) => {
            dt.format("%Y-%m-%d %H-%M-%S %z").to_string()
        }
        chrono::LocalResult::None => String::new(),
    }
}

fn auth_error(e: AuthError) -> Response {
    match e {
        AuthError::InvalidCredentials => error(StatusCode::UNAUTHORIZED, "wrong user, password or domain"),
        AuthError::UnknownToken => error(StatusCode::UNAUTHORIZED, "the token is not valid"),
        AuthError::Revoked => error(StatusCode::UNAUTHORIZED, "the token has been revoked"),
        AuthError::Expired => error(StatusCode::UNAUTHORIZED, "the token has expired"),
        AuthError::Idle => error(StatusCode::UNAUTHORIZED, "the token expired after being unused"),
        AuthError::UserDisabled => error(StatusCode::UNAUTHORIZED, "the account is disabled"),
        AuthError::DomainDisabled => error(StatusCode::UNAUTHORIZED, "the domain is disabled"),
        AuthError::Locked { until: _ } => error(StatusCode::UNAUTHORIZED, "the account is locked for now"),
        AuthError::TokenLimit { retry_after } => crate::error::with_retry_after(
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "this user holds as many tokens as allowed; log out elsewhere",
            ),
            retry_after,
        ),
        AuthError::Forbidden(m) => error(StatusCode::FORBIDDEN, &m),
        AuthError::OAuth { code: _, description } => error(StatusCode::BAD_REQUEST, &description),
        AuthError::InvalidInput(m) => error(StatusCode::BAD_REQUEST, &m),
        AuthError::NotFound(_) => error(StatusCode::UNAUTHORIZED, "wrong user, password or domain"),
        AuthError::Conflict(m) => error(StatusCode::CONFLICT, &format!("{m} already exists")),
        AuthError::Busy => crate::error::with_retry_after(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many logins at once; retry in a moment",
            ),
            std::time::Duration::from_secs(1),
        ),
        AuthError::SourceUnavailable(m) => error(StatusCode::SERVICE_UNAVAILABLE, &m),
        AuthError::Store(e) => {
            tracing::error!(error = %e, "store error");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is unavailable; retry shortly",
            )
        }
        AuthError::Internal(e) => {
            tracing::error!(error = %e, "internal error");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the server log",
            )
        }
    }
}

#[utoipa::path(
    post,
    path = "/sdn/v2.0/auth",
    tag = "domain-login",
    summary = "Log in with user, password and domain; the token comes back in X-Auth-Token",
    description = "The body is read as JSON whatever its Content-Type (`curl -d` sends a form type).",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in", body = RecordBody,
            headers(("X-Auth-Token" = String, description = "The token, also in the record"))),
        (status = 400, description = "Not the JSON this takes", body = crate::schema::doors::KeystoneError),
        (status = 401, description = "Wrong user, password or domain; a locked or disabled account", body = crate::schema::doors::KeystoneError),
        (status = 403, description = "The login is refused", body = crate::schema::doors::KeystoneError),
        (status = 429, description = "The user holds as many tokens as allowed", body = crate::schema::doors::KeystoneError),
        (status = 503, description = "Too many logins at once, or the directory or store unreachable", body = crate::schema::doors::KeystoneError),
    ),
)]
async fn auth_post(State(state): State<AppState>, body: Bytes) -> Response {
    // curl -d sends a form content type even for JSON text; the body decides.
    let creds: LoginBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("send {{\"login\":{{\"user\":...,\"password\":...,\"domain\":...}}}} as JSON: {e}"),
            )
        }
    };
    let Credentials {
        user,
        password,
        domain,
    } = creds.login;
    let core = &state.core;
    let who = match core
        .authenticate(Login {
            domain: domain.as_deref(),
            username: &user,
            password,
            door: DOOR,
            kind: LoginKind::Password,
        })
        .await
    {
        Ok(w) => w,
        Err(e) => return auth_error(e),
    };
    let event = who.event(DOOR, "JSON login".into());
    let subject = Subject::from_login(&who);
    let issued = core
        .issue(IssueRequest {
            subject: subject.clone(),
            door: DOOR.into(),
            policy: core.config.doors.domain_login.policy.clone(),
            kind: TokenKind::Access,
            scope: tessera_core::scope::DEFAULT.into(),
            client_id: None,
            with_refresh: false,
            auth_time: who.at,
            audit: vec![event],
        })
        .await;
    let issued = match issued {
        Ok(i) => i,
        Err(e) => return auth_error(e),
    };
    let expires = issued.access.session.expires_at.unwrap_or(Timestamp(0));
    let record = Record {
        domain_id: who.domain.domain.id.as_str(),
        domain_name: &who.domain.domain.name,
        expiration: expires.millis(),
        expiration_date: expiration_date(expires),
        token: &issued.access.token,
        user_id: who.user.user.id.as_str(),
        user_name: &who.user.user.name,
        roles: subject.role_names(),
    };
    let mut res = Json(RecordBody { record }).into_response();
    if let Ok(v) = HeaderValue::from_str(&issued.access.token) {
        res.headers_mut().insert(AUTH_TOKEN, v);
    }
    res
}

#[utoipa::path(
    delete,
    path = "/sdn/v2.0/auth",
    tag = "domain-login",
    summary = "End the presented token's session",
    responses(
        (status = 204, description = "Ended"),
        (status = 400, description = "The service token cannot be ended", body = crate::schema::doors::KeystoneError),
        (status = 401, description = "No token, or not a valid one", body = crate::schema::doors::KeystoneError),
    ),
    security(("x_auth_token" = []), ("bearer" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn auth_delete(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = crate::extract::presented_token(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "send the token to end in X-Auth-Token");
    };
    let who = match state.core.check(token, false).await {
        Ok(w) => w,
        Err(e) => return auth_error(e),
    };
    let Some(session) = who.session else {
        return error(StatusCode::BAD_REQUEST, "the service token cannot be ended");
    };
    match state
        .core
        .revoke_session_id(&session.session.id, "DELETE /sdn/v2.0/auth", None)
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => auth_error(e),
    }
}

/// Seed 002's role list: `enabled` is the string `"True"`/`"False"` as in
/// the seed, and an empty description is left out, as the seed does.
#[utoipa::path(
    get,
    path = "/v1/roles",
    tag = "domain-login",
    summary = "Seed 002's role list (administrators)",
    responses(
        (status = 200, description = "The roles", body = crate::schema::doors::SdnRoles),
        (status = 401, description = "No valid token", body = crate::schema::doors::KeystoneError),
        (status = 403, description = "Not a system administrator", body = crate::schema::doors::KeystoneError),
        (status = 503, description = "The store is unavailable", body = crate::schema::doors::KeystoneError),
    ),
    security(("x_auth_token" = []), ("bearer" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn roles_get(State(state): State<AppState>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(refusal) = admin_caller(&state, &method, &uri, &headers).await {
        // The same refusal, in this door's (Keystone's) shape.
        let why = match refusal.status() {
            StatusCode::UNAUTHORIZED => "send a valid administrator's token in X-Auth-Token",
            StatusCode::FORBIDDEN => "listing roles needs the admin role on the system",
            _ => "the request could not be checked; retry shortly",
        };
        return error(refusal.status(), why);
    }
    match state.core.role_list().await {
        Ok(roles) => {
            let roles: Vec<serde_json::Value> = roles
                .iter()
                .map(|r| {
                    let mut v = json!({
                        "id": r.id,
                        "name": r.name,
                        "enabled": if r.enabled { "True" } else { "False" },
                    });
                    if !r.description.is_empty() {
                        v["description"] = json!(r.description);
                    }
                    v
                })
                .collect();
            Json(json!({ "roles": roles })).into_response()
        }
        Err(e) => auth_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_dates_have_the_seeds_shape() {
        let s = expiration_date(Timestamp(1_377_917_359_000));
        let re = s.len() == "2013-08-30 19-49-19 -0700".len()
            && s.chars().nth(4) == Some('-')
            && s.chars().nth(13) == Some('-')
            && s.chars().nth(19) == Some(' ');
        assert!(re, "{s}");
    }
}
