//! The shared test vectors (`vectors/revocation.json` at the repository's root), which the Node
//! and Python libraries run as well: every implementation must agree with every case.
use serde_json::Value;

use crate::{Entry, Revocations};

const VECTORS: &str = include_str!("../../../vectors/revocation.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("the vectors are JSON")
}

fn entry(v: &Value) -> Entry {
    serde_json::from_value(v.clone()).expect("an entry of the feed's format")
}

#[test]
fn every_case_of_the_shared_vectors_holds() {
    let v = vectors();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let mut set = Revocations::<String>::default();
        for e in c["entries"].as_array().unwrap() {
            set.apply(
                &entry(e)
                    .rule()
                    .unwrap_or_else(|_| panic!("{name}: unreadable")),
            );
        }
        if let Some(at) = c["prune_at_ms"].as_i64() {
            set.prune(at);
        }
        let t = &c["token"];
        let s = |k: &str| t[k].as_str().unwrap().to_owned();
        let refused = set.refuses(
            &s("sid"),
            &s("sub"),
            &s("ns"),
            t["issued_ms"].as_i64().unwrap(),
        );
        assert_eq!(refused, c["refused"].as_bool().unwrap(), "{name}");
    }
}

#[test]
fn every_unreadable_entry_of_the_shared_vectors_is_refused() {
    for c in vectors()["unreadable"].as_array().unwrap() {
        assert!(entry(&c["entry"]).rule().is_err(), "{}", c["name"]);
    }
}

#[test]
fn every_issue_instant_of_the_shared_vectors_holds() {
    for c in vectors()["issued"].as_array().unwrap() {
        let claims = serde_json::json!({
            "iss": "i", "sub": "u", "sid": "s", "ns": "n", "iat": c["iat"], "exp": 1,
            "roles": [], "perms": [], "jti": c["jti"],
        });
        let claims: tessera_token::AccessClaims = serde_json::from_value(claims).unwrap();
        assert_eq!(
            claims.issued_at_ms(),
            c["issued_ms"].as_i64().unwrap(),
            "{}",
            c["name"]
        );
    }
}

#[test]
fn entries_round_trip_through_the_wire_format() {
    for c in vectors()["cases"].as_array().unwrap() {
        for e in c["entries"].as_array().unwrap() {
            let read = entry(e);
            let written = Entry::new(read.id.clone(), &read.rule().unwrap());
            assert_eq!(serde_json::to_value(&written).unwrap(), *e);
        }
    }
}
