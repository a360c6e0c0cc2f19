//! Identity records: domains, users, roles, role assignments and OAuth2
//! clients (SPEC §1).

use crate::ids::{ClientId, DomainId, RoleId, UserId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a domain's users and passwords live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum IdentitySource {
    /// Users and Argon2id hashes in Tessera's own store.
    Local,
    /// Users authenticated by binding to a directory; no password is stored.
    Ldap,
}

impl IdentitySource {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::Local => "local",
            IdentitySource::Ldap => "ldap",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "local" => Some(IdentitySource::Local),
            "ldap" => Some(IdentitySource::Ldap),
            _ => None,
        }
    }
}

/// A namespace of users and role assignments (the seeds' tenant or realm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Domain {
    pub id: DomainId,
    /// Unique case-insensitively; shown as written when created.
    pub name: String,
    pub description: String,
    pub source: IdentitySource,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A user of one domain.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub domain_id: DomainId,
    /// Unique case-insensitively within the domain.
    pub name: String,
    pub common_name: Option<String>,
    pub distinguished_name: Option<String>,
    /// Argon2id PHC string; `None` for users of directory-backed domains.
    #[serde(skip_serializing)]
    pub password_hash: Option<String>,
    pub enabled: bool,
    /// May use only the emergency grant (seed 000's svtcli account).
    pub emergency: bool,
    pub failed_logins: i64,
    pub first_failed_at: Option<Timestamp>,
    pub locked_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    /// Whether a lockout is in force at `now`.
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

// Hand-written so the password hash never reaches a log line.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("domain_id", &self.domain_id)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("emergency", &self.emergency)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// The built-in role that administers Tessera when held on the system
/// scope (SPEC §1). Its name never changes.
pub const ADMIN_ROLE: &str = "admin";

/// Whether a change may take away the last enabled administrator: the
/// last enabled user (not an emergency account, in an enabled domain)
/// holding [`ADMIN_ROLE`] on the system. Disabling that user, withdrawing
/// that role or disabling that domain would leave nobody able to use the
/// admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastAdmin {
    /// Refuse the change (the admin API; the CLI without `--force`).
    Keep,
    /// Make it anyway: the CLI's `--force`, run on the host on purpose.
    Override,
}

/// A named set of permissions, granted through assignments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    /// `admin`, `_member_` and `read_only` exist from the first start and
    /// cannot be removed.
    pub builtin: bool,
    pub created_at: Timestamp,
}

/// Where an assignment applies: everywhere (the seeds' "vdc roles") or in
/// one domain (the seeds' "tenant roles").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "domain_id", rename_all = "lowercase")]
pub enum AssignmentScope {
    System,
    Domain(DomainId),
}

/// Who holds an assignment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Principal {
    User(UserId),
    Client(ClientId),
}

/// A role held by a principal in a scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Assignment {
    pub principal: Principal,
    pub role_id: RoleId,
    pub scope: AssignmentScope,
}

/// A role as a principal holds it: the role and the scope it applies in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrant {
    pub role: Role,
    pub scope: AssignmentScope,
}

/// An OAuth2 client (SPEC §1).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: ClientId,
    /// Keyed hash of the secret; `None` for a public client.
    #[serde(skip_serializing)]
    pub secret_hash: Option<String>,
    /// Grant types this client may use (`password`, `refresh_token`, ...).
    pub grants: Vec<String>,
    /// Token policy overriding the door's own, by name.
    pub policy: Option<String>,
    pub enabled: bool,
    pub created_at: Timestamp,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grants.iter().any(|g| g == grant)
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("public", &self.is_public())
            .field("grants", &self.grants)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}
