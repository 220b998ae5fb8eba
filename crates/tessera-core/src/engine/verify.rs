//! Access-token verification: signature and claims (tessera-token), then the revocation set.
//! No I/O on this path.
use std::sync::Arc;

use tessera_token::{AccessClaims, VerifyError};
use uuid::Uuid;

use super::Engine;
use crate::csrf;
use crate::error::Error;

/// The verified identity behind an access token.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub claims: AccessClaims,
}

impl Engine {
    /// Verifies an access token fully: signature, claims, expiry, and that its session has not
    /// been revoked. A token verified before is answered from the cache: a shared reference,
    /// no allocation.
    pub fn verify_access(&self, token: &str) -> Result<Arc<Principal>, Error> {
        let now = self.clock.now_secs();
        let p = match self.verified.get(token) {
            // A signature verified before: only expiry can have changed since.
            Some(p)
                if now
                    >= p.claims
                        .exp
                        .saturating_add(self.verify_opts.leeway_secs.clamp(0, 5)) =>
            {
                return Err(Error::TokenExpired);
            }
            Some(p) => p,
            None => {
                let claims = self
                    .keys
                    .get()
                    .set
                    .verify(token, &self.verify_opts, now)
                    .map_err(|e| match e {
                        VerifyError::Expired => Error::TokenExpired,
                        _ => Error::InvalidToken,
                    })?;
                let p = Arc::new(principal(claims)?);
                self.verified.insert(token, p.clone());
                p
            }
        };
        // Checked on every use, cached or not.
        let issued = p.claims.issued_at_ms();
        if self
            .revocations
            .is_revoked(&p.session_id, &p.user_id, &p.claims.ns, issued)
        {
            return Err(Error::SessionRevoked);
        }
        Ok(p)
    }

    /// Verifies everything but expiry and revocation: enough to prove who asks to end a session
    /// (logout is idempotent and works with an expired token).
    pub fn verify_for_logout(&self, token: &str) -> Result<Principal, Error> {
        let keys = self.keys.get();
        let claims = keys
            .set
            .verify_ignoring_expiry(token, &self.verify_opts, self.clock.now_secs())
            .map_err(|_| Error::InvalidToken)?;
        principal(claims)
    }

    /// RFC 7662-style introspection: who an active token speaks for, or `None`.
    pub fn introspect(&self, token: &str) -> Option<Arc<Principal>> {
        self.verify_access(token).ok()
    }

    /// Checks a presented CSRF token against the session, in constant time.
    pub fn check_csrf(&self, session_id: Uuid, presented: Option<&str>) -> Result<(), Error> {
        match presented {
            Some(t) if csrf::verify(&self.secrets, session_id, t) => Ok(()),
            _ => Err(Error::CsrfFailed),
        }
    }
}

fn principal(claims: AccessClaims) -> Result<Principal, Error> {
    let user_id = Uuid::parse_str(&claims.sub).map_err(|_| Error::InvalidToken)?;
    let session_id = Uuid::parse_str(&claims.sid).map_err(|_| Error::InvalidToken)?;
    Ok(Principal {
        user_id,
        session_id,
        claims,
    })
}
