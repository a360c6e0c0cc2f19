//! Forward auth (`/v1/authz`, SPEC §3.5) for nginx `auth_request`, Caddy
//! `forward_auth` and Traefik `ForwardAuth`: the same token check and rules
//! as the gateway, applied to the original method and URI the proxy passes
//! in `X-Original-Method`/`X-Original-URI` (nginx) or
//! `X-Forwarded-Method`/`X-Forwarded-Uri` (Caddy, Traefik). 200 with
//! identity headers, or 401/403: the only answers those proxies act on.

use crate::error::{ApiError, ErrorBody};
use crate::identity::{add_identity, optional_caller};
use crate::AppState;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use std::borrow::Cow;
use tessera_core::policy::{CanonicalPath, Decision};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    // A proxy may ask with whatever method the original request had: the
    // route answers every method (`any`), the document lists the usual ones.
    let (schemas, paths, _listed_methods) = routes!(authz);
    OpenApiRouter::new().routes((schemas, paths, any(authz)))
}

/// The original request's method and URI. nginx sends `X-Original-*`;
/// Caddy and Traefik send `X-Forwarded-*` and pass on whatever else the
/// client sent. A client could thus add the other family to describe a
/// request it is not making: when both families are present and disagree,
/// the request is refused. A header present but empty counts as given.
/// Borrowed from the request: this runs on every check.
fn original<'a>(headers: &'a HeaderMap, method: &'a Method) -> Result<(Cow<'a, str>, &'a str), String> {
    // Typed names: a lookup by `&str` would parse the name on every request.
    const ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
    const ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
    const FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
    const FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
    let get = |name: &HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or("").trim());
    let nginx = (get(&ORIGINAL_METHOD), get(&ORIGINAL_URI));
    let forwarded = (get(&FORWARDED_METHOD), get(&FORWARDED_URI));
    let has = |f: &(Option<&str>, Option<&str>)| f.0.is_some() || f.1.is_some();
    let (m, u) = match (has(&nginx), has(&forwarded)) {
        (true, true) if nginx != forwarded => {
            return Err(
                "X-Original-* and X-Forwarded-* describe different requests; the proxy must send one".into(),
            )
        }
        (true, _) => nginx,
        (false, true) => forwarded,
        (false, false) => (None, None),
    };
    let method = match m {
        Some("") => return Err("the original method is empty".into()),
        Some(m) if m.bytes().any(|b| b.is_ascii_lowercase()) => Cow::Owned(m.to_ascii_uppercase()),
        Some(m) => Cow::Borrowed(m),
        // Envoy's HTTP ext_authz sends the original method as the check's
        // own: judging a DELETE as a GET would let it through.
        None => Cow::Borrowed(method.as_str()),
    };
    let uri = match u {
        Some("") => return Err("the original URI is empty".into()),
        Some(u) => u,
        None => "/",
    };
    Ok((method, uri))
}

#[utoipa::path(
    method(get, head, post, put, delete, patch, options),
    path = "/v1/authz",
    tag = "tessera",
    operation_id = "authz",
    summary = "Forward auth: may the original request pass?",
    description = "For nginx `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth` and Envoy \
        ext_authz (HTTP). The gateway's token check and rules, applied to the original method and \
        URI the proxy passes; any method is accepted. Without a method header the check's own \
        method is judged (Envoy sends the original method as the check's); without a URI \
        header, `/`.",
    params(
        ("X-Original-Method" = Option<String>, Header, description = "The original method (nginx)"),
        ("X-Original-URI" = Option<String>, Header, description = "The original path and query (nginx)"),
        ("X-Forwarded-Method" = Option<String>, Header, description = "The original method (Caddy, Traefik)"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "The original path and query (Caddy, Traefik)"),
    ),
    responses(
        (status = 200, description = "Allowed; the caller's identity in headers (none for an anonymous request a rule allows)",
            headers(
                ("X-Tessera-User" = String, description = "The user's (or client's) name"),
                ("X-Tessera-Domain" = String, description = "The user's domain"),
                ("X-Tessera-Roles" = String, description = "Comma-separated role names"),
                ("X-Tessera-Scope" = String, description = "The token's scope"),
            )),
        (status = 401, description = "A token is needed and none valid was presented", body = ErrorBody),
        (status = 403, description = "The rules refuse, or the original request is malformed or described twice differently", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn authz(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    // The request itself, not the `HeaderMap` extractor: that one clones
    // every header, on the hottest route there is.
    let (method, headers) = (request.method(), request.headers());
    // nginx acts only on 401 and 403: whatever else is refused is 403 here.
    let (original_method, original_uri) =
        original(headers, method).map_err(|why| ApiError::Forbidden(why.into()))?;
    let uri = original_uri
        .parse::<Uri>()
        .map_err(|_| ApiError::Forbidden("the original URI cannot be parsed".into()))?;
    // The canonical form the gateway would judge and forward: the one a
    // servlet container behind the proxy serves for the raw path.
    let path = CanonicalPath::parse(uri.path())
        .map_err(|refused| ApiError::Forbidden(refused.to_string().into()))?;
    // No login redirect here: a proxy acts on 401 and 403 only.
    let who = optional_caller(&state, headers).await?;
    match state
        .core
        .rules()
        .decide(&original_method, &path, uri.query(), who.as_ref())
    {
        Decision::Allow => {
            let mut res = StatusCode::OK.into_response();
            if let Some(who) = &who {
                // Room for the identity and the no-store pair at once.
                res.headers_mut().reserve(8);
                add_identity(res.headers_mut(), who);
            }
            Ok(res)
        }
        Decision::Unauthenticated => Err(ApiError::missing_token()),
        Decision::Forbidden(why) | Decision::BadRequest(why) => Err(ApiError::Forbidden(why.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn one_family_is_read_and_a_conflicting_second_is_refused() {
        let nginx = headers(&[("x-original-method", "delete"), ("x-original-uri", "/api/x")]);
        assert_eq!(
            original(&nginx, &Method::GET).unwrap(),
            ("DELETE".into(), "/api/x")
        );
        let caddy = headers(&[("x-forwarded-method", "POST"), ("x-forwarded-uri", "/api/y")]);
        assert_eq!(original(&caddy, &Method::GET).unwrap(), ("POST".into(), "/api/y"));
        let spoofed = headers(&[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/api/things"),
            ("x-original-uri", "/public/info"),
        ]);
        assert!(original(&spoofed, &Method::GET).is_err());
        let empty = headers(&[("x-original-method", ""), ("x-forwarded-method", "DELETE")]);
        assert!(original(&empty, &Method::GET).is_err());
        assert_eq!(
            original(&HeaderMap::new(), &Method::HEAD).unwrap(),
            ("HEAD".into(), "/")
        );
    }
}
