//! Secret handling: a wrapper that never prints, and the master key with the keys derived from it.
use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

/// A value that must never reach a log, an error or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted<T>(pub T);

impl<T> Redacted<T> {
    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The root secret of a deployment. Every other server-side secret is derived from it with
/// HKDF-SHA-256 under its own label, so one key compromise does not hand over another use.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// The keys derived from the master key.
#[derive(Clone)]
pub struct DerivedKeys {
    pub(crate) seal: [u8; 32],
    pub(crate) refresh_mac: [u8; 32],
    pub(crate) refresh_derive: [u8; 32],
    pub(crate) csrf: [u8; 32],
    /// Keys the HMAC of recovery codes.
    pub(crate) recovery: [u8; 32],
    /// Keys DPoP nonces: every node derives the same, so any node accepts any node's nonce.
    pub(crate) dpop_nonce: [u8; 32],
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        MasterKey(k)
    }

    /// Any secret of at least 32 bytes (a configured `secret_key`, or the file's contents) is
    /// condensed to 32 bytes with HKDF-extract.
    pub fn from_secret(secret: &[u8]) -> Option<Self> {
        if secret.len() < 32 {
            return None;
        }
        let (prk, _) = Hkdf::<Sha256>::extract(Some(b"tessera master key v1"), secret);
        let mut k = [0u8; 32];
        k.copy_from_slice(&prk);
        Some(MasterKey(k))
    }

    /// The raw bytes, for writing the generated key to its 0600 file.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    pub fn derive(&self) -> DerivedKeys {
        let hk = Hkdf::<Sha256>::from_prk(&self.0).expect("32-byte PRK");
        let get = |label: &[u8]| {
            let mut out = [0u8; 32];
            hk.expand(label, &mut out).expect("32 bytes fit HKDF");
            out
        };
        DerivedKeys {
            seal: get(b"tessera/signing-key-seal"),
            refresh_mac: get(b"tessera/refresh-mac"),
            refresh_derive: get(b"tessera/refresh-derive"),
            csrf: get(b"tessera/csrf"),
            recovery: get(b"tessera/recovery-codes"),
            dpop_nonce: get(b"tessera/dpop-nonce"),
        }
    }
}

impl fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKeys([redacted])")
    }
}

impl DerivedKeys {
    /// Encrypts `plain` (a private signing key) bound to `label` (its kid):
    /// XChaCha20-Poly1305, random 24-byte nonce prefixed.
    pub fn seal(&self, label: &str, plain: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&self.seal).into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: label.as_bytes(),
                },
            )
            .expect("encryption cannot fail for in-memory buffers");
        [nonce.as_slice(), &ct].concat()
    }

    /// Decrypts what [`DerivedKeys::seal`] made; `None` if the master key or label differ or the
    /// bytes were altered.
    pub fn open(&self, label: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        XChaCha20Poly1305::new((&self.seal).into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: label.as_bytes(),
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_the_same_master_key_and_label() {
        let a = MasterKey::generate().derive();
        let b = MasterKey::generate().derive();
        let sealed = a.seal("kid1", b"private");
        assert_eq!(a.open("kid1", &sealed).as_deref(), Some(&b"private"[..]));
        assert_eq!(a.open("kid2", &sealed), None);
        assert_eq!(b.open("kid1", &sealed), None);
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(a.open("kid1", &altered), None);
    }

    #[test]
    fn secrets_never_print() {
        let r = Redacted("hunter2-hunter2".to_string());
        assert_eq!(format!("{r:?} {r}"), "[redacted] [redacted]");
        let m = MasterKey::generate();
        assert_eq!(format!("{m:?}"), "MasterKey([redacted])");
        assert_eq!(format!("{:?}", m.derive()), "DerivedKeys([redacted])");
        assert!(MasterKey::from_secret(b"short").is_none());
    }
}
