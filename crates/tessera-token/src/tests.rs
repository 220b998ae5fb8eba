//! One crafted token per verification rule of API.md §3.
use serde_json::{Value, json};

use crate::*;

const NOW: i64 = 1_800_000_000;
const ISS: &str = "https://auth.example";

fn opts() -> VerifyOptions {
    VerifyOptions {
        issuer: ISS.into(),
        audience: vec![],
        leeway_secs: 5,
        max_lifetime_secs: None,
    }
}

fn claims() -> Value {
    json!({"iss": ISS, "sub": "u1", "sid": "s1", "jti": "j1", "iat": NOW - 10, "exp": NOW + 900,
           "ns": "default", "roles": [], "perms": []})
}

fn b64(v: &[u8]) -> String {
    crate::b64::encode(v)
}

/// Builds a token from raw header and claims JSON, signed by `key` over exactly those bytes.
fn craft(header: &Value, claims: &Value, key: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

fn header(key: &SigningKey) -> Value {
    json!({"alg": key.algorithm().as_str(), "kid": key.kid(), "typ": "at+jwt"})
}

fn setup(alg: Algorithm) -> (SigningKey, KeySet) {
    let key = match alg {
        Algorithm::HS256 => SigningKey::from_hs256_secret(&[7u8; 32]).unwrap(),
        a => SigningKey::generate(a).unwrap(),
    };
    let set = KeySet::new(alg, [key.verifying_key()]);
    (key, set)
}

fn verify(set: &KeySet, token: &str) -> Result<AccessClaims, VerifyError> {
    set.verify(token, &opts(), NOW)
}

#[test]
fn every_algorithm_round_trips() {
    for alg in [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ] {
        let (key, set) = setup(alg);
        let c: AccessClaims = serde_json::from_value(claims()).unwrap();
        let token = sign(&c, &key);
        assert_eq!(verify(&set, &token).unwrap(), c, "{alg}");
        // Export and import keep the key (and its kid) identical.
        let again = SigningKey::import(alg, &key.export_private()).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert_eq!(verify(&set, &sign(&c, &again)).unwrap(), c);
    }
}

#[test]
fn alg_none_in_any_spelling_is_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = json!({"alg": alg, "kid": key.kid(), "typ": "at+jwt"});
        let unsigned = format!(
            "{}.{}.",
            b64(h.to_string().as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        assert_eq!(verify(&set, &unsigned), Err(VerifyError::Malformed));
        let with_sig = format!("{unsigned}AAAA");
        assert_eq!(verify(&set, &with_sig), Err(VerifyError::Algorithm));
    }
}

#[test]
fn hmac_keyed_with_the_public_key_is_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    let jwk = key.verifying_key().to_jwk().unwrap();
    let public = crate::b64::decode(jwk.x.as_deref().unwrap()).unwrap();
    for secret in [public.clone(), serde_json::to_vec(&jwk).unwrap()] {
        let mut padded = secret.clone();
        padded.resize(padded.len().max(32), 0);
        let hs = SigningKey::from_hs256_secret(&padded).unwrap();
        let h = json!({"alg": "HS256", "kid": key.kid(), "typ": "at+jwt"});
        assert_eq!(
            verify(&set, &craft(&h, &claims(), &hs)),
            Err(VerifyError::Algorithm)
        );
    }
}

#[test]
fn another_algorithm_than_the_configured_one_is_refused() {
    let (es, _) = setup(Algorithm::ES256);
    let (_, ed_set) = setup(Algorithm::EdDSA);
    // Even with the ES256 key in the set's input, an EdDSA set ignores it.
    let mixed = KeySet::new(Algorithm::EdDSA, [es.verifying_key()]);
    assert!(!mixed.contains(es.kid()));
    let token = craft(&header(&es), &claims(), &es);
    assert_eq!(verify(&ed_set, &token), Err(VerifyError::Algorithm));
    assert_eq!(verify(&mixed, &token), Err(VerifyError::Algorithm));
}

