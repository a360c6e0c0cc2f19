//! OAuth2 client authentication (RFC 6749 §2.3): HTTP Basic or the
//! `client_id`/`client_secret` form fields, never both.

use super::wire::{invalid_request, refusal};
use crate::error::ApiError;
use crate::extract::{basic, Form};
use crate::AppState;
use axum::http::HeaderMap;
use tessera_core::admin::names::{lookup_key, NameKind};
use tessera_core::clients::AuthenticatedClient;
use tessera_core::{AuthError, OAuthCode};
use zeroize::Zeroizing;

/// Authenticates the client of a token, revocation or introspection
/// request.
///
/// Every failure to establish who the client is answers `invalid_client`
/// (401, RFC 6749 §5.2): malformed Basic credentials, an id no client can
/// have (RFC 8265 refuses it) or that names no client, a wrong secret, and
/// a form `client_id` naming another client than the Basic credentials.
/// A client whose Basic credentials are right but that also sends
/// `client_secret` used two methods at once (§2.3): `invalid_request`
/// (400), as §5.2 names that case.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &Form,
) -> Result<AuthenticatedClient, ApiError> {
    let client = match basic(headers) {
        Some(Err(why)) => return Err(ApiError::oauth(OAuthCode::InvalidClient, why)),
        Some(Ok(creds)) => {
            // RFC 6749 §2.3.1: conforming clients form-encode both parts
            // (Go's x/oauth2, AppAuth, openid-client); others send them raw.
            let decoded_id = form_decoded(&creds.user);
            if let Some(id) = form.get("client_id") {
                let named = |basic: &str| same_client(basic, id);
                if !named(&creds.user) && !decoded_id.as_deref().is_some_and(named) {
                    return Err(ApiError::oauth(
                        OAuthCode::InvalidClient,
                        "client_id names another client than the Authorization header",
                    ));
                }
            }
            let id = decoded_id.unwrap_or(creds.user);
            let raw = creds.password;
            let mut found = None;
            if let Some(decoded) = form_decoded(&raw).filter(|d| d.as_str() != raw.as_str()) {
                let decoded = Zeroizing::new(decoded);
                match state.core.authenticate_client(&id, Some(&decoded)).await {
                    Ok(client) => found = Some(client),
                    Err(AuthError::OAuth {
                        code: OAuthCode::InvalidClient,
                        ..
                    }) => {}
                    Err(e) => return Err(client_refusal(e)),
                }
            }
            let client = match found {
                Some(client) => client,
                None => state
                    .core
                    .authenticate_client(&id, Some(&raw))
                    .await
                    .map_err(client_refusal)?,
            };
            if form.has("client_secret") {
                return Err(invalid_request(
                    "use one client authentication method: HTTP Basic or client_id/client_secret, not both",
                ));
            }
            client
        }
        None => {
            let id = form.get("client_id").ok_or_else(|| {
                ApiError::oauth(
                    OAuthCode::InvalidClient,
                    "client authentication required: send HTTP Basic, or client_id (and client_secret)",
                )
            })?;
            state
                .core
                .authenticate_client(id, form.get("client_secret"))
                .await
                .map_err(client_refusal)?
        }
    };
    Ok(client)
}

/// Whether two spellings name one client (ids compare as their RFC 8265
/// lookup keys: any letter case, fullwidth or not).
fn same_client(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (lookup_key(NameKind::Client, a), lookup_key(NameKind::Client, b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// A refusal of the client's credentials: an id RFC 8265 refuses names no
/// client, so it is `invalid_client` like an unknown one (with the reason).
fn client_refusal(e: AuthError) -> ApiError {
    match e {
        AuthError::InvalidInput(why) => ApiError::oauth(OAuthCode::InvalidClient, why),
        e => refusal(e),
    }
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` is a
/// space); `None` when it does not decode to UTF-8.
fn form_decoded(s: &str) -> Option<String> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}
