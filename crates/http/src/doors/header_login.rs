//! The `header-login` front door: seed 001 (EMC ViPR). Basic-auth
//! `GET /login` answers with the token in `X-SDS-AUTH-TOKEN` (and a cookie
//! with `using-cookies=true`), the 302 `service=` redirect flow, `/logout`
//! with `force` and `proxytokens`, `/user/whoami`, and `/proxytoken`.
//! Bodies are XML unless the client accepts only JSON.

use crate::error::with_retry_after;
use crate::extract::{basic, presented_token, query_flag, query_params, wants_json, SDS_TOKEN};
use crate::{AppState, ConnInfo};
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::json;
use tessera_core::authn::{Login, LoginKind};
use tessera_core::{AuthError, Identity, IssueRequest, Subject};
use tessera_model::config::Unauthenticated;
use tessera_model::{AssignmentScope, TokenKind};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

/// The header a proxy token comes back in.
pub const PROXY_TOKEN: &str = "X-SDS-AUTH-PROXY-TOKEN";
const XML_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;
const DOOR: &str = "header-login";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_get))
        .routes(routes!(logout_get))
        .routes(routes!(whoami_get))
        .routes(routes!(proxytoken_get))
}

fn xml_text(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

/// A body in the client's format: XML by default, JSON on request.
fn body(headers: &HeaderMap, status: StatusCode, xml: String, json: serde_json::Value) -> Response {
    if wants_json(headers) {
        (status, axum::Json(json)).into_response()
    } else {
        (
            status,
            [(CONTENT_TYPE, "application/xml")],
            format!("{XML_DECL}{xml}"),
        )
            .into_response()
    }
}

/// The door's error body (ViPR's shape).
fn error(headers: &HeaderMap, status: StatusCode, details: &str) -> Response {
    let description = status.canonical_reason().unwrap_or("Error");
    let xml = format!(
        "<error><code>{}</code><description>{}</description><details>{}</details><retryable>false</retryable></error>",
        status.as_u16(),
        xml_text(description),
        xml_text(details)
    );
    let json = json!({ "code": status.as_u16(), "description": description, "details": details, "retryable": false });
    body(headers, status, xml, json)
}

/// 401 with the Basic challenge (seed 001: `WWW-Authenticate: basic realm="ViPR"`).
fn challenge(state: &AppState, headers: &HeaderMap, details: &str) -> Response {
    let mut res = error(headers, StatusCode::UNAUTHORIZED, details);
    let realm = state.core.config.doors.header_login.realm.replace('"', "'");
    if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
        res.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    res
}

/// Where a request for `original` goes to log in (SPEC §3.2): the login
/// page with the original path and query as `service`, keeping
/// `using-cookies=true` for the login itself.
pub fn login_redirect(original: &Uri) -> Response {
    let target = original.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let mut query = vec![("service", target)];
    if query_flag(&query_params(original.query()), "using-cookies") {
        query.push(("using-cookies", "true"));
    }
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/login?{encoded}")) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}

/// The refusal for a protected request without a valid token: a 302 to
/// the login when `[gateway] unauthenticated = "redirect"`, else 401.
/// (`None`: no token at all.)
fn refuse(state: &AppState, headers: &HeaderMap, uri: &Uri, e: Option<AuthError>) -> Response {
    let no_valid_token = matches!(
        e,
        None | Some(
            AuthError::UnknownToken
                | AuthError::Revoked
                | AuthError::Expired
                | AuthError::Idle
                | AuthError::UserDisabled
                | AuthError::DomainDisabled
                | AuthError::Locked { .. }
        )
    );
    if no_valid_token && state.core.config.gateway.unauthenticated == Unauthenticated::Redirect {
        return login_redirect(uri);
    }
    match e {
        Some(e) => auth_error(headers, e),
        None => error(
            headers,
            StatusCode::UNAUTHORIZED,
            "no token: log in with GET /login and send X-SDS-AUTH-TOKEN (header or cookie)",
        ),
    }
}

/// Accepts a `service` parameter only when it names a path on this server
/// (no scheme, no host, no `//`): anything else would be an open redirect.
fn same_origin(service: &str, headers: &HeaderMap) -> Option<String> {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let path = if let Some(rest) = service
        .strip_prefix("https://")
        .or_else(|| service.strip_prefix("http://"))
    {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if host.is_empty() || !authority.eq_ignore_ascii_case(host) {
            return None;
        }
        if path.is_empty() {
            "/"
        } else {
            path
        }
    } else {
        service
    };
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control);
    ok.then(|| path.to_owned())
}

/// `Set-Cookie` for the token: HttpOnly, Path=/, SameSite=Strict, and
/// Secure over TLS.
fn token_cookie(token: &str, tls: bool) -> Option<HeaderValue> {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SDS_TOKEN}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

/// Splits `user@domain` when `domain` names an existing domain (how
/// directory users log in to ViPR); otherwise the whole name is a user of
/// the default domain.
async fn user_and_domain<'a>(state: &AppState, name: &'a str) -> (&'a str, Option<&'a str>) {
    if let Some((user, domain)) = name.rsplit_once('@') {
        if !user.is_empty() && state.core.domain_named(Some(domain)).await.is_ok() {
            return (user, Some(domain));
        }
    }
    (name, None)
}