#[test]
fn forbidden_header_parameters_are_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    let jwk = serde_json::to_value(key.verifying_key().to_jwk().unwrap()).unwrap();
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("jwk", jwk),
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("x5c", json!(["MIIB"])),
        ("x5t", json!("abc")),
        ("cty", json!("JWT")),
    ] {
        let mut h = header(&key);
        h[name] = value;
        assert_eq!(
            verify(&set, &craft(&h, &claims(), &key)),
            Err(VerifyError::Header),
            "{name}"
        );
    }
}

#[test]
fn duplicate_header_parameters_are_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    let raw = format!(
        r#"{{"alg":"EdDSA","kid":"{}","typ":"at+jwt","alg":"none"}}"#,
        key.kid()
    );
    let input = format!(
        "{}.{}",
        b64(raw.as_bytes()),
        b64(claims().to_string().as_bytes())
    );
    let token = format!("{input}.{}", b64(&key.sign(input.as_bytes())));
    assert_eq!(verify(&set, &token), Err(VerifyError::Header));
}

#[test]
fn unknown_or_missing_kid_is_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    let mut h = header(&key);
    h["kid"] = json!("not-a-key");
    assert_eq!(
        verify(&set, &craft(&h, &claims(), &key)),
        Err(VerifyError::UnknownKey)
    );
    h.as_object_mut().unwrap().remove("kid");
    assert_eq!(
        verify(&set, &craft(&h, &claims(), &key)),
        Err(VerifyError::Header)
    );
    // A token signed by a stranger's key that claims one of our kids fails the signature.
    let (stranger, _) = setup(Algorithm::EdDSA);
    assert_eq!(
        verify(&set, &craft(&header(&key), &claims(), &stranger)),
        Err(VerifyError::Signature)
    );
}

#[test]
fn wrong_or_missing_typ_is_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    for typ in [json!("JWT"), json!("jwt"), json!(""), json!(1)] {
        let mut h = header(&key);
        h["typ"] = typ.clone();
        let expected = if typ.is_string() {
            VerifyError::Type
        } else {
            VerifyError::Header
        };
        assert_eq!(verify(&set, &craft(&h, &claims(), &key)), Err(expected));
    }
    let mut h = header(&key);
    h.as_object_mut().unwrap().remove("typ");
    assert_eq!(
        verify(&set, &craft(&h, &claims(), &key)),
        Err(VerifyError::Header)
    );
    h["typ"] = json!("application/AT+JWT");
    assert!(verify(&set, &craft(&h, &claims(), &key)).is_ok());
}

#[test]
fn altered_payload_or_signature_is_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    let token = craft(&header(&key), &claims(), &key);
    let parts: Vec<&str> = token.split('.').collect();
    let mut c = claims();
    c["sub"] = json!("admin");
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        b64(c.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(verify(&set, &altered), Err(VerifyError::Signature));
    let mut sig = crate::b64::decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let resigned = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    assert_eq!(verify(&set, &resigned), Err(VerifyError::Signature));
}

#[test]
fn wrong_issuer_is_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    let mut c = claims();
    c["iss"] = json!("https://evil.example");
    assert_eq!(
        verify(&set, &craft(&header(&key), &c, &key)),
        Err(VerifyError::Issuer)
    );
}

#[test]
fn audience_is_required_and_checked_when_configured() {
    let (key, set) = setup(Algorithm::EdDSA);
    let with_aud = VerifyOptions {
        audience: vec!["api".into()],
        ..opts()
    };
    let no_aud = craft(&header(&key), &claims(), &key);
    assert_eq!(
        set.verify(&no_aud, &with_aud, NOW),
        Err(VerifyError::Audience)
    );
    let mut c = claims();
    c["aud"] = json!("other");
    let wrong = craft(&header(&key), &c, &key);
    assert_eq!(
        set.verify(&wrong, &with_aud, NOW),
        Err(VerifyError::Audience)
    );
    c["aud"] = json!(["other", "api"]);
    assert!(
        set.verify(&craft(&header(&key), &c, &key), &with_aud, NOW)
            .is_ok()
    );
    c["aud"] = json!("api");
    let right = craft(&header(&key), &c, &key);
    assert!(set.verify(&right, &with_aud, NOW).is_ok());
    // Not configured: a token that carries an audience was not minted by this issuer's config.
    assert_eq!(verify(&set, &right), Err(VerifyError::Audience));
}

