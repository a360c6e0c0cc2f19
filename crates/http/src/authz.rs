//! Forward auth (`/v1/authz`, SPEC §3.5) for nginx `auth_request`, Caddy
//! `forward_auth` and Traefik `ForwardAuth`: the same token check and rules
//! as the gateway, applied to the original method and URI the proxy passes
//! in `X-Original-Method`/`X-Original-URI` (nginx) or
//! `X-Forwarded-Method`/`X-Forwarded-Uri` (Caddy, Traefik). 200 with
//! identity headers, or 401/403: the only answers those proxies act on.

use crate::error::{json_error, unauthorized};
use crate::gateway::{add_identity, caller};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use tessera_core::policy::Decision;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/authz", any(authz))
}

fn header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
        .filter(|v| !v.is_empty())
}

async fn authz(State(state): State<AppState>, method: Method, headers: HeaderMap) -> Response {
    let original_method = header(&headers, &["x-original-method", "x-forwarded-method"])
        .map(str::to_ascii_uppercase)
        .unwrap_or_else(|| {
            if method == Method::HEAD {
                "HEAD".into()
            } else {
                "GET".into()
            }
        });
    let original_uri = header(&headers, &["x-original-uri", "x-forwarded-uri"]).unwrap_or("/");
    let Ok(uri) = original_uri.parse::<Uri>() else {
        return json_error(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "the original URI cannot be parsed",
        );
    };
    let who = match caller(&state, &headers).await {
        Ok(w) => w,
        Err(e) => return crate::error::api_error(e),
    };
    match state
        .core
        .policy
        .decide(&original_method, uri.path(), uri.query(), who.as_ref())
    {
        Decision::Allow => {
            let mut res = StatusCode::OK.into_response();
            if let Some(who) = &who {
                add_identity(res.headers_mut(), who);
            }
            res
        }
        Decision::Unauthenticated => unauthorized(
            "invalid_request",
            "this needs a token: send Authorization: Bearer, X-Auth-Token or X-SDS-AUTH-TOKEN",
        ),
        // nginx acts only on 401 and 403: a refused request is 403 here.
        Decision::Forbidden(why) | Decision::BadRequest(why) => {
            json_error(StatusCode::FORBIDDEN, "forbidden", why)
        }
    }
}
