//! The `envelope-login` front door: seed 004 (Dell OMIVV). A JSON
//! credential envelope buys a JWT bearer token (60 minutes by default);
//! only holders of the configured role may log in; `logout` ends the
//! login. Errors are `{"message": ...}`, and an expired token is told
//! "Token is already expired".

use crate::doors::{undefined_policy, Door, DoorTable, DoorsConfig};
use crate::error::{ApiError, Dialect, TokenRefusal};
use crate::extract::bearer;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use tessera_core::admin::names::schema::{DomainNameOrDefault, UserName};
use tessera_core::authn::LoginKind;
use tessera_core::{AuthError, LoginRequest, Logout};
use tessera_model::config::Config;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

const BASE: &str = "/Spectre/api/rest/v1/Services/AuthenticationService";

/// `[doors.envelope_login]`. Seed 004: JSON credential envelope, JWT
/// bearer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Table {
    pub enabled: bool,
    pub policy: String,
    /// Only holders of this role may log in here.
    pub require_role: String,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            enabled: true,
            policy: "envelope-login".into(),
            require_role: "admin".into(),
        }
    }
}

impl DoorTable for Table {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn problems(&self, config: &Config) -> Vec<String> {
        let mut problems: Vec<String> = undefined_policy(config, "doors.envelope_login.policy", &self.policy)
            .into_iter()
            .collect();
        if self.require_role.trim().is_empty() {
            problems.push("doors.envelope_login.require_role must name the role a login here needs".into());
        }
        problems
    }

    fn roles_named(&self) -> Vec<(String, String)> {
        if self.require_role.trim().is_empty() {
            return Vec::new();
        }
        vec![(
            "doors.envelope_login.require_role".into(),
            self.require_role.clone(),
        )]
    }
}

/// The door (seed 004).
pub struct EnvelopeLogin;

impl Door for EnvelopeLogin {
    const NAME: &'static str = "envelope-login";
    type Table = Table;

    fn table(doors: &DoorsConfig) -> &Table {
        &doors.envelope_login
    }

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .routes(routes!(login_post))
            .routes(routes!(logout_post))
    }
}

impl Dialect for EnvelopeLogin {
    /// The role a login here needs, named when a login lacks it.
    type Context = String;

    fn context(state: &AppState, _headers: &HeaderMap) -> String {
        state.doors.envelope_login.require_role.clone()
    }

    /// `{"message": ...}` in the seed's words.
    fn render(e: &ApiError, required_role: &String) -> Response {
        let message: Cow<'_, str> = match e {
            ApiError::InvalidCredentials => "Login failed: wrong user name, domain or password".into(),
            ApiError::InvalidToken(why) => match why {
                TokenRefusal::Unknown => "Token is not valid",
                TokenRefusal::Revoked => "Token has been revoked",
                TokenRefusal::Expired | TokenRefusal::Idle => "Token is already expired",
                TokenRefusal::UserDisabled => "The account is disabled",
                TokenRefusal::DomainDisabled => "The account's domain is disabled",
                TokenRefusal::Locked => "The account is locked; try again later",
            }
            .into(),
            ApiError::TooManyTokens { .. } => "Too many sessions for this account".into(),
            // The only refusal here once authenticated: the door's role.
            ApiError::Forbidden(_) => format!(
                "Only users with an administrator profile may use the API; this account lacks the {required_role:?} role"
            )
            .into(),
            // Tessera's words, as a sentence.
            ApiError::BadRequest(_)
            | ApiError::NoCredentials(_)
            | ApiError::NotFound(_)
            | ApiError::NoRoute(_)
            | ApiError::MethodNotAllowed(_)
            | ApiError::Conflict(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::UnsupportedMediaType(_)
            | ApiError::OAuth { .. }
            | ApiError::Unavailable { .. }
            | ApiError::Internal
            | ApiError::LoginRedirect(_) => sentence(&e.to_string()).into(),
        };
        Json(EnvelopeMessage { message }).into_response()
    }
}

