//! The `header-login` front door: seed 001 (EMC ViPR). Basic-auth
//! `GET /login` answers with the token in `X-SDS-AUTH-TOKEN` (and a cookie
//! with `using-cookies=true`), the 302 `service=` redirect flow, `/logout`
//! with `force` and `proxytokens`, `/user/whoami`, and `/proxytoken`.
//! Bodies are XML unless the client accepts only JSON.

mod wire;

pub use wire::ServicePath;

use crate::doors::{undefined_policy, Door, DoorTable, DoorsConfig};
use crate::error::{ApiError, Dialect, TokenRefusal};
use crate::extract::{basic, query_flag, query_params, wants_json, SDS_TOKEN};
use crate::identity::CallerOrLogin;
use crate::{AppState, ConnInfo};
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use tessera_core::authn::LoginKind;
use tessera_core::{LoginRequest, Logout, Subject};
use tessera_model::config::Config;
use tessera_model::AssignmentScope;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wire::{reply, SdsError, SdsSubtenantRole, SdsUser, SdsWhoami};
use zeroize::Zeroizing;

/// The header a proxy token comes back in.
pub const PROXY_TOKEN: &str = "X-SDS-AUTH-PROXY-TOKEN";

/// `[doors.header_login]`. Seed 001: Basic-auth `/login`,
/// `X-SDS-AUTH-TOKEN`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Table {
    pub enabled: bool,
    pub policy: String,
    /// Realm in `WWW-Authenticate: Basic realm="..."`.
    pub realm: String,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            enabled: true,
            policy: "header-login".into(),
            realm: "Tessera".into(),
        }
    }
}

impl DoorTable for Table {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn problems(&self, config: &Config) -> Vec<String> {
        undefined_policy(config, "doors.header_login.policy", &self.policy)
            .into_iter()
            .collect()
    }
}

/// Seed 001's door.
pub struct HeaderLogin;

impl Door for HeaderLogin {
    const NAME: &'static str = "header-login";
    type Table = Table;

    fn table(doors: &DoorsConfig) -> &Table {
        &doors.header_login
    }

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .routes(routes!(login_get))
            .routes(routes!(logout_get))
            .routes(routes!(whoami_get))
            .routes(routes!(proxytoken_get))
    }
}

/// What a refusal of this door needs to know of the request.
pub struct Cx {
    json: bool,
    realm: HeaderValue,
}

impl Dialect for HeaderLogin {
    type Context = Cx;

    fn context(state: &AppState, headers: &HeaderMap) -> Cx {
        let realm = state.doors.header_login.realm.replace('"', "'");
        Cx {
            json: wants_json(headers),
            realm: HeaderValue::from_str(&format!("Basic realm=\"{realm}\""))
                .unwrap_or(HeaderValue::from_static("Basic realm=\"Tessera\"")),
        }
    }

    /// ViPR's error shape, with the seed's advice to log in again.
    fn render(e: &ApiError, cx: &Cx) -> Response {
        let details = match e {
            ApiError::InvalidCredentials => "wrong user name or password".into(),
            ApiError::InvalidToken(TokenRefusal::Unknown) => "the token is not valid; log in again".into(),
            ApiError::InvalidToken(TokenRefusal::Revoked) => "the token has been revoked; log in again".into(),
            ApiError::InvalidToken(TokenRefusal::Expired) => "the token has expired; log in again".into(),
            ApiError::InvalidToken(TokenRefusal::Idle) => {
                "the token expired after being unused; log in again".into()
            }
            ApiError::TooManyTokens { retry_after } => format!(
                "this user already holds the maximum number of tokens; log out (GET /logout?force=true ends them all) \
                 or retry in {} s",
                retry_after.as_secs()
            ),
            ApiError::NoCredentials(_) => {
                "no token: log in with GET /login and send X-SDS-AUTH-TOKEN (header or cookie)".into()
            }
            other => other.to_string(),
        };
        let status = e.status();
        let body = SdsError {
            code: status.as_u16(),
            description: status.canonical_reason().unwrap_or("Error"),
            details,
            retryable: e.retry_after().is_some(),
        };
        reply(status, cx.json, &body)
    }

