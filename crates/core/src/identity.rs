//! Whom a validated token speaks for: the subject (user, client or the
//! cluster's service principal) and the session behind it.

use crate::authn::Authenticated;
use crate::cache::{CachedSession, ClientState, DomainState, UserState};
use std::sync::Arc;

/// Whom a token speaks for.
#[derive(Debug, Clone)]
pub enum Subject {
    User {
        user: Arc<UserState>,
        domain: Arc<DomainState>,
    },
    /// A client's own token (client_credentials).
    Client(Arc<ClientState>),
    /// The cluster's service principal (seed 002's service token).
    Service,
}

impl Subject {
    /// The user a password (or directory) login established.
    pub fn from_login(a: &Authenticated) -> Self {
        Subject::User {
            user: a.user.clone(),
            domain: a.domain.clone(),
        }
    }

    /// The id a token's `sub` carries.
    pub fn id(&self) -> String {
        match self {
            Subject::User { user, .. } => user.user.id.to_string(),
            Subject::Client(c) => c.client.id.to_string(),
            Subject::Service => "service".into(),
        }
    }

    /// The name people know the subject by.
    pub fn name(&self) -> &str {
        match self {
            Subject::User { user, .. } => &user.user.name,
            Subject::Client(c) => c.client.id.as_str(),
            Subject::Service => "service",
        }
    }

    /// The user's domain; `None` for clients and the service principal.
    pub fn domain_name(&self) -> Option<&str> {
        match self {
            Subject::User { domain, .. } => Some(&domain.domain.name),
            _ => None,
        }
    }

    /// Names of the enabled roles held, sorted, each once.
    pub fn role_names(&self) -> Vec<&str> {
        match self {
            Subject::User { user, .. } => user.role_names().iter().collect(),
            Subject::Client(c) => c.role_names().iter().collect(),
            Subject::Service => vec!["service"],
        }
    }

    /// The same names joined by commas, as `X-Tessera-Roles` carries them
    /// (no allocation: made when the user or client was cached).
    pub fn role_names_joined(&self) -> &str {
        match self {
            Subject::User { user, .. } => user.role_names().joined(),
            Subject::Client(c) => c.role_names().joined(),
            Subject::Service => "service",
        }
    }

    /// Whether an enabled role of exactly this name is held.
    pub fn has_role(&self, role: &str) -> bool {
        match self {
            Subject::User { user, .. } => user.role_names().contains(role),
            Subject::Client(c) => c.role_names().contains(role),
            Subject::Service => role == "service",
        }
    }
}

/// A validated token: the session behind it and whom it speaks for.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `None` for the service token, which has no session.
    pub session: Option<Arc<CachedSession>>,
    pub subject: Subject,
}

impl Identity {
    /// The token's space-separated scope (RFC 6749 §3.3); the service
    /// token, which has no session, has the default `read write`.
    pub fn scope(&self) -> &str {
        self.session
            .as_ref()
            .map(|s| s.scope())
            .unwrap_or(crate::scope::DEFAULT)
    }
}
