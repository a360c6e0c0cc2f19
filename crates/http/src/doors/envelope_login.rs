//! The `envelope-login` front door: seed 004 (Dell OMIVV). A JSON
//! credential envelope buys a JWT bearer token (60 minutes by default);
//! only holders of the configured role may log in; `logout` ends the
//! session. Errors are `{"message": ...}`, and an expired token is told
//! "Token is already expired".

use crate::extract::bearer;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tessera_core::authn::{Login, LoginKind};
use tessera_core::{AuthError, IssueRequest, Subject};
use tessera_model::TokenKind;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

const DOOR: &str = "envelope-login";
const BASE: &str = "/Spectre/api/rest/v1/Services/AuthenticationService";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_post))
        .routes(routes!(logout_post))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CredentialEnvelope)]
struct Envelope {
    api_user_credential: Credential,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EnvelopeCredential)]
struct Credential {
    username: String,
    /// The default domain when absent.
    #[serde(default)]
    domain: Option<String>,
    #[schema(value_type = String, format = Password)]
    password: Zeroizing<String>,
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text }))).into_response()
}

/// How the core's refusals look on this door (and, for its tokens, at the
/// gateway).
pub fn error_response(e: AuthError) -> Response {
    match e {
        AuthError::InvalidCredentials => message(
            StatusCode::UNAUTHORIZED,
            "Login failed: wrong user name, domain or password",
        ),
        AuthError::UnknownToken => message(StatusCode::UNAUTHORIZED, "Token is not valid"),
        AuthError::Revoked => message(StatusCode::UNAUTHORIZED, "Token has been revoked"),
        AuthError::Expired | AuthError::Idle => message(StatusCode::UNAUTHORIZED, "Token is already expired"),
        AuthError::UserDisabled => message(StatusCode::UNAUTHORIZED, "The account is disabled"),
        AuthError::DomainDisabled => message(StatusCode::UNAUTHORIZED, "The account's domain is disabled"),
        AuthError::Locked { until: _ } => {
            message(StatusCode::UNAUTHORIZED, "The account is locked; try again later")
        }
        AuthError::TokenLimit { retry_after } => crate::error::with_retry_after(
            message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sessions for this account",
            ),
            retry_after,
        ),
        AuthError::Forbidden(m) => message(StatusCode::FORBIDDEN, &m),
        AuthError::OAuth { code: _, description } => message(StatusCode::BAD_REQUEST, &description),
        AuthError::InvalidInput(m) => message(StatusCode::BAD_REQUEST, &m),
        AuthError::NotFound(_) => message(
            StatusCode::UNAUTHORIZED,
            "Login failed: wrong user name, domain or password",
        ),
        AuthError::Conflict(m) => message(StatusCode::CONFLICT, &m),
        AuthError::Busy => crate::error::with_retry_after(
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many logins at once; retry in a moment",
            ),
            std::time::Duration::from_secs(1),
        ),
        AuthError::SourceUnavailable(m) => message(StatusCode::SERVICE_UNAVAILABLE, &m),
        AuthError::Store(e) => {
            tracing::error!(error = %e, "store error");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "The store is unavailable; retry shortly",
            )
        }
        AuthError::Internal(e) => {
            tracing::error!(error = %e, "internal error");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error; see the server log",
            )
        }
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
        (status = 200, description = "Logged in", body = crate::schema::doors::EnvelopeToken),
        (status = 400, description = "Not the JSON this takes", body = crate::schema::doors::EnvelopeMessage),
        (status = 401, description = "Wrong user name, domain or password; a locked or disabled account", body = crate::schema::doors::EnvelopeMessage),
        (status = 403, description = "Only users with an administrator profile may use the API", body = crate::schema::doors::EnvelopeMessage),
        (status = 429, description = "Too many sessions for this account", body = crate::schema::doors::EnvelopeMessage),
        (status = 503, description = "Too many logins at once, or the directory or store unreachable", body = crate::schema::doors::EnvelopeMessage),
    ),
)]
async fn login_post(State(state): State<AppState>, body: Bytes) -> Response {
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                &format!(
                "send {{\"apiUserCredential\":{{\"username\":...,\"domain\":...,\"password\":...}}}}: {e}"
            ),
            )
        }
    };
    let Credential {
        username,
        domain,
        password,
    } = envelope.api_user_credential;
    let core = &state.core;
    let who = match core
        .authenticate(Login {
            domain: domain.as_deref(),
            username: &username,
            password,
            door: DOOR,
            kind: LoginKind::Password,
        })
        .await
    {
        Ok(w) => w,
        Err(e) => return error_response(e),
    };
    let subject = Subject::from_login(&who);
    let required = &core.config.doors.envelope_login.require_role;
    if !subject.has_role(required) {
        return message(
            StatusCode::FORBIDDEN,
            &format!("Only users with an administrator profile may use the API; this account lacks the {required:?} role"),
        );
    }
    let event = who.event(DOOR, "credential envelope login".into());
    let issued = core
        .issue(IssueRequest {
            subject,
            door: DOOR.into(),
            policy: core.config.doors.envelope_login.policy.clone(),
            kind: TokenKind::Access,
            scope: tessera_core::scope::DEFAULT.into(),
            client_id: None,
            with_refresh: false,
            auth_time: who.at,
            audit: vec![event],
        })
        .await;
    match issued {
        Ok(i) => Json(json!({ "accessToken": i.access.token.as_str() })).into_response(),
        Err(e) => error_response(e),
    }
}

#[utoipa::path(
    post,
    context_path = BASE,
    path = "/logout",
    tag = "envelope-login",
    operation_id = "envelope_login_logout_post",
    summary = "End the bearer token's session",
    responses(
        (status = 200, description = "Logged out", body = crate::schema::doors::EnvelopeMessage),
        (status = 400, description = "The service token has no session to end", body = crate::schema::doors::EnvelopeMessage),
        (status = 401, description = "No bearer token, or not a valid one (`Token is already expired` past its lifetime)", body = crate::schema::doors::EnvelopeMessage),
    ),
    security(("bearer" = [])),
)]
async fn logout_post(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return message(
            StatusCode::UNAUTHORIZED,
            "Send the session's token as Authorization: Bearer",
        );
    };
    let who = match state.core.check(token, false).await {
        Ok(w) => w,
        Err(e) => return error_response(e),
    };
    let Some(session) = who.session else {
        return message(StatusCode::BAD_REQUEST, "The service token has no session to end");
    };
    match state
        .core
        .revoke_session_id(&session.session.id, "logout", None)
        .await
    {
        Ok(_) => message(StatusCode::OK, "Logged out"),
        Err(e) => error_response(e),
    }
}