#[utoipa::path(
    get,
    path = "/login",
    tag = "header-login",
    summary = "Log in with HTTP Basic; the token comes back in X-SDS-AUTH-TOKEN",
    description = "`user@domain` logs in to that domain when it exists. With `service`, answers 302 \
        to that path (on this server only) with `auth-redirected` added to its query.",
    params(
        ("using-cookies" = Option<bool>, Query, description = "`true`: also set the X-SDS-AUTH-TOKEN cookie (HttpOnly, SameSite=Strict, Secure over TLS)"),
        ("service" = Option<String>, Query, description = "A path on this server to redirect to once logged in"),
    ),
    responses(
        (status = 200, description = "Logged in",
            headers(
                ("X-SDS-AUTH-TOKEN" = String, description = "The token"),
                ("Set-Cookie" = String, description = "With using-cookies=true: the token cookie"),
            ),
            content((crate::schema::doors::SdsUser = "application/xml"), (crate::schema::doors::SdsUser = "application/json"))),
        (status = 302, description = "Logged in, on to `service`",
            headers(
                ("Location" = String, description = "The service path with auth-redirected"),
                ("X-SDS-AUTH-TOKEN" = String, description = "The token"),
            )),
        (status = 400, description = "Malformed Basic credentials, or a service that is not a path on this server",
            content((crate::schema::doors::SdsError = "application/xml"), (crate::schema::doors::SdsError = "application/json"))),
        (status = 401, description = "No credentials (with `WWW-Authenticate: Basic`), wrong ones, or a locked or disabled account",
            content((crate::schema::doors::SdsError = "application/xml"), (crate::schema::doors::SdsError = "application/json"))),
        (status = 429, description = "The user already holds as many tokens as allowed; `Retry-After` says when",
            content((crate::schema::doors::SdsError = "application/xml"), (crate::schema::doors::SdsError = "application/json"))),
        (status = 503, description = "Too many logins at once, or the directory or store unreachable",
            content((crate::schema::doors::SdsError = "application/xml"), (crate::schema::doors::SdsError = "application/json"))),
    ),
    security(("basic" = [])),
)]
async fn login_get(
    State(state): State<AppState>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let params = query_params(uri.query());
    let service = match params.iter().find(|(k, _)| k == "service") {
        Some((_, s)) => match same_origin(s, &headers) {
            Some(path) => Some(path),
            None => {
                return error(
                    &headers,
                    StatusCode::BAD_REQUEST,
                    "service must be a path on this server (such as /tenant); other targets are refused",
                )
            }
        },
        None => None,
    };
    let creds = match basic(&headers) {
        None => {
            return challenge(
                &state,
                &headers,
                "log in with HTTP Basic credentials (curl -u user:password)",
            )
        }
        Some(Err(why)) => return error(&headers, StatusCode::BAD_REQUEST, why),
        Some(Ok(c)) => c,
    };
    let (user, domain) = user_and_domain(&state, &creds.user).await;
    let core = &state.core;
    let login = Login {
        domain,
        username: user,
        password: Zeroizing::new(creds.password.to_string()),
        door: DOOR,
        kind: LoginKind::Password,
    };
    let who = match core.authenticate(login).await {
        Ok(w) => w,
        Err(AuthError::InvalidCredentials) => {
            return challenge(&state, &headers, "wrong user name or password")
        }
        Err(e) => return auth_error(&headers, e),
    };
    let event = who.event(DOOR, "Basic login".into());
    let issued = core
        .issue(IssueRequest {
            subject: Subject::from_login(&who),
            door: DOOR.into(),
            policy: core.config.doors.header_login.policy.clone(),
            kind: TokenKind::Access,
            scope: tessera_core::scope::DEFAULT.into(),
            client_id: None,
            with_refresh: false,
            auth_time: who.at,
            audit: vec![event],
        })
        .await;
    let issued = match issued {
        Ok(i) => i,
        Err(e) => return auth_error(&headers, e),
    };
    let token = issued.access.token.as_str();
    let name = &who.user.user.name;
    let mut res = match service {
        Some(path) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            let mut res = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{path}{sep}auth-redirected")) {
                res.headers_mut().insert(LOCATION, v);
            }
            res
        }
        None => body(
            &headers,
            StatusCode::OK,
            format!("<loggedIn><user>{}</user></loggedIn>", xml_text(name)),
            json!({ "user": name }),
        ),
    };
    if let Ok(v) = HeaderValue::from_str(token) {
        res.headers_mut().insert(SDS_TOKEN, v);
    }
    if query_flag(&params, "using-cookies") {
        if let Some(cookie) = token_cookie(token, conn.is_some_and(|c| c.tls)) {
            res.headers_mut().append(SET_COOKIE, cookie);
        }
    }
    res
}

