//! Sessions: the server-side record behind every token (SPEC §2). A token
//! is shown once, at issue; the store keeps only its SHA-256.

use crate::ids::{ClientId, DomainId, SessionId, UserId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Expires by idle timeout and absolute lifetime.
    Access,
    /// OAuth2 only; rotates on every use.
    Refresh,
    /// Never expires; for scripts (seed 001). Not counted by the per-user cap.
    Proxy,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
            TokenKind::Proxy => "proxy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access" => Some(TokenKind::Access),
            "refresh" => Some(TokenKind::Refresh),
            "proxy" => Some(TokenKind::Proxy),
            _ => None,
        }
    }
}

/// How a token looks on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// 32 random bytes, base64url, behind a fixed prefix.
    Opaque,
    /// An EdDSA-signed JWT, still backed by this session.
    Jwt,
}

impl TokenFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFormat::Opaque => "opaque",
            TokenFormat::Jwt => "jwt",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "opaque" => Some(TokenFormat::Opaque),
            "jwt" => Some(TokenFormat::Jwt),
            _ => None,
        }
    }
}

/// SHA-256 of a token: the only form in which a token is ever stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Even a hash is not logged in full: a prefix is enough to correlate.
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}..)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// The server-side record of one issued token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    #[serde(skip)]
    pub token_hash: Option<TokenHash>,
    pub kind: TokenKind,
    pub format: TokenFormat,
    /// The user the token speaks for; `None` for a client's own token
    /// (client_credentials).
    pub user_id: Option<UserId>,
    pub client_id: Option<ClientId>,
    pub domain_id: Option<DomainId>,
    /// The front door that issued it (`oauth2`, `header-login`, ...).
    pub door: String,
    /// The token policy it was issued under.
    pub policy: String,
    /// Space-separated scopes (`read write`, `emergency`, ...).
    pub scope: String,
    /// Refresh-token family: every access and refresh token descended from
    /// one login shares it, so a replayed refresh token revokes them all.
    pub family_id: Option<SessionId>,
    /// When the password (or other credential) was last checked for this
    /// chain of tokens; refreshes keep it.
    pub auth_time: Timestamp,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    /// Absolute end of life; `None` never expires (proxy tokens).
    pub expires_at: Option<Timestamp>,
    /// Longest allowed gap between uses; `None` means no idle limit.
    pub idle_timeout_ms: Option<i64>,
    pub revoked_at: Option<Timestamp>,
    pub revoke_reason: Option<String>,
    /// A refresh session's token before its last rotation: presented
    /// again, it betrays a replay.
    #[serde(skip)]
    pub previous_hash: Option<TokenHash>,
}

impl Session {
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout_ms
            .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    }

    /// The instant this session stops being usable if nothing else
    /// happens: the earlier of its absolute expiry and its idle deadline.
    pub fn dies_at(&self, last_used: Timestamp) -> Option<Timestamp> {
        let idle_end = self.idle_timeout().map(|d| last_used.plus(d));
        match (self.expires_at, idle_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
