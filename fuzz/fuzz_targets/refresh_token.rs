//! The refresh-token parser on any input: never a panic, and a token that decodes re-encodes
//! to exactly the input (one accepted form per token).
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_core::MasterKey;
use tessera_core::refresh_token::reencode;
use tessera_core::secrets::DerivedKeys;

fn keys() -> &'static DerivedKeys {
    static K: OnceLock<DerivedKeys> = OnceLock::new();
    K.get_or_init(|| MasterKey::from_secret(&[9u8; 32]).unwrap().derive())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(again) = reencode(text, keys())
    {
        assert_eq!(again, text, "a second spelling of one refresh token");
    }
});
