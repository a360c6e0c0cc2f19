//! The oauth2 door's wire: the grant types, the bodies it sends (RFC 6749
//! §5.1 tokens and §5.2 errors, RFC 7662 introspection, RFC 8414
//! metadata, the JWKS, seed 003's realm list), and how a core refusal
//! becomes an RFC 6749 one. The forms it reads are in `forms`.

use crate::error::ApiError;
use crate::extract::Form;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use tessera_core::clients::Introspection;
use tessera_core::keys::Jwk;
use tessera_core::tokens::JWT_AUDIENCE;
use tessera_core::{AuthError, Issued, OAuthCode, Subject};
use tessera_model::{Domain, TokenKind};
use utoipa::ToSchema;

/// Seed 000's exact description for a wrong user or password.
pub const INVALID_CREDENTIALS: &str = "Invalid credentials";

/// An OAuth2 grant type Tessera implements (`emergency` is seed 000's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = GrantType)]
pub enum Grant {
    Password,
    Emergency,
    RefreshToken,
    ClientCredentials,
}

impl Grant {
    /// Every grant, in the order of `tessera_core::admin::GRANT_TYPES`.
    pub const ALL: [Grant; 4] = [
        Grant::Password,
        Grant::Emergency,
        Grant::RefreshToken,
        Grant::ClientCredentials,
    ];

    /// The `grant_type` value (and the name a client's grant list uses).
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::Password => "password",
            Grant::Emergency => "emergency",
            Grant::RefreshToken => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
        }
    }

    /// The `grant_type` of a token request: `invalid_request` when it is
    /// missing, `unsupported_grant_type` when it is not one of ours.
    pub fn of(form: &Form) -> Result<Grant, ApiError> {
        form.get("grant_type")
            .ok_or_else(|| invalid_request("the grant_type parameter is missing"))?
            .parse()
    }
}

impl FromStr for Grant {
    type Err = ApiError;

    fn from_str(s: &str) -> Result<Grant, ApiError> {
        Grant::ALL.into_iter().find(|g| g.as_str() == s).ok_or_else(|| {
            ApiError::oauth(
                OAuthCode::UnsupportedGrantType,
                format!(
                    "grant_type {s:?} is not supported; use password, emergency, refresh_token or client_credentials"
                ),
            )
        })
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 6749 §5.1's success body, plus seed 000's `updated_at`.
#[derive(Serialize, ToSchema)]
#[schema(as = OAuthToken)]
pub struct TokenBody<'a> {
    access_token: &'a str,
    #[schema(example = "bearer")]
    token_type: &'static str,
    /// Seconds; absent for tokens that never expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[schema(example = "read write")]
    scope: &'a str,
    /// When the client may use the refresh_token grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    /// When the token was issued, in milliseconds since the epoch.
    updated_at: i64,
}

/// The 200 of a token request.
pub fn token_response(issued: &Issued) -> Response {
    let access = &issued.access;
    Json(TokenBody {
        access_token: access.token.as_str(),
        token_type: "bearer",
        expires_in: access.expires_in,
        scope: &access.session.scope,
        refresh_token: issued.refresh.as_ref().map(|r| r.token.as_str()),
        updated_at: access.session.created_at.millis(),
    })
    .into_response()
}

/// RFC 6749 §5.2's error body.
#[derive(Serialize, ToSchema)]
#[schema(as = OAuthError)]
pub struct ErrorBody<'a> {
    #[schema(example = "invalid_grant")]
    pub error: &'a str,
    #[schema(example = "Invalid credentials")]
    pub error_description: &'a str,
}

/// RFC 6749's `invalid_request` (400).
pub fn invalid_request(why: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::oauth(OAuthCode::InvalidRequest, why)
}

/// The description of a refusal for a domain (realm) that does not exist.
pub fn no_such(what: &str) -> String {
    format!("{what} does not exist; GET /setup lists the realms")
}

/// A core refusal as RFC 6749 wants it: a grant that fails for any reason
/// about the user or the token is `invalid_grant` (400, seed 000's words
/// for a wrong or locked password), a bad parameter `invalid_request`;
/// what is not the client's fault (the token cap, an unavailable store,
/// a fault) keeps its own status.
pub fn refusal(e: AuthError) -> ApiError {
    let grant = |why: &'static str| ApiError::oauth(OAuthCode::InvalidGrant, why);
    match e {
        AuthError::InvalidCredentials | AuthError::Locked { until: _ } => grant(INVALID_CREDENTIALS),
        AuthError::UnknownToken | AuthError::Revoked | AuthError::Expired | AuthError::Idle => {
            grant("the grant is not valid")
        }
        AuthError::UserDisabled => grant("the account is disabled"),
        AuthError::DomainDisabled => grant("the account's domain is disabled"),
        AuthError::Forbidden(why) => ApiError::oauth(OAuthCode::AccessDenied, why),
        AuthError::InvalidInput(why) => invalid_request(why),
        AuthError::NotFound(what) => invalid_request(no_such(&what)),
        AuthError::Conflict(what) => invalid_request(format!("{what} already exists")),
        AuthError::StateConflict(why) => invalid_request(why),
        e @ (AuthError::OAuth { .. }
        | AuthError::TokenLimit { .. }
        | AuthError::Busy
        | AuthError::SourceUnavailable(_)
        | AuthError::Stale { .. }
        | AuthError::Store(_)
        | AuthError::Internal(_)) => ApiError::from(e),
    }
}