#[test]
fn expiry_is_required_and_leeway_is_at_most_five_seconds() {
    let (key, set) = setup(Algorithm::EdDSA);
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        verify(&set, &craft(&header(&key), &c, &key)),
        Err(VerifyError::Claims)
    );
    c["exp"] = json!(NOW - 4);
    let token = craft(&header(&key), &c, &key);
    assert!(verify(&set, &token).is_ok(), "inside the 5 s leeway");
    c["exp"] = json!(NOW - 5);
    let token = craft(&header(&key), &c, &key);
    assert_eq!(verify(&set, &token), Err(VerifyError::Expired));
    let generous = VerifyOptions {
        leeway_secs: 3600,
        ..opts()
    };
    assert_eq!(
        set.verify(&token, &generous, NOW),
        Err(VerifyError::Expired),
        "leeway is clamped to 5 s"
    );
    assert!(set.verify_ignoring_expiry(&token, &opts(), NOW).is_ok());
}

#[test]
fn not_before_and_issued_at_in_the_future_are_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    let mut c = claims();
    c["nbf"] = json!(NOW + 60);
    assert_eq!(
        verify(&set, &craft(&header(&key), &c, &key)),
        Err(VerifyError::NotYetValid)
    );
    c["nbf"] = json!(NOW + 3);
    assert!(verify(&set, &craft(&header(&key), &c, &key)).is_ok());
    let mut c = claims();
    c["iat"] = json!(NOW + 60);
    assert_eq!(
        verify(&set, &craft(&header(&key), &c, &key)),
        Err(VerifyError::IssuedInFuture)
    );
}

#[test]
fn malformed_claim_types_are_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    for (name, value) in [
        ("exp", json!("2030-01-01")),
        ("exp", json!(1.5e9)),
        ("iat", json!(null)),
        ("sub", json!(42)),
        ("roles", json!("admin")),
        ("perms", json!([1, 2])),
        ("nbf", json!("soon")),
        ("aud", json!({"a": 1})),
    ] {
        let mut c = claims();
        c[name] = value;
        assert_eq!(
            verify(&set, &craft(&header(&key), &c, &key)),
            Err(VerifyError::Claims),
            "{name}"
        );
    }
    // Claims that are not a JSON object at all.
    let input = format!(
        "{}.{}",
        b64(header(&key).to_string().as_bytes()),
        b64(b"[1,2]")
    );
    let token = format!("{input}.{}", b64(&key.sign(input.as_bytes())));
    assert_eq!(verify(&set, &token), Err(VerifyError::Claims));
}

#[test]
fn non_canonical_base64url_is_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    let token = craft(&header(&key), &claims(), &key);
    let parts: Vec<&str> = token.split('.').collect();
    // Padding.
    let padded = format!("{}.{}.{}==", parts[0], parts[1], parts[2]);
    assert_eq!(verify(&set, &padded), Err(VerifyError::Encoding));
    // A 64-byte signature leaves 4 unused bits in its last character; setting them yields the
    // same bytes under a lenient decoder.
    let sig = parts[2];
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    let sloppy = alphabet.chars().nth(idx | 0b0011).unwrap();
    let sloppy = if sloppy == last {
        alphabet.chars().nth(idx ^ 0b0001).unwrap()
    } else {
        sloppy
    };
    let tampered = format!(
        "{}.{}.{}{}",
        parts[0],
        parts[1],
        &sig[..sig.len() - 1],
        sloppy
    );
    assert_eq!(verify(&set, &tampered), Err(VerifyError::Encoding));
    // The standard (not URL-safe) alphabet.
    let std_alphabet = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        sig.replace('-', "+").replace('_', "/")
    );
    if std_alphabet != token {
        assert_eq!(verify(&set, &std_alphabet), Err(VerifyError::Encoding));
    }
    let spaced = format!("{}.{} .{}", parts[0], parts[1], parts[2]);
    assert_eq!(verify(&set, &spaced), Err(VerifyError::Encoding));
}

