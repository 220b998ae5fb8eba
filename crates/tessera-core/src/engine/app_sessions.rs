//! Sessions for apps (API.md §8): a session for a user the app authenticated itself, and the
//! app's own claims, per user and per session, carried in access tokens as `ext`.
use uuid::Uuid;

use super::accounts::event;
use super::{Engine, Issued, RequestMeta};
use crate::claims::{claims_fit, fits};
use crate::error::Error;
use crate::model::{Claims, User, event_kind};
use crate::store::StoreError;

pub use crate::claims::MAX_CLAIMS_BYTES;

/// What `POST /admin/sessions` asks for. `ip` and `user_agent` describe the user's device (the
/// app knows them; the admin call comes from the app's backend).
#[derive(Clone, Debug, Default)]
pub struct AppSession {
    pub user_id: Uuid,
    pub namespace: Option<String>,
    pub claims: Claims,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// How the app authenticated the user (RFC 8176 methods); the session's `acr` follows.
    pub amr: Vec<String>,
    /// Binds the session to this DPoP key (an RFC 7638 SHA-256 thumbprint, base64url).
    pub dpop_jkt: Option<String>,
}

fn check_size(claims: &Claims) -> Result<(), Error> {
    if fits(claims) {
        Ok(())
    } else {
        Err(StoreError::ClaimsTooLarge.into())
    }
}

impl Engine {
    /// Starts a session for a user the app has authenticated: the same tokens, rotation and
    /// revocation as a login, `auth_time` now, and a `session.created` event.
    pub async fn create_app_session(
        &self,
        req: AppSession,
        meta: &RequestMeta,
    ) -> Result<Issued, Error> {
        let user = self.user(req.user_id).await?;
        if user.banned {
            return Err(Error::AccountBanned);
        }
        let namespace = self.namespace(req.namespace)?;
        check_size(&req.claims)?;
        // Checked here for a clear answer; the store checks again against the claims it holds.
        if !claims_fit(&user.claims, &req.claims) {
            return Err(Error::from(StoreError::ClaimsTooLarge));
        }
        let device = RequestMeta {
            ip: req.ip,
            user_agent: req.user_agent,
        };
        let now = self.clock.now_ms();
        let e = crate::model::Event {
            detail: serde_json::json!({"source": "app", "admin_ip": meta.ip}),
            ..event(
                event_kind::SESSION_CREATED,
                now,
                &device,
                Some(user.id),
                None,
            )
        };
        // How the app authenticated the user is its to say (API.md §5); none by default.
        super::mfa::check_amr(&req.amr)?;
        let opening = super::sessions::Opening {
            namespace,
            amr: req.amr,
            claims: req.claims,
            factor_id: None,
            dpop_jkt: req.dpop_jkt.clone(),
        };
        self.open_session(user, opening, e, None, &device).await
    }

    /// Replaces the app's claims of a user; access tokens carry them from the next refresh on.
    /// Refused if, merged with the claims of one of the user's live sessions, they would be over
    /// the limit: the next refresh of that session would have to carry them.
    pub async fn set_user_claims(&self, id: Uuid, claims: Claims) -> Result<User, Error> {
        check_size(&claims)?;
        // The store checks every live session's claims in the same step as the write.
        if !self
            .store
            .set_user_claims(id, &claims, self.clock.now_ms())
            .await?
        {
            return Err(Error::NotFound);
        }
        self.user(id).await
    }
}