/// How the core's refusals look on this door.
fn auth_error(headers: &HeaderMap, e: AuthError) -> Response {
    match e {
        AuthError::InvalidCredentials => error(headers, StatusCode::UNAUTHORIZED, "wrong user name or password"),
        AuthError::UnknownToken => error(headers, StatusCode::UNAUTHORIZED, "the token is not valid; log in again"),
        AuthError::Revoked => error(headers, StatusCode::UNAUTHORIZED, "the token has been revoked; log in again"),
        AuthError::Expired => error(headers, StatusCode::UNAUTHORIZED, "the token has expired; log in again"),
        AuthError::Idle => error(headers, StatusCode::UNAUTHORIZED, "the token expired after being unused; log in again"),
        AuthError::UserDisabled => error(headers, StatusCode::UNAUTHORIZED, "the account is disabled"),
        AuthError::DomainDisabled => error(headers, StatusCode::UNAUTHORIZED, "the account's domain is disabled"),
        AuthError::Locked { until: _ } => error(headers, StatusCode::UNAUTHORIZED, "the account is locked for now"),
        AuthError::TokenLimit { retry_after } => with_retry_after(
            error(
                headers,
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "this user already holds the maximum number of tokens; log out (GET /logout?force=true ends them all) \
                     or retry in {} s",
                    retry_after.as_secs()
                ),
            ),
            retry_after,
        ),
        AuthError::Forbidden(m) => error(headers, StatusCode::FORBIDDEN, &m),
        AuthError::OAuth { code: _, description } => error(headers, StatusCode::BAD_REQUEST, &description),
        AuthError::InvalidInput(m) => error(headers, StatusCode::BAD_REQUEST, &m),
        AuthError::NotFound(m) => error(headers, StatusCode::NOT_FOUND, &format!("{m} not found")),
        AuthError::Conflict(m) => error(headers, StatusCode::CONFLICT, &format!("{m} already exists")),
        AuthError::Busy => with_retry_after(
            error(headers, StatusCode::SERVICE_UNAVAILABLE, "too many logins at once; retry in a moment"),
            std::time::Duration::from_secs(1),
        ),
        AuthError::SourceUnavailable(m) => error(headers, StatusCode::SERVICE_UNAVAILABLE, &m),
        AuthError::Store(e) => {
            tracing::error!(error = %e, "store error");
            error(headers, StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable; retry shortly")
        }
        AuthError::Internal(e) => {
            tracing::error!(error = %e, "internal error");
            error(headers, StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log")
        }
    }
}

/// The caller, or the refusal to send.
async fn caller(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<Identity, Response> {
    let Some(token) = presented_token(headers) else {
        return Err(refuse(state, headers, uri, None));
    };
    state
        .core
        .check(token, true)
        .await
        .map_err(|e| refuse(state, headers, uri, Some(e)))
}

#[utoipa::path(
    method(get, post),
    path = "/logout",
    tag = "header-login",
    operation_id = "logout",
    summary = "End the presented token's session, or all of its user's",
    params(
        ("force" = Option<bool>, Query, description = "`true`: end every session token of the user"),
        ("proxytokens" = Option<bool>, Query, description = "With force: its proxy tokens too"),
    ),
    responses(
        (status = 200, description = "Logged out (`<loggedOut><user>NAME</user></loggedOut>`); a token cookie is cleared",
            content((crate::schema::doors::SdsUser = "application/xml"), (crate::schema::doors::SdsUser = "application/json"))),
        (status = 302, description = "No valid token and `[gateway] unauthenticated = \"redirect\"`: on to /login",
            headers(("Location" = String, description = "/login?service=..."))),
        (status = 401, description = "No valid token",
            content((crate::schema::doors::SdsError = "application/xml"), (crate::schema::doors::SdsError = "application/json"))),
        (status = 400, description = "The service token has no session to end",
            content((crate::schema::doors::SdsError = "application/xml"), (crate::schema::doors::SdsError = "application/json"))),
    ),
    security(("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = []), ("bearer" = []), ("x_auth_token" = [])),
)]
async fn logout_get(
    State(state): State<AppState>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let who = match caller(&state, &headers, &uri).await {
        Ok(w) => w,
        Err(res) => return res,
    };
    let params = query_params(uri.query());
    let name = who.subject.name().to_owned();
    let result = match (&who.subject, &who.session) {
        (Subject::User { user, .. }, _) if query_flag(&params, "force") => {
            let proxies = query_flag(&params, "proxytokens");
            state
                .core
                .revoke_user(
                    &user.user.id,
                    proxies,
                    "logout?force=true",
                    Some(user.user.id.as_str()),
                )
                .await
                .map(|_| ())
        }
        (_, Some(s)) => state
            .core
            .revoke_session_id(&s.session.id, "logout", None)
            .await
            .map(|_| ()),
        (_, None) => Err(AuthError::InvalidInput(
            "the service token has no session to end".into(),
        )),
    };
    if let Err(e) = result {
        return auth_error(&headers, e);
    }
    let mut res = body(
        &headers,
        StatusCode::OK,
        format!("<loggedOut><user>{}</user></loggedOut>", xml_text(&name)),
        json!({ "user": name }),
    );
    if crate::extract::cookie(&headers, SDS_TOKEN).is_some() {
        let secure = if conn.is_some_and(|c| c.tls) {
            "; Secure"
        } else {
            ""
        };
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{SDS_TOKEN}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
        )) {
            res.headers_mut().append(SET_COOKIE, v);
        }
    }
    res
}

