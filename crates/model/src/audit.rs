//! Audit events (SPEC §5): every login, failure, lockout, logout,
//! revocation, password change and admin change.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuditKind {
    LoginSucceeded,
    LoginFailed,
    Lockout,
    TokenIssued,
    TokenRefreshed,
    TokenRevoked,
    RefreshReplay,
    Logout,
    PasswordChanged,
    AdminChange,
    AdminTokenUsed,
    KeyRotated,
}

impl AuditKind {
    pub const ALL: [AuditKind; 12] = [
        AuditKind::LoginSucceeded,
        AuditKind::LoginFailed,
        AuditKind::Lockout,
        AuditKind::TokenIssued,
        AuditKind::TokenRefreshed,
        AuditKind::TokenRevoked,
        AuditKind::RefreshReplay,
        AuditKind::Logout,
        AuditKind::PasswordChanged,
        AuditKind::AdminChange,
        AuditKind::AdminTokenUsed,
        AuditKind::KeyRotated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::LoginSucceeded => "login_succeeded",
            AuditKind::LoginFailed => "login_failed",
            AuditKind::Lockout => "lockout",
            AuditKind::TokenIssued => "token_issued",
            AuditKind::TokenRefreshed => "token_refreshed",
            AuditKind::TokenRevoked => "token_revoked",
            AuditKind::RefreshReplay => "refresh_replay",
            AuditKind::Logout => "logout",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::AdminChange => "admin_change",
            AuditKind::AdminTokenUsed => "admin_token_used",
            AuditKind::KeyRotated => "key_rotated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An event about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAuditEvent {
    pub at: Timestamp,
    pub kind: AuditKind,
    /// Who did it, when not the subject itself: `cli`, `admin-token`, or
    /// an administrator's user id.
    pub actor: Option<String>,
    /// Who it happened to: user id, client id or `service`.
    pub subject: Option<String>,
    /// The name the caller gave, kept even when no such user exists.
    pub subject_name: Option<String>,
    pub domain: Option<String>,
    pub door: Option<String>,
    /// Free-form detail; never a password, token or secret.
    pub detail: String,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub id: i64,
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub event: NewAuditEvent,
}