/// `text` with its first letter capitalised, as the door's messages are.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CredentialEnvelope)]
struct Envelope {
    #[serde(deserialize_with = "crate::extract::object")]
    api_user_credential: Credential,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EnvelopeCredential)]
struct Credential {
    #[schema(value_type = UserName)]
    username: String,
    /// The default domain when absent, `null` or empty.
    #[serde(default)]
    #[schema(value_type = Option<DomainNameOrDefault>)]
    domain: Option<String>,
    #[schema(value_type = String, format = Password)]
    password: Zeroizing<String>,
}

/// The JWT bearer token a credential envelope buys.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EnvelopeToken)]
struct EnvelopeToken<'a> {
    access_token: &'a str,
}

/// The door's errors and confirmations: `{"message": ...}`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = EnvelopeMessage)]
struct EnvelopeMessage<'a> {
    #[schema(example = "Token is already expired")]
    message: Cow<'a, str>,
}

/// A login's refusal: an unknown domain is wrong credentials like any
/// other.
fn login_refusal(e: AuthError) -> ApiError {
    if let AuthError::NotFound(_) = e {
        ApiError::InvalidCredentials
    } else {
        e.into()
    }
}

#[utoipa::path(
    post,
    context_path = BASE,
    path = "/login",
    tag = "envelope-login",
    summary = "Log in with a credential envelope; answers a JWT bearer token",
    description = "Only holders of the configured role (`[doors.envelope_login] require_role`, \
        `admin` by default) may log in here. The body is read as JSON whatever its Content-Type.",
    request_body = Envelope,
    responses(
        (status = 200, description = "Logged in", body = EnvelopeToken),
        (status = 400, description = "Not the JSON this takes", body = EnvelopeMessage),
        (status = 401, description = "Wrong user name, domain or password; a locked or disabled account", body = EnvelopeMessage),
        (status = 403, description = "Only users with an administrator profile may use the API", body = EnvelopeMessage),
        (status = 429, description = "Too many sessions for this account", body = EnvelopeMessage),
        (status = 503, description = "Too many logins at once, or the directory or store unreachable", body = EnvelopeMessage),
    ),
)]
async fn login_post(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let envelope: Envelope = crate::extract::json_object(&body).map_err(|why| {
        ApiError::bad_request(format!(
            "send {{\"apiUserCredential\":{{\"username\":...,\"domain\":...,\"password\":...}}}}: {why}"
        ))
    })?;
    let Credential {
        username,
        domain,
        password,
    } = envelope.api_user_credential;
    let door = &state.doors.envelope_login;
    let logged_in = state
        .core
        .login(LoginRequest {
            door: EnvelopeLogin::NAME,
            domain: domain.as_deref(),
            username: &username,
            password,
            kind: LoginKind::Password,
            policy: &door.policy,
            require_role: Some(&door.require_role),
            scope: None,
            client: None,
            detail: "credential envelope login".into(),
        })
        .await
        .map_err(login_refusal)?;
    let token = EnvelopeToken {
        access_token: logged_in.issued.access.token.as_str(),
    };
    Ok(Json(token).into_response())
}

#[utoipa::path(
    post,
    context_path = BASE,
    path = "/logout",
    tag = "envelope-login",
    operation_id = "envelope_login_logout_post",
    summary = "End the bearer token's login",
    responses(
        (status = 200, description = "Logged out", body = EnvelopeMessage),
        (status = 400, description = "The service token has no session to end", body = EnvelopeMessage),
        (status = 401, description = "No bearer token, or not a valid one (`Token is already expired` past its lifetime)", body = EnvelopeMessage),
        (status = 503, description = "The store is unavailable", body = EnvelopeMessage),
    ),
    security(("bearer" = [])),
)]
async fn logout_post(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = bearer(&headers)
        .ok_or_else(|| ApiError::NoCredentials("Send the session's token as Authorization: Bearer".into()))?;
    let who = state.core.check(token, false).await?;
    state.core.logout(&who, Logout::ThisLogin, "logout").await?;
    let reply = EnvelopeMessage {
        message: "Logged out".into(),
    };
    Ok(Json(reply).into_response())
}