/// Seed 001's whoami: common and distinguished name, tenant roles (on the
/// user's own domain), subtenant roles (on other domains), the tenant
/// (domain) URN, and vdc (system) roles.
#[utoipa::path(
    get,
    path = "/user/whoami",
    tag = "header-login",
    operation_id = "header_login_whoami_get",
    summary = "Seed 001's whoami: names, tenant, subtenant and vdc roles",
    responses(
        (status = 200, description = "The caller",
            content((crate::schema::doors::SdsWhoami = "application/xml"), (crate::schema::doors::SdsWhoami = "application/json"))),
        (status = 302, description = "No valid token and `[gateway] unauthenticated = \"redirect\"`: on to /login",
            headers(("Location" = String, description = "/login?service=..."))),
        (status = 401, description = "No valid token",
            content((crate::schema::doors::SdsError = "application/xml"), (crate::schema::doors::SdsError = "application/json"))),
    ),
    security(("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = []), ("bearer" = []), ("x_auth_token" = [])),
)]
async fn whoami_get(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let who = match caller(&state, &headers, &uri).await {
        Ok(w) => w,
        Err(res) => return res,
    };
    let Subject::User { user, domain } = &who.subject else {
        let name = who.subject.name().to_owned();
        let roles = who
            .subject
            .role_names()
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>();
        let xml_roles: String = roles
            .iter()
            .map(|r| format!("<vdc_role>{}</vdc_role>", xml_text(r)))
            .collect();
        return body(
            &headers,
            StatusCode::OK,
            format!("<user><common_name>{0}</common_name><distinguished_name>{0}</distinguished_name><home_tenant_roles/><subtenant_roles/><vdc_roles>{xml_roles}</vdc_roles></user>", xml_text(&name)),
            json!({ "common_name": name, "distinguished_name": name, "home_tenant_roles": [], "subtenant_roles": [], "vdc_roles": roles }),
        );
    };
    let u = &user.user;
    let cn = u.common_name.clone().unwrap_or_else(|| u.name.clone());
    let dn = u.distinguished_name.clone().unwrap_or_else(|| u.name.clone());
    let tenant = format!("urn:tessera:Domain:{}:", domain.domain.id);
    let enabled = user.roles.iter().filter(|g| g.role.enabled);
    let mut home = Vec::new();
    let mut sub = Vec::new();
    let mut vdc = Vec::new();
    for g in enabled {
        match &g.scope {
            AssignmentScope::System => vdc.push(g.role.name.clone()),
            AssignmentScope::Domain(d) if *d == domain.domain.id => home.push(g.role.name.clone()),
            AssignmentScope::Domain(d) => sub.push((format!("urn:tessera:Domain:{d}:"), g.role.name.clone())),
        }
    }
    let list = |outer: &str, inner: &str, items: &[String]| {
        if items.is_empty() {
            format!("<{outer}/>")
        } else {
            let inside: String = items
                .iter()
                .map(|i| format!("<{inner}>{}</{inner}>", xml_text(i)))
                .collect();
            format!("<{outer}>{inside}</{outer}>")
        }
    };
    let subtenant = if sub.is_empty() {
        "<subtenant_roles/>".to_owned()
    } else {
        let inside: String = sub
            .iter()
            .map(|(t, r)| {
                format!(
                    "<subtenant_role><tenant>{}</tenant><role>{}</role></subtenant_role>",
                    xml_text(t),
                    xml_text(r)
                )
            })
            .collect();
        format!("<subtenant_roles>{inside}</subtenant_roles>")
    };
    let xml = format!(
        "<user><common_name>{}</common_name><distinguished_name>{}</distinguished_name>{}{}<tenant>{}</tenant>{}</user>",
        xml_text(&cn),
        xml_text(&dn),
        list("home_tenant_roles", "home_tenant_role", &home),
        subtenant,
        xml_text(&tenant),
        list("vdc_roles", "vdc_role", &vdc),
    );
    let json = json!({
        "common_name": cn,
        "distinguished_name": dn,
        "home_tenant_roles": home,
        "subtenant_roles": sub.iter().map(|(t, r)| json!({ "tenant": t, "role": r })).collect::<Vec<_>>(),
        "tenant": tenant,
        "vdc_roles": vdc,
    });
    body(&headers, StatusCode::OK, xml, json)
}

