//! The `oauth2` front door: seeds 000 (HPE SimpliVity, `/api/oauth/token`,
//! password and emergency grants) and 003 (Hitachi Content Platform,
//! `/auth/oauth`, client id/secret, realm, scope, refresh tokens, `/setup`).
//! Also RFC 7009 revocation, RFC 7662 introspection and RFC 8414 metadata.

mod client;
mod endpoints;
mod forms;
mod token;
mod wire;

use crate::doors::{undefined_policy, Door, DoorTable, DoorsConfig};
use crate::error::{ApiError, Dialect};
use crate::AppState;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::Duration;
use tessera_core::OAuthCode;
use tessera_model::config::Config;
use tessera_model::duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wire::{no_such, ErrorBody, INVALID_CREDENTIALS};

/// Which policy a token path issues under (SPEC §2).
#[derive(Debug, Clone, Copy)]
pub enum TokenPath {
    /// `/oauth/token`, `/auth/oauth`: `[doors.oauth2] policy`.
    Standard,
    /// `/api/oauth/token` (seed 000): `[doors.oauth2] api_policy`.
    Api,
}

/// `[doors.oauth2]`. Seeds 000 and 003: `/oauth/token`, `/auth/oauth`,
/// `/api/oauth/token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Table {
    pub enabled: bool,
    /// Policy for `/oauth/token` and `/auth/oauth`.
    pub policy: String,
    /// Policy for `/api/oauth/token` (seed 000).
    pub api_policy: String,
    /// A password change with only a token needs a password login this recent.
    #[serde(with = "duration::required")]
    pub recent_auth: Duration,
    /// `iss` of JWTs and of the RFC 8414 metadata; empty means the URL the
    /// request came in on.
    pub issuer: String,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            enabled: true,
            policy: "oauth2".into(),
            api_policy: "oauth2-api".into(),
            recent_auth: Duration::from_secs(300),
            issuer: String::new(),
        }
    }
}

impl DoorTable for Table {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn problems(&self, config: &Config) -> Vec<String> {
        let mut problems: Vec<String> = [
            undefined_policy(config, "doors.oauth2.policy", &self.policy),
            undefined_policy(config, "doors.oauth2.api_policy", &self.api_policy),
        ]
        .into_iter()
        .flatten()
        .collect();
        // 0s is allowed: every change then needs the current password.
        tessera_model::config::check_range(
            &mut problems,
            "doors.oauth2.recent_auth",
            self.recent_auth,
            Duration::ZERO,
            Duration::from_secs(24 * 3600),
        );
        problems
    }
}

/// Seeds 000 and 003's door.
pub struct OAuth2;

impl Door for OAuth2 {
    const NAME: &'static str = "oauth2";
    type Table = Table;

    fn table(doors: &DoorsConfig) -> &Table {
        &doors.oauth2
    }

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .routes(routes!(token::token_post_standard))
            .routes(routes!(token::token_post_realm))
            .routes(routes!(token::token_post_api))
            .routes(routes!(endpoints::revoke_post))
            .routes(routes!(endpoints::introspect_post))
            .routes(routes!(endpoints::metadata_get))
            .routes(routes!(endpoints::jwks_get))
            .routes(routes!(endpoints::setup_get))
    }
}

impl Dialect for OAuth2 {
    type Context = ();

    fn context(_state: &AppState, _headers: &HeaderMap) {}

    /// RFC 6749 §5.2: `{"error": CODE, "error_description": TEXT}`. The
    /// handlers give core refusals their RFC 6749 codes (`wire::refusal`);
    /// the rest is named here.
    fn render(e: &ApiError, _cx: &()) -> Response {
        let (code, description): (&str, Cow<str>) = match e {
            ApiError::OAuth { code, description } => (code.as_str(), description.as_ref().into()),
            ApiError::BadRequest(why)
            | ApiError::NoCredentials(why)
            | ApiError::MethodNotAllowed(why)
            | ApiError::UnsupportedMediaType(why) => ("invalid_request", why.as_ref().into()),
            ApiError::PayloadTooLarge(_) | ApiError::Conflict(_) => ("invalid_request", e.to_string().into()),
            ApiError::NotFound(what) => ("invalid_request", no_such(what).into()),
            ApiError::NoRoute(_) => ("invalid_request", e.to_string().into()),
            ApiError::InvalidCredentials => ("invalid_grant", INVALID_CREDENTIALS.into()),
            // A bearer token presented for introspection (RFC 6750 §3.1).
            ApiError::InvalidToken(why) => ("invalid_token", why.message().into()),
            ApiError::Forbidden(why) => ("access_denied", why.as_ref().into()),
            ApiError::TooManyTokens { .. } => ("too_many_tokens", e.to_string().into()),
            ApiError::Unavailable { message, .. } => (
                OAuthCode::TemporarilyUnavailable.as_str(),
                message.as_ref().into(),
            ),
            ApiError::Internal => (OAuthCode::ServerError.as_str(), e.to_string().into()),
            ApiError::LoginRedirect(_) => (e.code(), e.to_string().into()),
        };
        Json(ErrorBody {
            error: code,
            error_description: &description,
        })
        .into_response()
    }

    /// RFC 6749 §5.2: `invalid_client` challenges for HTTP Basic.
    fn challenge(e: &ApiError, _cx: &()) -> Option<HeaderValue> {
        matches!(
            e,
            ApiError::OAuth {
                code: OAuthCode::InvalidClient,
                ..
            }
        )
        .then(|| HeaderValue::from_static(r#"Basic realm="tessera""#))
    }
}
