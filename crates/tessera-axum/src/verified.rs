//! A bounded cache of verified tokens, keyed by the full token: a token is reused for minutes,
//! so most requests skip the signature maths. Only what the signature proves is cached; expiry,
//! revocation and the feed's health are checked on every use.
use std::collections::HashMap;
use std::sync::RwLock;

use crate::auth::Auth;

/// At most this many tokens are remembered; a full cache starts over (cheap, and bounded).
const CAPACITY: usize = 20_000;

#[derive(Default)]
pub(crate) struct VerifiedCache {
    map: RwLock<HashMap<Box<str>, Auth>>,
}

impl VerifiedCache {
    pub fn get(&self, token: &str) -> Option<Auth> {
        self.map.read().expect("cache lock").get(token).cloned()
    }

    pub fn insert(&self, token: &str, auth: Auth) {
        let mut map = self.map.write().expect("cache lock");
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(token.into(), auth);
    }

    /// Forgets everything: the keys changed, and a key that left the JWKS verifies nothing.
    pub fn clear(&self) {
        self.map.write().expect("cache lock").clear();
    }
}
