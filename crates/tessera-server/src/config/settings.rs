//! Validation: [`Config`] (as written) into [`Settings`] (as used). Every error names its key.
use std::net::SocketAddr;
use std::path::PathBuf;

use tessera_core::passwords::PasswordPolicy;
use tessera_core::{EngineConfig, Redacted};
use tessera_store::DatabaseUrl;
use tessera_token::Algorithm;

use super::problems::{KeyError, Problems, err};
use super::proofs::DpopSettings;
use super::{Config, ConfigError, parse_duration_ms};

/// How often a node reads the revocation feed even if no broadcast arrives: the bound on how
/// late a revocation is seen here when every broadcast is lost (Redis and `NOTIFY` both down).
pub const REVOCATION_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Validated, typed configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database: DatabaseUrl,
    pub redis_url: Option<Redacted<String>>,
    pub admin_api_keys: Vec<Redacted<String>>,
    /// Read-only keys for resource servers: introspection (and the revocation feed), nothing else.
    pub resource_server_keys: Vec<Redacted<String>>,
    pub max_body_bytes: usize,
    pub public_metrics: bool,
    pub data_dir: PathBuf,
    pub secret_key: Option<Redacted<String>>,
    pub log_json: bool,
    pub engine: EngineConfig,
    pub key_rotation_interval_ms: i64,
    pub cookies: CookieSettings,
    pub rate_limit: RateLimitSettings,
    pub cors_allowed_origins: Vec<String>,
    /// How often the node reads the revocation feed without news (not a config key: 500 ms;
    /// tests slow it down to show that broadcasts alone deliver).
    pub revocation_poll: std::time::Duration,
    pub http: HttpSettings,
    /// The SMTP server of `[email]`, if any (the outbox worker runs only with one).
    pub smtp: Option<super::email::SmtpSettings>,
    /// `[dpop]`, validated.
    pub dpop: DpopSettings,
    /// Problems that do not stop the start (unknown `TESSERA_*` variables), logged as warnings
    /// at start and printed by `tessera config check`.
    pub warnings: Vec<String>,
}

/// `[http]`, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// A request's head must arrive within this, counted from its first byte.
    pub header_timeout: std::time::Duration,
    /// A whole request (body included) and the head of its answer.
    pub request_timeout: std::time::Duration,
    /// A keep-alive connection with nothing in flight is closed after this.
    pub idle_timeout: std::time::Duration,
    /// Connections over this wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Open revocation streams per key; more are refused with 429 (0: no bound).
    pub max_streams_per_key: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl SameSite {
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// Where the refresh token travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Body,
    Cookie,
}

#[derive(Clone, Debug)]
pub struct CookieSettings {
    pub secure: bool,
    pub same_site: SameSite,
    pub refresh_name: String,
    pub csrf_name: String,
    pub default_transport: Transport,
}

#[derive(Clone, Debug)]
pub struct RateLimitSettings {
    pub login_per_ip_per_minute: u32,
    pub failed_logins_per_account: u32,
    pub failed_login_window_ms: i64,
    pub trust_forwarded_for: bool,
}

pub(super) fn duration(key: &str, value: &str) -> Result<i64, KeyError> {
    parse_duration_ms(value).map_err(|e| err(key, e))
}

fn int_in(key: &str, v: i64, range: std::ops::RangeInclusive<i64>) -> Result<i64, KeyError> {
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(err(
            key,
            format!("{v} is outside {}..={}", range.start(), range.end()),
        ))
    }
}

fn cookie_name(key: &str, name: &str, secure: bool) -> Result<String, KeyError> {
    let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token_char) {
        return Err(err(key, format!("{name:?} is not a valid cookie name")));
    }
    if !secure && (name.starts_with("__Secure-") || name.starts_with("__Host-")) {
        return Err(err(
            key,
            "__Secure- and __Host- cookies need cookies.secure = true",
        ));
    }
    Ok(name.to_owned())
}

fn origin(o: &str) -> Result<String, String> {
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
        .ok_or_else(|| format!("{o:?} is not an origin like https://app.example.com"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '*', ' ', '@']) {
        return Err(format!(
            "{o:?} is not an origin: scheme, host and optional port only"
        ));
    }
    Ok(o.to_owned())
}

