//! OAuth2 client authentication (RFC 6749 §2.3): HTTP Basic or the
//! `client_id`/`client_secret` form fields, never both.

use super::wire::{error_response, invalid_client, invalid_request};
use crate::extract::{basic, Form};
use crate::AppState;
use axum::http::HeaderMap;
use axum::response::Response;
use tessera_core::clients::AuthenticatedClient;

/// A client that proved who it is, and how it did (for the challenge of a
/// later `invalid_client`).
pub struct ClientAuth {
    pub client: AuthenticatedClient,
    pub used_basic: bool,
}

/// Authenticates the client of a token, revocation or introspection
/// request; the `Err` is the response to send.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &Form,
) -> Result<ClientAuth, Response> {
    let (id, secret, used_basic) = match basic(headers) {
        Some(Err(why)) => return Err(invalid_client(why, true)),
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
            (creds.user, Some(creds.password), true)
        }
        None => {
            let Some(id) = form.get("client_id") else {
                return Err(invalid_client(
                    "client authentication required: send HTTP Basic, or client_id (and client_secret)",
                    false,
                ));
            };
            (
                id.to_owned(),
                form.get("client_secret")
                    .map(|s| zeroize::Zeroizing::new(s.to_owned())),
                false,
            )
        }
    };
    match state
        .core
        .authenticate_client(&id, secret.as_ref().map(|s| s.as_str()))
        .await
    {
        Ok(client) => Ok(ClientAuth { client, used_basic }),
        Err(e) => Err(error_response(e, used_basic)),
    }
}
