//! DPoP proofs: the shared vectors (`vectors/dpop.json`, published RFC examples and variants of
//! them), then proofs made here with each defect a client or a thief could present.
use ed25519_dalek::Signer as _;
use serde_json::{Value, json};

use crate::b64;
use crate::dpop::*;

const VECTORS: &str = include_str!("../../../vectors/dpop.json");

fn verdict(e: DpopError) -> &'static str {
    match e {
        DpopError::Malformed => "malformed",
        DpopError::Header => "header",
        DpopError::Algorithm => "algorithm",
        DpopError::Key => "key",
        DpopError::Signature => "signature",
        DpopError::Claims => "claims",
        DpopError::Method => "method",
        DpopError::Url => "url",
        DpopError::Time => "time",
        DpopError::AccessTokenHash => "access_token_hash",
    }
}

#[test]
fn the_shared_vectors_hold() {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    for t in v["thumbprints"].as_array().unwrap() {
        let jwk = &t["jwk"];
        let got = match jwk["kty"].as_str().unwrap() {
            "EC" => thumbprint_ec(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap()),
            _ => thumbprint_okp(jwk["x"].as_str().unwrap()),
        };
        assert_eq!(got, t["jkt"], "{}", t["source"]);
    }
    let proofs = v["proofs"].as_array().unwrap();
    assert!(proofs.len() >= 8);
    for p in proofs {
        let c = &p["check"];
        let algorithms: Vec<ProofAlgorithm> = c["algorithms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| ProofAlgorithm::parse(a.as_str().unwrap()).unwrap())
            .collect();
        let check = ProofCheck {
            method: c["method"].as_str().unwrap(),
            url: c["url"].as_str().unwrap(),
            access_token: c["access_token"].as_str(),
            algorithms: &algorithms,
            now: c["now"].as_i64().unwrap(),
            max_age_secs: c["max_age_secs"].as_i64().unwrap(),
        };
        let got = verify_proof(p["proof"].as_str().unwrap(), &check);
        match p["verdict"].as_str().unwrap() {
            "valid" => {
                let proof = got.unwrap_or_else(|e| panic!("{}: {e}", p["name"]));
                assert_eq!(proof.jkt, p["jkt"], "{}", p["name"]);
                assert_eq!(proof.jti, p["jti"], "{}", p["name"]);
            }
            want => assert_eq!(got.map_err(verdict), Err(want), "{}", p["name"]),
        }
    }
}

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://auth.test/auth/refresh";

/// A proof over `header` and `claims`, signed by `sign`.
fn proof(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let mut s = b64::encode(header.to_string().as_bytes());
    s.push('.');
    s.push_str(&b64::encode(claims.to_string().as_bytes()));
    let sig = sign(s.as_bytes());
    s.push('.');
    s.push_str(&b64::encode(&sig));
    s
}

fn es_jwk(key: &p256::ecdsa::SigningKey) -> Value {
    let p = key.verifying_key().to_encoded_point(false);
    json!({"kty": "EC", "crv": "P-256", "x": b64::encode(p.x().unwrap()), "y": b64::encode(p.y().unwrap())})
}

fn claims() -> Value {
    json!({"jti": "j-1", "htm": "POST", "htu": URL, "iat": NOW})
}

fn check<'a>(token: Option<&'a str>) -> ProofCheck<'a> {
    ProofCheck {
        method: "POST",
        url: URL,
        access_token: token,
        algorithms: &[
            ProofAlgorithm::ES256,
            ProofAlgorithm::EdDSA,
            ProofAlgorithm::Ed25519,
        ],
        now: NOW,
        max_age_secs: 60,
    }
}

fn es_sign(key: &p256::ecdsa::SigningKey, high_s: bool) -> impl Fn(&[u8]) -> Vec<u8> + '_ {
    move |m| {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::Signature = key.sign(m);
        let low = sig.normalize_s().unwrap_or(sig);
        if !high_s {
            return low.to_bytes().to_vec();
        }
        // The high-S twin: (r, n - s), as WebCrypto may produce.
        let (r, s) = low.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
        assert!(high.normalize_s().is_some(), "this one is high-S");
        high.to_bytes().to_vec()
    }
}

