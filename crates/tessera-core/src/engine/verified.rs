//! A bounded cache of verified access tokens, keyed by the full token. Clients reuse an access
//! token for minutes, so most verifications can skip the signature maths. Only what a signature
//! proves is cached: expiry and revocation are still checked on every use.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::Principal;

/// At most this many tokens are remembered; a full cache starts over (cheap, and bounded).
pub const CAPACITY: usize = 50_000;

#[derive(Default)]
pub(crate) struct VerifiedCache {
    map: RwLock<HashMap<Box<str>, Arc<Principal>>>,
}

impl VerifiedCache {
    pub fn get(&self, token: &str) -> Option<Arc<Principal>> {
        self.map.read().expect("cache lock").get(token).cloned()
    }

    pub fn insert(&self, token: &str, principal: Arc<Principal>) {
        let mut map = self.map.write().expect("cache lock");
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(token.into(), principal);
    }

    /// Forgets everything (the key set changed).
    pub fn clear(&self) {
        self.map.write().expect("cache lock").clear();
    }
}
