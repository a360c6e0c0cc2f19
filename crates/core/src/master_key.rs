//! The master key: the one secret that lives outside the store (in
//! `TESSERA_MASTER_KEY` or a 0600 key file). Every other at-rest secret is
//! derived from it: the key that encrypts JWT signing keys and the key of
//! the client-secret HMAC. A store dump alone reveals neither.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{AuthError, AuthResult};

/// Shortest master key accepted, in characters.
pub const MIN_MASTER_KEY_CHARS: usize = 32;

/// The master key material.
pub struct MasterKey(Zeroizing<Vec<u8>>);

impl MasterKey {
    /// Uses `text` (from the environment or the key file) as key material.
    pub fn from_text(text: &str) -> AuthResult<Self> {
        let text = text.trim();
        if text.chars().count() < MIN_MASTER_KEY_CHARS {
            return Err(AuthError::InvalidInput(format!(
                "the master key must be at least {MIN_MASTER_KEY_CHARS} characters"
            )));
        }
        Ok(MasterKey(Zeroizing::new(text.as_bytes().to_vec())))
    }

    /// A fresh random key, as text for the key file.
    pub fn generate_text() -> String {
        crate::random::base64url(32)
    }

    /// A 256-bit key for one purpose, derived with HMAC-SHA256 so that
    /// keys for different purposes are independent.
    pub fn subkey(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&hmac_sha256(&self.0, purpose.as_bytes()));
        out
    }

    /// A public fingerprint: nodes of a cluster compare it (through the
    /// store) to catch one started with another key.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.subkey("tessera fingerprint v1")[..8])
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use hmac::digest::KeyInit;
    // HMAC takes keys of any length, so new_from_slice never fails; the
    // fallback only keeps this free of a panic path.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Hashes OAuth2 client secrets with HMAC-SHA256 under a key derived from
/// the master key. A generated secret has 256 bits of entropy, so a slow
/// hash would add nothing; the key protects the user-chosen ones (seed
/// 003's `my-secret`) from offline guessing by anyone holding only a store
/// dump, and verification stays fast enough for 10,000 grants/s.
pub struct ClientSecretHasher {
    key: Zeroizing<[u8; 32]>,
}

const CLIENT_SECRET_SCHEME: &str = "hmac-sha256$";

impl ClientSecretHasher {
    pub fn new(master: &MasterKey) -> Self {
        ClientSecretHasher {
            key: master.subkey("tessera client secret v1"),
        }
    }

    pub fn hash(&self, secret: &str) -> String {
        format!(
            "{CLIENT_SECRET_SCHEME}{}",
            hex::encode(hmac_sha256(&*self.key, secret.as_bytes()))
        )
    }

    /// Constant-time comparison against a stored hash.
    pub fn verify(&self, secret: &str, stored: &str) -> bool {
        use subtle::ConstantTimeEq;
        let Some(hexed) = stored.strip_prefix(CLIENT_SECRET_SCHEME) else {
            return false;
        };
        let Ok(want) = hex::decode(hexed) else {
            return false;
        };
        let got = hmac_sha256(&*self.key, secret.as_bytes());
        want.len() == got.len() && bool::from(got.ct_eq(want.as_slice()))
    }
}

impl std::fmt::Debug for ClientSecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecretHasher([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_master_keys_are_refused() {
        assert!(MasterKey::from_text("short").is_err());
        assert!(MasterKey::from_text(&MasterKey::generate_text()).is_ok());
    }

    #[test]
    fn subkeys_differ_by_purpose_and_by_master() {
        let a = MasterKey::from_text(&"a".repeat(32)).unwrap();
        let b = MasterKey::from_text(&"b".repeat(32)).unwrap();
        assert_ne!(*a.subkey("x"), *a.subkey("y"));
        assert_ne!(*a.subkey("x"), *b.subkey("x"));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
    }

    #[test]
    fn client_secrets_verify_only_under_the_same_master_key() {
        let a = ClientSecretHasher::new(&MasterKey::from_text(&"a".repeat(32)).unwrap());
        let b = ClientSecretHasher::new(&MasterKey::from_text(&"b".repeat(32)).unwrap());
        let stored = a.hash("my-secret");
        assert!(stored.starts_with("hmac-sha256$"));
        assert!(a.verify("my-secret", &stored));
        assert!(!a.verify("my-secreT", &stored));
        assert!(!b.verify("my-secret", &stored));
        assert!(!a.verify("my-secret", "garbage"));
    }
}
