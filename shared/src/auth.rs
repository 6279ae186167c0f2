//! API keys: the `Authorization` header, key generation and hashing, and the
//! per-container cache of key look-ups.
//!
//! A key is `ba_` followed by 64 hex digits (256 random bits). Only its
//! SHA-256 is stored; the key itself is shown once, when it is created, and
//! never logged. A look-up's answer (the key's organization, or "no such
//! key") is cached for at most [`crate::config::Config::key_cache_ttl`], so a
//! revoked key is refused within that time.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::model::OrgId;
use crate::store::keys::KeyStore;

pub const KEY_PREFIX: &str = "ba_";
const SECRET_BYTES: usize = 32;
/// Longer headers are refused before hashing: no real key is that long.
const MAX_KEY_LEN: usize = 256;
/// The cache never holds more entries than this; when full it is cleared.
const CACHE_CAPACITY: usize = 10_000;

/// The SHA-256 of a whole key, hex-encoded: what the store keeps.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of(key: &str) -> Self {
        Self(sha256_hex(key.as_bytes()))
    }

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
    pub key: String,
    pub hash: KeyHash,
}

impl NewApiKey {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut secret = [0u8; SECRET_BYTES];
        getrandom::fill(&mut secret)?;
        let key = format!("{KEY_PREFIX}{}", hex(&secret));
        let hash = KeyHash::of(&key);
        Ok(Self { key, hash })
    }
}

/// Extracts the key from an `Authorization` header value: `Bearer <key>`,
/// the scheme case-insensitive, surrounding spaces ignored.
pub fn bearer_key(header: Option<&str>) -> Result<&str, ApiError> {
    let value = header.ok_or(ApiError::Unauthorized)?.trim();
    let (scheme, key) = value
        .split_once(|c: char| c == ' ' || c == '\t')
        .ok_or(ApiError::Unauthorized)?;
    let key = key.trim();
    let well_formed = scheme.eq_ignore_ascii_case("bearer")
        && key.starts_with(KEY_PREFIX)
        && key.len() > KEY_PREFIX.len()
        && key.len() <= MAX_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_graphic());
    if well_formed {
        Ok(key)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Resolves keys to organizations through a time-bounded cache in front of the store.
pub struct Authenticator {
    keys: KeyStore,
    cache: KeyCache,
}

impl Authenticator {
    pub fn new(keys: KeyStore, ttl: Duration) -> Self {
        Self {
            keys,
            cache: KeyCache::new(ttl),
        }
    }

    /// The organization of the request's key, or 401.
    pub async fn organization(&self, authorization: Option<&str>) -> Result<OrgId, ApiError> {
        let hash = KeyHash::of(bearer_key(authorization)?);
        let org = match self.cache.get(&hash) {
            Some(cached) => cached,
            None => {
                let found = self.keys.active_key_org(&hash).await?;
                self.cache.put(hash, found.clone());
                found
            }
        };
        org.ok_or(ApiError::Unauthorized)
    }
}

/// Look-up answers by key hash, each kept for at most `ttl`.
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<KeyHash, (Instant, Option<OrgId>)>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(answer)` while a fresh answer is cached; the answer itself may be "no such key".
    pub fn get(&self, hash: &KeyHash) -> Option<Option<OrgId>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, org)| org.clone())
    }

    pub fn put(&self, hash: KeyHash, org: Option<OrgId>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHE_CAPACITY {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(hash, (Instant::now(), org));
    }
}

/// The SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_spaces_are_ignored() {
        for header in [
            "Bearer ba_abc",
            "bearer ba_abc",
            "BEARER   ba_abc  ",
            "  Bearer\tba_abc",
        ] {
            assert_eq!(bearer_key(Some(header)).unwrap(), "ba_abc", "{header:?}");
        }
    }

    #[test]
    fn malformed_authorization_headers_are_unauthorized() {
        for header in [
            None,
            Some(""),
            Some("ba_abc"),
            Some("Basic ba_abc"),
            Some("Bearer"),
            Some("Bearer "),
            Some("Bearer abc"),
            Some("Bearer ba_"),
            Some("Bearer ba_a b"),
        ] {
            assert!(
                matches!(bearer_key(header), Err(ApiError::Unauthorized)),
                "{header:?}"
            );
        }
        let long = format!("Bearer ba_{}", "a".repeat(300));
        assert!(bearer_key(Some(&long)).is_err());
    }

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
    fn cached_answers_expire_after_the_ttl() {
        let cache = KeyCache::new(Duration::from_millis(30));
        let hash = KeyHash::of("ba_x");
        let org: OrgId = "acme".parse().unwrap();

        cache.put(hash.clone(), Some(org.clone()));
        assert_eq!(cache.get(&hash), Some(Some(org)));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&hash), None);
    }

    #[test]
    fn a_zero_ttl_disables_the_cache() {
        let cache = KeyCache::new(Duration::ZERO);
        let hash = KeyHash::of("ba_x");

        cache.put(hash.clone(), None);

        assert_eq!(cache.get(&hash), None);
    }
}
