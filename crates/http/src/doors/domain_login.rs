//! The `domain-login` front door: seed 002 (HPE VAN SDN controller, after
//! OpenStack Keystone). `POST /sdn/v2.0/auth` with user, password and
//! domain answers with a `record` and the token in `X-Auth-Token`;
//! `DELETE /sdn/v2.0/auth` ends it; `GET /v1/roles` lists the roles.
//! Refusals are Keystone's `{"error":{"code","title","message"}}`.

use crate::doors::{undefined_policy, Door, DoorTable, DoorsConfig};
use crate::error::{ApiError, Dialect, TokenRefusal};
use crate::extract::AUTH_TOKEN_HEADER;
use crate::identity::{AdminCaller, Caller};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::TimeZone;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use tessera_core::admin::names::schema::{DomainNameOrDefault, UserName};
use tessera_core::authn::LoginKind;
use tessera_core::{AuthError, LoginRequest, Logout, Subject};
use tessera_model::config::Config;
use tessera_model::Timestamp;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

/// `[doors.domain_login]`. Seed 002: JSON `/sdn/v2.0/auth`, `X-Auth-Token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Table {
    pub enabled: bool,
    pub policy: String,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            enabled: true,
            policy: "domain-login".into(),
        }
    }
}

impl DoorTable for Table {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn problems(&self, config: &Config) -> Vec<String> {
        undefined_policy(config, "doors.domain_login.policy", &self.policy)
            .into_iter()
            .collect()
    }
}

/// The door (seed 002).
pub struct DomainLogin;

impl Door for DomainLogin {
    const NAME: &'static str = "domain-login";
    type Table = Table;

    fn table(doors: &DoorsConfig) -> &Table {
        &doors.domain_login
    }

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .routes(routes!(auth_post, auth_delete))
            .routes(routes!(roles_get))
    }
}

impl Dialect for DomainLogin {
    type Context = ();

    fn context(_state: &AppState, _headers: &HeaderMap) {}

    /// Keystone's error shape, with this door's words.
    fn render(e: &ApiError, _cx: &()) -> Response {
        let message: Cow<'_, str> = match e {
            ApiError::InvalidCredentials => "wrong user, password or domain".into(),
            ApiError::InvalidToken(why) => match why {
                TokenRefusal::Unknown => "the token is not valid",
                TokenRefusal::Revoked => "the token has been revoked",
                TokenRefusal::Expired => "the token has expired",
                TokenRefusal::Idle => "the token expired after being unused",
                TokenRefusal::UserDisabled => "the account is disabled",
                TokenRefusal::DomainDisabled => "the domain is disabled",
                TokenRefusal::Locked => "the account is locked for now",
            }
            .into(),
            ApiError::TooManyTokens { .. } => {
                "this user holds as many tokens as allowed; log out elsewhere".into()
            }
            // Tessera's words are this door's too.
            ApiError::BadRequest(_)
            | ApiError::NoCredentials(_)
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)
            | ApiError::NoRoute(_)
            | ApiError::MethodNotAllowed(_)
            | ApiError::Conflict(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::UnsupportedMediaType(_)
            | ApiError::OAuth { .. }
            | ApiError::Unavailable { .. }
            | ApiError::Internal
            | ApiError::LoginRedirect(_) => e.to_string().into(),
        };
        let status = e.status();
        Json(KeystoneError {
            error: KeystoneErrorDetail {
                code: status.as_u16(),
                title: status.canonical_reason().unwrap_or("Error"),
                message,
            },
        })
        .into_response()
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DomainLogin)]
struct LoginBody {
    #[serde(deserialize_with = "crate::extract::object")]
    login: Credentials,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DomainLoginCredentials)]
struct Credentials {
    #[schema(value_type = UserName)]
    user: String,
    #[schema(value_type = String, format = Password)]
    password: Zeroizing<String>,
    /// The default domain when absent, `null` or empty.
    #[serde(default)]
    #[schema(value_type = Option<DomainNameOrDefault>)]
    domain: Option<String>,
}

/// Seed 002's record, fields in the seed's order.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DomainLoginRecord)]
struct Record<'a> {
    domain_id: &'a str,
    domain_name: &'a str,
    /// Milliseconds since the epoch.
    expiration: i64,
    /// `2013-08-30 19-49-19 -0700`, in the server's time zone.
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

/// Seed 002's role list.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SdnRoles)]
struct SdnRoles<'a> {
    roles: Vec<SdnRole<'a>>,
}

/// One role, fields in the seed's order.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SdnRole)]
struct SdnRole<'a> {
    /// Left out when empty, as the seed does.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    /// `"True"` or `"False"`, a string as in the seed.
    #[schema(example = "True")]
    enabled: &'static str,
    id: &'a str,
    name: &'a str,
}

/// Keystone's error shape.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = KeystoneError)]
struct KeystoneError<'a> {
    error: KeystoneErrorDetail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = KeystoneErrorDetail)]
struct KeystoneErrorDetail<'a> {
    /// The HTTP status.
    #[schema(example = 401)]
    code: u16,
    /// The status's reason phrase.
    #[schema(example = "Unauthorized")]
    title: &'a str,
    #[schema(example = "wrong user, password or domain")]
    message: Cow<'a, str>,
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

