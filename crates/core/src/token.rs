//! What a token looks like on the wire, and the one form in which it is
//! stored: its SHA-256.
//!
//! Opaque tokens are 32 random bytes, base64url, behind a short prefix per
//! kind (`tsa_` access, `tsr_` refresh, `tsp_` proxy) so secret scanners can
//! find leaked ones: `ts[arp]_[A-Za-z0-9_-]{43}`.

use sha2::{Digest, Sha256};
use tessera_model::session::TokenHash;
use tessera_model::TokenKind;
use zeroize::Zeroizing;

/// Length of the random part of an opaque token (32 bytes, base64url).
const RANDOM_CHARS: usize = 43;

/// The prefix opaque tokens of `kind` carry.
pub fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "tsa_",
        TokenKind::Refresh => "tsr_",
        TokenKind::Proxy => "tsp_",
    }
}

/// A new opaque token of `kind`.
pub fn new_opaque(kind: TokenKind) -> Zeroizing<String> {
    Zeroizing::new(format!("{}{}", prefix(kind), crate::random::base64url(32)))
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
    (rest.len() == RANDOM_CHARS && rest.bytes().all(is_base64url)).then_some(kind)
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
        for kind in [TokenKind::Access, TokenKind::Refresh, TokenKind::Proxy] {
            let t = new_opaque(kind);
            assert_eq!(t.len(), 4 + 43);
            assert_eq!(opaque_kind(&t), Some(kind));
            assert!(plausible(&t));
        }
        assert_ne!(*new_opaque(TokenKind::Access), *new_opaque(TokenKind::Access));
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
