//! Who is calling: the extractors every route that needs a token uses
//! (doors, Tessera's own API, the admin API), the identity headers the
//! gateway and forward auth send upstream, and seed 001's login
//! redirect. One home, so every door identifies callers the same way.

use crate::error::ApiError;
use crate::extract::{presented_token, query_flag, query_params};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::HeaderName;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri};
use tessera_core::{Actor, AuthError, Identity, Subject};
use tessera_model::config::Unauthenticated;

/// The caller's identity from any token carrier; refused with 401 (and
/// Tessera's Bearer challenge, or the door's) when missing or not valid.
/// Every use counts against the token's idle clock.
pub struct Caller(pub Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    #[tracing::instrument(level = "debug", skip_all)]
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = presented_token(&parts.headers).ok_or_else(ApiError::missing_token)?;
        Ok(Caller(state.core.check(token, true).await?))
    }
}

/// Like [`Caller`], but where `[gateway] unauthenticated = "redirect"` a
/// request without a valid token is sent to the login page (seed 001)
/// instead of refused.
pub struct CallerOrLogin(pub Identity);

impl FromRequestParts<AppState> for CallerOrLogin {
    type Rejection = ApiError;

    #[tracing::instrument(level = "debug", skip_all)]
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await {
            Ok(Caller(who)) => Ok(CallerOrLogin(who)),
            Err(e) => Err(unauthenticated(state, &parts.uri, e)),
        }
    }
}

/// An administrator's request; everyone else is refused (401 or 403). The
/// decision and the audit of the bootstrap token are the core's.
pub struct AdminCaller(pub Actor);

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    #[tracing::instrument(level = "debug", skip_all)]
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = presented_token(&parts.headers).ok_or_else(ApiError::missing_token)?;
        let operation = format!("{} {}", parts.method, parts.uri.path());
        Ok(AdminCaller(state.core.admin(token, &operation).await?))
    }
}

/// The caller if a token was presented: `Ok(None)` without one, `Err`
/// with the core's reason when the token is not valid (the gateway and
/// forward auth, where rules decide whether a token is needed).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn optional_caller(state: &AppState, headers: &HeaderMap) -> Result<Option<Identity>, AuthError> {
    match presented_token(headers) {
        None => Ok(None),
        Some(token) => state.core.check(token, true).await.map(Some),
    }
}

/// The refusal of a request that needs a valid token and has none: a 302
/// to the login where `[gateway] unauthenticated = "redirect"` (for a
/// missing or dead token, never for a store fault), else `e` itself.
pub fn unauthenticated(state: &AppState, uri: &Uri, e: ApiError) -> ApiError {
    let redirect = state.core.config().gateway.unauthenticated == Unauthenticated::Redirect;
    match e {
        ApiError::NoCredentials(_) | ApiError::InvalidToken(_) if redirect => {
            ApiError::LoginRedirect(login_redirect(uri))
        }
        other => other,
    }
}

/// Where a request for `original` goes to log in (SPEC §3.2): the login
/// page with the original path and query as `service`, keeping
/// `using-cookies=true` for the login itself.
pub fn login_redirect(original: &Uri) -> HeaderValue {
    let target = original.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let mut query = vec![("service", target)];
    if query_flag(&query_params(original.query()), "using-cookies").unwrap_or(false) {
        query.push(("using-cookies", "true"));
    }
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
    HeaderValue::from_str(&format!("/login?{encoded}")).unwrap_or(HeaderValue::from_static("/login"))
}

/// The identity headers sent upstream (SPEC §4).
pub const USER: &str = "x-tessera-user";
pub const DOMAIN: &str = "x-tessera-domain";
pub const ROLES: &str = "x-tessera-roles";
pub const SCOPE: &str = "x-tessera-scope";

/// Sets the identity headers for `who` (after the client's own were
/// stripped).
pub fn add_identity(headers: &mut HeaderMap, who: &Identity) {
    const USER_NAME: HeaderName = HeaderName::from_static(USER);
    const DOMAIN_NAME: HeaderName = HeaderName::from_static(DOMAIN);
    const ROLES_NAME: HeaderName = HeaderName::from_static(ROLES);
    const SCOPE_NAME: HeaderName = HeaderName::from_static(SCOPE);
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(USER_NAME, who.subject.name());
    if let Subject::User { domain, .. } = &who.subject {
        set(DOMAIN_NAME, &domain.domain.name);
    }
    set(ROLES_NAME, who.subject.role_names_joined());
    set(SCOPE_NAME, who.scope());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_redirect_keeps_the_original_request_and_cookie_mode() {
        let loc = login_redirect(&"/tenant?using-cookies=true".parse().unwrap());
        assert_eq!(
            loc.to_str().unwrap(),
            "/login?service=%2Ftenant%3Fusing-cookies%3Dtrue&using-cookies=true"
        );
    }
}
