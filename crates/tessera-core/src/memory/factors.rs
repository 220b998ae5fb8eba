//! `FactorStore` in memory, under the store's one lock (so every claim is atomic).
use async_trait::async_trait;
use uuid::Uuid;

use super::MemoryStore;
use crate::mfa::{Ceremony, Factor, MfaToken};
use crate::model::Event;
use crate::store::*;

#[async_trait]
impl FactorStore for MemoryStore {
    async fn add_factor(&self, factor: &Factor) -> StoreResult<()> {
        self.lock().factors.push(factor.clone());
        Ok(())
    }

    async fn factors(&self, user_id: Uuid, now: i64) -> StoreResult<Vec<Factor>> {
        let s = self.lock();
        let mut v: Vec<Factor> = s
            .factors
            .iter()
            .filter(|f| f.user_id == user_id && (f.confirmed || f.expires_at > Some(now)))
            .cloned()
            .collect();
        v.sort_by_key(|f| (f.created_at, f.id));
        Ok(v)
    }

    async fn confirm_factor(
        &self,
        id: Uuid,
        user_id: Uuid,
        step: i64,
        now: i64,
        recovery: Option<&[Vec<u8>]>,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(f) = s.factors.iter_mut().find(|f| {
            f.id == id && f.user_id == user_id && !f.confirmed && f.expires_at > Some(now)
        }) else {
            return Ok(false);
        };
        f.confirmed = true;
        f.expires_at = None;
        f.last_step = step;
        f.last_used_at = Some(now);
        if let Some(hashes) = recovery {
            s.recovery_codes
                .insert(user_id, hashes.iter().map(|h| (h.clone(), None)).collect());
        }
        s.events.push(event.clone());
        Ok(true)
    }

    async fn claim_step(&self, id: Uuid, step: i64, now: i64) -> StoreResult<bool> {
        let mut s = self.lock();
        match s
            .factors
            .iter_mut()
            .find(|f| f.id == id && f.confirmed && f.last_step < step)
        {
            Some(f) => {
                f.last_step = step;
                f.last_used_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn remove_factor(&self, id: Uuid, user_id: Uuid, event: &Event) -> StoreResult<bool> {
        let mut s = self.lock();
        let before = s.factors.len();
        s.factors.retain(|f| !(f.id == id && f.user_id == user_id));
        if s.factors.len() == before {
            return Ok(false);
        }
        if !s
            .factors
            .iter()
            .any(|f| f.user_id == user_id && f.confirmed)
        {
            s.recovery_codes.remove(&user_id);
        }
        s.events.push(event.clone());
        Ok(true)
    }

    async fn remove_all_factors(&self, user_id: Uuid, event: &Event) -> StoreResult<u64> {
        let mut s = self.lock();
        let before = s.factors.len();
        s.factors.retain(|f| f.user_id != user_id);
        s.recovery_codes.remove(&user_id);
        s.events.push(event.clone());
        Ok((before - s.factors.len()) as u64)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        hashes: &[Vec<u8>],
        event: &Event,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        s.recovery_codes
            .insert(user_id, hashes.iter().map(|h| (h.clone(), None)).collect());
        s.events.push(event.clone());
        Ok(())
    }

    async fn use_recovery_code(
        &self,
        user_id: Uuid,
        hash: &[u8],
        now: i64,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(codes) = s.recovery_codes.get_mut(&user_id) else {
            return Ok(false);
        };
        match codes
            .iter_mut()
            .find(|(h, used)| h == hash && used.is_none())
        {
            Some((_, used)) => *used = Some(now),
            None => return Ok(false),
        }
        s.events.push(event.clone());
        Ok(true)
    }

    async fn recovery_codes_left(&self, user_id: Uuid) -> StoreResult<i64> {
        Ok(self.lock().recovery_codes.get(&user_id).map_or(0, |c| {
            c.iter().filter(|(_, used)| used.is_none()).count() as i64
        }))
    }

    async fn add_mfa_token(&self, token: &MfaToken) -> StoreResult<()> {
        self.lock()
            .mfa_tokens
            .insert(token.hash.clone(), token.clone());
        Ok(())
    }

    async fn mfa_token(&self, hash: &[u8], now: i64) -> StoreResult<Option<MfaToken>> {
        Ok(self
            .lock()
            .mfa_tokens
            .get(hash)
            .filter(|t| t.expires_at > now)
            .cloned())
    }

    async fn mfa_token_failed(&self, hash: &[u8], max: i64) -> StoreResult<i64> {
        let mut s = self.lock();
        let Some(t) = s.mfa_tokens.get_mut(hash) else {
            return Ok(0);
        };
        t.attempts += 1;
        let attempts = t.attempts;
        if attempts >= max {
            s.mfa_tokens.remove(hash);
        }
        Ok(attempts)
    }

    async fn take_mfa_token(&self, hash: &[u8], now: i64) -> StoreResult<Option<MfaToken>> {
        let mut s = self.lock();
        match s.mfa_tokens.remove(hash) {
            Some(t) if t.expires_at > now => Ok(Some(t)),
            _ => Ok(None),
        }
    }

    async fn add_passkey(
        &self,
        factor: &Factor,
        credential_id: &[u8],
        recovery: Option<&[Vec<u8>]>,
        event: &Event,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        if let Some(owner) = s.passkey_credentials.get(credential_id)
            && s.factors.iter().any(|f| f.id == *owner)
        {
            return Err(StoreError::Conflict);
        }
        s.passkey_credentials
            .insert(credential_id.to_vec(), factor.id);
        s.factors.push(factor.clone());
        if let Some(hashes) = recovery {
            s.recovery_codes.insert(
                factor.user_id,
                hashes.iter().map(|h| (h.clone(), None)).collect(),
            );
        }
        s.events.push(event.clone());
        Ok(())
    }

    async fn factor_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<Factor>> {
        let s = self.lock();
        let Some(id) = s.passkey_credentials.get(credential_id) else {
            return Ok(None);
        };
        Ok(s.factors
            .iter()
            .find(|f| f.id == *id && f.confirmed)
            .cloned())
    }

    async fn use_passkey(
        &self,
        id: Uuid,
        counter: i64,
        sealed: &[u8],
        now: i64,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        let advances = |f: &Factor| f.last_step < counter || (counter == 0 && f.last_step <= 0);
        match s
            .factors
            .iter_mut()
            .find(|f| f.id == id && f.confirmed && advances(f))
        {
            Some(f) => {
                f.last_step = counter;
                f.sealed = sealed.to_vec();
                f.last_used_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn add_ceremony(&self, ceremony: &Ceremony, now: i64) -> StoreResult<()> {
        let mut s = self.lock();
        s.ceremonies.retain(|_, c| c.expires_at > now);
        s.ceremonies.insert(ceremony.id, ceremony.clone());
        Ok(())
    }

    async fn take_ceremony(&self, id: Uuid, now: i64) -> StoreResult<Option<Ceremony>> {
        let mut s = self.lock();
        Ok(s.ceremonies.remove(&id).filter(|c| c.expires_at > now))
    }
}