/// A proxy token for scripts: it never expires, and only
/// `logout?force=true&proxytokens=true` (or an administrator) ends it.
#[utoipa::path(
    get,
    path = "/proxytoken",
    tag = "header-login",
    summary = "A proxy token for scripts: it never expires",
    responses(
        (status = 200, description = "The proxy token, in a header",
            headers(("X-SDS-AUTH-PROXY-TOKEN" = String, description = "A token usable wherever a token is"))),
        (status = 302, description = "No valid token and `[gateway] unauthenticated = \"redirect\"`: on to /login",
            headers(("Location" = String, description = "/login?service=..."))),
        (status = 401, description = "No valid token",
            content((crate::schema::doors::SdsError = "application/xml"), (crate::schema::doors::SdsError = "application/json"))),
        (status = 403, description = "Only a user's own session token may ask for one (not the service token, not a proxy token)",
            content((crate::schema::doors::SdsError = "application/xml"), (crate::schema::doors::SdsError = "application/json"))),
    ),
    security(("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = []), ("bearer" = []), ("x_auth_token" = [])),
)]
async fn proxytoken_get(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let who = match caller(&state, &headers, &uri).await {
        Ok(w) => w,
        Err(res) => return res,
    };
    match state.core.issue_proxy(&who).await {
        Ok(issued) => {
            let mut res = StatusCode::OK.into_response();
            if let Ok(v) = HeaderValue::from_str(&issued.token) {
                res.headers_mut().insert(PROXY_TOKEN, v);
            }
            res
        }
        Err(e) => auth_error(&headers, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &'static str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(axum::http::header::HOST, HeaderValue::from_static(h));
        m
    }

    #[test]
    fn only_paths_on_this_server_are_redirect_targets() {
        let h = host("10.0.0.1:4443");
        assert_eq!(same_origin("/tenant", &h).as_deref(), Some("/tenant"));
        assert_eq!(same_origin("/tenant?x=1", &h).as_deref(), Some("/tenant?x=1"));
        assert_eq!(
            same_origin("https://10.0.0.1:4443/tenant", &h).as_deref(),
            Some("/tenant")
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "evil",
            "/\\\\evil",
            "javascript:alert(1)",
            "https://10.0.0.1:4443@evil/",
        ] {
            assert_eq!(same_origin(bad, &h), None, "{bad}");
        }
    }

    #[test]
    fn the_login_redirect_keeps_the_original_request_and_cookie_mode() {
        let res = login_redirect(&"/tenant?using-cookies=true".parse().unwrap());
        assert_eq!(res.status(), StatusCode::FOUND);
        let loc = res.headers()[LOCATION].to_str().unwrap();
        assert_eq!(
            loc,
            "/login?service=%2Ftenant%3Fusing-cookies%3Dtrue&using-cookies=true"
        );
    }
}