#[test]
fn json_serialization_and_wrong_shapes_are_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    let token = craft(&header(&key), &claims(), &key);
    let parts: Vec<&str> = token.split('.').collect();
    let json_form = json!({"protected": parts[0], "payload": parts[1], "signature": parts[2]});
    assert_eq!(
        verify(&set, &json_form.to_string()),
        Err(VerifyError::Malformed)
    );
    for bad in [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "..",
        &format!("{}.{}.{}.{}", parts[0], parts[1], parts[2], parts[2]),
        &format!("{}..{}", parts[0], parts[2]),
        &"a".repeat(10_000),
    ] {
        assert!(verify(&set, bad).is_err(), "{bad:.40}");
    }
    // Header that is not JSON, or not an object.
    let not_json = format!("{}.{}.{}", b64(b"not json"), parts[1], parts[2]);
    assert_eq!(verify(&set, &not_json), Err(VerifyError::Header));
}

#[test]
fn hs256_is_never_published_and_needs_a_long_secret() {
    assert!(matches!(
        SigningKey::from_hs256_secret(&[1u8; 31]),
        Err(KeyError::ShortSecret)
    ));
    let (key, _) = setup(Algorithm::HS256);
    assert!(key.verifying_key().to_jwk().is_none());
    assert!(
        !format!("{key:?}").contains("7, 7"),
        "Debug hides the secret"
    );
}

#[test]
fn jwks_entries_name_kid_alg_and_use() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        let (key, _) = setup(alg);
        let jwk = serde_json::to_value(key.verifying_key().to_jwk().unwrap()).unwrap();
        assert_eq!(jwk["kid"], key.kid());
        assert_eq!(jwk["alg"], alg.as_str());
        assert_eq!(jwk["use"], "sig");
        assert!(jwk.get("d").is_none(), "no private part");
    }
}

#[test]
fn keys_read_back_from_a_published_jwks_verify_our_tokens() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        let (key, _) = setup(alg);
        let doc = serde_json::to_vec(&Jwks {
            keys: vec![key.verifying_key().to_jwk().unwrap()],
        })
        .unwrap();
        let keys = Jwks::parse_verifying_keys(&doc, alg).unwrap();
        assert_eq!(keys.len(), 1, "{alg}");
        assert_eq!(keys[0].kid(), key.kid());
        let set = KeySet::new(alg, keys);
        let token = craft(
            &json!({"alg": alg.as_str(), "kid": key.kid(), "typ": "at+jwt"}),
            &claims(),
            &key,
        );
        assert!(verify(&set, &token).is_ok(), "{alg}");
        assert_eq!(Jwks::algorithms(&doc).unwrap(), vec![alg]);
        // Read as another algorithm, the key is not taken.
        let other = if alg == Algorithm::EdDSA {
            Algorithm::ES256
        } else {
            Algorithm::EdDSA
        };
        assert!(Jwks::parse_verifying_keys(&doc, other).unwrap().is_empty());
    }
}

