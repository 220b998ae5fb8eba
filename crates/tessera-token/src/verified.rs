//! A bounded cache of verified tokens, keyed by the full token, for Tessera and every resource
//! server. Clients reuse an access token for minutes, so most verifications can skip the
//! signature maths. Only what a signature proves belongs in it: expiry and revocation are
//! checked on every use.
use std::collections::HashMap;
use std::sync::RwLock;

/// What a verified token proved (`V`), by token. A full cache starts over: cheap, and bounded.
pub struct VerifiedCache<V> {
    capacity: usize,
    map: RwLock<HashMap<Box<str>, V>>,
}

impl<V: Clone> VerifiedCache<V> {
    /// A cache of at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        VerifiedCache {
            capacity,
            map: RwLock::new(HashMap::new()),
        }
    }

    /// What `token` proved, if it was verified before.
    pub fn get(&self, token: &str) -> Option<V> {
        self.map.read().expect("cache lock").get(token).cloned()
    }

    /// Remembers what `token` proved.
    pub fn insert(&self, token: &str, value: V) {
        let mut map = self.map.write().expect("cache lock");
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(token.into(), value);
    }

    /// Forgets everything: the keys changed, and a key that left the key set verifies nothing.
    pub fn clear(&self) {
        self.map.write().expect("cache lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::VerifiedCache;

    #[test]
    fn a_full_cache_starts_over_and_clear_forgets() {
        let c = VerifiedCache::new(2);
        c.insert("a", 1);
        c.insert("b", 2);
        assert_eq!(c.get("a"), Some(1));
        c.insert("c", 3);
        assert_eq!((c.get("a"), c.get("c")), (None, Some(3)));
        c.clear();
        assert_eq!(c.get("c"), None);
    }
}
