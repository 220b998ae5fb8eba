//! The signing key in use and every key a token may be verified with, swapped atomically when
//! the store's key set changes. Reading it on the verify path is lock-free.
use std::sync::Arc;

use arc_swap::ArcSwap;
use tessera_token::{Algorithm, Jwks, KeySet, SigningKey};

use crate::error::Error;
use crate::model::{KeyRecord, KeyState};
use crate::secrets::{DerivedKeys, Redacted};
use crate::store::Store;

pub(crate) struct Keys {
    pub signing: SigningKey,
    /// When the signing key started signing (unix ms).
    pub activated_at: i64,
    pub set: KeySet,
    pub jwks: Jwks,
}

pub(crate) struct KeyRing {
    alg: Algorithm,
    hs256_secret: Option<Redacted<Vec<u8>>>,
    /// How long a retired key stays: until no token it signed can still be valid (the access
    /// token lifetime plus the verification leeway). After that it neither verifies nor is
    /// published (API.md §3).
    keep_retired_ms: i64,
    current: ArcSwap<Keys>,
}

impl KeyRing {
    /// Loads the key set of `alg` from the store, making `current` and `next` keys first if there
    /// are none (or, for HS256, building the one key from the configured secret).
    pub async fn load(
        store: &dyn Store,
        derived: &DerivedKeys,
        alg: Algorithm,
        hs256_secret: Option<Redacted<Vec<u8>>>,
        keep_retired_ms: i64,
        now: i64,
    ) -> Result<Self, Error> {
        let keys = build(
            store,
            derived,
            alg,
            hs256_secret.as_ref(),
            keep_retired_ms,
            now,
        )
        .await?;
        Ok(KeyRing {
            alg,
            hs256_secret,
            keep_retired_ms,
            current: ArcSwap::from_pointee(keys),
        })
    }

    pub fn get(&self) -> Arc<Keys> {
        self.current.load_full()
    }

    /// Re-reads the store so rotations made elsewhere (another node, the CLI) are honoured.
    /// Returns whether the set of keys changed.
    pub async fn reload(
        &self,
        store: &dyn Store,
        derived: &DerivedKeys,
        now: i64,
    ) -> Result<bool, Error> {
        let keys = build(
            store,
            derived,
            self.alg,
            self.hs256_secret.as_ref(),
            self.keep_retired_ms,
            now,
        )
        .await?;
        let changed = self.current.load().jwks != keys.jwks;
        self.current.store(Arc::new(keys));
        Ok(changed)
    }
}

async fn build(
    store: &dyn Store,
    derived: &DerivedKeys,
    alg: Algorithm,
    hs256_secret: Option<&Redacted<Vec<u8>>>,
    keep_retired_ms: i64,
    now: i64,
) -> Result<Keys, Error> {
    if alg == Algorithm::HS256 {
        let secret = hs256_secret.ok_or(Error::Internal)?;
        let signing =
            SigningKey::from_hs256_secret(secret.expose()).map_err(|_| Error::Internal)?;
        let set = KeySet::new(alg, [signing.verifying_key()]);
        return Ok(Keys {
            signing,
            activated_at: now,
            set,
            jwks: Jwks::default(),
        });
    }
    let mut records = of_alg(store.keys().await?, alg);
    if !records.iter().any(|r| r.state == KeyState::Current) {
        let fresh = [KeyState::Current, KeyState::Next]
            .into_iter()
            .map(|state| new_record(derived, alg, state, now))
            .collect::<Result<Vec<_>, _>>()?;
        // Whoever wins the race writes the set; everyone then reads the same one.
        store.init_keys(alg.as_str(), &fresh).await?;
        records = of_alg(store.keys().await?, alg);
    }
    // A retired key whose every token has expired has no use left; publishing it only widens
    // what a leaked old key could sign.
    records.retain(|r| {
        r.state != KeyState::Retiring
            || r.retired_at
                .is_none_or(|t| now <= t.saturating_add(keep_retired_ms))
    });
    let mut signing = None;
    let mut activated_at = now;
    let mut verifying = Vec::new();
    let mut jwks = Jwks::default();
    for r in &records {
        let private = derived.open(&r.kid, &r.private_sealed).ok_or_else(|| {
            tracing::error!(kid = %r.kid, "a signing key cannot be decrypted: is this the master key the keys were made with?");
            Error::Internal
        })?;
        let key = SigningKey::import(alg, &private).map_err(|_| Error::Internal)?;
        let public = key.verifying_key();
        jwks.keys.extend(public.to_jwk());
        verifying.push(public);
        if r.state == KeyState::Current {
            signing = Some(key);
            activated_at = r.activated_at.unwrap_or(r.created_at);
        }
    }
    let signing = signing.ok_or(Error::Internal)?;
    Ok(Keys {
        signing,
        activated_at,
        set: KeySet::new(alg, verifying),
        jwks,
    })
}

fn of_alg(records: Vec<KeyRecord>, alg: Algorithm) -> Vec<KeyRecord> {
    let mut v: Vec<_> = records
        .into_iter()
        .filter(|r| r.alg == alg.as_str())
        .collect();
    // Newest first, so a JWKS lists the signing key ahead of retired ones.
    v.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    v
}

/// A freshly generated key, sealed for storage under its kid (the key's own thumbprint).
pub(crate) fn new_record(
    derived: &DerivedKeys,
    alg: Algorithm,
    state: KeyState,
    now: i64,
) -> Result<KeyRecord, Error> {
    let key = SigningKey::generate(alg).map_err(|_| Error::Internal)?;
    Ok(KeyRecord {
        kid: key.kid().to_owned(),
        alg: alg.as_str().to_owned(),
        state,
        created_at: now,
        activated_at: (state == KeyState::Current).then_some(now),
        retired_at: None,
        private_sealed: derived.seal(key.kid(), &key.export_private()),
    })
}
