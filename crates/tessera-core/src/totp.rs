//! TOTP codes (RFC 6238) for second factors: SHA-1, 6 digits, 30-second steps, accepted for the
//! current step and one either side (what every authenticator app does). The HMAC and the
//! truncation are `totp-rs`'s; which step a code matched is returned so that the store can
//! accept each step once (`FactorStore::claim_step`), which the crate leaves to its caller.
use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::secrets::Redacted;

/// Seconds per time step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Bytes of a new secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

/// A factor's shared secret. `Debug` prints `[redacted]`.
#[derive(Clone, Debug)]
pub struct TotpSecret(Redacted<Vec<u8>>);

impl TotpSecret {
    /// A new random secret from the OS generator.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        TotpSecret(Redacted(bytes))
    }

    /// A secret as stored (after unsealing).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        TotpSecret(Redacted(bytes))
    }

    /// A secret as an authenticator app was given it (base32), for clients and tests.
    pub fn from_base32(s: &str) -> Option<Self> {
        Secret::Encoded(s.to_owned())
            .to_bytes()
            .ok()
            .map(Self::from_bytes)
    }

    /// The raw bytes, to seal for the store.
    pub fn expose(&self) -> &[u8] {
        &self.0.0
    }

    fn totp(&self) -> TOTP {
        // Six digits and a 160-bit secret pass the RFC checks of `new`; unchecked keeps a secret
        // of another length (never made here) from being a panic.
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            1,
            STEP_SECS as u64,
            self.0.0.clone(),
        )
    }

    /// The secret in base32 (RFC 4648, no padding), for manual entry in an app.
    pub fn base32(&self) -> String {
        match Secret::Raw(self.expose().to_vec()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => unreachable!("to_encoded encodes"),
        }
    }

    /// The `otpauth://totp/…` URL an authenticator app reads from a QR code.
    pub fn otpauth_url(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            percent(issuer),
            percent(account),
            self.base32(),
            percent(issuer),
        )
    }

    /// The code of time step `step`.
    pub fn code_at_step(&self, step: i64) -> String {
        self.totp().generate((step.max(0) * STEP_SECS) as u64)
    }

    /// The time step `code` belongs to, if it is the code of the step of `now_ms` or of one
    /// either side. Every candidate is compared, in constant time.
    pub fn matching_step(&self, code: &str, now_ms: i64) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = now_ms.div_euclid(1000).div_euclid(STEP_SECS);
        let mut found = None;
        for step in [now - 1, now, now + 1] {
            if step < 0 {
                continue;
            }
            let expected = self.code_at_step(step);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1: the 8-digit codes' last six digits are the 6-digit codes.
    #[test]
    fn the_codes_of_rfc_6238_appendix_b() {
        let s = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (t, code8) in [
            (59i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(s.code_at_step(t / STEP_SECS), &code8[2..], "T = {t}");
            assert_eq!(s.matching_step(&code8[2..], t * 1000), Some(t / STEP_SECS));
        }
    }

    #[test]
    fn a_code_matches_its_step_and_one_either_side_only() {
        let s = TotpSecret::generate();
        let now_ms = 1_800_000_000_000;
        let step = now_ms / 1000 / STEP_SECS;
        for d in [-1, 0, 1] {
            let code = s.code_at_step(step + d);
            assert_eq!(s.matching_step(&code, now_ms), Some(step + d), "{d}");
        }
        for d in [-3, -2, 2, 3] {
            let code = s.code_at_step(step + d);
            // A code of a step further away may collide with a near one by chance (1 in 10^6).
            if (-1..=1).all(|n| s.code_at_step(step + n) != code) {
                assert_eq!(s.matching_step(&code, now_ms), None, "{d}");
            }
        }
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(s.matching_step(bad, now_ms), None, "{bad:?}");
        }
    }

    #[test]
    fn the_secret_in_base32_and_the_otpauth_url() {
        let s = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        assert_eq!(s.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let back = TotpSecret::from_base32(&s.base32()).unwrap();
        assert_eq!(back.expose(), s.expose());
        assert_eq!(
            s.otpauth_url("Acme Notes", "ada@example.com"),
            "otpauth://totp/Acme%20Notes:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Notes&algorithm=SHA1&digits=6&period=30"
        );
        assert!(!format!("{s:?}").contains("GEZ") && !format!("{s:?}").contains("49"));
    }
}
