//! The token endpoint: `POST /oauth/token`, `/auth/oauth`,
//! `/api/oauth/token` with the password, emergency, refresh_token and
//! client_credentials grants.

use super::client::authenticate;
use super::forms::{self, read_form, TOKEN_REQUEST};
use super::wire::{self, invalid_request, refusal, token_response, Grant};
use super::{OAuth2, TokenPath};
use crate::doors::Door;
use crate::error::ApiError;
use crate::extract::Form;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use tessera_core::authn::LoginKind;
use tessera_core::clients::AuthenticatedClient;
use tessera_core::{Issued, LoginRequest, OAuthCode};
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
            request_body(content = forms::TokenForm, content_type = "application/x-www-form-urlencoded"),
            responses(
                (status = 200, description = "The token (`Cache-Control: no-store`)", body = wire::TokenBody),
                (status = 400, description = "RFC 6749 §5.2: `invalid_request` (a parameter missing or given twice; \
                    a client authenticated with HTTP Basic that sends `client_secret` too), `invalid_grant` (wrong \
                    user or password: \"Invalid credentials\"), `unsupported_grant_type`, `invalid_scope`, \
                    `unauthorized_client`, `access_denied`", body = wire::ErrorBody),
                (status = 401, description = "`invalid_client` (with `WWW-Authenticate: Basic`): no client \
                    authentication, an unknown client or a wrong secret, a client id no client can have, or a \
                    `client_id` naming another client than the HTTP Basic credentials", body = wire::ErrorBody),
                (status = 413, description = "The body is larger than `[server] max_body_bytes`"),
                (status = 429, description = "`too_many_tokens`: the per-user cap; `Retry-After` says when", body = wire::ErrorBody),
                (status = 500, description = "`server_error`: a fault inside Tessera, logged", body = wire::ErrorBody),
                (status = 503, description = "`temporarily_unavailable`: too many logins at once, the directory or the store unreachable; \
                    `Retry-After` says when", body = wire::ErrorBody),
            ),
            security((), ("basic" = [])),
        )]
        pub async fn $name(
            State(state): State<AppState>,
            headers: HeaderMap,
            body: Bytes,
        ) -> Result<Response, ApiError> {
            token_post(&state, $which, &headers, &body).await
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

async fn token_post(
    state: &AppState,
    path: TokenPath,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let form = read_form(headers, body, TOKEN_REQUEST)?;
    let grant = Grant::of(&form)?;
    let client = authenticate(state, headers, &form).await?;
    if !client.client.allows_grant(grant.as_str()) {
        return Err(ApiError::oauth(
            OAuthCode::UnauthorizedClient,
            format!(
                "client {:?} may not use the {grant} grant",
                client.client.id.as_str()
            ),
        ));
    }
    let door = &state.doors.oauth2;
    let policy = match (&client.client.policy, path) {
        (Some(own), _) => own.as_str(),
        (None, TokenPath::Standard) => door.policy.as_str(),
        (None, TokenPath::Api) => door.api_policy.as_str(),
    };
    let issued = match grant {
        Grant::Password => password_grant(state, &client, &form, policy, LoginKind::Password).await?,
        Grant::Emergency => password_grant(state, &client, &form, policy, LoginKind::Emergency).await?,
        Grant::RefreshToken => {
            let presented = form.require("refresh_token").map_err(invalid_request)?;
            state
                .core
                .refresh(presented, &client.client.id, form.get("scope"))
                .await
                .map_err(refusal)?
        }
        Grant::ClientCredentials => state
            .core
            .client_credentials(&client, policy.to_owned(), form.get("scope"))
            .await
            .map_err(refusal)?,
    };
    Ok(token_response(&issued))
}

/// The password and emergency grants: a user's password login, bound to
/// the client (the scope, the refresh token and the audit are the core's).
async fn password_grant(
    state: &AppState,
    client: &AuthenticatedClient,
    form: &Form,
    policy: &str,
    kind: LoginKind,
) -> Result<Issued, ApiError> {
    let username = form.require("username").map_err(invalid_request)?;
    let password = form.require("password").map_err(invalid_request)?;
    let login = state
        .core
        .login(LoginRequest {
            door: OAuth2::NAME,
            domain: form.get("realm"),
            username,
            password: Zeroizing::new(password.to_owned()),
            kind,
            policy,
            require_role: None,
            scope: form.get("scope"),
            client: Some(&client.client),
            detail: String::new(),
        })
        .await
        .map_err(refusal)?;
    Ok(login.issued)
}
