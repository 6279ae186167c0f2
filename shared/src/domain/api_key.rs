//! API keys: their format, generation and hashing.
//!
//! A key is `ba_` followed by 64 hex digits (256 random bits). Only its
//! SHA-256 ([`KeyHash`]) is stored; the key itself is shown once, when it is
//! created, and never logged.

use std::fmt;

use super::digest::{hex, sha256_hex};

/// What every key starts with.
pub const KEY_PREFIX: &str = "ba_";
const SECRET_BYTES: usize = 32;
/// Longer keys are refused before hashing: no real key is that long.
pub const MAX_KEY_LEN: usize = 256;

/// Whether `key` has the shape of a key: the prefix, then 1–253 printable
/// ASCII characters. Only a look-up tells whether it is a real one.
pub fn is_well_formed(key: &str) -> bool {
    key.starts_with(KEY_PREFIX)
        && key.len() > KEY_PREFIX.len()
        && key.len() <= MAX_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The SHA-256 of a whole key, hex-encoded: what the store keeps.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyHash(String);

impl KeyHash {
    /// The hash of a key's text.
    pub fn of(key: &str) -> Self {
        Self(sha256_hex(key.as_bytes()))
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({}…)", &self.0[..8])
    }
}

/// A freshly generated key; its text is shown once and then dropped.
pub struct NewApiKey {
    /// The key's text: the only copy there will ever be.
    pub key: String,
    /// What is stored of it.
    pub hash: KeyHash,
}

impl NewApiKey {
    /// A key of 256 bits from the operating system's random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut secret = [0u8; SECRET_BYTES];
        getrandom::fill(&mut secret)?;
        let key = format!("{KEY_PREFIX}{}", hex(&secret));
        let hash = KeyHash::of(&key);
        Ok(Self { key, hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_prefixed_random_and_hashed_with_sha256() {
        let first = NewApiKey::generate().unwrap();
        let second = NewApiKey::generate().unwrap();

        assert!(first.key.starts_with("ba_"));
        assert_eq!(first.key.len(), 3 + 64);
        assert_ne!(first.key, second.key);
        assert_eq!(first.hash, KeyHash::of(&first.key));
        assert_eq!(
            KeyHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn key_hash_debug_output_does_not_show_the_whole_hash() {
        let hash = KeyHash::of("ba_secret");

        assert!(!format!("{hash:?}").contains(hash.as_str()));
    }

    #[test]
    fn well_formed_keys_have_the_prefix_and_printable_ascii() {
        assert!(is_well_formed("ba_abc"));
        for key in ["abc", "ba_", "ba_a b", "ba_é"] {
            assert!(!is_well_formed(key), "{key:?}");
        }
        assert!(!is_well_formed(&format!("ba_{}", "a".repeat(300))));
    }
}
