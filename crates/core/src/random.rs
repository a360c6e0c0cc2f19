//! Randomness for ids, tokens, passwords and secrets, all from the
//! operating system's CSPRNG (through `rand`'s thread-local ChaCha).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;

/// 16 random bytes, for the 32-hex-character ids.
pub fn id_bytes() -> [u8; 16] {
    rand::thread_rng().gen()
}

/// 16 bytes for a time-ordered id: 48 bits of milliseconds since the
/// epoch, big-endian, then 80 random bits. Sorted ids are sorted by
/// creation, and the store appends them instead of scattering them.
pub fn time_ordered_id_bytes(now: tessera_model::Timestamp) -> [u8; 16] {
    let mut out: [u8; 16] = rand::thread_rng().gen();
    let ms = u64::try_from(now.millis()).unwrap_or(0).to_be_bytes();
    out[..6].copy_from_slice(&ms[2..]);
    out
}

/// 32 random bytes.
pub fn bytes32() -> [u8; 32] {
    rand::thread_rng().gen()
}

/// A random value of `n` bytes, base64url without padding.
pub fn base64url(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::thread_rng().fill(buf.as_mut_slice());
    URL_SAFE_NO_PAD.encode(buf)
}

/// A password for a generated account: 20 characters from an alphabet
/// without look-alikes (about 115 bits).
pub fn password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_the_promised_shape_and_differ() {
        assert_eq!(base64url(32).len(), 43);
        let p = password();
        assert_eq!(p.chars().count(), 20);
        assert!(p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c)));
        assert_ne!(password(), p);
        assert_ne!(id_bytes(), id_bytes());
        let early = time_ordered_id_bytes(tessera_model::Timestamp(1_700_000_000_000));
        let late = time_ordered_id_bytes(tessera_model::Timestamp(1_700_000_000_001));
        assert!(early < late, "ids sort by time");
    }
}
