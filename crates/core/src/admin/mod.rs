//! Identity administration shared by the CLI and the admin API: domains,
//! users, roles, assignments and OAuth2 clients. Every change is checked
//! here (names, references, secrets) and audited, whichever surface asked.

mod audit;
mod clients;
mod directory;
mod domains;
pub mod names;
mod roles;
mod users;

pub use audit::AuditFilter;
pub use clients::{ClientChange, ClientSecretInput, ClientView, CreatedClient, NewClient, GRANT_TYPES};
pub use directory::{
    cleartext_warning, cleartext_warnings, AddedLdapDomain, GroupMappingView, NewLdapDomain,
};
pub use roles::RoleTarget;
pub use users::{CreatedUser, NewUser, RoleView, UserView};

/// The domain that exists from the first start and that logins naming no
/// domain use.
pub const DEFAULT_DOMAIN: &str = "local";
