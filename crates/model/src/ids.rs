//! Identifier newtypes. Users, domains, roles and sessions are named by 32
//! lowercase hex characters, the shape of the ids in seeds 002 and 003, so
//! that scripts written against those products parse ours unchanged.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{32}$"))]
        pub struct $name(String);

        impl $name {
            /// Wraps `s` when it is 32 lowercase hex characters.
            pub fn parse(s: &str) -> Option<Self> {
                is_hex32(s).then(|| $name(s.to_owned()))
            }

            /// Wraps a value read back from the store, which only ever holds
            /// ids this type produced.
            pub fn from_trusted(s: String) -> Self {
                $name(s)
            }

            /// Builds an id from 16 random bytes supplied by the caller
            /// (the core owns the random source).
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                let mut s = String::with_capacity(32);
                for b in bytes {
                    s.push(HEX[usize::from(b >> 4)] as char);
                    s.push(HEX[usize::from(b & 0x0f)] as char);
                }
                $name(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The 16 bytes the id spells in hex (zeros for an id that is
            /// not well formed, which `parse` and `from_bytes` never make).
            pub fn to_bytes(&self) -> [u8; 16] {
                let mut out = [0u8; 16];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = self.0.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0);
                }
                out
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

hex_id!(
    /// A user's id, stable across renames.
    UserId
);
hex_id!(
    /// A domain's id (seed 002's `domainId`).
    DomainId
);
hex_id!(
    /// A role's id (seed 002's role `id`).
    RoleId
);
hex_id!(
    /// A session's id: the handle admins use to list and revoke sessions,
    /// never the token itself. Also the JWT `jti`.
    SessionId
);

/// An OAuth2 client's id, chosen by whoever registers the client
/// (seed 000's `simplivity`, seed 003's `my-client`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "my-client"))]
pub struct ClientId(pub String);

impl ClientId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_lowercase_hex() {
        let id = UserId::from_bytes([0xab; 16]);
        assert_eq!(id.as_str(), "abababababababababababababababab");
        assert!(UserId::parse(id.as_str()).is_some());
        assert!(UserId::parse("ABABABABABABABABABABABABABABABAB").is_none());
        assert!(UserId::parse("abc").is_none());
        assert!(UserId::parse("zbababababababababababababababab").is_none());
        assert_eq!(UserId::from_bytes([7; 16]).to_bytes(), [7; 16]);
    }
}
