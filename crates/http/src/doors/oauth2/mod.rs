//! The `oauth2` front door: seeds 000 (HPE SimpliVity, `/api/oauth/token`,
//! password and emergency grants) and 003 (Hitachi Content Platform,
//! `/auth/oauth`, client id/secret, realm, scope, refresh tokens, `/setup`).
//! Also RFC 7009 revocation, RFC 7662 introspection and RFC 8414 metadata.

mod client;
mod endpoints;
mod token;
mod wire;

use crate::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Which policy a token path issues under (SPEC §2).
#[derive(Debug, Clone, Copy)]
pub enum TokenPath {
    /// `/oauth/token`, `/auth/oauth`: `[doors.oauth2] policy`.
    Standard,
    /// `/api/oauth/token` (seed 000): `[doors.oauth2] api_policy`.
    Api,
}

pub fn routes() -> OpenApiRouter<AppState> {
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
