//! The token endpoint: `POST /oauth/token`, `/auth/oauth`,
//! `/api/oauth/token` with the password, emergency, refresh_token and
//! client_credentials grants.

use super::client::{authenticate, ClientAuth};
use super::wire::{self, error_response, invalid_request, oauth_error, token_response};
use super::TokenPath;
use crate::extract::{is_form, Form};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_core::authn::{Login, LoginKind};
use tessera_core::{scope, AuthError, IssueRequest, Issued, Subject};
use tessera_model::TokenKind;
use zeroize::Zeroizing;

/// One token endpoint: a path, the policy it issues under, and its
/// OpenAPI description (the same for the three paths but for the summary).
macro_rules! token_endpoint {
    ($name:ident, $path:literal, $which:expr, $summary:literal) => {
        #[utoipa::path(
            post,
            path = $path,
            tag = "oauth2",
            summary = $summary,
            description = "Grants: `password` (`username`, `password`, optional `scope`, `realm`), \
                `emergency` (an emergency account; scope `emergency` only), `refresh_token` \
                (rotates; a replayed one revokes its family) and `client_credentials`. \
                The client authenticates with HTTP Basic (an empty secret for a public \
                client, as `https://simplivity@host/...`) or with `client_id`/`client_secret`.",
            request_body(content = crate::schema::doors::TokenForm, content_type = "application/x-www-form-urlencoded"),
            responses(
                (status = 200, description = "The token (`Cache-Control: no-store`)", body = wire::TokenBody),
                (status = 400, description = "RFC 6749 §5.2: `invalid_request`, `invalid_grant` (wrong user or password: \
                    \"Invalid credentials\"), `unsupported_grant_type`, `invalid_scope`, `unauthorized_client`, \
                    `access_denied`", body = wire::ErrorBody),
                (status = 401, description = "`invalid_client`", body = wire::ErrorBody),
                (status = 429, description = "`too_many_tokens`: the per-user cap; `Retry-After` says when", body = wire::ErrorBody),
                (status = 503, description = "`temporarily_unavailable`: too many logins at once, the directory or the store unreachable", body = wire::ErrorBody),
            ),
            security((), ("basic" = [])),
        )]
        pub async fn $name(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
            token_post(state, $which, headers, body).await
        }
    };
}

token_endpoint!(
    token_post_standard,
    "/oauth/token",
    TokenPath::Standard,
    "Token endpoint (RFC 6749)"
);
token_endpoint!(
    token_post_realm,
    "/auth/oauth",
    TokenPath::Standard,
    "Token endpoint at seed 003's path: password grant with realm and scope, refresh tokens"
);
token_endpoint!(
    token_post_api,
    "/api/oauth/token",
    TokenPath::Api,
    "Token endpoint at seed 000's path: password and emergency grants (its own policy: 10 min idle, 24 h by default)"
);

async fn token_post(state: AppState, path: TokenPath, headers: HeaderMap, body: Bytes) -> Response {
    if !is_form(&headers) {
        return invalid_request(
            "send the parameters as application/x-www-form-urlencoded (curl -d name=value)",
        );
    }
    let form = match Form::parse(&body) {
        Ok(f) => f,
        Err(why) => return invalid_request(&why),
    };
    let Some(grant) = form.get("grant_type") else {
        return invalid_request("the grant_type parameter is missing");
    };
    if !tessera_core::admin::GRANT_TYPES.contains(&grant) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {grant:?} is not supported; use password, emergency, refresh_token or client_credentials"),
        );
    }
    let auth = match authenticate(&state, &headers, &form).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    if !auth.client.client.allows_grant(grant) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "client {:?} may not use the {grant} grant",
                auth.client.client.id.as_str()
            ),
        );
    }
    let policy = auth.client.client.policy.clone().unwrap_or_else(|| {
        let doors = &state.core.config.doors.oauth2;
        match path {
            TokenPath::Standard => doors.policy.clone(),
            TokenPath::Api => doors.api_policy.clone(),
        }
    });
    let result = match grant {
        "password" => password_grant(&state, &auth, &form, policy, LoginKind::Password).await,
        "emergency" => password_grant(&state, &auth, &form, policy, LoginKind::Emergency).await,
        "refresh_token" => match form.require("refresh_token") {
            Ok(t) => {
                state
                    .core
                    .refresh(t, &auth.client.client.id, form.get("scope"))
                    .await
            }
            Err(why) => Err(AuthError::InvalidInput(why)),
        },
        _ => {
            state
                .core
                .client_credentials(&auth.client, policy, form.get("scope"))
                .await
        }
    };
    match result {
        Ok(issued) => token_response(&issued, state.core.now()),
        Err(e) => error_response(e, auth.used_basic),
    }
}

/// The password and emergency grants: a user's password login.
async fn password_grant(
    state: &AppState,
    auth: &ClientAuth,
    form: &crate::extract::Form,
    policy: String,
    kind: LoginKind,
) -> Result<Issued, AuthError> {
    let username = form.require("username").map_err(AuthError::InvalidInput)?;
    let password = form.require("password").map_err(AuthError::InvalidInput)?;
    let core = &state.core;
    let who = core
        .authenticate(Login {
            domain: form.get("realm"),
            username,
            password: Zeroizing::new(password.to_owned()),
            door: "oauth2",
            kind,
        })
        .await?;
    let scope = match kind {
        LoginKind::Emergency => match form.get("scope").map(str::trim) {
            None | Some(scope::EMERGENCY) => scope::EMERGENCY.to_owned(),
            Some(other) => {
                return Err(AuthError::oauth(
                    "invalid_scope",
                    format!("the emergency grant gives only the emergency scope, not {other:?}"),
                ))
            }
        },
        LoginKind::Password => scope::resolve(form.get("scope"), &scope::allowed(&who.user.roles))?,
    };
    let client = &auth.client.client;
    let grant = if kind == LoginKind::Emergency {
        "emergency"
    } else {
        "password"
    };
    let event = who.event(
        "oauth2",
        format!(
            "{grant} grant via client {:?}, scope {scope:?}",
            client.id.as_str()
        ),
    );
    core.issue(IssueRequest {
        subject: Subject::from_login(&who),
        door: "oauth2".into(),
        policy,
        kind: TokenKind::Access,
        scope,
        client_id: Some(client.id.clone()),
        with_refresh: client.allows_grant("refresh_token"),
        auth_time: who.at,
        audit: vec![event],
    })
    .await
}
