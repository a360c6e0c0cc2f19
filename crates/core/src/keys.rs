//! JWT signing keys: Ed25519, generated on first start, stored encrypted
//! (AES-256-GCM under a key derived from the master key), published as a
//! JWKS. Rotation starts signing with a new key while old public keys stay
//! in the JWKS until the last token they signed has expired.

use crate::error::{AuthError, AuthResult};
use crate::master_key::MasterKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tessera_model::Timestamp;
use tessera_store::{SigningKeyRecord, Store};
use zeroize::Zeroizing;

const ALGORITHM: &str = "EdDSA";

struct Signer {
    kid: String,
    key: EncodingKey,
}

/// One published public key.
#[derive(Debug, Clone, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
}

struct KeySet {
    signer: Arc<Signer>,
    published: Vec<Jwk>,
}

/// The node's view of the signing keys.
pub struct KeyRing {
    store: Store,
    cipher: LessSafeKey,
    set: RwLock<Arc<KeySet>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing")
    }
}

impl KeyRing {
    /// Loads the keys from the store, creating the first one if there is
    /// none.
    pub async fn load(store: Store, master: &MasterKey, now: Timestamp) -> AuthResult<KeyRing> {
        let sub = master.subkey("tessera signing keys v1");
        let unbound = UnboundKey::new(&AES_256_GCM, &sub[..]).map_err(|_| internal("AES key"))?;
        let cipher = LessSafeKey::new(unbound);
        if store
            .published_signing_keys(now)
            .await?
            .iter()
            .all(|k| k.retired_at.is_some())
        {
            generate(&store, &cipher, now).await?;
        }
        let set = load_set(&store, &cipher, now).await?;
        Ok(KeyRing {
            store,
            cipher,
            set: RwLock::new(Arc::new(set)),
        })
    }

    /// Re-reads the keys (after a rotation on this or another node).
    pub async fn reload(&self, now: Timestamp) -> AuthResult<()> {
        let set = Arc::new(load_set(&self.store, &self.cipher, now).await?);
        *self.set.write().map_err(|_| internal("key ring lock"))? = set;
        Ok(())
    }

    /// Starts signing with a new key. Keys it replaces stay published for
    /// `publish_for` (the longest JWT lifetime). Returns the new key id.
    pub async fn rotate(&self, now: Timestamp, publish_for: Duration) -> AuthResult<String> {
        let kid = generate(&self.store, &self.cipher, now).await?;
        self.store
            .retire_signing_keys_except(&kid, now, now.plus(publish_for))
            .await?;
        self.reload(now).await?;
        Ok(kid)
    }

    /// The id of the key that signs now.
    pub fn current_kid(&self) -> String {
        self.current().map(|s| s.signer.kid.clone()).unwrap_or_default()
    }

    /// Signs `claims` with the current key.
    pub fn sign<T: Serialize>(&self, claims: &T) -> AuthResult<Zeroizing<String>> {
        let set = self.current()?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(set.signer.kid.clone());
        jsonwebtoken::encode(&header, claims, &set.signer.key)
            .map(Zeroizing::new)
            .map_err(|e| internal(&format!("signing a JWT: {e}")))
    }

    /// The JWKS document (`/.well-known/jwks.json`).
    pub fn jwks(&self) -> Vec<Jwk> {
        self.current().map(|s| s.published.clone()).unwrap_or_default()
    }

    fn current(&self) -> AuthResult<Arc<KeySet>> {
        self.set
            .read()
            .map(|s| s.clone())
            .map_err(|_| internal("key ring lock"))
    }
}

/// The active signer and the published keys, as the store has them.
async fn load_set(store: &Store, cipher: &LessSafeKey, now: Timestamp) -> AuthResult<KeySet> {
    let records = store.published_signing_keys(now).await?;
    let active = records
        .iter()
        .filter(|k| k.retired_at.is_none())
        .max_by_key(|k| (k.created_at, k.kid.clone()))
        .ok_or_else(|| internal("no active signing key in the store"))?;
    let signer = Arc::new(Signer {
        kid: active.kid.clone(),
        key: decrypt(cipher, active)?,
    });
    let published = records.iter().map(|k| jwk(&k.kid, &k.public_key)).collect();
    Ok(KeySet { signer, published })
}

async fn generate(store: &Store, cipher: &LessSafeKey, now: Timestamp) -> AuthResult<String> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Zeroizing::new(
        Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| internal("generating an Ed25519 key"))?
            .as_ref()
            .to_vec(),
    );
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| internal("reading the new Ed25519 key"))?;
    let public = pair.public_key().as_ref().to_vec();
    let kid = thumbprint(&public);
    let mut sealed = Zeroizing::new(pkcs8.to_vec());
    let nonce_bytes: [u8; NONCE_LEN] = crate::random::bytes32()[..NONCE_LEN]
        .try_into()
        .map_err(|_| internal("nonce"))?;
    cipher
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(kid.as_bytes()),
            &mut *sealed,
        )
        .map_err(|_| internal("encrypting the signing key"))?;
    let mut private_key_enc = nonce_bytes.to_vec();
    private_key_enc.extend_from_slice(&sealed);
    store
        .insert_signing_key(&SigningKeyRecord {
            kid: kid.clone(),
            algorithm: ALGORITHM.into(),
            public_key: public,
            private_key_enc,
            created_at: now.0,
            retired_at: None,
            publish_until: None,
        })
        .await?;
    Ok(kid)
}

fn decrypt(cipher: &LessSafeKey, record: &SigningKeyRecord) -> AuthResult<EncodingKey> {
    if record.private_key_enc.len() <= NONCE_LEN {
        return Err(internal("stored signing key is truncated"));
    }
    let (nonce, sealed) = record.private_key_enc.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| internal("nonce"))?;
    let mut buf = Zeroizing::new(sealed.to_vec());
    let plain = cipher
        .open_in_place(nonce, Aad::from(record.kid.as_bytes()), &mut buf)
        .map_err(|_| {
            AuthError::InvalidInput(format!(
                "signing key {} cannot be decrypted: this node's master key is not the one that stored it",
                record.kid
            ))
        })?;
    Ok(EncodingKey::from_ed_der(plain))
}

fn jwk(kid: &str, public: &[u8]) -> Jwk {
    Jwk {
        kty: "OKP",
        crv: "Ed25519",
        x: URL_SAFE_NO_PAD.encode(public),
        kid: kid.to_owned(),
        alg: ALGORITHM,
        use_: "sig",
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key: its stable `kid`.
fn thumbprint(public: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn internal(what: &str) -> AuthError {
    AuthError::Internal(what.to_owned())
}
