//! The CLI commands that work on the database directly (users, sessions, keys). Output is for
//! people; errors go to stderr with a non-zero exit.
use std::io::Read;

use tessera_core::Engine;
use tessera_core::RequestMeta;
use tessera_core::model::BulkSelector;
use tessera_server::views::rfc3339_ms;

fn cli_meta() -> RequestMeta {
    RequestMeta {
        ip: None,
        user_agent: Some("tessera-cli".into()),
    }
}

/// Reads the password from standard input: all of it, less one trailing newline.
pub fn password_from_stdin() -> Result<String, String> {
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let pw = buf
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&buf);
    if pw.is_empty() {
        return Err("no password on stdin".into());
    }
    Ok(pw.to_owned())
}

pub async fn user_create(
    engine: &Engine,
    email: &str,
    password: String,
    roles: Vec<String>,
) -> Result<(), String> {
    let user = engine
        .admin_create_user(email, password, roles, &cli_meta())
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "created user {} <{}>{}",
        user.id,
        user.email,
        roles_suffix(&user.roles)
    );
    Ok(())
}

fn roles_suffix(roles: &[String]) -> String {
    if roles.is_empty() {
        String::new()
    } else {
        format!(" with roles {}", roles.join(", "))
    }
}

async fn user_id(engine: &Engine, email: &str) -> Result<uuid::Uuid, String> {
    engine
        .find_users(Some(email), 1)
        .await
        .map_err(|e| e.to_string())?
        .first()
        .map(|u| u.id)
        .ok_or_else(|| format!("no user with email {email}"))
}

pub async fn sessions_list(engine: &Engine, email: &str) -> Result<(), String> {
    let id = user_id(engine, email).await?;
    let sessions = engine.user_sessions(id).await.map_err(|e| e.to_string())?;
    if sessions.is_empty() {
        println!("{email} has no live sessions");
        return Ok(());
    }
    println!(
        "{:<36}  {:<12}  {:<20}  {:<15}  USER AGENT",
        "SESSION", "NAMESPACE", "LAST ACTIVE", "IP"
    );
    for s in sessions {
        println!(
            "{:<36}  {:<12}  {:<20}  {:<15}  {}",
            s.id,
            s.namespace,
            rfc3339_ms(s.last_active_at),
            s.ip.as_deref().unwrap_or("-"),
            s.user_agent.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// Which sessions `tessera sessions revoke` ends.
pub enum RevokeTarget {
    Session(String),
    User(String),
    Namespace(String),
    All,
}

pub async fn sessions_revoke(engine: &Engine, target: RevokeTarget) -> Result<(), String> {
    let meta = cli_meta();
    let n = match target {
        RevokeTarget::Session(id) => {
            let id = uuid::Uuid::parse_str(&id).map_err(|_| format!("{id} is not a session id"))?;
            engine
                .admin_revoke_session(id, &meta)
                .await
                .map_err(|_| format!("no live session {id}"))?;
            1
        }
        RevokeTarget::User(email) => {
            let user_id = user_id(engine, &email).await?;
            let selector = BulkSelector::User {
                user_id,
                namespace: None,
            };
            engine
                .bulk_revoke(selector, "cli", &meta)
                .await
                .map_err(|e| e.to_string())?
        }
        RevokeTarget::Namespace(ns) => engine
            .bulk_revoke(BulkSelector::Namespace(ns), "cli", &meta)
            .await
            .map_err(|e| e.to_string())?,
        RevokeTarget::All => engine
            .bulk_revoke(BulkSelector::All, "cli", &meta)
            .await
            .map_err(|e| e.to_string())?,
    };
    println!("revoked {n} session{}", if n == 1 { "" } else { "s" });
    Ok(())
}

pub async fn keys(engine: &Engine, rotate: bool) -> Result<(), String> {
    if rotate {
        let current = engine
            .rotate_keys()
            .await
            .map_err(|e| format!("rotation failed: {e}"))?;
        println!("rotated: {} ({}) now signs", current.kid, current.alg);
    }
    println!("KID                ALG     STATE     CREATED");
    for k in engine.key_records().await.map_err(|e| e.to_string())? {
        println!(
            "{:<18} {:<7} {:<9} {}",
            k.kid,
            k.alg,
            k.state.as_str(),
            rfc3339_ms(k.created_at)
        );
    }
    Ok(())
}
