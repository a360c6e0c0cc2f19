//! The core's error type. Each variant says what happened in the product's
//! terms; each front door decides how it looks on its wire.

use std::time::Duration;
use tessera_model::Timestamp;
use tessera_store::StoreError;

/// Why a core operation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password, or an account that may not log in this
    /// way: one variant, so no door can tell them apart by accident.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The presented token is not one this server issued.
    #[error("unknown token")]
    UnknownToken,
    #[error("token revoked")]
    Revoked,
    /// Past its absolute lifetime.
    #[error("token expired")]
    Expired,
    /// Unused for longer than its idle timeout.
    #[error("token idle too long")]
    Idle,
    #[error("user disabled")]
    UserDisabled,
    /// The account is locked; its tokens are refused until `until`.
    #[error("account locked")]
    Locked { until: Timestamp },
    #[error("domain disabled")]
    DomainDisabled,
    /// The per-user token cap refuses another token for `retry_after`.
    #[error("token limit reached")]
    TokenLimit { retry_after: Duration },
    /// Authenticated, but not allowed to do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// An OAuth2 error with its RFC 6749 name and a description fit for
    /// the caller.
    #[error("{}: {description}", code.as_str())]
    OAuth { code: OAuthCode, description: String },
    /// The caller sent something unusable; the text says what to fix.
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(String),
    /// A duplicate: `{0}` names what exists already.
    #[error("{0} already exists")]
    Conflict(String),
    /// The request does not fit the current state of what it names,
    /// though nothing is duplicated (group mappings for a local domain);
    /// the text says why in full.
    #[error("{0}")]
    StateConflict(String),
    /// Too many password checks queued; try again shortly.
    #[error("busy")]
    Busy,
    /// This node has not heard the store's invalidations for longer than
    /// `[cluster] max_staleness`: it refuses to trust its cache (SPEC §6).
    #[error("this node has not heard from the store for {} s", .silent_for.as_secs())]
    Stale { silent_for: Duration },
    /// An external identity source (directory) did not answer.
    #[error("identity source unavailable: {0}")]
    SourceUnavailable(String),
    #[error("store: {0}")]
    Store(#[source] StoreError),
    /// A fault inside Tessera; logged, never shown to a client.
    #[error("internal: {0}")]
    Internal(String),
}

pub type AuthResult<T> = Result<T, AuthError>;

/// What a refusal to take away the last enabled administrator says after
/// naming whom it protects.
pub(crate) const LAST_ADMIN_ADVICE: &str =
    "that would leave no enabled administrator; give another user the admin role first";

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => AuthError::Conflict(what),
            StoreError::NotFound(what) => AuthError::NotFound(what),
            StoreError::InvalidName(e) => AuthError::from(e),
            // The admin verbs say whom; this is the fallback wording.
            StoreError::LastAdministrator => AuthError::StateConflict(LAST_ADMIN_ADVICE.into()),
            other => AuthError::Store(other),
        }
    }
}

/// A name RFC 8265 refuses (SPEC §5) is the caller's to fix; the message
/// names the offending code point.
impl From<tessera_model::names::NameError> for AuthError {
    fn from(e: tessera_model::names::NameError) -> Self {
        AuthError::InvalidInput(e.to_string())
    }
}

/// The error codes of RFC 6749 §5.2 (and RFC 6750 §3.1, RFC 7009 §2.2.1)
/// that the core decides; the oauth2 door writes `as_str()` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    TemporarilyUnavailable,
    ServerError,
}

impl OAuthCode {
    /// The code as RFC 6749 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthCode::InvalidRequest => "invalid_request",
            OAuthCode::InvalidClient => "invalid_client",
            OAuthCode::InvalidGrant => "invalid_grant",
            OAuthCode::UnauthorizedClient => "unauthorized_client",
            OAuthCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthCode::InvalidScope => "invalid_scope",
            OAuthCode::AccessDenied => "access_denied",
            OAuthCode::TemporarilyUnavailable => "temporarily_unavailable",
            OAuthCode::ServerError => "server_error",
        }
    }
}

impl AuthError {
    /// An RFC 6749 error.
    pub fn oauth(code: OAuthCode, description: impl Into<String>) -> Self {
        AuthError::OAuth {
            code,
            description: description.into(),
        }
    }
}
