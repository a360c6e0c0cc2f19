//! What a token looks like on the wire, and the one form in which it is
//! stored: its SHA-256.
//!
//! Opaque tokens are 32 random bytes, base64url, behind a short prefix per
//! kind (`tsa_` access, `tsp_` proxy) so secret scanners can find leaked
//! ones: `ts[ap]_[A-Za-z0-9_-]{43}`.
//!
//! Refresh tokens (`tsr_`, 64 characters) carry their session's id before
//! their 32 random bytes. The store finds them by that id instead of by a
//! random hash, which spares the token-hash index half the writes of every
//! rotation; the token's SHA-256 must still match the stored one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use tessera_model::session::TokenHash;
use tessera_model::{SessionId, TokenKind};
use zeroize::Zeroizing;

/// Length of the random part of an opaque token (32 bytes, base64url).
const RANDOM_CHARS: usize = 43;
/// Length of a refresh token after its prefix (16-byte id + 32 random bytes).
const REFRESH_CHARS: usize = 64;

/// The prefix opaque tokens of `kind` carry.
pub fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "tsa_",
        TokenKind::Refresh => "tsr_",
        TokenKind::Proxy => "tsp_",
    }
}

/// A new opaque access or proxy token.
pub fn new_opaque(kind: TokenKind) -> Zeroizing<String> {
    Zeroizing::new(format!("{}{}", prefix(kind), crate::random::base64url(32)))
}

/// A new refresh token for session `id`.
pub fn new_refresh(id: &SessionId) -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; 48]);
    raw[..16].copy_from_slice(&id.to_bytes());
    raw[16..].copy_from_slice(&crate::random::bytes32());
    Zeroizing::new(format!(
        "{}{}",
        prefix(TokenKind::Refresh),
        URL_SAFE_NO_PAD.encode(&raw[..])
    ))
}

/// The session id a refresh token carries, when it is shaped like one.
pub fn refresh_session_id(token: &str) -> Option<SessionId> {
    if opaque_kind(token) != Some(TokenKind::Refresh) {
        return None;
    }
    let raw = URL_SAFE_NO_PAD
        .decode(&token[prefix(TokenKind::Refresh).len()..])
        .ok()?;
    let id: [u8; 16] = raw.get(..16)?.try_into().ok()?;
    Some(SessionId::from_bytes(id))
}

/// SHA-256 of a presented token. The token has 256 bits of entropy (or is
/// a signed JWT), so an unsalted fast hash is the right tool: it lets the
/// store look tokens up by index without keeping them.
pub fn hash(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

/// The kind an opaque token's prefix claims, when it is shaped like one.
pub fn opaque_kind(token: &str) -> Option<TokenKind> {
    let kind = [TokenKind::Access, TokenKind::Refresh, TokenKind::Proxy]
        .into_iter()
        .find(|k| token.starts_with(prefix(*k)))?;
    let rest = &token[prefix(kind).len()..];
    let want = if kind == TokenKind::Refresh {
        REFRESH_CHARS
    } else {
        RANDOM_CHARS
    };
    (rest.len() == want && rest.bytes().all(is_base64url)).then_some(kind)
}

/// Whether `token` is shaped like a compact JWS (three base64url parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.len() < 8192
        && token.split('.').count() == 3
        && token
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(is_base64url))
}

/// Whether a presented string could be a Tessera token at all. Anything
/// else is refused without a store lookup.
pub fn plausible(token: &str) -> bool {
    opaque_kind(token).is_some() || looks_like_jwt(token)
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_tokens_carry_their_kind_and_are_recognised() {
        for kind in [TokenKind::Access, TokenKind::Proxy] {
            let t = new_opaque(kind);
            assert_eq!(t.len(), 4 + 43);
            assert_eq!(opaque_kind(&t), Some(kind));
            assert!(plausible(&t));
            assert_eq!(refresh_session_id(&t), None);
        }
        assert_ne!(*new_opaque(TokenKind::Access), *new_opaque(TokenKind::Access));
    }

    #[test]
    fn refresh_tokens_carry_their_session_id() {
        let id = SessionId::from_bytes([9; 16]);
        let t = new_refresh(&id);
        assert_eq!(t.len(), 4 + 64);
        assert_eq!(opaque_kind(&t), Some(TokenKind::Refresh));
        assert_eq!(refresh_session_id(&t), Some(id.clone()));
        assert_ne!(*new_refresh(&id), *t, "the secret part is random");
    }

    #[test]
    fn garbage_is_not_plausible() {
        for t in [
            "",
            "tsa_short",
            "Bearer x",
            "6f9166c2-bc7f-4cfc-a304-56aadd85e214",
            "a.b",
            "a..c",
            "tsa_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(!plausible(t), "{t}");
        }
        assert!(plausible("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln"));
    }

    #[test]
    fn the_hash_is_sha256() {
        // echo -n abc | sha256sum
        let h = hash("abc");
        assert_eq!(h.0[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