impl Config {
    /// Checks every value and resolves defaults that depend on other keys. Reports every bad
    /// key at once (one per line), each with where its value came from.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let mut p = Problems::default();
        let settings = self.settings(&mut p);
        p.finish(settings, &self.origins)
    }

    /// The settings, with every problem noted in `p` (and a stand-in in its place).
    fn settings(&self, p: &mut Problems) -> Settings {
        let stand_in_listen = SocketAddr::from(([127, 0, 0, 1], 8080));
        let listen: SocketAddr = p.or(
            self.listen.parse().map_err(|_| {
                err(
                    "listen",
                    format!("{:?} is not an address like 127.0.0.1:8080", self.listen),
                )
            }),
            stand_in_listen,
        );
        let database = p.or(
            DatabaseUrl::parse(&self.database_url).map_err(|e| err("database_url", e)),
            DatabaseUrl::Sqlite(PathBuf::from("tessera-data/tessera.db")),
        );
        let redis_url = match self.redis_url.as_str() {
            "" => None,
            u if u.starts_with("redis://") || u.starts_with("rediss://") => {
                Some(Redacted(u.to_owned()))
            }
            _ => {
                p.note(err(
                    "redis_url",
                    "expected redis://… or rediss://… (or empty)",
                ));
                None
            }
        };
        // API.md §1: the default issuer follows the address served on, so a server moved with
        // `--listen` does not sign tokens naming another address.
        let issuer = match self.issuer.as_str() {
            "" => format!("http://{}", self.listen),
            set => set.to_owned(),
        };
        p.check(
            issuer.starts_with("https://") || issuer.starts_with("http://"),
            "issuer",
            "expected an http(s) URL",
        );
        let (passkeys, passkeys_off) = self.webauthn.validate(&issuer, p);
        let dpop = self.dpop.validate(&issuer, p);
        let http = self.http.validate(p);
        let bad_namespace = self
            .sessions
            .namespaces
            .iter()
            .find(|ns| tessera_core::engine::validate::check_namespace(ns).is_err());
        if let Some(bad) = bad_namespace {
            p.note(err(
                "sessions.namespaces",
                format!("{bad:?} is not a namespace (1-64 of A-Z a-z 0-9 _ . -)"),
            ));
        }
        p.check(
            !self.audience.iter().any(|a| a.trim().is_empty()),
            "audience",
            "entries must not be empty",
        );
        p.check(
            self.admin_api_keys.iter().all(|k| k.len() >= 16),
            "admin_api_keys",
            "every key must be at least 16 characters",
        );
        p.check(
            self.resource_server_keys.iter().all(|k| k.len() >= 16),
            "resource_server_keys",
            "every key must be at least 16 characters",
        );
        // A key in both lists would make a read-only key an admin key.
        p.check(
            !self
                .resource_server_keys
                .iter()
                .any(|k| self.admin_api_keys.contains(k)),
            "resource_server_keys",
            "a key must not also be in admin_api_keys",
        );
        let max_body_bytes = p.or(
            int_in("max_body_bytes", self.max_body_bytes, 1024..=16 << 20),
            65_536,
        ) as usize;
        let data_dir = match (&self.data_dir, &database) {
            (d, _) if !d.is_empty() => PathBuf::from(d),
            (_, DatabaseUrl::Sqlite(p)) => p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from),
            _ => PathBuf::from("tessera-data"),
        };
        let secret_key = match self.secret_key.as_str() {
            "" => None,
            s if s.len() >= 32 => Some(Redacted(s.to_owned())),
            _ => {
                p.note(err("secret_key", "must be at least 32 bytes"));
                None
            }
        };
        let log_json = match self.log_format.as_str() {
            "text" => false,
            "json" => true,
            _ => {
                p.note(err("log_format", "expected text or json"));
                false
            }
        };
        let tokens = self.tokens.validate(p);
        let cookies = self.cookies.validate(p);
        let (policy, password_max_age_ms) = self.passwords.validate(p);
        let rate_limit = self.rate_limit.validate(p);
        let (mail, smtp) = self.email.validate(&issuer, p);
        let cors_allowed_origins = p.or(
            self.cors
                .allowed_origins
                .iter()
                .map(|o| origin(o))
                .collect::<Result<_, _>>()
                .map_err(|e| err("cors.allowed_origins", e)),
            Vec::new(),
        );

        let engine = EngineConfig {
            issuer: issuer.clone(),
            audience: self.audience.clone(),
            algorithm: tokens.algorithm,
            hs256_secret: tokens.hs256_secret,
            access_ttl_ms: tokens.access_ttl_ms,
            refresh_ttl_ms: tokens.refresh_ttl_ms,
            session_max_lifetime_ms: tokens.session_max_lifetime_ms,
            reuse_grace_ms: tokens.reuse_grace_ms,
            password_max_age_ms,
            passwords: policy,
            public_registration: self.public_registration,
            rate_limit: tessera_core::engine::RateLimitPolicy {
                per_ip_per_minute: rate_limit.login_per_ip_per_minute,
                failed_logins_per_account: rate_limit.failed_logins_per_account,
                failed_login_window_ms: rate_limit.failed_login_window_ms,
            },
            namespaces: self.sessions.namespaces.clone(),
            max_sessions_per_user: self.sessions.max_per_user,
            mail,
            mfa: tessera_core::engine::mfa::MfaConfig {
                passkeys: passkeys.clone(),
                ..self.mfa.validate(p)
            },
            dpop_required: dpop.required,
            refresh_events: self.events.refreshes,
            ..EngineConfig::new(issuer)
        };
        Settings {
            listen,
            database,
            redis_url,
            admin_api_keys: self.admin_api_keys.iter().cloned().map(Redacted).collect(),
            resource_server_keys: self
                .resource_server_keys
                .iter()
                .cloned()
                .map(Redacted)
                .collect(),
            max_body_bytes,
            public_metrics: self.public_metrics,
            data_dir,
            secret_key,
            log_json,
            engine,
            key_rotation_interval_ms: tokens.key_rotation_interval_ms,
            cookies,
            rate_limit,
            cors_allowed_origins,
            revocation_poll: REVOCATION_POLL,
            http,
            smtp,
            dpop,
            warnings: self
                .unknown_env
                .iter()
                .map(|name| format!("environment variable {name} names no config key; ignored"))
                .chain(passkeys_off)
                .collect(),
        }
    }
}

