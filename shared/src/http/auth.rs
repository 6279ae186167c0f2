//! Authentication at the edge: the `Authorization: Bearer <key>` header,
//! and the per-container cache of key look-ups in front of the store.
//!
//! A look-up's answer (the key's organization, or "no such key") is cached
//! for at most [`crate::function::Config::key_cache_ttl`], so a revoked key
//! is refused within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::ApiError;
use crate::domain::api_key::{self, KeyHash};
use crate::domain::model::OrgId;
use crate::store::keys::KeyStore;

/// The cache never holds more entries than this; when full it is cleared.
const CACHE_CAPACITY: usize = 10_000;

/// Extracts the key from an `Authorization` header value: `Bearer <key>`,
/// the scheme case-insensitive, surrounding spaces ignored.
pub fn bearer_key(header: Option<&str>) -> Result<&str, ApiError> {
    let value = header.ok_or(ApiError::Unauthorized)?.trim();
    let (scheme, key) = value
        .split_once([' ', '\t'])
        .ok_or(ApiError::Unauthorized)?;
    let key = key.trim();
    if scheme.eq_ignore_ascii_case("bearer") && api_key::is_well_formed(key) {
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
    /// Look-ups go to `keys`; answers are cached for `ttl`.
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
        let org = org.ok_or(ApiError::Unauthorized)?;
        super::observe::organization_known(&org);
        Ok(org)
    }

    /// The key store behind the cache.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }
}

/// Look-up answers by key hash, each kept for at most `ttl`.
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<KeyHash, (Instant, Option<OrgId>)>>,
}

impl KeyCache {
    /// An empty cache whose answers live for `ttl` (zero: nothing is cached).
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

    /// Caches a look-up's answer, now.
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
