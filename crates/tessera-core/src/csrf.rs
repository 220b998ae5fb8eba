//! CSRF tokens: HMAC(csrf key, session id). Bound to the session, valid for its whole life, and
//! checked in constant time.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::secrets::DerivedKeys;

pub(crate) fn token(keys: &DerivedKeys, session_id: Uuid) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&keys.csrf).expect("any key length");
    mac.update(b"tessera csrf v1");
    mac.update(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

pub(crate) fn verify(keys: &DerivedKeys, session_id: Uuid, presented: &str) -> bool {
    let expected = token(keys, session_id);
    expected.as_bytes().ct_eq(presented.as_bytes()).into()
}