/// `[tokens]`, validated.
struct TokenSettings {
    algorithm: Algorithm,
    hs256_secret: Option<Redacted<Vec<u8>>>,
    access_ttl_ms: i64,
    refresh_ttl_ms: i64,
    session_max_lifetime_ms: i64,
    reuse_grace_ms: i64,
    key_rotation_interval_ms: i64,
}

impl super::Tokens {
    fn validate(&self, p: &mut Problems) -> TokenSettings {
        let t = self;
        let algorithm: Algorithm = p.or(
            t.algorithm.parse().map_err(|e| err("tokens.algorithm", e)),
            Algorithm::EdDSA,
        );
        let hs256_secret = if algorithm == Algorithm::HS256 {
            if t.hs256_secret.is_empty() {
                p.note(err(
                    "tokens.hs256_secret",
                    "is required with tokens.algorithm = \"HS256\" (at least 32 bytes)",
                ));
            }
            p.check(
                t.hs256_secret.len() >= 32,
                "tokens.hs256_secret",
                "HS256 needs a secret of at least 32 bytes",
            );
            Some(Redacted(t.hs256_secret.as_bytes().to_vec()))
        } else {
            None
        };
        let access_ttl_ms = p.or(duration("tokens.access_ttl", &t.access_ttl), 900_000);
        p.check(
            (1_000..=86_400_000).contains(&access_ttl_ms),
            "tokens.access_ttl",
            "must be between 1s and 24h",
        );
        let refresh_ttl_ms = p.or(duration("tokens.refresh_ttl", &t.refresh_ttl), 0);
        let session_max_lifetime_ms = p.or(
            duration("tokens.session_max_lifetime", &t.session_max_lifetime),
            0,
        );
        let reuse_grace_ms = p.or(duration("tokens.reuse_grace", &t.reuse_grace), 0);
        p.check(
            reuse_grace_ms <= 600_000,
            "tokens.reuse_grace",
            "must be at most 10m",
        );
        let key_rotation_interval_ms = p.or(
            duration("tokens.key_rotation_interval", &t.key_rotation_interval),
            0,
        );
        p.check(
            key_rotation_interval_ms == 0 || key_rotation_interval_ms >= 2 * access_ttl_ms,
            "tokens.key_rotation_interval",
            "must be 0 or at least twice tokens.access_ttl",
        );
        TokenSettings {
            algorithm,
            hs256_secret,
            access_ttl_ms,
            refresh_ttl_ms,
            session_max_lifetime_ms,
            reuse_grace_ms,
            key_rotation_interval_ms,
        }
    }
}

impl super::Http {
    fn validate(&self, p: &mut Problems) -> HttpSettings {
        let mut positive = |key: &str, v: &str| {
            let ms = p.or(duration(key, v), 1_000);
            p.check(ms > 0, key, "must be more than 0");
            std::time::Duration::from_millis(ms.max(1) as u64)
        };
        let header_timeout = positive("http.header_timeout", &self.header_timeout);
        let request_timeout = positive("http.request_timeout", &self.request_timeout);
        let idle_timeout = positive("http.idle_timeout", &self.idle_timeout);
        p.check(
            (1..=1_000_000).contains(&self.max_connections),
            "http.max_connections",
            "must be between 1 and 1000000",
        );
        p.check(
            (0..=1_000_000).contains(&self.max_streams_per_key),
            "http.max_streams_per_key",
            "must be between 0 (no bound) and 1000000",
        );
        HttpSettings {
            header_timeout,
            request_timeout,
            idle_timeout,
            max_connections: self.max_connections.clamp(1, 1_000_000) as usize,
            max_streams_per_key: self.max_streams_per_key.clamp(0, 1_000_000) as usize,
        }
    }
}

