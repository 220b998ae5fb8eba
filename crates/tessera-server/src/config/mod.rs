//! Configuration: TOML plus `TESSERA_*` environment overrides (API.md §1).
//!
//! Loading happens in three steps, each of which names the offending key and where it came from:
//! 1. the file is parsed and every key is checked against the defaults for existence and type;
//! 2. each `TESSERA_<SECTION>__<KEY>` variable is checked the same way and merged on top;
//! 3. the merged [`Config`] is validated into [`Settings`], the typed values the server uses.
use std::path::Path;

use serde::{Deserialize, Serialize};

mod duration;
pub mod email;
mod problems;
mod proofs;
mod settings;
pub use proofs::DpopSettings;

pub use duration::parse_duration_ms;
pub use settings::{
    CookieSettings, HttpSettings, RateLimitSettings, SameSite, Settings, Transport,
};

/// Environment variables with this prefix belong to the test harness, not to the server.
const RESERVED_ENV_PREFIX: &str = "TESSERA_TEST_";

/// The file format, key for key as API.md §1 lists it, plus `data_dir`, `secret_key` and
/// `log_format`, which the contract leaves to us.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: String,
    pub database_url: String,
    pub redis_url: String,
    pub issuer: String,
    pub audience: Vec<String>,
    pub admin_api_keys: Vec<String>,
    pub resource_server_keys: Vec<String>,
    pub public_registration: bool,
    pub max_body_bytes: i64,
    pub public_metrics: bool,
    /// Where `master.key` and `admin.key` live. Empty: the SQLite file's directory, or
    /// `tessera-data` for PostgreSQL.
    pub data_dir: String,
    /// The master secret (≥ 32 bytes). Empty: read or generate `<data_dir>/master.key`. Every
    /// node of a cluster needs the same one.
    pub secret_key: String,
    /// `text` or `json`.
    pub log_format: String,
    pub tokens: Tokens,
    pub cookies: Cookies,
    pub passwords: Passwords,
    pub rate_limit: RateLimit,
    pub cors: Cors,
    pub http: Http,
    pub sessions: Sessions,
    pub mfa: Mfa,
    pub webauthn: WebAuthn,
    pub dpop: Dpop,
    pub email: Email,
    pub events: Events,
    /// `TESSERA_*` variables that name no key: reported, not fatal (API.md §1; orchestrators
    /// inject variables such as `TESSERA_PORT`). Not a key itself.
    #[serde(skip)]
    pub unknown_env: Vec<String>,
    /// Where each key set explicitly came from (`key` → "in FILE" or "from environment
    /// variable NAME"), so value errors can name it. Not a key itself.
    #[serde(skip)]
    pub origins: Vec<(String, String)>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tokens {
    pub algorithm: String,
    pub hs256_secret: String,
    pub access_ttl: String,
    pub refresh_ttl: String,
    pub session_max_lifetime: String,
    pub reuse_grace: String,
    pub key_rotation_interval: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cookies {
    pub secure: bool,
    pub same_site: String,
    /// Empty: `__Secure-tessera_refresh`, or `tessera_refresh` when `secure = false`.
    pub refresh_name: String,
    /// Empty: `__Host-tessera_csrf`, or `tessera_csrf` when `secure = false`.
    pub csrf_name: String,
    pub default_transport: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Passwords {
    pub min_length: i64,
    pub max_length: i64,
    pub max_age: String,
    pub argon2_memory_kib: i64,
    pub argon2_iterations: i64,
    pub argon2_parallelism: i64,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    pub login_per_ip_per_minute: i64,
    pub failed_logins_per_account: i64,
    pub failed_login_window: String,
    pub trust_forwarded_for: bool,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cors {
    pub allowed_origins: Vec<String>,
}

/// `[http]`: what a connection may cost the server (API.md §1).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    pub header_timeout: String,
    pub request_timeout: String,
    pub idle_timeout: String,
    pub max_connections: i64,
    pub max_streams_per_key: i64,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            header_timeout: "10s".into(),
            request_timeout: "30s".into(),
            idle_timeout: "75s".into(),
            max_connections: 10_000,
            max_streams_per_key: 1000,
        }
    }
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sessions {
    /// If set, the only namespaces login and register accept. Otherwise `ns` is whatever the
    /// client asks for, and not an authorisation boundary.
    pub namespaces: Vec<String>,
    /// Live sessions per user; opening one more revokes the least recently active. 0: no limit.
    pub max_per_user: u32,
}

/// `[mfa]` (API.md §1 and §9).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mfa {
    /// The name authenticator apps show; empty: the issuer's host.
    pub totp_issuer: String,
    /// Adding or removing a factor needs an `auth_time` this recent.
    pub enroll_window: String,
    /// How long the second step of a login may take.
    pub mfa_token_ttl: String,
}

