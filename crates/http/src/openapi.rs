//! `GET /openapi.json`: Tessera's HTTP API as an OpenAPI 3.1 document,
//! generated from the handlers' `#[utoipa::path]` annotations. Every route
//! is registered through `utoipa_axum::routes!`, which takes its path and
//! methods from the annotation, so no route exists undocumented. This
//! module adds what no handler knows: the title, the doors, the gateway,
//! and how tokens are carried (the security schemes).

use crate::error::ApiError;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::admin::names::schema as names;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

const DESCRIPTION: &str = "\
Tessera is a token authentication server and authenticating API gateway. \
One core speaks several wire dialects, each a *front door* at its own paths \
(tag = door): `oauth2` (RFC 6749 token endpoint at `/oauth/token`, \
`/api/oauth/token` and `/auth/oauth`, with revocation, introspection, metadata \
and the JWKS), `header-login` (Basic login at `/login`, token in the \
`X-SDS-AUTH-TOKEN` header or cookie), `domain-login` (`/sdn/v2.0/auth`, token in \
`X-Auth-Token`) and `envelope-login` (`.../AuthenticationService/login`, a JWT \
bearer token). A token from any door is accepted by every endpoint that needs \
one, in any carrier: `Authorization: Bearer`, `X-Auth-Token`, `X-SDS-AUTH-TOKEN` \
(header or cookie). Tessera's own API (`tessera`: forward auth, whoami, logout, \
password change; `admin`; `ops`) is JSON.

Every request to a path not listed here goes to the **gateway** when \
`[gateway] upstream` is set: the token is checked, the gateway rules and \
scopes applied, and the request forwarded to the upstream with the credentials \
removed and `X-Tessera-User`, `X-Tessera-Domain`, `X-Tessera-Roles` and \
`X-Tessera-Scope` added (401, or 302 to `/login`, without a valid token; 403 \
when the rules refuse; 502 when the upstream is down, 504 when it is slow). \
Without an upstream such paths answer 404 `{\"error\":\"not_found\"}`. A door \
switched off in the configuration is absent from this document.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera", version = env!("CARGO_PKG_VERSION"), description = DESCRIPTION),
    tags(
        (name = "oauth2", description = "OAuth2 token endpoint (seeds 000 and 003), RFC 7009 revocation, RFC 7662 introspection, RFC 8414 metadata"),
        (name = "header-login", description = "Basic-auth login with the token in X-SDS-AUTH-TOKEN (seed 001); XML unless the client accepts only JSON"),
        (name = "domain-login", description = "JSON login with user, password and domain, token in X-Auth-Token (seed 002)"),
        (name = "envelope-login", description = "JSON credential envelope buying a JWT bearer token (seed 004)"),
        (name = "tessera", description = "Tessera's own token endpoints: forward auth, whoami, logout, password change"),
        (name = "admin", description = "Administration: the system admin role or the bootstrap admin token"),
        (name = "ops", description = "Liveness, readiness, metrics and this document"),
    ),
    // The shapes parameters name by reference (bodies bring their own).
    components(schemas(
        crate::admin::TimeQuery,
        names::ClientIdName,
        names::DomainName,
        names::DomainNameOrDefault,
        names::RoleName,
        names::UserName,
        tessera_model::SessionId,
    )),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// The ways a request proves who it is; operations name them in `security`.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let api_key = |key: ApiKey| SecurityScheme::ApiKey(key);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from any door: opaque, or a JWT (envelope-login)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "x_auth_token",
            api_key(ApiKey::Header(ApiKeyValue::with_description(
                "X-Auth-Token",
                "Seed 002's header; also the cluster's service token",
            ))),
        );
        components.add_security_scheme(
            "x_sds_auth_token",
            api_key(ApiKey::Header(ApiKeyValue::with_description(
                "X-SDS-AUTH-TOKEN",
                "Seed 001's header",
            ))),
        );
        components.add_security_scheme(
            "x_sds_auth_token_cookie",
            api_key(ApiKey::Cookie(ApiKeyValue::with_description(
                "X-SDS-AUTH-TOKEN",
                "Seed 001's cookie, set by GET /login?using-cookies=true",
            ))),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A user's password (header-login) or an OAuth2 client's secret (oauth2)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The finished document, shared by every request for it.
#[derive(Clone)]
pub struct Published(pub Arc<Document>);

/// Completes the document the router collected: operation ids must be
/// unique, and a handler serving several methods (`/logout`, `/v1/authz`)
/// has one id, so each of its operations gets the method appended.
pub fn finish(mut doc: Document) -> Published {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in doc.paths.paths.values_mut() {
        for (_, op) in operations(item) {
            if let Some(id) = &op.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        for (method, op) in operations(item) {
            if let Some(id) = &mut op.operation_id {
                if seen.get(id.as_str()).is_some_and(|n| *n > 1) {
                    *id = format!("{id}_{method}");
                }
            }
        }
    }
    token_endpoints(&mut doc);
    Published(Arc::new(doc))
}

/// The oauth2 door's token endpoints as OAuth2 security schemes (password
/// and client_credentials flows), for the paths this configuration serves:
/// they say where the bearer tokens come from, and that a 400 there
/// (`invalid_grant`) is how RFC 6749 refuses credentials.
fn token_endpoints(doc: &mut Document) {
    use utoipa::openapi::security::{ClientCredentials, Flow, OAuth2, Password, Scopes};
    const TOKEN_PATHS: [(&str, &str); 3] = [
        ("oauth2", "/oauth/token"),
        ("oauth2_realm", "/auth/oauth"),
        ("oauth2_api", "/api/oauth/token"),
    ];
    let scopes = || {
        Scopes::from_iter([
            ("read", "GET, HEAD and OPTIONS through the gateway"),
            ("write", "Every method through the gateway"),
        ])
    };
    for (name, path) in TOKEN_PATHS {
        if !doc.paths.paths.contains_key(path) {
            continue;
        }
        let scheme = OAuth2::with_description(
            [
                Flow::Password(Password::new(path, scopes())),
                Flow::ClientCredentials(ClientCredentials::new(path, scopes())),
            ],
            format!("Tokens from the oauth2 door's token endpoint at `{path}`, sent as `bearer`"),
        );
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(name, SecurityScheme::OAuth2(scheme));
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
    .collect()
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "ops",
    summary = "This document: Tessera's HTTP API as OpenAPI 3.1",
    responses((status = 200, description = "The OpenAPI document", body = Object)),
)]
pub async fn openapi_get(State(state): State<crate::AppState>) -> Result<Response, ApiError> {
    match state.openapi.get() {
        Some(doc) => Ok(Json(doc.0.as_ref()).into_response()),
        // `app` sets it before serving anything; a state built without
        // `app` has no document to give.
        None => Err(ApiError::Unavailable {
            message: "the OpenAPI document is not assembled yet".into(),
            retry_after: Duration::from_secs(1),
        }),
    }
}