/// A login's refusal: an unknown domain is wrong credentials like any
/// other, as the seed answers it.
fn login_refusal(e: AuthError) -> ApiError {
    if let AuthError::NotFound(_) = e {
        ApiError::InvalidCredentials
    } else {
        e.into()
    }
}

/// The role list's refusals, in the words seed 002's controller uses.
fn roles_refusal(e: ApiError) -> ApiError {
    match e {
        ApiError::NoCredentials(_) | ApiError::InvalidToken(_) => {
            ApiError::NoCredentials("send a valid administrator's token in X-Auth-Token".into())
        }
        ApiError::Forbidden(_) => {
            ApiError::Forbidden("listing roles needs the admin role on the system".into())
        }
        e @ (ApiError::BadRequest(_)
        | ApiError::InvalidCredentials
        | ApiError::NotFound(_)
        | ApiError::NoRoute(_)
        | ApiError::MethodNotAllowed(_)
        | ApiError::Conflict(_)
        | ApiError::PayloadTooLarge(_)
        | ApiError::UnsupportedMediaType(_)
        | ApiError::TooManyTokens { .. }
        | ApiError::OAuth { .. }
        | ApiError::Unavailable { .. }
        | ApiError::Internal
        | ApiError::LoginRedirect(_)) => e,
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
        (status = 400, description = "Not the JSON this takes", body = KeystoneError),
        (status = 401, description = "Wrong user, password or domain; a locked or disabled account", body = KeystoneError),
        (status = 429, description = "The user holds as many tokens as allowed", body = KeystoneError),
        (status = 503, description = "Too many logins at once, or the directory or store unreachable", body = KeystoneError),
    ),
)]
async fn auth_post(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    // curl -d sends a form content type even for JSON text; the body decides.
    let creds: LoginBody = crate::extract::json_object(&body).map_err(|why| {
        ApiError::bad_request(format!(
            "send {{\"login\":{{\"user\":...,\"password\":...,\"domain\":...}}}} as JSON: {why}"
        ))
    })?;
    let Credentials {
        user,
        password,
        domain,
    } = creds.login;
    let logged_in = state
        .core
        .login(LoginRequest {
            door: DomainLogin::NAME,
            domain: domain.as_deref(),
            username: &user,
            password,
            kind: LoginKind::Password,
            policy: &state.doors.domain_login.policy,
            require_role: None,
            scope: None,
            client: None,
            detail: "JSON login".into(),
        })
        .await
        .map_err(login_refusal)?;
    let Subject::User { user, domain } = &logged_in.subject else {
        return Err(AuthError::Internal("a password login gave a subject other than a user".into()).into());
    };
    let access = &logged_in.issued.access;
    let expires = access.session.expires_at.unwrap_or(Timestamp(0));
    let record = Record {
        domain_id: domain.domain.id.as_str(),
        domain_name: &domain.domain.name,
        expiration: expires.millis(),
        expiration_date: expiration_date(expires),
        token: access.token.as_str(),
        user_id: user.user.id.as_str(),
        user_name: &user.user.name,
        roles: logged_in.subject.role_names(),
    };
    let mut res = Json(RecordBody { record }).into_response();
    if let Ok(v) = HeaderValue::from_str(&access.token) {
        res.headers_mut().insert(AUTH_TOKEN_HEADER, v);
    }
    Ok(res)
}

#[utoipa::path(
    delete,
    path = "/sdn/v2.0/auth",
    tag = "domain-login",
    summary = "End the presented token's login",
    responses(
        (status = 204, description = "Ended"),
        (status = 400, description = "The service token cannot be ended", body = KeystoneError),
        (status = 401, description = "No token, or not a valid one", body = KeystoneError),
        (status = 503, description = "The store is unavailable", body = KeystoneError),
    ),
    security(("x_auth_token" = []), ("bearer" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn auth_delete(State(state): State<AppState>, Caller(who): Caller) -> Result<StatusCode, ApiError> {
    state
        .core
        .logout(&who, Logout::ThisLogin, "DELETE /sdn/v2.0/auth")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Seed 002's role list: `enabled` is the string `"True"`/`"False"` as in
/// the seed, and an empty description is left out, as the seed does.
#[utoipa::path(
    get,
    path = "/v1/roles",
    tag = "domain-login",
    summary = "Seed 002's role list (administrators)",
    responses(
        (status = 200, description = "The roles", body = SdnRoles),
        (status = 401, description = "No valid token", body = KeystoneError),
        (status = 403, description = "Not a system administrator", body = KeystoneError),
        (status = 503, description = "The store is unavailable", body = KeystoneError),
    ),
    security(("x_auth_token" = []), ("bearer" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn roles_get(
    State(state): State<AppState>,
    admin: Result<AdminCaller, ApiError>,
) -> Result<Response, ApiError> {
    admin.map_err(roles_refusal)?;
    let roles = state.core.role_list().await?;
    let roles = roles
        .iter()
        .map(|r| SdnRole {
            description: Some(r.description.as_str()).filter(|d| !d.is_empty()),
            enabled: if r.enabled { "True" } else { "False" },
            id: r.id.as_str(),
            name: &r.name,
        })
        .collect();
    Ok(Json(SdnRoles { roles }).into_response())
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
