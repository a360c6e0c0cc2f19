//! Shapes that exist on the wire but not as Rust types of their own: bodies
//! built with `serde_json::json!`, and records whose types live in the
//! model and core crates (which stay free of OpenAPI). They are never
//! built, only described for `/openapi.json`; `records` checks its mirrors
//! against the real types so the two cannot drift apart unseen.

// Documentation only: these structs are described, never constructed.
#![allow(dead_code)]

pub mod doors;
pub mod records;

use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// An error on Tessera's own JSON API (`/v1/...`, `/metrics`).
#[derive(ToSchema)]
pub struct ApiError {
    /// A short code: `invalid_request`, `invalid_token`, `forbidden`,
    /// `not_found`, `conflict`, `too_many_tokens`, `busy`, `unavailable`, ...
    #[schema(example = "invalid_token")]
    error: String,
    /// What went wrong, for a person.
    message: String,
}

/// A one-line confirmation.
#[derive(ToSchema)]
pub struct Message {
    #[schema(example = "password changed")]
    message: String,
}

/// How many sessions a revocation ended.
#[derive(ToSchema)]
pub struct Revoked {
    revoked: u64,
}

/// `GET /healthz`.
#[derive(ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: String,
}

/// `GET /readyz`: the store answers (200) or not (503).
#[derive(ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    #[schema(example = "ready")]
    status: String,
    /// The store backend (`sqlite`, `postgres`), when ready.
    store: Option<String>,
    /// Why not, when unavailable.
    reason: Option<String>,
}

/// `GET /v1/auth/whoami`: the caller, whatever token it presented.
#[derive(ToSchema)]
pub struct Whoami {
    /// `user`, `client` or `service`.
    #[schema(example = "user")]
    kind: String,
    /// The user's or client's id (absent for the service principal).
    id: Option<String>,
    name: String,
    common_name: Option<String>,
    distinguished_name: Option<String>,
    /// The user's domain.
    domain: Option<String>,
    domain_id: Option<String>,
    /// For a user, each role with where it applies; for a client or the
    /// service principal, role names.
    roles: Vec<WhoamiRole>,
    /// The token's scope (`read write`, `emergency`, ...).
    scope: String,
    /// The session the token belongs to (absent for the service token).
    session: Option<WhoamiSession>,
}

/// A role in `whoami`.
#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum WhoamiRole {
    /// A user's role and where it applies.
    Grant(records::RoleView),
    /// A client's or the service principal's role name.
    Name(String),
}

/// The session part of `whoami`.
#[derive(ToSchema)]
pub struct WhoamiSession {
    id: String,
    /// `access`, `refresh` or `proxy`.
    kind: String,
    /// The front door that issued it.
    door: String,
    /// The token policy it was issued under.
    policy: String,
    /// Milliseconds since the epoch.
    created_at: i64,
    /// Milliseconds since the epoch; `null` never expires (proxy tokens).
    expires_at: Option<i64>,
}

/// A page of a list: the items under the list's own key, and where the
/// next page starts (`null` on the last page).
#[derive(ToSchema)]
pub struct UserPage {
    users: Vec<records::UserView>,
    next_offset: Option<u64>,
}

#[derive(ToSchema)]
pub struct DomainPage {
    domains: Vec<records::Domain>,
    next_offset: Option<u64>,
}

#[derive(ToSchema)]
pub struct RoleList {
    roles: Vec<records::Role>,
}

#[derive(ToSchema)]
pub struct ClientPage {
    clients: Vec<records::ClientView>,
    next_offset: Option<u64>,
}

#[derive(ToSchema)]
pub struct SessionPage {
    sessions: Vec<records::SessionView>,
    /// Pass as `after` for the next page.
    next_after: Option<String>,
}

#[derive(ToSchema)]
pub struct AuditPage {
    events: Vec<records::AuditEvent>,
    /// Pass as `before` for the next page.
    next_before: Option<i64>,
}

/// `POST /v1/admin/users` (201): the new user; a generated password is
/// shown this once.
#[derive(ToSchema)]
pub struct UserCreated {
    id: String,
    name: String,
    domain: String,
    emergency: bool,
    /// Only when no password was sent.
    generated_password: Option<String>,
}

/// `POST /v1/admin/clients` (201): the new client; a generated secret is
/// shown this once.
#[derive(ToSchema)]
pub struct ClientCreated {
    id: String,
    public: bool,
    grants: Vec<String>,
    policy: Option<String>,
    /// Only for a confidential client sent without a secret.
    generated_secret: Option<String>,
}

/// A string that is one of a list the code keeps (`AuditKind::ALL`,
/// `GRANT_TYPES`), so the document lists exactly what the server takes.
fn one_of(description: &str, values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

/// What an audit event records.
pub struct AuditKindName;

impl PartialSchema for AuditKindName {
    fn schema() -> RefOr<Schema> {
        one_of(
            "What happened.",
            tessera_model::AuditKind::ALL.iter().map(|k| k.as_str()),
        )
    }
}

impl ToSchema for AuditKindName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AuditKind")
    }
}

/// An OAuth2 grant type Tessera implements.
pub struct GrantType;

impl PartialSchema for GrantType {
    fn schema() -> RefOr<Schema> {
        one_of(
            "An OAuth2 grant type (`emergency` is seed 000's).",
            tessera_core::admin::GRANT_TYPES.iter().copied(),
        )
    }
}

impl ToSchema for GrantType {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("GrantType")
    }
}

/// The refusals every admin endpoint can answer, before it looks at the
/// request: its caller must be a system administrator or present the
/// bootstrap admin token.
#[derive(utoipa::IntoResponses)]
pub enum AdminRefusal {
    /// No token, or not a valid one.
    #[response(status = 401)]
    Unauthorized(ApiError),
    /// The token's holder is not a system administrator.
    #[response(status = 403)]
    Forbidden(ApiError),
}