#[test]
fn odd_published_keys_are_skipped_and_non_jwks_refused() {
    let (key, _) = setup(Algorithm::EdDSA);
    let good = serde_json::to_value(key.verifying_key().to_jwk().unwrap()).unwrap();
    let mut no_alg = good.clone();
    no_alg.as_object_mut().unwrap().remove("alg");
    let mut enc = good.clone();
    enc["use"] = json!("enc");
    let mut short = good.clone();
    short["x"] = json!("AAAA");
    let mut no_kid = good.clone();
    no_kid.as_object_mut().unwrap().remove("kid");
    let hs = json!({"kty": "oct", "kid": "h", "alg": "HS256", "k": "c2VjcmV0"});
    let weak_rsa = json!({"kty": "RSA", "kid": "r", "alg": "RS256", "n": "AQAB", "e": "AQAB"});
    let doc = json!({"keys": [no_alg, enc, short, no_kid, hs, weak_rsa, 7, good]});
    let doc = serde_json::to_vec(&doc).unwrap();
    let keys = Jwks::parse_verifying_keys(&doc, Algorithm::EdDSA).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(
        Jwks::parse_verifying_keys(&doc, Algorithm::HS256)
            .unwrap()
            .is_empty()
    );
    assert!(
        Jwks::parse_verifying_keys(&doc, Algorithm::RS256)
            .unwrap()
            .is_empty()
    );
    assert!(Jwks::parse_verifying_keys(b"[]", Algorithm::EdDSA).is_err());
    assert!(Jwks::parse_verifying_keys(b"<html>", Algorithm::EdDSA).is_err());
}

#[test]
fn the_issue_instant_comes_from_a_v7_jti_within_the_iat_second() {
    let base = |jti: &str, iat: i64| {
        let mut c: AccessClaims = serde_json::from_value(claims()).unwrap();
        c.jti = jti.into();
        c.iat = iat;
        c
    };
    // 0x019a_0000_0000 ms = 1_760_936_591_360 (second 1_760_936_591).
    let v7 = "019a0000-0000-7000-8000-000000000000";
    assert_eq!(base(v7, 1_760_936_591).issued_at_ms(), 1_760_936_591_360);
    // In another second than iat: the end of iat's second.
    assert_eq!(base(v7, 1_760_936_592).issued_at_ms(), 1_760_936_592_999);
    // Not version 7, not a UUID, upper bits garbage: the end of iat's second.
    let v4 = "019a0000-0000-4000-8000-000000000000";
    assert_eq!(base(v4, 1_760_936_591).issued_at_ms(), 1_760_936_591_999);
    assert_eq!(base("j1", 1_760_936_591).issued_at_ms(), 1_760_936_591_999);
    let bad = "019a0000x0000-7000-8000-000000000000";
    assert_eq!(base(bad, 1_760_936_591).issued_at_ms(), 1_760_936_591_999);
}

#[test]
fn es256_signatures_are_low_s_and_their_high_s_twin_is_refused() {
    let (key, set) = setup(Algorithm::ES256);
    for _ in 0..16 {
        // Signing is randomised over the message: several tokens cover both halves of s.
        let mut c = claims();
        c["jti"] = json!(format!("{}", rand::random::<u64>()));
        let token = craft(&header(&key), &c, &key);
        assert!(verify(&set, &token).is_ok());
        let parts: Vec<&str> = token.split('.').collect();
        let sig =
            p256::ecdsa::Signature::from_slice(&crate::b64::decode(parts[2]).unwrap()).unwrap();
        assert!(sig.normalize_s().is_none(), "we sign low-S only");
        let (r, s) = sig.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        let twin = format!("{}.{}.{}", parts[0], parts[1], b64(&high.to_bytes()));
        assert_eq!(verify(&set, &twin), Err(VerifyError::Signature));
    }
}

#[test]
fn a_token_living_longer_than_the_configured_lifetime_is_refused() {
    let (key, set) = setup(Algorithm::EdDSA);
    let strict = VerifyOptions {
        max_lifetime_secs: Some(300),
        ..opts()
    };
    let mut c = claims();
    c["exp"] = json!(NOW - 10 + 300);
    let ok = craft(&header(&key), &c, &key);
    assert!(set.verify(&ok, &strict, NOW).is_ok());
    c["exp"] = json!(NOW - 10 + 301);
    let long = craft(&header(&key), &c, &key);
    assert_eq!(set.verify(&long, &strict, NOW), Err(VerifyError::Lifetime));
    assert!(
        set.verify(&long, &opts(), NOW).is_ok(),
        "no bound set, none applied"
    );
}