    /// Seed 001: `WWW-Authenticate: Basic realm="..."` on every 401.
    fn challenge(_e: &ApiError, cx: &Cx) -> Option<HeaderValue> {
        Some(cx.realm.clone())
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

/// What a `Location` cannot carry as it is (non-ASCII is always encoded).
const LOCATION_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ').add(b'"');

/// `Set-Cookie` for the token: HttpOnly, Path=/, SameSite=Strict, and
/// Secure over TLS; `Max-Age=0` clears it.
fn token_cookie(token: &str, tls: bool, clear: bool) -> Option<HeaderValue> {
    let secure = if tls { "; Secure" } else { "" };
    let max_age = if clear { "; Max-Age=0" } else { "" };
    HeaderValue::from_str(&format!(
        "{SDS_TOKEN}={token}; Path=/; HttpOnly; SameSite=Strict{max_age}{secure}"
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
        ("using-cookies" = Option<bool>, Query, description = "`true`: also set the X-SDS-AUTH-TOKEN cookie (HttpOnly, SameSite=Strict, Secure over TLS). \
            `1`/`0`, `yes`/`no` and `on`/`off` in any letter case are read too; any other value is refused (400)"),
        ("service" = Option<wire::ServicePath>, Query, description = "A path on this server to redirect to once logged in"),
    ),
    responses(
        (status = 200, description = "Logged in",
            headers(
                ("X-SDS-AUTH-TOKEN" = String, description = "The token"),
                ("Set-Cookie" = String, description = "With using-cookies=true: the token cookie"),
            ),
            content((wire::SdsUser = "application/xml"), (wire::SdsUser = "application/json"))),
        (status = 302, description = "Logged in, on to `service`",
            headers(
                ("Location" = String, description = "The service path with auth-redirected"),
                ("X-SDS-AUTH-TOKEN" = String, description = "The token"),
            )),
        (status = 400, description = "Malformed Basic credentials, or a service that is not a path on this server",
            content((wire::SdsError = "application/xml"), (wire::SdsError = "application/json"))),
        (status = 401, description = "No credentials (with `WWW-Authenticate: Basic`), wrong ones, or a locked or disabled account",
            content((wire::SdsError = "application/xml"), (wire::SdsError = "application/json"))),
        (status = 429, description = "The user already holds as many tokens as allowed; `Retry-After` says when",
            content((wire::SdsError = "application/xml"), (wire::SdsError = "application/json"))),
        (status = 503, description = "Too many logins at once, or the directory or store unreachable",
            content((wire::SdsError = "application/xml"), (wire::SdsError = "application/json"))),
    ),
    security(("basic" = [])),
)]
async fn login_get(
    State(state): State<AppState>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = query_params(uri.query());
    let using_cookies = query_flag(&params, "using-cookies")?;
    let service = match params.iter().find(|(k, _)| k == "service") {
        Some((_, s)) => Some(same_origin(s, &headers).ok_or_else(|| {
            ApiError::bad_request(
                "service must be a path on this server (such as /tenant); other targets are refused",
            )
        })?),
        None => None,
    };
    let creds = match basic(&headers) {
        None => {
            return Err(ApiError::NoCredentials(
                "log in with HTTP Basic credentials (curl -u user:password)".into(),
            ))
        }
        Some(Err(why)) => return Err(ApiError::bad_request(why)),
        Some(Ok(c)) => c,
    };
    let (user, domain) = user_and_domain(&state, &creds.user).await;
    let logged_in = state
        .core
        .login(LoginRequest {
            door: HeaderLogin::NAME,
            domain,
            username: user,
            password: Zeroizing::new(creds.password.to_string()),
            kind: LoginKind::Password,
            policy: &state.doors.header_login.policy,
            require_role: None,
            scope: None,
            client: None,
            detail: "Basic login, ".into(),
        })
        .await?;
    let token = logged_in.issued.access.token.as_str();
    let mut res = match service {
        Some(path) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            let mut res = StatusCode::FOUND.into_response();
            // A header value is visible ASCII: anything else is sent
            // percent-encoded, as a URL would carry it.
            let location = percent_encoding::utf8_percent_encode(&path, LOCATION_ESCAPES);
            if let Ok(v) = HeaderValue::from_str(&format!("{location}{sep}auth-redirected")) {
                res.headers_mut().insert(LOCATION, v);
            }
            res
        }
        None => reply(
            StatusCode::OK,
            wants_json(&headers),
            &SdsUser {
                user: logged_in.subject.name().to_owned(),
                element: "loggedIn",
            },
        ),
    };
    if let Ok(v) = HeaderValue::from_str(token) {
        res.headers_mut().insert(SDS_TOKEN, v);
    }
    if using_cookies {
        if let Some(cookie) = token_cookie(token, conn.is_some_and(|c| c.tls), false) {
            res.headers_mut().append(SET_COOKIE, cookie);
        }
    }
    Ok(res)
}

#[utoipa::path(
    method(get, post),
    path = "/logout",
    tag = "header-login",
    operation_id = "logout",
    summary = "End the presented token's session, or all of its user's",
    params(
        ("force" = Option<bool>, Query, description = "`true`: end every session token of the user (`1`/`0`, \
            `yes`/`no`, `on`/`off` in any letter case are read too; any other value is refused: 400)"),
        ("proxytokens" = Option<bool>, Query, description = "With force: its proxy tokens too"),
    ),
    responses(
        (status = 200, description = "Logged out (`<loggedOut><user>NAME</user></loggedOut>`); a token cookie is cleared",
            content((wire::SdsUser = "application/xml"), (wire::SdsUser = "application/json"))),
        (status = 302, description = "No valid token and `[gateway] unauthenticated = \"redirect\"`: on to /login",
            headers(("Location" = String, description = "/login?service=..."))),
        (status = 401, description = "No valid token",
            content((wire::SdsError = "application/xml"), (wire::SdsError = "application/json"))),
        (status = 400, description = "The service token has no session to end",
            content((wire::SdsError = "application/xml"), (wire::SdsError = "application/json"))),
    ),
    security(("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = []), ("bearer" = []), ("x_auth_token" = [])),
)]
async fn logout_get(
    State(state): State<AppState>,
    conn: Option<Extension<ConnInfo>>,
    CallerOrLogin(who): CallerOrLogin,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = query_params(uri.query());
    let (force, proxy_tokens) = (query_flag(&params, "force")?, query_flag(&params, "proxytokens")?);
    let what = if force && matches!(who.subject, Subject::User { .. }) {
        Logout::AllOfUser { proxy_tokens }
    } else {
        Logout::ThisLogin
    };
    let reason = match what {
        Logout::AllOfUser { .. } => "logout?force=true",
        Logout::ThisLogin => "logout",
    };
    state.core.logout(&who, what, reason).await?;
    let mut res = reply(
        StatusCode::OK,
        wants_json(&headers),
        &SdsUser {
            user: who.subject.name().to_owned(),
            element: "loggedOut",
        },
    );
    if crate::extract::cookie(&headers, SDS_TOKEN).is_some() {
        if let Some(v) = token_cookie("", conn.is_some_and(|c| c.tls), true) {
            res.headers_mut().append(SET_COOKIE, v);
        }
    }
    Ok(res)
}

/// Seed 001's whoami of a caller: common and distinguished name, tenant
/// roles (on the user's own domain), subtenant roles (on other domains),
/// the tenant (domain) URN, and vdc (system) roles.
fn whoami(subject: &Subject) -> SdsWhoami {
    let Subject::User { user, domain } = subject else {
        let name = subject.name().to_owned();
        return SdsWhoami {
            common_name: name.clone(),
            distinguished_name: name,
            home_tenant_roles: vec![],
            subtenant_roles: vec![],
            tenant: None,
            vdc_roles: subject.role_names().iter().map(|r| r.to_string()).collect(),
        };
    };
    let u = &user.user;
    let mut w = SdsWhoami {
        common_name: u.common_name.clone().unwrap_or_else(|| u.name.clone()),
        distinguished_name: u.distinguished_name.clone().unwrap_or_else(|| u.name.clone()),
        home_tenant_roles: vec![],
        subtenant_roles: vec![],
        tenant: Some(format!("urn:tessera:Domain:{}:", domain.domain.id)),
        vdc_roles: vec![],
    };
    for g in user.roles.iter().filter(|g| g.role.enabled) {
        match &g.scope {
            AssignmentScope::System => w.vdc_roles.push(g.role.name.clone()),
            AssignmentScope::Domain(d) if *d == domain.domain.id => {
                w.home_tenant_roles.push(g.role.name.clone())
            }
            AssignmentScope::Domain(d) => w.subtenant_roles.push(SdsSubtenantRole {
                tenant: format!("urn:tessera:Domain:{d}:"),
                role: g.role.name.clone(),
            }),
        }
    }
    w
}

#[utoipa::path(
    get,
    path = "/user/whoami",
    tag = "header-login",
    operation_id = "header_login_whoami_get",
    summary = "Seed 001's whoami: names, tenant, subtenant and vdc roles",
    responses(
        (status = 200, description = "The caller",
            content((wire::SdsWhoami = "application/xml"), (wire::SdsWhoami = "application/json"))),
        (status = 302, description = "No valid token and `[gateway] unauthenticated = \"redirect\"`: on to /login",
            headers(("Location" = String, description = "/login?service=..."))),
        (status = 401, description = "No valid token",
            content((wire::SdsError = "application/xml"), (wire::SdsError = "application/json"))),
    ),
    security(("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = []), ("bearer" = []), ("x_auth_token" = [])),
)]
async fn whoami_get(CallerOrLogin(who): CallerOrLogin, headers: HeaderMap) -> Response {
    reply(StatusCode::OK, wants_json(&headers), &whoami(&who.subject))
}

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
            content((wire::SdsError = "application/xml"), (wire::SdsError = "application/json"))),
        (status = 403, description = "Only a user's own session token may ask for one (not the service token, not a proxy token)",
            content((wire::SdsError = "application/xml"), (wire::SdsError = "application/json"))),
    ),
    security(("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = []), ("bearer" = []), ("x_auth_token" = [])),
)]
async fn proxytoken_get(
    State(state): State<AppState>,
    CallerOrLogin(who): CallerOrLogin,
) -> Result<Response, ApiError> {
    let issued = state.core.issue_proxy(&who).await?;
    let mut res = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&issued.token) {
        res.headers_mut().insert(PROXY_TOKEN, v);
    }
    Ok(res)
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
}
