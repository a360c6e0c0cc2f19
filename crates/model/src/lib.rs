//! Plain data shared by every layer of Tessera: identity records, sessions,
//! token policies, audit events and the configuration tree. No I/O lives here.

pub mod audit;
pub mod config;
pub mod directory;
pub mod duration;
pub mod identity;
pub mod ids;
pub mod names;
pub mod secret;
pub mod session;
pub mod time;

pub use audit::{AuditEvent, AuditKind, NewAuditEvent};
pub use directory::{GroupMapping, LdapBind, LdapSettings};
pub use identity::{
    Assignment, AssignmentScope, Client, Domain, IdentitySource, LastAdmin, Principal, Role, RoleGrant, User,
    ADMIN_ROLE,
};
pub use ids::{ClientId, DomainId, RoleId, SessionId, UserId};
pub use secret::Secret;
pub use session::{Session, TokenFormat, TokenKind};
pub use time::Timestamp;
