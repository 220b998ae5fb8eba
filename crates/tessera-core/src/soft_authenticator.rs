//! A software WebAuthn authenticator for tests (feature `soft-authenticator`): it makes ES256
//! passkeys and signs assertions in-process, as a browser and a platform authenticator would
//! together, and presents on request the defects the server must refuse: another origin, another
//! RP ID, no user verification, a counter that does not advance, a bad signature.
//!
//! Why not `webauthn-authenticator-rs`'s `SoftPasskey`: it returns no user handle (so it cannot
//! sign in usernameless) and cannot be made to present those defects. The primitives here are
//! RustCrypto's (`p256`, `sha2`); only the message layout of WebAuthn §6.1 is written out.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_cbor_2::Value as Cbor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One credential the authenticator holds.
pub struct Credential {
    pub id: Vec<u8>,
    key: SigningKey,
    pub user_handle: Vec<u8>,
    /// The signature counter's last value.
    pub counter: u32,
}

/// What an assertion or registration presents, defects included. `Default` is a correct one.
#[derive(Clone, Debug, Default)]
pub struct Present {
    /// The page's origin in clientDataJSON; default: the authenticator's.
    pub origin: Option<String>,
    /// The RP ID whose hash is signed; default: the options' `rpId`.
    pub rp_id: Option<String>,
    /// Leaves the UV flag off.
    pub no_user_verification: bool,
    /// This counter instead of the next one.
    pub counter: Option<u32>,
    /// Signs something else.
    pub bad_signature: bool,
    /// Signs with this credential (by id) instead of the one the options allow.
    pub credential: Option<Vec<u8>>,
}

pub struct SoftAuthenticator {
    origin: String,
    /// Backup eligible (a synced passkey: amr `swk`) rather than device-bound (`hwk`).
    pub synced: bool,
    /// Counts signatures (a hardware key does; many synced passkeys stay at 0).
    pub counts: bool,
    pub credentials: Vec<Credential>,
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn unb64(s: &Value) -> Vec<u8> {
    B64.decode(s.as_str().expect("a base64url string"))
        .expect("base64url")
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

impl SoftAuthenticator {
    /// An authenticator used from pages of `origin` (e.g. `https://app.test`).
    pub fn new(origin: &str) -> Self {
        SoftAuthenticator {
            origin: origin.into(),
            synced: false,
            counts: true,
            credentials: Vec::new(),
        }
    }

    fn client_data(&self, kind: &str, options: &Value, present: &Present) -> Vec<u8> {
        let origin = present.origin.as_deref().unwrap_or(&self.origin);
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": options["challenge"],
            "origin": origin,
            "crossOrigin": false,
        }))
        .expect("json")
    }

    fn flags(&self, present: &Present) -> u8 {
        let mut f = UP;
        if !present.no_user_verification {
            f |= UV;
        }
        if self.synced {
            f |= BE | BS;
        }
        f
    }

    /// `navigator.credentials.create({publicKey: options})` and `toJSON()`:
    /// a `RegistrationResponseJSON` (attestation `none`).
    /// With `present.credential`, the credential of that id registers again (for another user,
    /// say) instead of a new one.
    pub fn register(&mut self, options: &Value, present: &Present) -> Value {
        let reused = present
            .credential
            .as_ref()
            .and_then(|id| self.credentials.iter().find(|c| &c.id == id));
        let (key, id) = match reused {
            Some(c) => (c.key.clone(), c.id.clone()),
            None => {
                let mut id = vec![0u8; 16];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
                (SigningKey::random(&mut rand::rngs::OsRng), id)
            }
        };
        let rp_id = present
            .rp_id
            .clone()
            .unwrap_or_else(|| options["rp"]["id"].as_str().expect("rp.id").into());
        let point = key.verifying_key().to_encoded_point(false);
        let cose = Cbor::Map(
            [
                (Cbor::Integer(1), Cbor::Integer(2)),
                (Cbor::Integer(3), Cbor::Integer(-7)),
                (Cbor::Integer(-1), Cbor::Integer(1)),
                (
                    Cbor::Integer(-2),
                    Cbor::Bytes(point.x().expect("x").to_vec()),
                ),
                (
                    Cbor::Integer(-3),
                    Cbor::Bytes(point.y().expect("y").to_vec()),
                ),
            ]
            .into_iter()
            .collect(),
        );
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(present) | AT);
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID: none, with attestation none
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(&id);
        auth_data.extend(serde_cbor_2::to_vec(&cose).expect("cbor"));
        let attestation = Cbor::Map(
            [
                (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
                (Cbor::Text("attStmt".into()), Cbor::Map(Default::default())),
                (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
            ]
            .into_iter()
            .collect(),
        );
        let client_data = self.client_data("webauthn.create", options, present);
        self.credentials.push(Credential {
            id: id.clone(),
            key,
            user_handle: unb64(&options["user"]["id"]),
            counter: 0,
        });
        json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&serde_cbor_2::to_vec(&attestation).expect("cbor")),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get({publicKey: options})` and `toJSON()`: an
    /// `AuthenticationResponseJSON`, by the credential `allowCredentials` names (else the newest).
    pub fn assert(&mut self, options: &Value, present: &Present) -> Value {
        let allowed: Vec<Vec<u8>> = options["allowCredentials"]
            .as_array()
            .map(|a| a.iter().map(|c| unb64(&c["id"])).collect())
            .unwrap_or_default();
        let rp_id = present
            .rp_id
            .clone()
            .unwrap_or_else(|| options["rpId"].as_str().expect("rpId").into());
        let flags = self.flags(present);
        let client_data = self.client_data("webauthn.get", options, present);
        let (wanted, counts) = (present.credential.clone(), self.counts);
        let cred = self
            .credentials
            .iter_mut()
            .rev()
            .find(|c| match &wanted {
                Some(id) => &c.id == id,
                None => allowed.is_empty() || allowed.contains(&c.id),
            })
            .expect("a credential the options allow");
        if counts {
            cred.counter += 1;
        }
        let counter = present.counter.unwrap_or(cred.counter);
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(flags);
        auth_data.extend(counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        if present.bad_signature {
            signed.push(0);
        }
        let signature: Signature = cred.key.sign(&signed);
        json!({
            "id": b64(&cred.id),
            "rawId": b64(&cred.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(&cred.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}
