//! Second factors (API.md §9): enrolling and confirming TOTP factors, listing and removing
//! factors, recovery codes, and the second step of a login. A factor of another kind (passkeys)
//! joins through the same store rows, the same session proof and the same rules.
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use uuid::Uuid;

use super::accounts::event;
use super::outbox::{new_email_token, token_hash};
use super::sessions::Opening;
use super::verify::Principal;
use super::{Engine, Issued, RequestMeta};
use crate::error::Error;
use crate::mfa::{Factor, MfaChallenge, MfaToken, acr, acr_for, amr, factor_kind};
use crate::model::{Session, SessionSelector, User, event_kind, new_id};
use crate::secrets::Redacted;
use crate::totp::TotpSecret;

/// Recovery codes in a set.
pub const RECOVERY_CODES: usize = 10;
/// Wrong codes that end an mfa token.
pub const MAX_MFA_ATTEMPTS: i64 = 5;
/// Characters of a recovery code's alphabet: no 0/O, 1/I/L, so a code read aloud survives.
const CODE_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// `[mfa]`.
#[derive(Clone, Debug)]
pub struct MfaConfig {
    /// The name authenticator apps show; empty: the issuer's host.
    pub totp_issuer: String,
    /// Adding or removing a factor needs an `auth_time` this recent.
    pub enroll_window_ms: i64,
    /// How long the second step of a login may take.
    pub mfa_token_ttl_ms: i64,
    /// `[webauthn]`; `None` when no relying party can be had (passkey routes then answer
    /// `passkeys_not_configured`).
    pub passkeys: Option<super::passkeys::PasskeyConfig>,
}

impl Default for MfaConfig {
    fn default() -> Self {
        MfaConfig {
            totp_issuer: String::new(),
            enroll_window_ms: 10 * 60_000,
            mfa_token_ttl_ms: 5 * 60_000,
            passkeys: None,
        }
    }
}

/// A TOTP factor just added, pending until confirmed: its secret is shown this once.
#[derive(Debug)]
pub struct TotpEnrollment {
    pub factor: Factor,
    /// Base32, for typing into an app.
    pub secret: Redacted<String>,
    /// What the QR code carries.
    pub otpauth_url: Redacted<String>,
}

/// A factor confirmed; with the user's recovery codes when it was their first.
#[derive(Debug)]
pub struct Confirmation {
    pub factor: Factor,
    pub recovery_codes: Option<Vec<Redacted<String>>>,
}

/// Refuses methods outside RFC 8176's registry, and a repeated one.
pub fn check_amr(methods: &[String]) -> Result<(), Error> {
    let known = methods
        .iter()
        .all(|m| crate::mfa::RFC_8176.contains(&m.as_str()));
    let mut seen = methods.to_vec();
    seen.sort();
    seen.dedup();
    if !known || seen.len() != methods.len() || methods.len() > 16 {
        return Err(Error::InvalidRequest(
            "amr: RFC 8176 methods, each at most once",
        ));
    }
    Ok(())
}