impl Default for Mfa {
    fn default() -> Self {
        Mfa {
            totp_issuer: String::new(),
            enroll_window: "10m".into(),
            mfa_token_ttl: "5m".into(),
        }
    }
}

/// `[webauthn]` (API.md §1 and §9.3).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebAuthn {
    /// The relying party's id; empty: the issuer's host (never an IP address).
    pub rp_id: String,
    pub rp_name: String,
    /// Page origins allowed in ceremonies; empty: the issuer's origin.
    pub origins: Vec<String>,
}

impl Default for WebAuthn {
    fn default() -> Self {
        WebAuthn {
            rp_id: String::new(),
            rp_name: "Tessera".into(),
            origins: Vec::new(),
        }
    }
}

/// `[dpop]` (API.md §1 and §10).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dpop {
    /// Every new session must be bound to a DPoP key.
    pub required: bool,
    /// Proofs must carry a nonce the server handed out (`DPoP-Nonce`).
    pub nonce: bool,
    pub algorithms: Vec<String>,
    /// How old a proof's `iat` may be (plus 5 s leeway either way).
    pub proof_max_age: String,
}

impl Default for Dpop {
    fn default() -> Self {
        Dpop {
            required: false,
            nonce: false,
            algorithms: vec!["ES256".into(), "EdDSA".into(), "Ed25519".into()],
            proof_max_age: "60s".into(),
        }
    }
}

/// `[events]`: which security events are recorded (`GET /admin/events`). Every kind is, by
/// default; `refreshes = false` leaves out `session.refreshed`, the one written on the hot path
/// (docs/performance.md, "Refresh against its floor").
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Events {
    pub refreshes: bool,
}

impl Default for Events {
    fn default() -> Self {
        Events { refreshes: true }
    }
}

/// `[email]` (API.md §1 and §7).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Email {
    /// `smtp://host:port` (STARTTLS when offered) or `smtps://user:pass@host:465`; empty: no mail.
    pub smtp_url: String,
    /// The sender, e.g. `"Example <no-reply@example.com>"`; required with `smtp_url`.
    pub from: String,
    /// The page that receives links (the token in its fragment); default: issuer + "/".
    pub link_base: String,
    pub reset_ttl: String,
    pub verify_ttl: String,
    pub require_verified_email: bool,
    pub notify_new_device: bool,
    /// The product's name in mails.
    pub product_name: String,
    /// A folder whose `<kind>.subject.txt`, `<kind>.txt` and `<kind>.html` replace the built-in
    /// templates (docs/email.md).
    pub templates_dir: String,
}

impl Default for Email {
    fn default() -> Self {
        Email {
            smtp_url: String::new(),
            from: String::new(),
            link_base: String::new(),
            reset_ttl: "1h".into(),
            verify_ttl: "24h".into(),
            require_verified_email: false,
            notify_new_device: false,
            product_name: "Tessera".into(),
            templates_dir: String::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://tessera-data/tessera.db".into(),
            redis_url: String::new(),
            // Empty: "http://" + listen, decided once listen is known (flags included).
            issuer: String::new(),
            audience: vec![],
            admin_api_keys: vec![],
            resource_server_keys: vec![],
            public_registration: true,
            max_body_bytes: 65_536,
            public_metrics: false,
            data_dir: String::new(),
            secret_key: String::new(),
            log_format: "text".into(),
            tokens: Tokens::default(),
            cookies: Cookies::default(),
            passwords: Passwords::default(),
            rate_limit: RateLimit::default(),
            cors: Cors::default(),
            http: Http::default(),
            sessions: Sessions::default(),
            mfa: Mfa::default(),
            webauthn: WebAuthn::default(),
            dpop: Dpop::default(),
            email: Email::default(),
            events: Events::default(),
            unknown_env: Vec::new(),
            origins: Vec::new(),
        }
    }
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens {
            algorithm: "EdDSA".into(),
            hs256_secret: String::new(),
            access_ttl: "15m".into(),
            refresh_ttl: "14d".into(),
            session_max_lifetime: "90d".into(),
            reuse_grace: "30s".into(),
            key_rotation_interval: "30d".into(),
        }
    }
}

impl Default for Cookies {
    fn default() -> Self {
        Cookies {
            secure: true,
            same_site: "Strict".into(),
            refresh_name: String::new(),
            csrf_name: String::new(),
            default_transport: "body".into(),
        }
    }
}

impl Default for Passwords {
    fn default() -> Self {
        Passwords {
            min_length: 15,
            max_length: 256,
            max_age: "0".into(),
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
        }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            login_per_ip_per_minute: 30,
            failed_logins_per_account: 10,
            failed_login_window: "15m".into(),
            trust_forwarded_for: false,
        }
    }
}

