//! OAuth2 client authentication (RFC 6749 §2.3): HTTP Basic or the
//! `client_id`/`client_secret` form fields, never both.

use super::wire::{invalid_request, refusal};
use crate::error::ApiError;
use crate::extract::{basic, Form};
use crate::AppState;
use axum::http::HeaderMap;
use tessera_core::clients::AuthenticatedClient;
use tessera_core::OAuthCode;
use zeroize::Zeroizing;

/// Authenticates the client of a token, revocation or introspection
/// request.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &Form,
) -> Result<AuthenticatedClient, ApiError> {
    let (id, secret) = match basic(headers) {
        Some(Err(why)) => return Err(ApiError::oauth(OAuthCode::InvalidClient, why)),
        Some(Ok(creds)) => {
            if form.has("client_secret") {
                return Err(invalid_request(
                    "use one client authentication method: HTTP Basic or client_id/client_secret, not both",
                ));
            }
            if form.get("client_id").is_some_and(|id| id != creds.user) {
                return Err(invalid_request(
                    "client_id does not match the client in the Authorization header",
                ));
            }
            // RFC 6749 §2.3.1: conforming clients form-encode both parts
            // (Go's x/oauth2, AppAuth, openid-client); others send them raw.
            let id = form_decoded(&creds.user).unwrap_or(creds.user);
            let raw = creds.password;
            if let Some(decoded) = form_decoded(&raw).filter(|d| d.as_str() != raw.as_str()) {
                let decoded = Zeroizing::new(decoded);
                match state.core.authenticate_client(&id, Some(&decoded)).await {
                    Ok(client) => return Ok(client),
                    Err(tessera_core::AuthError::OAuth {
                        code: OAuthCode::InvalidClient,
                        ..
                    }) => {}
                    Err(e) => return Err(refusal(e)),
                }
            }
            (id, Some(raw))
        }
        None => {
            let id = form.get("client_id").ok_or_else(|| {
                ApiError::oauth(
                    OAuthCode::InvalidClient,
                    "client authentication required: send HTTP Basic, or client_id (and client_secret)",
                )
            })?;
            (
                id.to_owned(),
                form.get("client_secret").map(|s| Zeroizing::new(s.to_owned())),
            )
        }
    };
    state
        .core
        .authenticate_client(&id, secret.as_ref().map(|s| s.as_str()))
        .await
        .map_err(refusal)
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
