//! Any standard JWT library must verify our tokens with the JWKS alone (API.md §3). Here the
//! standard library is `jsonwebtoken`, which shares no code with our verification layer.
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use tessera_token::{AccessClaims, Algorithm, Jwks, SigningKey, sign};

fn claims() -> AccessClaims {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    AccessClaims {
        iss: "https://auth.example".into(),
        aud: None,
        sub: "user".into(),
        sid: "session".into(),
        jti: "jti".into(),
        iat: now,
        exp: now + 600,
        nbf: None,
        ns: "default".into(),
        roles: vec!["admin".into()],
        perms: vec!["read".into()],
        auth_time: None,
        ext: None,
        acr: None,
        amr: None,
        cnf: None,
    }
}

#[test]
fn a_standard_library_verifies_our_tokens_from_the_jwks_alone() {
    jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
        .install_default()
        .ok();
    for (alg, theirs) in [
        (Algorithm::EdDSA, jsonwebtoken::Algorithm::EdDSA),
        (Algorithm::ES256, jsonwebtoken::Algorithm::ES256),
        (Algorithm::RS256, jsonwebtoken::Algorithm::RS256),
    ] {
        let key = SigningKey::generate(alg).unwrap();
        let token = sign(&claims(), &key);
        let jwks = Jwks {
            keys: vec![key.verifying_key().to_jwk().unwrap()],
        };
        let set: JwkSet = serde_json::from_value(serde_json::to_value(&jwks).unwrap()).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
        let mut validation = Validation::new(theirs);
        validation.set_issuer(&["https://auth.example"]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<AccessClaims>(
            &token,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(data.claims, claims_without_time(&data.claims));
    }
}

fn claims_without_time(c: &AccessClaims) -> AccessClaims {
    AccessClaims {
        iat: c.iat,
        exp: c.exp,
        ..claims()
    }
}
