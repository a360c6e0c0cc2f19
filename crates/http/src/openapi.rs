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
        (name = "oauth2", description = "OAuth2 token endpoint (SimpliVity- and HCP-style), RFC 7009 revocation, RFC 7662 introspection, RFC 8414 metadata"),
        (name = "header-login", description = "Basic-auth login with the token in X-SDS-AUTH-TOKEN (ViPR-style Basic login); XML unless the client accepts only JSON"),
        (name = "domain-login", description = "JSON login with user, password and domain, token in X-Auth-Token (SDN-controller-style domain login)"),
        (name = "envelope-login", description = "JSON credential envelope buying a JWT bearer token (OMIVV-style JWT envelope login)"),
        (name = "tessera", description = "Tessera's own token endpoints: forward auth, whoami, logout, password change"),
        (name = "admin", description = "Administration: the system admin role or the bootstrap admin token"),
        (name = "ops", description = "Liveness, readiness, metrics and this document"),
    ),
    // The shapes parameters name by reference (bodies bring their own).
    components(schemas(
        crate::admin::TimeQuery,
        crate::doors::header_login::ServicePath,
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
/// has one id, so each of its operations gets the method appended. The
/// `NewPassword` schema gets this server's `[password]` lengths.
pub fn finish(mut doc: Document, password: &tessera_model::config::PasswordConfig) -> Published {
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
    password_lengths(&mut doc, password);
    Published(Arc::new(doc))
}

/// `[password] min_length` and `max_length` (characters) as the
/// `NewPassword` schema's `minLength` and `maxLength`: the document states
/// the lengths this server enforces, whatever its configuration.
fn password_lengths(doc: &mut Document, password: &tessera_model::config::PasswordConfig) {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(schema))) = components.schemas.get_mut("NewPassword") {
        schema.min_length = Some(password.min_length as usize);
        schema.max_length = Some(password.max_length as usize);
    }
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

/// Pieces of the document's `pattern`s that state what Rust's string
/// functions do: `str::trim` and `split_whitespace` (Unicode White_Space,
/// `char::is_whitespace`), and the free-text rule of
/// `tessera_core::admin::names::text` (`char::is_control`). Character
/// classes without their brackets, so they combine.
pub mod patterns {
    /// `char::is_whitespace`.
    pub const WS: &str = r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
    /// `char::is_control`.
    pub const CTRL: &str = r"\x00-\x1F\x7F-\x9F";

    /// Absent in all but name: empty or only whitespace (what a trimmed
    /// optional setting reads as `None`).
    pub fn blank() -> String {
        format!("^[{WS}]*$")
    }

    /// Free text that is kept trimmed: something other than whitespace,
    /// at most `max` characters once trimmed, no control character but in
    /// the whitespace around it.
    pub fn trimmed_text(max: usize) -> String {
        let edge = format!("[^{WS}{CTRL}]");
        format!(
            "^[{WS}]*{edge}(?:[^{CTRL}]{{0,{}}}{edge})?[{WS}]*$",
            max.saturating_sub(2)
        )
    }

    /// Free text with something other than whitespace in it and no control
    /// character anywhere (its length is a `maxLength`).
    pub fn text_not_blank() -> String {
        format!("^[^{CTRL}]*[^{WS}{CTRL}][^{CTRL}]*$")
    }

    /// Words from `words` separated by whitespace, with whitespace around
    /// them, or nothing; `star` admits `*` alone too.
    pub fn words(words: &[&str], star: bool) -> String {
        let word = format!("(?:{})", words.join("|"));
        let list = format!("{word}(?:[{WS}]+{word})*");
        let list = if star { format!(r"\*|{list}") } else { list };
        format!("^[{WS}]*(?:{list})?[{WS}]*$")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// The patterns agree with Rust's own functions on every
        /// character that matters to them.
        #[test]
        fn the_classes_are_rusts() {
            let ws: Vec<char> = (0..=0x3000u32)
                .filter_map(char::from_u32)
                .filter(|c| c.is_whitespace())
                .collect();
            assert_eq!(
                ws,
                "\t\n\u{b}\u{c}\r \u{85}\u{a0}\u{1680}\u{2000}\u{2001}\u{2002}\u{2003}\u{2004}\u{2005}\u{2006}\
                 \u{2007}\u{2008}\u{2009}\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}"
                    .chars()
                    .collect::<Vec<_>>()
            );
            assert!((0x3001..=0x10FFFFu32)
                .filter_map(char::from_u32)
                .all(|c| !c.is_whitespace()));
            let ctrl: Vec<u32> = (0..=0x10FFFFu32)
                .filter_map(char::from_u32)
                .filter(|c| c.is_control())
                .map(u32::from)
                .collect();
            assert_eq!(ctrl, (0..=0x1F).chain(0x7F..=0x9F).collect::<Vec<u32>>());
            assert_eq!(trimmed_text(256).matches("{0,254}").count(), 1);
            assert!(words(&["read", "write"], true).starts_with(r"^["));
        }
    }
}
