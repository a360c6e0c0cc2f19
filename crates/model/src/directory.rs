//! The settings of an LDAP domain (SPEC §7): where its directory is, how a
//! login finds the user's entry (a DN template, or a search then a bind),
//! where its groups are, and which directory groups give which roles.

use crate::ids::{DomainId, RoleId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a login turns a user name into the DN it binds as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "style", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LdapBind {
    /// Bind straight to `template` with `{user}` replaced by the login
    /// name, escaped as RFC 4514 says (`uid={user},ou=people,dc=example,dc=org`).
    DnTemplate { template: String },
    /// Search `base` (subtree) with `filter`, `{user}` replaced by the
    /// login name escaped as RFC 4515 says, as `bind_dn` (anonymously when
    /// `None`); exactly one entry must match; then bind as that entry.
    Search {
        base: String,
        filter: String,
        bind_dn: Option<String>,
    },
}

/// An LDAP domain's directory, as stored. The search account's password
/// is kept only encrypted under the master key (`bind_password_enc`); a
/// user's password is never stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdapSettings {
    pub domain_id: DomainId,
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    pub bind: LdapBind,
    /// AES-256-GCM of the search account's password (nonce first), under a
    /// key derived from the master key; `None` without a search account.
    #[serde(skip)]
    pub bind_password_enc: Option<Vec<u8>>,
    /// Where groups are searched; `None` picks a default (the search base,
    /// or the template's `dc=` suffix).
    pub group_base: Option<String>,
    /// The group filter (`{dn}` and `{user}` replaced, escaped); `None` is
    /// the default that finds `groupOfNames`, `groupOfUniqueNames` and
    /// `posixGroup` groups.
    pub group_filter: Option<String>,
    /// Upgrade an `ldap://` connection with StartTLS before any bind.
    pub starttls: bool,
    /// PEM of the CA certificates the directory's certificate must chain
    /// to; `None` uses the system's roots.
    pub ca_pem: Option<String>,
}

impl LdapSettings {
    /// Whether passwords cross the network in clear (plain `ldap://`
    /// without StartTLS).
    pub fn is_cleartext(&self) -> bool {
        !self.starttls && !self.url.to_ascii_lowercase().starts_with("ldaps://")
    }
}

// Hand-written so the encrypted password (and its length) stays out of logs.
impl fmt::Debug for LdapSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapSettings")
            .field("domain_id", &self.domain_id)
            .field("url", &self.url)
            .field("bind", &self.bind)
            .field("group_base", &self.group_base)
            .field("group_filter", &self.group_filter)
            .field("starttls", &self.starttls)
            .field("ca", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// A directory group that gives a role to its members, in the user's own
/// domain or on the whole system. Re-evaluated at every login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMapping {
    pub domain_id: DomainId,
    /// The group's `cn` as given; matched without regard to letter case.
    pub group: String,
    pub role_id: RoleId,
    /// The role applies on the whole system ("vdc role") rather than in
    /// the domain.
    pub system: bool,
}