/// A configuration error, naming the key and its source.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the optional file, then the environment (`vars`, normally `std::env::vars()`).
    pub fn load(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = match file {
            Some(path) => Some((
                std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?,
                path.display().to_string(),
            )),
            None => None,
        };
        Config::parse(text.as_ref().map(|(t, s)| (t.as_str(), s.as_str())), vars)
    }

    /// [`Config::load`] on a file's text already read (`(text, name of its source)`).
    pub fn parse(
        file: Option<(&str, &str)>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let defaults = toml::Value::try_from(Config::default()).expect("defaults serialize");
        let mut merged = toml::Table::new();
        let mut origins = Vec::new();
        if let Some((text, source)) = file {
            let table: toml::Table = text
                .parse()
                .map_err(|e| ConfigError(format!("{source}: invalid TOML: {e}")))?;
            let source = source.to_owned();
            check_table(&table, &defaults, "", &source)?;
            leaf_keys(&table, "", &mut |key| {
                origins.push((key, format!("in {source}")))
            });
            merged = table;
        }
        let mut vars: Vec<_> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("TESSERA_") && !k.starts_with(RESERVED_ENV_PREFIX))
            .collect();
        vars.sort();
        let mut unknown_env = Vec::new();
        for (name, raw) in vars {
            let path: Vec<String> = name["TESSERA_".len()..]
                .split("__")
                .map(|s| s.to_ascii_lowercase())
                .collect();
            let key = path.join(".");
            let Some(expected) = lookup(&defaults, &path) else {
                unknown_env.push(name);
                continue;
            };
            let value = env_value(&raw, expected).map_err(|why| {
                ConfigError(format!(
                    "config key `{key}` (from environment variable {name}): {why}"
                ))
            })?;
            insert(&mut merged, &path, value);
            origins.push((key, format!("from environment variable {name}")));
        }
        let mut config: Config =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    ConfigError(format!("invalid configuration: {}", e.message()))
                })?;
        config.unknown_env = unknown_env;
        config.origins = origins;
        Ok(config)
    }
}

/// Calls `f` with the dotted name of every value (not table) in `table`.
fn leaf_keys(table: &toml::Table, prefix: &str, f: &mut impl FnMut(String)) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => leaf_keys(t, &key, f),
            _ => f(key),
        }
    }
}

/// Checks every key of `table` exists in `defaults` with the same type.
fn check_table(
    table: &toml::Table,
    defaults: &toml::Value,
    prefix: &str,
    source: &str,
) -> Result<(), ConfigError> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let Some(expected) = defaults.get(k) else {
            return Err(ConfigError(format!(
                "unknown config key `{key}` in {source}"
            )));
        };
        match (v, expected) {
            (toml::Value::Table(t), toml::Value::Table(_)) => {
                check_table(t, expected, &key, source)?
            }
            (toml::Value::Array(items), toml::Value::Array(_)) => {
                if !items.iter().all(|i| i.is_str()) {
                    return Err(ConfigError(format!(
                        "config key `{key}` in {source}: expected an array of strings"
                    )));
                }
            }
            _ if v.type_str() == expected.type_str() => {}
            _ => {
                return Err(ConfigError(format!(
                    "config key `{key}` in {source}: expected {}, found {}",
                    expected.type_str(),
                    v.type_str()
                )));
            }
        }
    }
    Ok(())
}

fn lookup<'a>(v: &'a toml::Value, path: &[String]) -> Option<&'a toml::Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(k.as_str()))
        .filter(|v| !v.is_table())
}

/// Converts an environment string to the type the key has.
fn env_value(raw: &str, expected: &toml::Value) -> Result<toml::Value, String> {
    match expected {
        toml::Value::String(_) => Ok(toml::Value::String(raw.to_owned())),
        toml::Value::Boolean(_) => match raw.trim() {
            "true" => Ok(toml::Value::Boolean(true)),
            "false" => Ok(toml::Value::Boolean(false)),
            _ => Err("expected true or false".into()),
        },
        toml::Value::Integer(_) => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| "expected an integer".into()),
        toml::Value::Array(_) => {
            let raw = raw.trim();
            if raw.starts_with('[') {
                let t: toml::Table = format!("v = {raw}")
                    .parse()
                    .map_err(|_| "expected a TOML array of strings".to_string())?;
                let v = t["v"].clone();
                match &v {
                    toml::Value::Array(items) if items.iter().all(|i| i.is_str()) => Ok(v),
                    _ => Err("expected a TOML array of strings".into()),
                }
            } else {
                // Also accept a plain comma-separated list.
                Ok(toml::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.into()))
                        .collect(),
                ))
            }
        }
        _ => Err("unsupported type".into()),
    }
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [last] => {
            table.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                insert(t, rest, value);
            }
        }
        [] => {}
    }
}

#[cfg(test)]
mod tests;