impl super::Cookies {
    fn validate(&self, p: &mut Problems) -> CookieSettings {
        let c = self;
        let same_site = match c.same_site.as_str() {
            "Strict" => SameSite::Strict,
            "Lax" => SameSite::Lax,
            "None" if c.secure => SameSite::None,
            "None" => {
                p.note(err("cookies.same_site", "None needs cookies.secure = true"));
                SameSite::Strict
            }
            _ => {
                p.note(err("cookies.same_site", "expected Strict, Lax or None"));
                SameSite::Strict
            }
        };
        let default_name = |secure_name: &str, plain: &str| {
            if c.secure {
                secure_name.to_owned()
            } else {
                plain.to_owned()
            }
        };
        let refresh_name = match c.refresh_name.as_str() {
            "" => default_name("__Secure-tessera_refresh", "tessera_refresh"),
            n => p.or(
                cookie_name("cookies.refresh_name", n, c.secure),
                String::new(),
            ),
        };
        let csrf_name = match c.csrf_name.as_str() {
            "" => default_name("__Host-tessera_csrf", "tessera_csrf"),
            n => p.or(cookie_name("cookies.csrf_name", n, c.secure), String::new()),
        };
        let default_transport = match c.default_transport.as_str() {
            "body" => Transport::Body,
            "cookie" => Transport::Cookie,
            _ => {
                p.note(err("cookies.default_transport", "expected body or cookie"));
                Transport::Body
            }
        };
        CookieSettings {
            secure: c.secure,
            same_site,
            refresh_name,
            csrf_name,
            default_transport,
        }
    }
}

impl super::Passwords {
    /// The policy and `max_age` in ms.
    fn validate(&self, p: &mut Problems) -> (PasswordPolicy, i64) {
        let max_length = p.or(
            int_in("passwords.max_length", self.max_length, 1..=4096),
            256,
        );
        let min_length = p.or(
            int_in("passwords.min_length", self.min_length, 1..=max_length),
            1,
        );
        let policy = PasswordPolicy {
            min_length: min_length as usize,
            max_length: max_length as usize,
            argon2_memory_kib: p.or(
                int_in(
                    "passwords.argon2_memory_kib",
                    self.argon2_memory_kib,
                    8..=4 << 20,
                ),
                19_456,
            ) as u32,
            argon2_iterations: p.or(
                int_in(
                    "passwords.argon2_iterations",
                    self.argon2_iterations,
                    1..=64,
                ),
                2,
            ) as u32,
            argon2_parallelism: p.or(
                int_in(
                    "passwords.argon2_parallelism",
                    self.argon2_parallelism,
                    1..=64,
                ),
                1,
            ) as u32,
        };
        if let Err(e) = argon2::Params::new(
            policy.argon2_memory_kib,
            policy.argon2_iterations,
            policy.argon2_parallelism,
            None,
        ) {
            p.note(err(
                "passwords.argon2_memory_kib",
                format!("invalid Argon2 parameters: {e}"),
            ));
        }
        let max_age_ms = p.or(duration("passwords.max_age", &self.max_age), 0);
        (policy, max_age_ms)
    }
}

impl super::RateLimit {
    fn validate(&self, p: &mut Problems) -> RateLimitSettings {
        RateLimitSettings {
            login_per_ip_per_minute: p.or(
                int_in(
                    "rate_limit.login_per_ip_per_minute",
                    self.login_per_ip_per_minute,
                    0..=1_000_000,
                ),
                0,
            ) as u32,
            failed_logins_per_account: p.or(
                int_in(
                    "rate_limit.failed_logins_per_account",
                    self.failed_logins_per_account,
                    0..=1_000_000,
                ),
                0,
            ) as u32,
            failed_login_window_ms: p.or(
                duration("rate_limit.failed_login_window", &self.failed_login_window),
                0,
            ),
            trust_forwarded_for: self.trust_forwarded_for,
        }
    }
}

impl super::Mfa {
    fn validate(&self, p: &mut Problems) -> tessera_core::engine::mfa::MfaConfig {
        let mut window = |key: &str, raw: &str, stand_in: i64| {
            let ms = p.or(duration(key, raw), stand_in);
            p.check(
                (1_000..=86_400_000).contains(&ms),
                key,
                "must be between 1s and 24h",
            );
            ms
        };
        let enroll_window_ms = window("mfa.enroll_window", &self.enroll_window, 600_000);
        let mfa_token_ttl_ms = window("mfa.mfa_token_ttl", &self.mfa_token_ttl, 300_000);
        p.check(
            !self.totp_issuer.contains(':'),
            "mfa.totp_issuer",
            "must not contain ':' (authenticator apps split on it)",
        );
        tessera_core::engine::mfa::MfaConfig {
            totp_issuer: self.totp_issuer.clone(),
            enroll_window_ms,
            mfa_token_ttl_ms,
            passkeys: None,
        }
    }
}
