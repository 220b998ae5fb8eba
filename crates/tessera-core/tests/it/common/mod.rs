#![allow(dead_code)]
use std::sync::Arc;

use tessera_core::engine::accounts::Credentials;
use tessera_core::memory::MemoryStore;
use tessera_core::passwords::PasswordPolicy;
use tessera_core::{Engine, EngineConfig, Issued, ManualClock, MasterKey, RequestMeta};

pub const T0: i64 = 1_800_000_000_000;
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Harness {
    pub engine: Arc<Engine>,
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemoryStore>,
    pub master: MasterKey,
}

pub fn config() -> EngineConfig {
    EngineConfig {
        passwords: PasswordPolicy {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            ..PasswordPolicy::default()
        },
        ..EngineConfig::new("https://auth.test")
    }
}

pub async fn harness(cfg: EngineConfig) -> Harness {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(MemoryStore::new());
    let master = MasterKey::generate();
    let engine = Engine::start(store.clone(), clock.clone(), &master, cfg)
        .await
        .unwrap();
    Harness {
        engine: Arc::new(engine),
        clock,
        store,
        master,
    }
}

pub fn creds(email: &str) -> Credentials {
    Credentials {
        email: email.into(),
        password: PASSWORD.into(),
        namespace: None,
        transport: "body".into(),
        dpop_jkt: None,
    }
}

pub async fn register(h: &Harness, email: &str) -> Issued {
    h.engine
        .register(creds(email), &RequestMeta::default())
        .await
        .unwrap()
}
