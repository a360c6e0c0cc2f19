//! The search account's bind password at rest: AES-256-GCM under a key
//! derived from the master key (as the JWT signing keys are), the domain
//! id as associated data so a sealed password cannot be moved to another
//! domain's row.

use crate::error::{AuthError, AuthResult};
use crate::master_key::MasterKey;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

fn cipher(master: &MasterKey) -> AuthResult<LessSafeKey> {
    let sub = master.subkey("tessera ldap bind passwords v1");
    let unbound = UnboundKey::new(&AES_256_GCM, &sub[..])
        .map_err(|_| AuthError::Internal("AES key for LDAP bind passwords".into()))?;
    Ok(LessSafeKey::new(unbound))
}

/// Seals `password` for the domain `domain_id`: nonce, then ciphertext and tag.
pub fn seal(master: &MasterKey, domain_id: &str, password: &str) -> AuthResult<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = crate::random::bytes32()[..NONCE_LEN]
        .try_into()
        .map_err(|_| AuthError::Internal("nonce".into()))?;
    let mut buf = Zeroizing::new(password.as_bytes().to_vec());
    cipher(master)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(domain_id.as_bytes()),
            &mut *buf,
        )
        .map_err(|_| AuthError::Internal("encrypting an LDAP bind password".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok(out)
}

/// Opens what [`seal`] sealed.
///
/// Errors: `InvalidInput` when this node's master key is not the one that
/// sealed it, or the record is damaged.
pub fn open(master: &MasterKey, domain_id: &str, sealed: &[u8]) -> AuthResult<Zeroizing<String>> {
    let bad = || {
        AuthError::InvalidInput(format!(
            "the LDAP bind password of domain {domain_id} cannot be decrypted: this node's master key is not \
             the one that stored it"
        ))
    };
    if sealed.len() <= NONCE_LEN {
        return Err(bad());
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
    let mut buf = Zeroizing::new(body.to_vec());
    let plain = cipher(master)?
        .open_in_place(nonce, Aad::from(domain_id.as_bytes()), &mut buf)
        .map_err(|_| bad())?;
    let text = std::str::from_utf8(plain).map_err(|_| bad())?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_passwords_open_only_with_the_same_key_and_domain() {
        let a = MasterKey::from_text(&"a".repeat(32)).unwrap();
        let b = MasterKey::from_text(&"b".repeat(32)).unwrap();
        let sealed = seal(&a, "d1", "search-secret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"search"));
        assert_eq!(open(&a, "d1", &sealed).unwrap().as_str(), "search-secret");
        assert!(open(&b, "d1", &sealed).is_err());
        assert!(open(&a, "d2", &sealed).is_err());
        assert!(open(&a, "d1", &sealed[..5]).is_err());
    }
}
