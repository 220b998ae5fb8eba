//! Passkeys (API.md §9.3): WebAuthn registration from a recent session, sign-in with a passkey
//! alone (discoverable credentials, usernameless), a passkey as the second step after a
//! password, and step-up with one. Every attestation and assertion check is `webauthn-rs`'s;
//! this module keeps the ceremonies' state on the server (single use, five minutes), gives each
//! credential id to one user, moves the signature counter forward by compare-and-set, and feeds
//! the same factor rows, session proof and revoke rules as TOTP.
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
    WebauthnError,
};

use super::accounts::event;
use super::outbox::token_hash;
use super::sessions::Opening;
use super::verify::Principal;
use super::{Engine, Issued, RequestMeta};
use crate::error::Error;
use crate::mfa::{Ceremony, Factor, amr, factor_kind};
use crate::model::{Session, User, event_kind, new_id};
use crate::store::StoreError;

/// A ceremony's life (API.md §9.3).
pub const CEREMONY_TTL_MS: i64 = 5 * 60_000;

/// `[webauthn]`, resolved: the relying party and the page origins allowed in ceremonies.
#[derive(Clone, Debug)]
pub struct PasskeyConfig {
    pub rp_id: String,
    pub rp_name: String,
    pub origins: Vec<Url>,
}

impl PasskeyConfig {
    /// The WebAuthn relying party, or why the settings cannot be one (an origin outside the RP
    /// ID, an RP ID that is an IP address).
    pub fn relying_party(&self) -> Result<Webauthn, String> {
        if self.rp_id.parse::<std::net::IpAddr>().is_ok() || self.rp_id.is_empty() {
            return Err("the RP ID must be a host name, not an IP address".into());
        }
        let Some(first) = self.origins.first() else {
            return Err("no origin".into());
        };
        let mut b = WebauthnBuilder::new(&self.rp_id, first)
            .map_err(|_| format!("{first} is not on the RP ID {}", self.rp_id))?
            .rp_name(&self.rp_name)
            .timeout(std::time::Duration::from_millis(CEREMONY_TTL_MS as u64));
        for o in &self.origins[1..] {
            b = b.append_allowed_origin(o);
        }
        b.build().map_err(|e| format!("{e}"))
    }
}

/// What a ceremony is for, kept with it (as JSON) until it is finished.
#[derive(Serialize, Deserialize)]
enum CeremonyData {
    /// Adding a passkey to the user of `session_id`.
    Register {
        state: PasskeyRegistration,
        session_id: Uuid,
        name: Option<String>,
    },
    /// Signing in (or stepping up) with any discoverable passkey; with `user`, one of theirs
    /// (the login's email).
    Discover {
        state: DiscoverableAuthentication,
        user: Option<Uuid>,
    },
    /// The second step after a password: one of this user's passkeys, with the login's mfa
    /// token (by hash).
    SecondStep {
        state: PasskeyAuthentication,
        user: Uuid,
        mfa_token_hash: Vec<u8>,
    },
}

/// A ceremony begun: its id and the options for `navigator.credentials` (the JSON forms of
/// `PublicKeyCredentialCreationOptions` / `…RequestOptions`).
#[derive(Debug)]
pub struct CeremonyStart {
    pub ceremony_id: Uuid,
    pub public_key: serde_json::Value,
}

/// How a client's passkey sign-in is to end: where the session lives and how its tokens travel.
#[derive(Debug, Default)]
pub struct PasskeyLogin {
    pub ceremony_id: Uuid,
    pub credential: serde_json::Value,
    pub mfa_token: Option<String>,
    pub namespace: Option<String>,
    pub transport: String,
    /// The thumbprint of a verified DPoP proof's key: the session is bound to it.
    pub dpop_jkt: Option<String>,
}

fn seal_label(factor_id: Uuid) -> String {
    super::mfa::seal_label(factor_id)
}