#[test]
fn a_proof_is_valid_in_either_s_form_and_for_either_eddsa_name() {
    let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": es_jwk(&key)});
    let jwk = es_jwk(&key);
    let jkt = thumbprint_ec(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap());
    for high_s in [false, true] {
        let p = proof(&header, &claims(), es_sign(&key, high_s));
        assert_eq!(
            verify_proof(&p, &check(None)).unwrap().jkt,
            jkt,
            "high_s {high_s}"
        );
    }
    let ed = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let x = b64::encode(ed.verifying_key().as_bytes());
    for alg in ["EdDSA", "Ed25519"] {
        let header =
            json!({"typ": "dpop+jwt", "alg": alg, "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}});
        let p = proof(&header, &claims(), |m| ed.sign(m).to_bytes().to_vec());
        assert_eq!(
            verify_proof(&p, &check(None)).unwrap().jkt,
            thumbprint_okp(&x),
            "{alg}"
        );
    }
}

#[test]
fn every_defect_of_a_proof_is_refused() {
    let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let other = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": es_jwk(&key)});
    let sign = es_sign(&key, false);
    let token = "the.access.token";
    let ath = access_token_hash(token);
    let with = |edit: &dyn Fn(&mut Value, &mut Value)| {
        let (mut h, mut c) = (header.clone(), claims());
        edit(&mut h, &mut c);
        proof(&h, &c, &sign)
    };
    let cases: Vec<(&str, String, Option<&str>, DpopError)> = vec![
        (
            "another key's jwk",
            proof(
                &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": es_jwk(&other)}),
                &claims(),
                &sign,
            ),
            None,
            DpopError::Signature,
        ),
        (
            "a private jwk",
            with(&|h, _| h["jwk"]["d"] = json!("AAAA")),
            None,
            DpopError::Key,
        ),
        (
            "a symmetric jwk",
            with(&|h, _| h["jwk"] = json!({"kty": "oct", "k": "AAAA"})),
            None,
            DpopError::Key,
        ),
        (
            "no jwk",
            with(&|h, _| {
                h.as_object_mut().unwrap().remove("jwk");
            }),
            None,
            DpopError::Header,
        ),
        (
            "typ JWT",
            with(&|h, _| h["typ"] = json!("JWT")),
            None,
            DpopError::Header,
        ),
        (
            "alg none",
            with(&|h, _| h["alg"] = json!("none")),
            None,
            DpopError::Algorithm,
        ),
        (
            "alg HS256",
            with(&|h, _| h["alg"] = json!("HS256")),
            None,
            DpopError::Algorithm,
        ),
        (
            "EdDSA on an EC key",
            with(&|h, _| h["alg"] = json!("EdDSA")),
            None,
            DpopError::Algorithm,
        ),
        (
            "a jku header",
            with(&|h, _| h["jku"] = json!("https://evil.test/jwks")),
            None,
            DpopError::Header,
        ),
        (
            "wrong htu",
            with(&|_, c| c["htu"] = json!("https://auth.test/auth/login")),
            None,
            DpopError::Url,
        ),
        (
            "wrong htm",
            with(&|_, c| c["htm"] = json!("GET")),
            None,
            DpopError::Method,
        ),
        (
            "old iat",
            with(&|_, c| c["iat"] = json!(NOW - 66)),
            None,
            DpopError::Time,
        ),
        (
            "future iat",
            with(&|_, c| c["iat"] = json!(NOW + 6)),
            None,
            DpopError::Time,
        ),
        (
            "no jti",
            with(&|_, c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            None,
            DpopError::Claims,
        ),
        (
            "no ath with a token",
            with(&|_, _| {}),
            Some(token),
            DpopError::AccessTokenHash,
        ),
        (
            "another token's ath",
            with(&|_, c| c["ath"] = json!(access_token_hash("other"))),
            Some(token),
            DpopError::AccessTokenHash,
        ),
        (
            "four parts",
            format!("{}.x", with(&|_, _| {})),
            None,
            DpopError::Malformed,
        ),
    ];
    for (what, p, token, want) in cases {
        assert_eq!(verify_proof(&p, &check(token)), Err(want), "{what}");
    }
    // Within the leeway either way, and with the right ath: valid.
    for iat in [NOW - 65, NOW + 5] {
        assert!(verify_proof(&with(&|_, c| c["iat"] = json!(iat)), &check(None)).is_ok());
    }
    let bound = with(&|_, c| c["ath"] = json!(ath));
    assert!(verify_proof(&bound, &check(Some(token))).is_ok());
}

#[test]
fn htu_compares_without_query_case_or_default_port() {
    let n = |u| normalize_htu(u);
    assert_eq!(
        n("HTTPS://Auth.Test:443/a?b#c").as_deref(),
        Some("https://auth.test/a")
    );
    assert_eq!(
        n("http://auth.test:80").as_deref(),
        Some("http://auth.test/")
    );
    assert_eq!(
        n("http://auth.test:8080/x").as_deref(),
        Some("http://auth.test:8080/x")
    );
    assert_eq!(n("ftp://auth.test/x"), None);
    assert_eq!(n("https://user@auth.test/x"), None);
    assert_eq!(n("/relative"), None);
}
