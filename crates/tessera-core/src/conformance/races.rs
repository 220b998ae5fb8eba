//! Conformance cases: revocation wins every race (API.md §4.4), on the engine over the store
//! under test. Two engines share the store as two nodes share a database, and node B's clock runs
//! 3 s ahead of node A's. Each session refreshes in a tight loop on one of the nodes while node A
//! revokes; once the revocation has returned (and node B has read the feed), no access token
//! minted for a revoked session may verify on either node, and the sessions that were spared
//! must still work.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use uuid::Uuid;

use crate::engine::accounts::{Credentials, PasswordChange};
use crate::model::BulkSelector;
use crate::passwords::PasswordPolicy;
use crate::store::Store;
use crate::{Engine, EngineConfig, Issued, MasterKey, OffsetClock, RequestMeta, SystemClock};

const SESSIONS: usize = 6;
const ROUNDS: usize = 3;
const PASSWORD: &str = "a long and unusual passphrase 9";
const NEW_PASSWORD: &str = "another quite unusual passphrase 7";
/// Node B's clock, ahead of node A's (API.md allows up to 5 s between nodes).
const SKEW_MS: i64 = 3_000;

#[derive(Clone, Copy, Debug)]
enum Kind {
    OneSession,
    UserSessions,
    Namespace,
    All,
    DeletedUser,
    BannedUser,
    PasswordChange,
}

/// Every kind but `All`, which runs once, last: its cutoff covers node B's stamps, 3 s ahead, so
/// for those 3 s node A's new sessions fall under it too (fail closed; docs/architecture.md).
const KINDS: [Kind; 6] = [
    Kind::OneSession,
    Kind::UserSessions,
    Kind::Namespace,
    Kind::DeletedUser,
    Kind::BannedUser,
    Kind::PasswordChange,
];

async fn nodes(store: Arc<dyn Store>) -> (Arc<Engine>, Arc<Engine>) {
    let master = MasterKey::generate();
    let cfg = EngineConfig {
        passwords: PasswordPolicy {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            ..PasswordPolicy::default()
        },
        ..EngineConfig::new("https://race.test")
    };
    let a = Engine::start(store.clone(), Arc::new(SystemClock), &master, cfg.clone())
        .await
        .unwrap();
    let b = Engine::start(
        store,
        Arc::new(OffsetClock { offset_ms: SKEW_MS }),
        &master,
        cfg,
    )
    .await
    .unwrap();
    (Arc::new(a), Arc::new(b))
}

pub async fn revocation_wins_races_with_refresh_on_every_node(store: Arc<dyn Store>) {
    let (a, b) = nodes(store).await;
    for round in 0..ROUNDS {
        for (i, kind) in KINDS.into_iter().enumerate() {
            race(&a, &b, kind, &format!("r{round}k{i}")).await;
        }
    }
    race(&a, &b, Kind::All, "all").await;
}

async fn race(a: &Arc<Engine>, b: &Arc<Engine>, kind: Kind, tag: &str) {
    let meta = RequestMeta::default();
    let creds = || Credentials {
        email: format!("race-{tag}@example.com"),
        password: PASSWORD.into(),
        namespace: Some(format!("ns-{tag}")),
        transport: "body".into(),
        dpop_jkt: None,
    };
    let mut sessions: Vec<Issued> = vec![a.register(creds(), &meta).await.unwrap()];
    for i in 1..SESSIONS {
        let node = if i % 2 == 0 { a } else { b };
        sessions.push(node.login(creds(), &meta).await.unwrap());
    }
    let user_id = sessions[0].user.id;

    let stop = Arc::new(AtomicBool::new(false));
    let mut refreshers = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        let node = if i % 2 == 0 { a.clone() } else { b.clone() };
        let stop = stop.clone();
        let (sid, mut token) = (s.session_id, s.refresh_token.expose().clone());
        let mut minted = vec![s.access_token.expose().clone()];
        refreshers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match node.refresh(&token, &RequestMeta::default()).await {
                    Ok(issued) => {
                        token = issued.refresh_token.expose().clone();
                        minted.push(issued.access_token.expose().clone());
                    }
                    Err(_) => break,
                }
                // The memory store never makes a task wait: let the revoking task run.
                tokio::task::yield_now().await;
            }
            (sid, minted)
        }));
    }
    tokio::time::sleep(Duration::from_millis(25)).await;

    // The revocation, on node A, while every session refreshes.
    let all: Vec<Uuid> = sessions.iter().map(|s| s.session_id).collect();
    let revoked: Vec<Uuid> = match kind {
        Kind::OneSession => {
            a.admin_revoke_session(all[1], &meta).await.unwrap();
            vec![all[1]]
        }
        Kind::UserSessions => {
            let sel = BulkSelector::User {
                user_id,
                namespace: None,
            };
            a.bulk_revoke(sel, "admin", &meta).await.unwrap();
            all.clone()
        }
        Kind::Namespace => {
            let sel = BulkSelector::Namespace(format!("ns-{tag}"));
            a.bulk_revoke(sel, "admin", &meta).await.unwrap();
            all.clone()
        }
        Kind::All => {
            a.bulk_revoke(BulkSelector::All, "admin", &meta)
                .await
                .unwrap();
            all.clone()
        }
        Kind::DeletedUser => {
            a.delete_user(user_id, &meta).await.unwrap();
            all.clone()
        }
        Kind::BannedUser => {
            a.ban(user_id, None, &meta).await.unwrap();
            all.clone()
        }
        Kind::PasswordChange => {
            // Keeps session 0 (the one changing it), ends the others.
            let principal = a.verify_access(sessions[0].access_token.expose()).unwrap();
            let change = PasswordChange {
                email: None,
                current_password: PASSWORD.into(),
                new_password: NEW_PASSWORD.into(),
            };
            a.change_password(Some(principal.as_ref()), change, &meta)
                .await
                .unwrap();
            all[1..].to_vec()
        }
    };
    stop.store(true, Ordering::Relaxed);
    // Node B hears of it (in a deployment: a broadcast, or at worst the next poll).
    b.revocations().sync().await.unwrap();

    for task in refreshers {
        let (sid, minted) = task.await.unwrap();
        if revoked.contains(&sid) {
            for (n, token) in minted.iter().enumerate() {
                for (name, node) in [("A", a), ("B", b)] {
                    assert!(
                        node.verify_access(token).is_err(),
                        "{kind:?}: token {n} of {} minted for a revoked session still verifies on node {name}",
                        minted.len()
                    );
                }
            }
        } else {
            let newest = minted.last().unwrap();
            for node in [a, b] {
                node.verify_access(newest)
                    .unwrap_or_else(|e| panic!("{kind:?}: a spared session was refused: {e}"));
            }
        }
    }
}