/// A new recovery code: 12 characters of a 31-letter alphabet (59 bits), in three groups.
fn new_recovery_code() -> String {
    // Uniform over the alphabet (no modulo bias), from the OS generator.
    let s: String = (0..12)
        .map(|_| CODE_ALPHABET[rand::rngs::OsRng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    format!("{}-{}-{}", &s[0..4], &s[4..8], &s[8..12])
}

/// What the user calls a factor: at most 64 characters, trimmed; `default` if nothing is left.
pub(super) fn factor_name(name: Option<String>, default: &str) -> String {
    name.map(|n| n.trim().chars().take(64).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| default.into())
}

/// How the engine stores a factor's secret: sealed with the master key, bound to the factor.
pub(super) fn seal_label(factor_id: Uuid) -> String {
    format!("factor:{factor_id}")
}

impl Engine {
    /// A recovery code's hash: an HMAC under a key derived from the master key (the codes are
    /// random, so no slow hash is needed), over the code as typed, normalised.
    fn recovery_hash(&self, code: &str) -> Vec<u8> {
        let normal: String = code
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secrets.recovery).expect("any key length");
        mac.update(normal.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    pub(super) fn new_recovery_codes_and_hashes(&self) -> (Vec<Redacted<String>>, Vec<Vec<u8>>) {
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        let hashes = codes.iter().map(|c| self.recovery_hash(c)).collect();
        (codes.into_iter().map(Redacted).collect(), hashes)
    }

    fn totp_issuer(&self) -> String {
        match self.cfg.mfa.totp_issuer.as_str() {
            "" => self
                .cfg
                .issuer
                .split("://")
                .nth(1)
                .unwrap_or(&self.cfg.issuer)
                .split(['/', ':'])
                .next()
                .unwrap_or_default()
                .to_owned(),
            set => set.to_owned(),
        }
    }

    /// The caller's live session, as stored: what it proved is read from here, never from the
    /// presented token.
    pub(super) async fn live_session(&self, p: &Principal) -> Result<Session, Error> {
        let now = self.clock.now_ms();
        match self.store.session(p.session_id).await? {
            Some(s) if s.is_live(now) && s.user_id == p.user_id => Ok(s),
            _ => Err(Error::SessionRevoked),
        }
    }

    /// `user` with the kinds of its confirmed factors in `mfa`, as every user handed out has.
    pub(super) async fn with_mfa(&self, mut user: User) -> Result<User, Error> {
        let mut kinds: Vec<String> = self
            .confirmed_factors(user.id)
            .await?
            .into_iter()
            .map(|f| f.kind)
            .collect();
        kinds.sort();
        kinds.dedup();
        user.mfa = kinds;
        Ok(user)
    }

    /// Whether the user has a confirmed factor.
    pub(super) async fn has_second_factor(&self, user_id: Uuid) -> Result<bool, Error> {
        Ok(!self.confirmed_factors(user_id).await?.is_empty())
    }

    pub(super) async fn confirmed_factors(&self, user_id: Uuid) -> Result<Vec<Factor>, Error> {
        let now = self.clock.now_ms();
        let mut f = self.store.factors(user_id, now).await?;
        f.retain(|f| f.confirmed);
        Ok(f)
    }

    /// Factor changes need a recent `auth_time`, and `aal2` once the user has a factor.
    pub(super) async fn check_factor_change(&self, p: &Principal) -> Result<Session, Error> {
        let s = self.live_session(p).await?;
        let window = self.cfg.mfa.enroll_window_ms;
        if self.clock.now_ms() - s.auth_time > window {
            return Err(Error::InsufficientUserAuthentication {
                max_age_secs: Some(window / 1000),
                acr: None,
            });
        }
        if !self.confirmed_factors(p.user_id).await?.is_empty() && s.acr != acr::AAL2 {
            return Err(Error::InsufficientUserAuthentication {
                max_age_secs: None,
                acr: Some(acr::AAL2),
            });
        }
        Ok(s)
    }

    /// The first factor of a user, just confirmed in `session`: the session is raised to what it
    /// proved plus `added` (aal2), and every other session of the user (opened with a password
    /// alone) ends, through the one revoke pipeline.
    pub(super) async fn first_factor_confirmed(
        &self,
        session: &Session,
        factor_id: Uuid,
        added: &[&str],
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        let methods: Vec<String> = session
            .amr
            .iter()
            .map(String::as_str)
            .chain(added.iter().copied())
            .chain([amr::MFA])
            .map(str::to_owned)
            .collect();
        self.raise_session(session, &methods, Some(factor_id), meta)
            .await?;
        let others = SessionSelector::User {
            user_id: session.user_id,
            except: Some(session.id),
        };
        self.end_sessions(others, session.user_id, "mfa_enrolled", meta)
            .await?;
        Ok(())
    }

    /// Stores what a live session now proves (its next token says so); the session as stored.
    pub(super) async fn raise_session(
        &self,
        session: &Session,
        methods: &[String],
        factor_id: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Result<Session, Error> {
        let raised = event(
            event_kind::SESSION_REAUTHENTICATED,
            self.clock.now_ms(),
            meta,
            Some(session.user_id),
            Some(session.id),
        );
        let acr = acr_for(methods);
        if !self
            .store
            .set_session_proof(session.id, acr, methods, factor_id, &raised)
            .await?
        {
            return Err(Error::SessionRevoked);
        }
        Ok(Session {
            acr: acr.to_owned(),
            amr: methods.to_vec(),
            factor_id,
            ..session.clone()
        })
    }

    /// Adds a pending TOTP factor; its secret is returned this once.
    pub async fn enroll_totp(
        &self,
        p: &Principal,
        name: Option<String>,
    ) -> Result<TotpEnrollment, Error> {
        self.check_factor_change(p).await?;
        let user = self.user(p.user_id).await?;
        let now = self.clock.now_ms();
        let secret = TotpSecret::generate();
        let id = new_id();
        let factor = Factor {
            id,
            user_id: user.id,
            kind: factor_kind::TOTP.into(),
            name: factor_name(name, "Authenticator app"),
            sealed: self.secrets.seal(&seal_label(id), secret.expose()),
            confirmed: false,
            created_at: now,
            expires_at: Some(now + self.cfg.mfa.enroll_window_ms),
            last_used_at: None,
            last_step: -1,
        };
        self.store.add_factor(&factor).await?;
        Ok(TotpEnrollment {
            otpauth_url: Redacted(secret.otpauth_url(&self.totp_issuer(), &user.email)),
            secret: Redacted(secret.base32()),
            factor,
        })
    }

    /// The TOTP secret of a factor, unsealed.
    fn totp_secret(&self, f: &Factor) -> Result<TotpSecret, Error> {
        self.secrets
            .open(&seal_label(f.id), &f.sealed)
            .map(TotpSecret::from_bytes)
            .ok_or(Error::Internal)
    }

    /// Confirms a pending TOTP factor with a code from the app. The user's first factor comes
    /// with recovery codes, makes this session `aal2`, and ends every other session (opened with
    /// a password alone), through the one revoke pipeline.
    pub async fn confirm_totp(
        &self,
        p: &Principal,
        factor_id: Uuid,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Confirmation, Error> {
        let session = self.live_session(p).await?;
        let now = self.clock.now_ms();
        let factors = self.store.factors(p.user_id, now).await?;
        let Some(f) = factors
            .iter()
            .find(|f| f.id == factor_id && !f.confirmed && f.kind == factor_kind::TOTP)
        else {
            return Err(Error::NotFound);
        };
        let Some(step) = self.totp_secret(f)?.matching_step(code, now) else {
            self.mfa_failed(p.user_id, meta).await?;
            return Err(Error::InvalidMfaCode);
        };
        let first = !factors.iter().any(|f| f.confirmed);
        let (codes, hashes) = self.new_recovery_codes_and_hashes();
        let e = event(event_kind::MFA_ENROLLED, now, meta, Some(p.user_id), None);
        let recovery = first.then_some(hashes.as_slice());
        if !self
            .store
            .confirm_factor(factor_id, p.user_id, step, now, recovery, &e)
            .await?
        {
            return Err(Error::NotFound);
        }
        if first {
            self.first_factor_confirmed(&session, factor_id, &[amr::OTP], meta)
                .await?;
        }
        let mut factor = f.clone();
        factor.confirmed = true;
        factor.expires_at = None;
        factor.last_step = step;
        factor.last_used_at = Some(now);
        Ok(Confirmation {
            factor,
            recovery_codes: first.then_some(codes),
        })
    }

    /// The user's factors: confirmed ones, and pending ones not yet expired.
    pub async fn factors(&self, p: &Principal) -> Result<Vec<Factor>, Error> {
        Ok(self.store.factors(p.user_id, self.clock.now_ms()).await?)
    }

    /// Removes a factor; the sessions whose second factor it was end with it, and the last
    /// factor takes the recovery codes with it.
    pub async fn remove_factor(
        &self,
        p: &Principal,
        factor_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        self.check_factor_change(p).await?;
        let now = self.clock.now_ms();
        let e = event(event_kind::MFA_REMOVED, now, meta, Some(p.user_id), None);
        if !self.store.remove_factor(factor_id, p.user_id, &e).await? {
            return Err(Error::NotFound);
        }
        let theirs = SessionSelector::Factor {
            user_id: p.user_id,
            factor_id,
        };
        self.end_sessions(theirs, p.user_id, "mfa_removed", meta)
            .await?;
        Ok(())
    }

    /// A new set of recovery codes; the old set stops working.
    pub async fn new_recovery_codes(
        &self,
        p: &Principal,
        meta: &RequestMeta,
    ) -> Result<Vec<Redacted<String>>, Error> {
        self.check_factor_change(p).await?;
        if self.confirmed_factors(p.user_id).await?.is_empty() {
            return Err(Error::NotFound);
        }
        let (codes, hashes) = self.new_recovery_codes_and_hashes();
        let now = self.clock.now_ms();
        let e = event(
            event_kind::MFA_RECOVERY_CODES_REPLACED,
            now,
            meta,
            Some(p.user_id),
            None,
        );
        self.store
            .replace_recovery_codes(p.user_id, &hashes, &e)
            .await?;
        Ok(codes)
    }

    /// A wrong code: an `mfa.failed` event, counted toward the account's failed-login lock.
    async fn mfa_failed(&self, user_id: Uuid, meta: &RequestMeta) -> Result<(), Error> {
        let user = self.user(user_id).await?;
        self.record_failure(&user.email).await;
        let e = event(
            event_kind::MFA_FAILED,
            self.clock.now_ms(),
            meta,
            Some(user_id),
            None,
        );
        self.store.record_event(&e).await?;
        Ok(())
    }

    /// The first step of a login for a user with a confirmed factor: an mfa token (kept as a
    /// hash) instead of a session. `None` when the user has no factor.
    pub(super) async fn mfa_challenge(
        &self,
        user: &User,
        namespace: &str,
        transport: &str,
    ) -> Result<Option<MfaChallenge>, Error> {
        let factors = self.confirmed_factors(user.id).await?;
        if factors.is_empty() {
            return Ok(None);
        }
        let token = new_email_token();
        let now = self.clock.now_ms();
        self.store
            .add_mfa_token(&MfaToken {
                hash: token_hash(&token),
                user_id: user.id,
                created_at: now,
                expires_at: now + self.cfg.mfa.mfa_token_ttl_ms,
                attempts: 0,
                namespace: namespace.to_owned(),
                transport: transport.to_owned(),
            })
            .await?;
        Ok(Some(MfaChallenge {
            mfa_token: Redacted(format!("mfa_{token}")),
            factors,
        }))
    }

    /// The second step of a login: a TOTP code of one of the user's factors (or of `factor_id`),
    /// or one of their recovery codes. The session it opens is `aal2`; the token response, and
    /// the transport the first step asked for.
    pub async fn verify_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        factor_id: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Result<(Issued, String), Error> {
        self.verify_mfa_bound(mfa_token, code, factor_id, None, meta)
            .await
    }

    /// [`Engine::verify_mfa`], the new session bound to the key of a verified DPoP proof.
    pub async fn verify_mfa_bound(
        &self,
        mfa_token: &str,
        code: &str,
        factor_id: Option<Uuid>,
        dpop_jkt: Option<String>,
        meta: &RequestMeta,
    ) -> Result<(Issued, String), Error> {
        self.limit_ip(meta).await?;
        self.check_dpop_binding(dpop_jkt.as_deref())?;
        let raw = mfa_token
            .strip_prefix("mfa_")
            .ok_or(Error::InvalidMfaToken)?;
        let hash = token_hash(raw);
        let now = self.clock.now_ms();
        let pending = self
            .store
            .mfa_token(&hash, now)
            .await?
            .ok_or(Error::InvalidMfaToken)?;
        let user = self.user(pending.user_id).await?;
        self.check_account(&user.email).await?;
        let proved = self.second_factor(&user, code, factor_id, meta).await?;
        let Some((used, method)) = proved else {
            self.mfa_failed(user.id, meta).await?;
            if self.store.mfa_token_failed(&hash, MAX_MFA_ATTEMPTS).await? >= MAX_MFA_ATTEMPTS {
                return Err(Error::InvalidMfaToken);
            }
            return Err(Error::InvalidMfaCode);
        };
        // Single use, whichever node gets here first.
        let taken = self
            .store
            .take_mfa_token(&hash, now)
            .await?
            .ok_or(Error::InvalidMfaToken)?;
        if user.banned {
            return Err(Error::AccountBanned);
        }
        self.record_success(&user.email).await;
        let e = event(event_kind::LOGIN_SUCCEEDED, now, meta, Some(user.id), None);
        let opening = Opening {
            namespace: taken.namespace,
            amr: vec![amr::PWD.into(), method.into(), amr::MFA.into()],
            claims: Default::default(),
            factor_id: used,
            dpop_jkt,
        };
        let issued = self.open_session(user, opening, e, None, meta).await?;
        Ok((issued, taken.transport))
    }

    /// For a user with a second factor, the code that must come with a password (reauthenticate):
    /// the session raised to what the two prove, as stored. `None` for a user without a factor.
    pub(super) async fn second_step_of(
        &self,
        user: &User,
        code: Option<String>,
        session: &Session,
        meta: &RequestMeta,
    ) -> Result<Option<Session>, Error> {
        if !self.has_second_factor(user.id).await? {
            return Ok(None);
        }
        let proved = match code {
            Some(code) => self.second_factor(user, &code, None, meta).await?,
            None => None,
        };
        let Some((factor_id, method)) = proved else {
            self.mfa_failed(user.id, meta).await?;
            return Err(Error::InvalidMfaCode);
        };
        self.record_success(&user.email).await;
        let methods: Vec<String> = vec![amr::PWD.into(), method.into(), amr::MFA.into()];
        let raised = self
            .raise_session(session, &methods, factor_id, meta)
            .await?;
        Ok(Some(raised))
    }

    /// Which factor `code` proves: a TOTP code (its time step accepted once) or a recovery code
    /// (used once). `None` for a wrong, reused or expired code.
    async fn second_factor(
        &self,
        user: &User,
        code: &str,
        factor_id: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Result<Option<(Option<Uuid>, &'static str)>, Error> {
        let now = self.clock.now_ms();
        let factors = self.confirmed_factors(user.id).await?;
        for f in factors
            .iter()
            .filter(|f| f.kind == factor_kind::TOTP && factor_id.is_none_or(|id| id == f.id))
        {
            if let Some(step) = self.totp_secret(f)?.matching_step(code, now)
                && self.store.claim_step(f.id, step, now).await?
            {
                return Ok(Some((Some(f.id), amr::OTP)));
            }
        }
        if factor_id.is_none() {
            let e = event(
                event_kind::MFA_RECOVERY_CODE_USED,
                now,
                meta,
                Some(user.id),
                None,
            );
            let hash = self.recovery_hash(code);
            if self
                .store
                .use_recovery_code(user.id, &hash, now, &e)
                .await?
            {
                // A recovery code stands in for a factor: RFC 8176 has no word for it.
                return Ok(Some((None, amr::OTP)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_three_groups_of_the_alphabet_and_use_all_of_it() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let c = new_recovery_code();
            let groups: Vec<&str> = c.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [4, 4, 4],
                "{c}"
            );
            for b in groups.concat().bytes() {
                assert!(CODE_ALPHABET.contains(&b), "{c}");
                seen.insert(b);
            }
        }
        assert_eq!(seen.len(), CODE_ALPHABET.len());
    }
}
