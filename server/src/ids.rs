//! Identifiers and random credentials.
//!
//! Ids are 27 characters of base62 like RudderStack's KSUIDs: 4 bytes of seconds then 16 random bytes, so
//! they sort by creation time. Tokens are 32 random bytes behind a prefix that says what they are, and are
//! stored only as a SHA-256 hash (they are random, so a fast hash is enough; passwords use argon2id).

use rand::RngCore;
use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// KSUID epoch (2014-05-13T16:53:20Z), as RudderStack's ids use.
const EPOCH: u64 = 1_400_000_000;

pub fn new_id() -> String {
    let mut bytes = [0u8; 20];
    let seconds =
        (time::OffsetDateTime::now_utc().unix_timestamp() as u64).saturating_sub(EPOCH) as u32;
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    rand::thread_rng().fill_bytes(&mut bytes[4..]);
    base62_fixed(&bytes, 27)
}

/// A source's write key: random, 27 base62 characters like RudderStack's.
pub fn new_write_key() -> String {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    base62_fixed(&bytes, 27)
}

/// A random secret token such as `whk_api_…`. Returns (token, sha256 hash hex, display prefix).
pub fn new_token(kind: &str) -> (String, String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!("{kind}_{}", base62_fixed(&bytes, 43));
    let prefix = token[..kind.len() + 7].to_string();
    let hash = hash_token(&token);
    (token, hash, prefix)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares secrets in constant time (the `subtle` crate, written to stop the compiler from adding an early
/// exit), so timing does not tell how much matched. Lengths are not secret: tokens have a fixed length.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Big-endian base62 of `bytes`, left-padded with '0' to `width` characters.
fn base62_fixed(bytes: &[u8], width: usize) -> String {
    let mut digits: Vec<u8> = Vec::with_capacity(width);
    let mut number: Vec<u32> = bytes.iter().map(|&b| b as u32).collect();
    while number.iter().any(|&d| d != 0) {
        let mut remainder = 0u32;
        for digit in number.iter_mut() {
            let acc = (remainder << 8) | *digit;
            *digit = acc / 62;
            remainder = acc % 62;
        }
        digits.push(BASE62[remainder as usize]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("base62 is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_27_base62_characters_and_sort_by_time() {
        let a = new_id();
        assert_eq!(a.len(), 27);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(new_write_key().len(), 27);
    }

    #[test]
    fn constant_time_comparison_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn tokens_carry_their_kind_and_hash_stably() {
        let (token, hash, prefix) = new_token("whk_dp");
        assert!(token.starts_with("whk_dp_"));
        assert!(token.starts_with(&prefix));
        assert_eq!(hash, hash_token(&token));
        assert_ne!(hash, hash_token("whk_dp_other"));
    }
}
