//! The token endpoint: `POST /oauth/token`, `/auth/oauth`,
//! `/api/oauth/token` with the password, emergency, refresh_token and
//! client_credentials grants.

use super::client::{authenticate, ClientAuth};
use super::wire::{error_response, invalid_request, oauth_error, token_response};
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

pub async fn token_post_standard(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    token_post(state, TokenPath::Standard, headers, body).await
}

pub async fn token_post_api(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    token_post(state, TokenPath::Api, headers, body).await
}

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