/// `hwk` for a device-bound credential, `swk` for one that may be synced (backup eligible).
fn key_method(backup_eligible: bool) -> &'static str {
    if backup_eligible { amr::SWK } else { amr::HWK }
}

impl Engine {
    fn relying_party(&self) -> Result<&Arc<Webauthn>, Error> {
        self.webauthn.as_ref().ok_or(Error::PasskeysNotConfigured)
    }

    fn passkey_of(&self, f: &Factor) -> Result<Passkey, Error> {
        let json = self
            .secrets
            .open(&seal_label(f.id), &f.sealed)
            .ok_or(Error::Internal)?;
        serde_json::from_slice(&json).map_err(|_| Error::Internal)
    }

    async fn begin(
        &self,
        kind: &str,
        user: Option<Uuid>,
        data: &CeremonyData,
    ) -> Result<Uuid, Error> {
        let now = self.clock.now_ms();
        let c = Ceremony {
            id: new_id(),
            kind: kind.into(),
            user_id: user,
            data: serde_json::to_string(data).map_err(|_| Error::Internal)?,
            expires_at: now + CEREMONY_TTL_MS,
        };
        self.store.add_ceremony(&c, now).await?;
        Ok(c.id)
    }

    /// Takes a ceremony (single use, whichever node asks); `None` if unknown, used or expired.
    async fn take(&self, id: Uuid) -> Result<Option<CeremonyData>, Error> {
        let Some(c) = self.store.take_ceremony(id, self.clock.now_ms()).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str(&c.data).ok())
    }

    /// `POST /auth/passkeys/register/options`: a registration ceremony for the caller. Needs
    /// the recent (and, with a factor, aal2) session every factor change needs. User
    /// verification and a resident (discoverable) key required; attestation `none`.
    pub async fn passkey_register_options(
        &self,
        p: &Principal,
        name: Option<String>,
    ) -> Result<CeremonyStart, Error> {
        let rp = self.relying_party()?.clone();
        let session = self.check_factor_change(p).await?;
        let user = self.user(p.user_id).await?;
        let mut exclude = Vec::new();
        for f in self.confirmed_factors(user.id).await? {
            if f.kind == factor_kind::PASSKEY {
                exclude.push(self.passkey_of(&f)?.cred_id().clone());
            }
        }
        let (ccr, state) = rp
            .start_passkey_registration(user.id, &user.email, &user.email, Some(exclude))
            .map_err(|_| Error::Internal)?;
        let mut public_key = serde_json::to_value(&ccr.public_key).map_err(|_| Error::Internal)?;
        // A passkey is discoverable: usernameless sign-in finds it by itself.
        if let Some(sel) = public_key.get_mut("authenticatorSelection") {
            sel["residentKey"] = "required".into();
            sel["requireResidentKey"] = true.into();
        }
        let data = CeremonyData::Register {
            state,
            session_id: session.id,
            name,
        };
        let ceremony_id = self.begin("register", Some(user.id), &data).await?;
        Ok(CeremonyStart {
            ceremony_id,
            public_key,
        })
    }

    /// `POST /auth/passkeys/register`: verifies the new credential (the library's checks) and
    /// adds it as a confirmed factor. The user's first factor comes with recovery codes, raises
    /// this session to aal2 and ends the others, as a first TOTP factor does.
    pub async fn passkey_register(
        &self,
        p: &Principal,
        ceremony_id: Uuid,
        credential: serde_json::Value,
        name: Option<String>,
        meta: &RequestMeta,
    ) -> Result<super::mfa::Confirmation, Error> {
        let rp = self.relying_party()?.clone();
        let session = self.live_session(p).await?;
        let Some(CeremonyData::Register {
            state,
            session_id,
            name: asked,
        }) = self.take(ceremony_id).await?
        else {
            return Err(Error::InvalidRequest("unknown, used or expired ceremony"));
        };
        if session_id != session.id {
            return Err(Error::InvalidRequest("unknown, used or expired ceremony"));
        }
        let reg: RegisterPublicKeyCredential = serde_json::from_value(credential)
            .map_err(|_| Error::InvalidRequest("credential: a RegistrationResponseJSON"))?;
        let passkey = rp
            .finish_passkey_registration(&reg, &state)
            .map_err(|_| Error::InvalidRequest("the passkey could not be verified"))?;
        let now = self.clock.now_ms();
        let id = new_id();
        let json = serde_json::to_vec(&passkey).map_err(|_| Error::Internal)?;
        let backup_eligible = serde_json::to_value(&passkey)
            .ok()
            .and_then(|v| v["cred"]["backup_eligible"].as_bool())
            .unwrap_or(false);
        let factor = Factor {
            id,
            user_id: p.user_id,
            kind: factor_kind::PASSKEY.into(),
            name: super::mfa::factor_name(name.or(asked), "Passkey"),
            sealed: self.secrets.seal(&seal_label(id), &json),
            confirmed: true,
            created_at: now,
            expires_at: None,
            last_used_at: None,
            last_step: 0,
        };
        let first = self.confirmed_factors(p.user_id).await?.is_empty();
        let (codes, hashes) = self.new_recovery_codes_and_hashes();
        let e = event(event_kind::MFA_ENROLLED, now, meta, Some(p.user_id), None);
        let recovery = first.then_some(hashes.as_slice());
        match self
            .store
            .add_passkey(&factor, passkey.cred_id().as_ref(), recovery, &e)
            .await
        {
            Err(StoreError::Conflict) => {
                return Err(Error::InvalidRequest("this passkey is registered already"));
            }
            other => other?,
        }
        if first {
            let method = key_method(backup_eligible);
            self.first_factor_confirmed(&session, id, &[method, amr::USER], meta)
                .await?;
        }
        Ok(super::mfa::Confirmation {
            factor,
            recovery_codes: first.then_some(codes),
        })
    }

    /// `POST /auth/passkeys/login/options`. Without an mfa token: any discoverable passkey (with
    /// an email, it must turn out to be that user's; the answer is the same whether or not the
    /// email has an account). With one: the second step, among that user's passkeys.
    /// Throttled per client IP like a login (each writes a ceremony); the login that finishes
    /// it is not counted again.
    pub async fn passkey_login_options(
        &self,
        email: Option<&str>,
        mfa_token: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<CeremonyStart, Error> {
        let rp = self.relying_party()?.clone();
        self.limit_ip(meta).await?;
        if let Some(token) = mfa_token {
            let hash = mfa_hash(token)?;
            let pending = self
                .store
                .mfa_token(&hash, self.clock.now_ms())
                .await?
                .ok_or(Error::InvalidMfaToken)?;
            let mut keys = Vec::new();
            for f in self.confirmed_factors(pending.user_id).await? {
                if f.kind == factor_kind::PASSKEY {
                    keys.push(self.passkey_of(&f)?);
                }
            }
            if keys.is_empty() {
                return Err(Error::InvalidRequest("this user has no passkey"));
            }
            let (rcr, state) = rp
                .start_passkey_authentication(&keys)
                .map_err(|_| Error::Internal)?;
            let data = CeremonyData::SecondStep {
                state,
                user: pending.user_id,
                mfa_token_hash: hash,
            };
            let ceremony_id = self.begin("login", Some(pending.user_id), &data).await?;
            return start(ceremony_id, &rcr.public_key);
        }
        let user = match email {
            Some(e) => self.store.user_by_email(&e.trim().to_lowercase()).await?,
            None => None,
        };
        let (rcr, state) = rp
            .start_discoverable_authentication()
            .map_err(|_| Error::Internal)?;
        let user = user.map(|u| u.id);
        // An unknown email still gets a ceremony, which no passkey can finish.
        let data = CeremonyData::Discover {
            state,
            user: email.map(|_| user.unwrap_or_else(Uuid::nil)),
        };
        let ceremony_id = self.begin("login", None, &data).await?;
        start(ceremony_id, &rcr.public_key)
    }

    /// `POST /auth/passkeys/login`: the session of a verified assertion, `aal2`; the token
    /// response and the transport it travels in. A failed assertion is `invalid_credentials`
    /// and counts like a failed login.
    pub async fn passkey_login(
        &self,
        login: PasskeyLogin,
        meta: &RequestMeta,
    ) -> Result<(Issued, String), Error> {
        let rp = self.relying_party()?.clone();
        self.check_dpop_binding(login.dpop_jkt.as_deref())?;
        let namespace = self.namespace(login.namespace)?;
        let data = self
            .take(login.ceremony_id)
            .await?
            .ok_or(Error::InvalidCredentials)?;
        let cred = assertion(login.credential)?;
        let (user, factor, method) = self.assert(&rp, &data, &cred, meta).await?;
        let now = self.clock.now_ms();
        let (namespace, transport, methods) = match data {
            CeremonyData::SecondStep { mfa_token_hash, .. } => {
                let presented = login.mfa_token.as_deref().ok_or(Error::InvalidMfaToken)?;
                if mfa_hash(presented)? != mfa_token_hash {
                    return Err(Error::InvalidMfaToken);
                }
                let taken = self
                    .store
                    .take_mfa_token(&mfa_token_hash, now)
                    .await?
                    .filter(|t| t.user_id == user.id)
                    .ok_or(Error::InvalidMfaToken)?;
                let methods = vec![
                    amr::PWD.into(),
                    method.into(),
                    amr::USER.into(),
                    amr::MFA.into(),
                ];
                (taken.namespace, taken.transport, methods)
            }
            _ => (
                namespace,
                login.transport,
                vec![method.into(), amr::USER.into()],
            ),
        };
        self.record_success(&user.email).await;
        let e = event(event_kind::LOGIN_SUCCEEDED, now, meta, Some(user.id), None);
        let opening = Opening {
            namespace,
            amr: methods,
            claims: Default::default(),
            factor_id: Some(factor.id),
            dpop_jkt: login.dpop_jkt,
        };
        let issued = self.open_session(user, opening, e, None, meta).await?;
        Ok((issued, transport))
    }

    /// Step-up with a passkey (`POST /auth/reauthenticate` with `{ceremony_id, credential}`, the
    /// ceremony from `login/options`): one of the caller's own passkeys. The session is raised
    /// to what it proves (aal2).
    pub(super) async fn passkey_step_up(
        &self,
        p: &Principal,
        ceremony_id: Uuid,
        credential: serde_json::Value,
        meta: &RequestMeta,
    ) -> Result<(User, Session), Error> {
        let rp = self.relying_party()?.clone();
        let data = self
            .take(ceremony_id)
            .await?
            .ok_or(Error::InvalidCredentials)?;
        if matches!(
            data,
            CeremonyData::SecondStep { .. } | CeremonyData::Register { .. }
        ) {
            return Err(Error::InvalidCredentials);
        }
        let cred = assertion(credential)?;
        let (user, factor, method) = self.assert(&rp, &data, &cred, meta).await?;
        if user.id != p.user_id {
            return Err(Error::InvalidCredentials);
        }
        let session = self.live_session(p).await?;
        self.record_success(&user.email).await;
        let methods = vec![method.to_owned(), amr::USER.to_owned()];
        let raised = self
            .raise_session(&session, &methods, Some(factor.id), meta)
            .await?;
        Ok((user, raised))
    }

    /// Verifies an assertion against a login ceremony: the user, the passkey factor and how it
    /// is bound (`hwk`/`swk`). Every failure is `invalid_credentials`, counted against the
    /// credential's user when there is one; a counter that did not advance is also a
    /// `passkey.clone_suspected` event.
    async fn assert(
        &self,
        rp: &Webauthn,
        data: &CeremonyData,
        cred: &PublicKeyCredential,
        meta: &RequestMeta,
    ) -> Result<(User, Factor, &'static str), Error> {
        let factor = self
            .store
            .factor_by_credential(cred.get_credential_id())
            .await?
            .ok_or(Error::InvalidCredentials)?;
        let user = self.user(factor.user_id).await?;
        self.check_account(&user.email).await?;
        let expected = match data {
            CeremonyData::Discover { user, .. } => *user,
            CeremonyData::SecondStep { user, .. } => Some(*user),
            CeremonyData::Register { .. } => return Err(Error::InvalidCredentials),
        };
        if expected.is_some_and(|u| u != user.id) {
            return self.assertion_failed(&user, meta).await;
        }
        let mut passkey = self.passkey_of(&factor)?;
        let verified = match data {
            CeremonyData::Discover { state, .. } => {
                rp.finish_discoverable_authentication_v2(cred, state.clone(), &passkey)
            }
            CeremonyData::SecondStep { state, .. } => rp.finish_passkey_authentication(cred, state),
            CeremonyData::Register { .. } => unreachable!("refused above"),
        };
        let result = match verified {
            Ok(r) if r.user_verified() && r.cred_id() == passkey.cred_id() => r,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                self.clone_suspected(&user, &factor, meta).await?;
                return self.assertion_failed(&user, meta).await;
            }
            _ => return self.assertion_failed(&user, meta).await,
        };
        passkey.update_credential(&result);
        let json = serde_json::to_vec(&passkey).map_err(|_| Error::Internal)?;
        let sealed = self.secrets.seal(&seal_label(factor.id), &json);
        let counter = i64::from(result.counter());
        let now = self.clock.now_ms();
        if !self
            .store
            .use_passkey(factor.id, counter, &sealed, now)
            .await?
        {
            // Another node took this counter value first: two authenticators share the key.
            self.clone_suspected(&user, &factor, meta).await?;
            return self.assertion_failed(&user, meta).await;
        }
        if user.banned {
            return Err(Error::AccountBanned);
        }
        Ok((user, factor, key_method(result.backup_eligible())))
    }

    async fn assertion_failed<T>(&self, user: &User, meta: &RequestMeta) -> Result<T, Error> {
        self.record_failure(&user.email).await;
        let e = event(
            event_kind::LOGIN_FAILED,
            self.clock.now_ms(),
            meta,
            Some(user.id),
            None,
        );
        self.store.record_event(&e).await?;
        Err(Error::InvalidCredentials)
    }

    async fn clone_suspected(
        &self,
        user: &User,
        f: &Factor,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        tracing::warn!(user_id = %user.id, factor_id = %f.id, "passkey signature counter did not advance: a cloned authenticator?");
        let e = event(
            event_kind::PASSKEY_CLONE_SUSPECTED,
            self.clock.now_ms(),
            meta,
            Some(user.id),
            None,
        );
        self.store.record_event(&e).await?;
        Ok(())
    }
}

fn start(ceremony_id: Uuid, options: &impl Serialize) -> Result<CeremonyStart, Error> {
    Ok(CeremonyStart {
        ceremony_id,
        public_key: serde_json::to_value(options).map_err(|_| Error::Internal)?,
    })
}

/// An assertion as sent; one that is no `AuthenticationResponseJSON` is a failed assertion.
fn assertion(v: serde_json::Value) -> Result<PublicKeyCredential, Error> {
    serde_json::from_value(v).map_err(|_| Error::InvalidCredentials)
}

fn mfa_hash(token: &str) -> Result<Vec<u8>, Error> {
    let raw = token.strip_prefix("mfa_").ok_or(Error::InvalidMfaToken)?;
    Ok(token_hash(raw))
}
