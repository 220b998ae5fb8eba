//! DPoP's cost (issue 24), two ways:
//!
//! - `dpop proofs COUNT METHOD URL TOKEN > FILE`: COUNT fresh ES256 proofs by the key of
//!   `./dpop.key` (the one `dpop login` made), for wrk to send one per request (bench/dpop.sh);
//! - `dpop login TESSERA EMAIL PASSWORD`: signs in with a proof; prints the bound access token and
//!   keeps the key in ./dpop.key;
//! - `dpop refresh TESSERA N`: N refreshes in a row of a bound session and of an unbound one,
//!   alternating, on one connection; prints the mean and p99 of each and their ratio.
//!
//! - `dpop verify N`: the CPU time of `tessera_token::dpop::verify_proof` on one core, for N
//!   fresh ES256 proofs, and of p256's verifier on the same signatures, for comparison.
//!
//! Figures, not tests: nothing here asserts on speed.
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const KEY_FILE: &str = "dpop.key";

fn key() -> p256::ecdsa::SigningKey {
    match std::fs::read(KEY_FILE) {
        Ok(bytes) => p256::ecdsa::SigningKey::from_slice(&bytes).expect("dpop.key"),
        Err(_) => {
            let k = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
            std::fs::write(KEY_FILE, k.to_bytes()).expect("write dpop.key");
            k
        }
    }
}

fn proof(k: &p256::ecdsa::SigningKey, method: &str, url: &str, token: Option<&str>) -> String {
    let p = k.verifying_key().to_encoded_point(false);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": B64.encode(p.x().unwrap()), "y": B64.encode(p.y().unwrap())});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims =
        json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": method, "htu": url, "iat": now});
    if let Some(t) = token {
        claims["ath"] = B64.encode(Sha256::digest(t.as_bytes())).into();
    }
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig: p256::ecdsa::Signature = k.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(sig.to_bytes()))
}

async fn post(c: &reqwest::Client, url: &str, body: Value, dpop: Option<String>) -> Value {
    let mut req = c.post(url).json(&body);
    if let Some(p) = dpop {
        req = req.header("dpop", p);
    }
    let res = req.send().await.expect("request");
    assert!(res.status().is_success(), "{url}: {}", res.status());
    res.json().await.expect("json")
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (mean, v[(v.len() * 99 / 100).min(v.len() - 1)])
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let c = reqwest::Client::new();
    match args.first().map(String::as_str) {
        Some("proofs") => {
            let (n, method, url, token) = (&args[1], &args[2], &args[3], &args[4]);
            let k = key();
            let mut out = String::new();
            for _ in 0..n.parse::<usize>().expect("COUNT") {
                out.push_str(&proof(&k, method, url, Some(token)));
                out.push('\n');
            }
            print!("{out}");
        }
        Some("login") => {
            let (base, email, password) = (&args[1], &args[2], &args[3]);
            let k = key();
            let body = json!({"email": email, "password": password});
            let t = post(
                &c,
                &format!("{base}/auth/login"),
                body,
                Some(proof(&k, "POST", &format!("{base}/auth/login"), None)),
            )
            .await;
            assert_eq!(t["token_type"], "DPoP");
            println!("{}", t["access_token"].as_str().unwrap());
        }
        Some("refresh") => {
            let (base, n) = (&args[1], args[2].parse::<usize>().expect("N"));
            let k = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
            let url = format!("{base}/auth/refresh");
            let creds =
                |e: &str| json!({"email": e, "password": "a long and unusual passphrase 9"});
            let register_url = format!("{base}/auth/register");
            let reg = |e: String, dpop: Option<String>| post(&c, &register_url, creds(&e), dpop);
            let id = uuid::Uuid::new_v4().simple();
            let mut bound = reg(
                format!("bound-{id}@example.com"),
                Some(proof(&k, "POST", &format!("{base}/auth/register"), None)),
            )
            .await["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let mut plain = reg(format!("plain-{id}@example.com"), None).await["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let (mut tb, mut tp) = (Vec::new(), Vec::new());
            for _ in 0..n {
                let started = Instant::now();
                let p = proof(&k, "POST", &url, None);
                let r = post(&c, &url, json!({"refresh_token": bound}), Some(p)).await;
                tb.push(started.elapsed().as_secs_f64() * 1000.0);
                bound = r["refresh_token"].as_str().unwrap().to_owned();
                let started = Instant::now();
                let r = post(&c, &url, json!({"refresh_token": plain}), None).await;
                tp.push(started.elapsed().as_secs_f64() * 1000.0);
                plain = r["refresh_token"].as_str().unwrap().to_owned();
            }
            let ((mb, pb), (mp, pp)) = (stats(tb), stats(tp));
            println!(
                "refresh, {n} in a row each, alternating (client-side latency, proof signing included):"
            );
            println!(
                "  bound (DPoP): mean {mb:.3} ms, p99 {pb:.3} ms; unbound: mean {mp:.3} ms, p99 {pp:.3} ms; ratio of means {:.2}",
                mb / mp
            );
        }
        Some("verify") => {
            use tessera_token::dpop::{ProofAlgorithm, ProofCheck, verify_proof};
            let n = args[1].parse::<usize>().expect("N");
            let k = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
            let url = "http://127.0.0.1:18297/hello";
            let token = "a.b.c";
            let proofs: Vec<String> = (0..n).map(|_| proof(&k, "GET", url, Some(token))).collect();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let check = ProofCheck {
                method: "GET",
                url,
                access_token: Some(token),
                algorithms: &[ProofAlgorithm::ES256],
                now,
                max_age_secs: 60,
            };
            let started = Instant::now();
            for p in &proofs {
                verify_proof(p, &check).expect("valid");
            }
            let per = started.elapsed().as_secs_f64() * 1e6 / n as f64;
            // p256's verifier on the same inputs: what verify_proof used before it took ring's.
            use p256::ecdsa::signature::Verifier;
            let vk = *k.verifying_key();
            let sigs: Vec<(Vec<u8>, p256::ecdsa::Signature)> = proofs
                .iter()
                .map(|p| {
                    let (input, sig) = p.rsplit_once('.').unwrap();
                    (
                        input.as_bytes().to_vec(),
                        p256::ecdsa::Signature::from_slice(&B64.decode(sig).unwrap()).unwrap(),
                    )
                })
                .collect();
            let started = Instant::now();
            for (m, sig) in &sigs {
                vk.verify(m, sig).expect("verifies");
            }
            let sig_only = started.elapsed().as_secs_f64() * 1e6 / n as f64;
            println!(
                "verify_proof: {per:.1} µs per ES256 proof on one core; p256's own verifier on the same proofs, for comparison: {sig_only:.1} µs"
            );
        }
        _ => eprintln!(
            "usage: dpop proofs COUNT METHOD URL TOKEN | dpop login TESSERA EMAIL PASSWORD | dpop refresh TESSERA N"
        ),
    }
}
