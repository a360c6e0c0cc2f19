//! The `oauth2` front door: seeds 000 (HPE SimpliVity, `/api/oauth/token`,
//! password and emergency grants) and 003 (Hitachi Content Platform,
//! `/auth/oauth`, client id/secret, realm, scope, refresh tokens, `/setup`).
//! Also RFC 7009 revocation, RFC 7662 introspection and RFC 8414 metadata.

mod client;
mod endpoints;
mod token;
mod wire;

use crate::AppState;
use axum::routing::{get, post};
use axum::Router;

/// Which policy a token path issues under (SPEC §2).
#[derive(Debug, Clone, Copy)]
pub enum TokenPath {
    /// `/oauth/token`, `/auth/oauth`: `[doors.oauth2] policy`.
    Standard,
    /// `/api/oauth/token` (seed 000): `[doors.oauth2] api_policy`.
    Api,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token::token_post_standard))
        .route("/auth/oauth", post(token::token_post_standard))
        .route("/api/oauth/token", post(token::token_post_api))
        .route("/oauth/revoke", post(endpoints::revoke_post))
        .route("/oauth/introspect", post(endpoints::introspect_post))
        .route(
            "/.well-known/oauth-authorization-server",
            get(endpoints::metadata_get),
        )
        .route("/.well-known/jwks.json", get(endpoints::jwks_get))
        .route("/setup", get(endpoints::setup_get))
}