/// RFC 7662 introspection: `{"active": false}` alone for a token that is
/// not valid.
#[derive(Serialize, ToSchema)]
#[schema(as = Introspection)]
pub struct IntrospectionBody<'a> {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    /// `bearer`, or `refresh_token` for a refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    /// `access`, `refresh` or `proxy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_kind: Option<&'static str>,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    /// Seconds since the epoch; absent for tokens that never expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    /// The session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
}

impl<'a> IntrospectionBody<'a> {
    /// The answer for a token that is not (or no longer) valid.
    pub fn inactive() -> Self {
        IntrospectionBody {
            active: false,
            scope: None,
            token_type: None,
            token_kind: None,
            iat: None,
            exp: None,
            sub: None,
            aud: None,
            iss: None,
            jti: None,
            roles: None,
            client_id: None,
            username: None,
            domain: None,
        }
    }

    /// The facts of a live token; `iss` as its JWTs say it.
    pub fn active(found: &'a Introspection, issuer: &'a str) -> Self {
        let s = &found.session;
        let (username, domain) = match &found.subject {
            Subject::User { user, domain } => {
                (Some(user.user.name.as_str()), Some(domain.domain.name.as_str()))
            }
            Subject::Client(_) | Subject::Service => (None, None),
        };
        IntrospectionBody {
            active: true,
            scope: Some(&s.scope),
            token_type: Some(if s.kind == TokenKind::Refresh {
                "refresh_token"
            } else {
                "bearer"
            }),
            token_kind: Some(s.kind.as_str()),
            iat: Some(s.created_at.secs()),
            exp: s.expires_at.map(|t| t.secs()),
            sub: Some(found.subject.id()),
            aud: Some(JWT_AUDIENCE),
            iss: Some(issuer),
            jti: Some(s.id.as_str()),
            roles: Some(found.subject.role_names()),
            client_id: s.client_id.as_ref().map(|c| c.as_str()),
            username,
            domain,
        }
    }
}

/// RFC 8414 authorization server metadata.
#[derive(Serialize, ToSchema)]
#[schema(as = ServerMetadata)]
pub struct MetadataBody {
    pub issuer: String,
    pub token_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub jwks_uri: String,
    pub grant_types_supported: [Grant; 4],
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub scopes_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
}

/// The public keys JWTs are signed with (RFC 7517).
#[derive(Serialize, ToSchema)]
#[schema(as = Jwks)]
pub struct JwksBody<'a> {
    keys: Vec<JwkBody<'a>>,
}

/// One Ed25519 public key.
#[derive(Serialize, ToSchema)]
#[schema(as = Jwk)]
pub struct JwkBody<'a> {
    #[schema(example = "OKP")]
    kty: &'static str,
    #[schema(example = "Ed25519")]
    crv: &'static str,
    /// The public key, base64url.
    x: &'a str,
    kid: &'a str,
    #[schema(example = "EdDSA")]
    alg: &'static str,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    use_: &'static str,
}

impl<'a> JwksBody<'a> {
    pub fn of(keys: &'a [Jwk]) -> Self {
        JwksBody {
            keys: keys
                .iter()
                .map(|k| JwkBody {
                    kty: k.kty,
                    crv: k.crv,
                    x: &k.x,
                    kid: &k.kid,
                    alg: k.alg,
                    use_: k.use_,
                })
                .collect(),
        }
    }
}

/// Seed 003's realm list: the enabled domains.
#[derive(Serialize, ToSchema)]
#[schema(as = Realms)]
pub struct RealmsBody<'a> {
    realms: Vec<Realm<'a>>,
}

#[derive(Serialize, ToSchema)]
pub struct Realm<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    /// `local` or `ldap`.
    #[schema(example = "local")]
    source: &'static str,
}

impl<'a> RealmsBody<'a> {
    /// The enabled ones of `domains`.
    pub fn of(domains: &'a [Domain]) -> Self {
        RealmsBody {
            realms: domains
                .iter()
                .filter(|d| d.enabled)
                .map(|d| Realm {
                    id: d.id.as_str(),
                    name: &d.name,
                    description: &d.description,
                    source: d.source.as_str(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grants_are_the_ones_the_core_knows_spelled_alike() {
        let names: Vec<&str> = Grant::ALL.iter().map(|g| g.as_str()).collect();
        assert_eq!(names, tessera_core::admin::GRANT_TYPES);
        assert_eq!(
            serde_json::to_value(Grant::ALL).unwrap(),
            serde_json::json!(tessera_core::admin::GRANT_TYPES)
        );
        for g in Grant::ALL {
            assert_eq!(g.as_str().parse::<Grant>().unwrap(), g);
        }
        assert!(matches!(
            "implicit".parse::<Grant>(),
            Err(ApiError::OAuth {
                code: OAuthCode::UnsupportedGrantType,
                ..
            })
        ));
    }

    #[test]
    fn a_wrong_or_locked_password_is_seed_000s_invalid_grant() {
        for e in [
            AuthError::InvalidCredentials,
            AuthError::Locked {
                until: tessera_model::Timestamp::from_millis(0),
            },
        ] {
            let e = refusal(e);
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
            assert_eq!(
                (e.code(), e.to_string().as_str()),
                ("invalid_grant", INVALID_CREDENTIALS)
            );
        }
    }
}
