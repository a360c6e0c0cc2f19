//! The front doors' bodies that are built with `json!` or sent as forms:
//! described here, grouped by door, in each door's own wire shape.

use super::GrantType;
use utoipa::ToSchema;

// ---- oauth2 (seeds 000 and 003) ----

/// A token request (RFC 6749 §4.3, §4.4, §6 and seed 000's emergency
/// grant), form-encoded. The client authenticates with HTTP Basic or with
/// `client_id` (and `client_secret`), never both.
#[derive(ToSchema)]
pub struct TokenForm {
    grant_type: GrantType,
    /// password and emergency grants.
    username: Option<String>,
    /// password and emergency grants.
    #[schema(format = Password)]
    password: Option<String>,
    /// password grant: the domain (seed 003's realm); the default domain
    /// when absent.
    realm: Option<String>,
    /// `read`, `write`, `emergency`, `*` (everything the principal may
    /// have); `read write` when absent.
    scope: Option<String>,
    /// refresh_token grant.
    refresh_token: Option<String>,
    /// When the client does not use HTTP Basic.
    client_id: Option<String>,
    #[schema(format = Password)]
    client_secret: Option<String>,
}

/// A revocation (RFC 7009) or introspection (RFC 7662) request,
/// form-encoded.
#[derive(ToSchema)]
pub struct TokenParam {
    /// The token to revoke or describe.
    token: String,
    /// When the client does not use HTTP Basic.
    client_id: Option<String>,
    #[schema(format = Password)]
    client_secret: Option<String>,
}

/// RFC 7662 introspection: `{"active": false}` alone for a token that is
/// not valid.
#[derive(ToSchema)]
pub struct Introspection {
    active: bool,
    scope: Option<String>,
    /// `bearer`, or `refresh_token` for a refresh token.
    token_type: Option<String>,
    /// `access`, `refresh` or `proxy`.
    token_kind: Option<String>,
    /// Seconds since the epoch.
    iat: Option<i64>,
    /// Seconds since the epoch; absent for tokens that never expire.
    exp: Option<i64>,
    sub: Option<String>,
    aud: Option<String>,
    iss: Option<String>,
    /// The session id.
    jti: Option<String>,
    roles: Option<Vec<String>>,
    client_id: Option<String>,
    username: Option<String>,
    domain: Option<String>,
}

/// RFC 8414 authorization server metadata.
#[derive(ToSchema)]
pub struct ServerMetadata {
    issuer: String,
    token_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    jwks_uri: String,
    grant_types_supported: Vec<GrantType>,
    token_endpoint_auth_methods_supported: Vec<String>,
    revocation_endpoint_auth_methods_supported: Vec<String>,
    introspection_endpoint_auth_methods_supported: Vec<String>,
    scopes_supported: Vec<String>,
    response_types_supported: Vec<String>,
}

/// The public keys JWTs are signed with (RFC 7517).
#[derive(ToSchema)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

/// One Ed25519 public key.
#[derive(ToSchema)]
pub struct Jwk {
    #[schema(example = "OKP")]
    kty: String,
    #[schema(example = "Ed25519")]
    crv: String,
    /// The public key, base64url.
    x: String,
    kid: String,
    #[schema(example = "EdDSA")]
    alg: String,
    #[schema(rename = "use", example = "sig")]
    use_: String,
}

/// Seed 003's realm list: the enabled domains.
#[derive(ToSchema)]
pub struct Realms {
    realms: Vec<Realm>,
}

#[derive(ToSchema)]
pub struct Realm {
    id: String,
    name: String,
    description: String,
    /// `local` or `ldap`.
    source: String,
}

// ---- header-login (seed 001) ----

/// `<loggedIn><user>NAME</user></loggedIn>` (or `<loggedOut>`), or the
/// same as JSON when the client accepts only JSON.
#[derive(ToSchema)]
pub struct SdsUser {
    user: String,
}

/// The door's error: `<error><code/><description/><details/><retryable/></error>`,
/// or the same fields as JSON.
#[derive(ToSchema)]
pub struct SdsError {
    /// The HTTP status.
    code: u16,
    /// The status's reason phrase.
    description: String,
    details: String,
    retryable: bool,
}

/// Seed 001's whoami (`<user>...</user>` in XML).
#[derive(ToSchema)]
pub struct SdsWhoami {
    common_name: String,
    distinguished_name: String,
    /// Roles on the user's own domain.
    home_tenant_roles: Vec<String>,
    /// Roles on other domains.
    subtenant_roles: Vec<SdsSubtenantRole>,
    /// `urn:tessera:Domain:<id>:` (absent for clients and the service).
    tenant: Option<String>,
    /// System roles.
    vdc_roles: Vec<String>,
}

#[derive(ToSchema)]
pub struct SdsSubtenantRole {
    tenant: String,
    role: String,
}

// ---- domain-login (seed 002) ----

/// Keystone's error shape.
#[derive(ToSchema)]
pub struct KeystoneError {
    error: KeystoneErrorDetail,
}

#[derive(ToSchema)]
pub struct KeystoneErrorDetail {
    code: u16,
    title: String,
    message: String,
}

/// Seed 002's role list.
#[derive(ToSchema)]
pub struct SdnRoles {
    roles: Vec<SdnRole>,
}

#[derive(ToSchema)]
pub struct SdnRole {
    id: String,
    name: String,
    /// Left out when empty, as the seed does.
    description: Option<String>,
    /// `"True"` or `"False"`, a string as in the seed.
    #[schema(example = "True")]
    enabled: String,
}

// ---- envelope-login (seed 004) ----

/// The JWT bearer token a credential envelope buys.
#[derive(ToSchema)]
pub struct EnvelopeToken {
    #[schema(rename = "accessToken")]
    access_token: String,
}

/// The door's errors and confirmations: `{"message": ...}`.
#[derive(ToSchema)]
pub struct EnvelopeMessage {
    #[schema(example = "Token is already expired")]
    message: String,
}
