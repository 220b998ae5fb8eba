use std::io::Write;

use tessera_store::DatabaseUrl;
use tessera_token::Algorithm;

use super::*;

fn load_str(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(toml.as_bytes()).unwrap();
    let vars = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Config::load(Some(f.path()), vars)?.validate()
}

fn fails_naming(toml: &str, env: &[(&str, &str)], key: &str) {
    match load_str(toml, env) {
        Ok(_) => panic!("accepted {toml:?} {env:?}"),
        Err(e) => assert!(e.0.contains(key), "{e} should name {key}"),
    }
}

#[test]
fn the_default_issuer_follows_the_listen_address() {
    let mut c = Config::load(None, Vec::new()).unwrap();
    c.listen = "127.0.0.1:9999".into();
    assert_eq!(c.validate().unwrap().engine.issuer, "http://127.0.0.1:9999");
    let s = load_str("listen = \"0.0.0.0:7000\"\n", &[]).unwrap();
    assert_eq!(s.engine.issuer, "http://0.0.0.0:7000");
    let s = load_str(
        "listen = \"0.0.0.0:7000\"\nissuer = \"https://auth.example\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(s.engine.issuer, "https://auth.example");
}

#[test]
fn defaults_match_the_contract() {
    let s = Config::load(None, Vec::new()).unwrap().validate().unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.engine.issuer, "http://127.0.0.1:8080");
    assert_eq!(
        s.database,
        DatabaseUrl::Sqlite("tessera-data/tessera.db".into())
    );
    assert_eq!(s.data_dir, std::path::PathBuf::from("tessera-data"));
    assert_eq!(s.engine.access_ttl_ms, 900_000);
    assert_eq!(s.engine.refresh_ttl_ms, 14 * 86_400_000);
    assert_eq!(s.engine.session_max_lifetime_ms, 90 * 86_400_000);
    assert_eq!(s.engine.reuse_grace_ms, 30_000);
    assert_eq!(s.engine.passwords.min_length, 15);
    assert_eq!(s.engine.passwords.argon2_memory_kib, 19_456);
    assert_eq!(s.cookies.refresh_name, "__Secure-tessera_refresh");
    assert_eq!(s.cookies.csrf_name, "__Host-tessera_csrf");
    assert_eq!(s.cookies.same_site, SameSite::Strict);
    assert_eq!(s.max_body_bytes, 65_536);
    assert_eq!(s.rate_limit.login_per_ip_per_minute, 30);
    assert_eq!(s.http.max_connections, 10_000);
    assert_eq!(s.http.max_streams_per_key, 1000);
}

#[test]
fn every_key_of_the_contract_parses() {
    let s = load_str(
        r#"
listen = "127.0.0.1:9000"
database_url = "sqlite://data/t.db"
redis_url = "redis://127.0.0.1:6379"
issuer = "https://auth.example"
audience = ["api"]
admin_api_keys = ["0123456789abcdef0123"]
public_registration = false
max_body_bytes = 4096
public_metrics = true
[tokens]
algorithm = "HS256"
hs256_secret = "0123456789abcdef0123456789abcdef"
access_ttl = "5m"
refresh_ttl = "1d"
session_max_lifetime = "0"
reuse_grace = "0"
key_rotation_interval = "0"
[cookies]
secure = false
same_site = "Lax"
refresh_name = "rt"
csrf_name = "csrf"
default_transport = "cookie"
[passwords]
min_length = 12
max_length = 128
max_age = "90d"
argon2_memory_kib = 1024
argon2_iterations = 1
argon2_parallelism = 1
[rate_limit]
login_per_ip_per_minute = 5
failed_logins_per_account = 3
failed_login_window = "1m"
trust_forwarded_for = true
[cors]
allowed_origins = ["https://app.example.com", "http://localhost:3000"]
"#,
        &[],
    )
    .unwrap();
    assert_eq!(s.engine.algorithm, Algorithm::HS256);
    assert_eq!(s.engine.session_max_lifetime_ms, 0);
    assert_eq!(s.cookies.default_transport, Transport::Cookie);
    assert_eq!(s.data_dir, std::path::PathBuf::from("data"));
    assert_eq!(s.engine.password_max_age_ms, 90 * 86_400_000);
    assert!(!s.engine.public_registration);
    assert_eq!(s.cors_allowed_origins.len(), 2);
}

#[test]
fn environment_overrides_the_file_with_sections_joined_by_double_underscore() {
    let s = load_str(
        "[tokens]\naccess_ttl = \"10m\"\n",
        &[
            ("TESSERA_TOKENS__ACCESS_TTL", "5m"),
            ("TESSERA_PUBLIC_REGISTRATION", "false"),
            ("TESSERA_MAX_BODY_BYTES", "2048"),
            ("TESSERA_AUDIENCE", "[\"a\", \"b\"]"),
            (
                "TESSERA_CORS__ALLOWED_ORIGINS",
                "https://a.example,https://b.example",
            ),
            (
                "TESSERA_TEST_DATABASE_URL",
                "ignored: reserved for the test harness",
            ),
            ("PATH", "/usr/bin"),
        ],
    )
    .unwrap();
    assert_eq!(s.engine.access_ttl_ms, 300_000);
    assert!(!s.engine.public_registration);
    assert_eq!(s.max_body_bytes, 2048);
    assert_eq!(s.engine.audience, vec!["a", "b"]);
    assert_eq!(
        s.cors_allowed_origins,
        vec!["https://a.example", "https://b.example"]
    );
}

/// API.md §1: unknown `TESSERA_*` variables warn and do not stop the start (Kubernetes injects
/// `TESSERA_PORT` for a service named tessera); unknown keys in the file stop it.
#[test]
fn unknown_environment_variables_are_warnings_not_errors() {
    let s = load_str(
        "",
        &[
            ("TESSERA_PORT", "tcp://10.0.0.1:8080"),
            ("TESSERA_SERVICE_HOST", "10.0.0.1"),
            ("TESSERA_TOKENS__ACCES_TTL", "5m"),
            ("TESSERA_TOKENS__ACCESS_TTL", "5m"),
        ],
    )
    .unwrap();
    assert_eq!(
        s.engine.access_ttl_ms, 300_000,
        "known variables still apply"
    );
    let env_warnings = s.warnings.iter().filter(|w| w.contains("environment"));
    assert_eq!(env_warnings.count(), 3, "{:?}", s.warnings);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("TESSERA_TOKENS__ACCES_TTL"))
    );
    assert!(
        s.warnings.iter().all(|w| !w.contains("10.0.0.1")),
        "values are not echoed"
    );
    fails_naming("colour = \"blue\"\n", &[], "colour");
}

#[test]
fn session_namespaces_must_be_namespaces() {
    let s = load_str("[sessions]\nnamespaces = [\"web\", \"default\"]\n", &[]).unwrap();
    assert_eq!(s.engine.namespaces, ["web", "default"]);
    fails_naming(
        "[sessions]\nnamespaces = [\"has space\"]\n",
        &[],
        "sessions.namespaces",
    );
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    fails_naming("colour = \"blue\"\n", &[], "colour");
    fails_naming("[tokens]\naccess_tll = \"5m\"\n", &[], "tokens.access_tll");
    fails_naming("[tokenz]\n", &[], "tokenz");
    fails_naming(
        "public_registration = \"yes\"\n",
        &[],
        "public_registration",
    );
    fails_naming(
        "",
        &[("TESSERA_PUBLIC_REGISTRATION", "yes")],
        "public_registration",
    );
    fails_naming("max_body_bytes = \"big\"\n", &[], "max_body_bytes");
    fails_naming(
        "[http]\nmax_streams_per_key = -1\n",
        &[],
        "http.max_streams_per_key",
    );
    fails_naming("audience = [1]\n", &[], "audience");
    fails_naming("listen = \"nowhere\"\n", &[], "listen");
    fails_naming("database_url = \"mysql://x\"\n", &[], "database_url");
    fails_naming("redis_url = \"http://x\"\n", &[], "redis_url");
    fails_naming("issuer = \"auth\"\n", &[], "issuer");
    fails_naming("admin_api_keys = [\"short\"]\n", &[], "admin_api_keys");
    fails_naming(
        "resource_server_keys = [\"short\"]\n",
        &[],
        "resource_server_keys",
    );
    fails_naming(
        "admin_api_keys = [\"same-key-0123456789\"]\nresource_server_keys = [\"same-key-0123456789\"]\n",
        &[],
        "resource_server_keys",
    );
    fails_naming("[tokens]\nalgorithm = \"none\"\n", &[], "tokens.algorithm");
    fails_naming(
        "[tokens]\nalgorithm = \"HS256\"\nhs256_secret = \"too short\"\n",
        &[],
        "tokens.hs256_secret",
    );
    fails_naming(
        "[tokens]\naccess_ttl = \"15 minutes\"\n",
        &[],
        "tokens.access_ttl",
    );
    fails_naming("[tokens]\naccess_ttl = \"0\"\n", &[], "tokens.access_ttl");
    fails_naming(
        "[tokens]\nreuse_grace = \"1h\"\n",
        &[],
        "tokens.reuse_grace",
    );
    fails_naming(
        "[tokens]\nkey_rotation_interval = \"1m\"\n",
        &[],
        "tokens.key_rotation_interval",
    );
    fails_naming(
        "[cookies]\nsame_site = \"strict\"\n",
        &[],
        "cookies.same_site",
    );
    fails_naming(
        "[cookies]\nsecure = false\nsame_site = \"None\"\n",
        &[],
        "cookies.same_site",
    );
    fails_naming(
        "[cookies]\nsecure = false\nrefresh_name = \"__Secure-x\"\n",
        &[],
        "cookies.refresh_name",
    );
    fails_naming(
        "[cookies]\ncsrf_name = \"bad name\"\n",
        &[],
        "cookies.csrf_name",
    );
    fails_naming(
        "[cookies]\ndefault_transport = \"header\"\n",
        &[],
        "cookies.default_transport",
    );
    fails_naming(
        "[passwords]\nmin_length = 300\n",
        &[],
        "passwords.min_length",
    );
    fails_naming(
        "[passwords]\nargon2_memory_kib = 4\n",
        &[],
        "passwords.argon2_memory_kib",
    );
    fails_naming(
        "[passwords]\nmax_age = \"forever\"\n",
        &[],
        "passwords.max_age",
    );
    fails_naming(
        "[rate_limit]\nfailed_login_window = \"x\"\n",
        &[],
        "rate_limit.failed_login_window",
    );
    fails_naming(
        "[rate_limit]\nlogin_per_ip_per_minute = -1\n",
        &[],
        "rate_limit.login_per_ip_per_minute",
    );
    fails_naming(
        "[cors]\nallowed_origins = [\"https://a.example/path\"]\n",
        &[],
        "cors.allowed_origins",
    );
    fails_naming(
        "[cors]\nallowed_origins = [\"*\"]\n",
        &[],
        "cors.allowed_origins",
    );
    fails_naming("secret_key = \"short\"\n", &[], "secret_key");
    fails_naming("log_format = \"xml\"\n", &[], "log_format");
}

#[test]
fn durations_parse() {
    assert_eq!(parse_duration_ms("900ms"), Ok(900));
    assert_eq!(parse_duration_ms("30s"), Ok(30_000));
    assert_eq!(parse_duration_ms("15m"), Ok(900_000));
    assert_eq!(parse_duration_ms("2h"), Ok(7_200_000));
    assert_eq!(parse_duration_ms("14d"), Ok(14 * 86_400_000));
    assert_eq!(parse_duration_ms("0"), Ok(0));
    for bad in [
        "",
        "m",
        "15",
        "1.5h",
        "-1s",
        "15M",
        "1w",
        "99999999999999999999d",
    ] {
        assert!(parse_duration_ms(bad).is_err(), "{bad}");
    }
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let s = load_str(
        "admin_api_keys = [\"admin-key-0123456789\"]\nsecret_key = \"master-secret-0123456789abcdef0123\"\n[tokens]\nalgorithm = \"HS256\"\nhs256_secret = \"hs-secret-0123456789abcdef0123456\"\n",
        &[],
    )
    .unwrap();
    let debug = format!("{s:?}");
    for secret in ["admin-key-0123456789", "master-secret", "hs-secret"] {
        assert!(!debug.contains(secret), "{secret} leaked into Debug");
    }
}

/// Issue 13 item 8: every bad value in one run, each with where it came from.
#[test]
fn every_bad_value_is_reported_at_once_with_its_source() {
    let toml = "log_format = \"xml\"\n[tokens]\naccess_ttl = \"forever\"\n[cookies]\nsame_site = \"Sometimes\"\n";
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(toml.as_bytes()).unwrap();
    let vars = [("TESSERA_TOKENS__REUSE_GRACE".to_string(), "1h".to_string())];
    let Err(ConfigError(e)) = Config::load(Some(f.path()), vars).unwrap().validate() else {
        panic!("refused");
    };
    let file = f.path().display().to_string();
    for key in ["log_format", "tokens.access_ttl", "cookies.same_site"] {
        let line = e
            .lines()
            .find(|l| l.contains(&format!("`{key}`")))
            .unwrap_or_else(|| panic!("{key} not reported in:\n{e}"));
        assert!(line.contains(&file), "{line} should name the file");
    }
    let line = e
        .lines()
        .find(|l| l.contains("tokens.reuse_grace"))
        .expect(&e);
    assert!(line.contains("TESSERA_TOKENS__REUSE_GRACE"), "{line}");
    assert_eq!(e.lines().count(), 4, "{e}");
}

#[test]
fn a_missing_hs256_secret_is_said_to_be_required() {
    match load_str("[tokens]\nalgorithm = \"HS256\"\n", &[]) {
        Ok(_) => panic!("accepted HS256 without a secret"),
        Err(e) => assert!(
            e.0.contains("tokens.hs256_secret") && e.0.contains("required"),
            "{e}"
        ),
    }
}

/// Issue 21 item 6: errors are collected as values, one line per bad key, even several in one
/// section and after a key whose value everything else depends on.
#[test]
fn several_bad_keys_of_one_section_are_each_reported_once() {
    let toml = "listen = \"nowhere\"\nmax_body_bytes = 1\n[http]\nheader_timeout = \"soon\"\nmax_connections = 0\n[passwords]\nmax_length = 0\nargon2_iterations = 0\n[email]\nreset_ttl = \"0\"\nlink_base = \"ftp://x\"\n";
    let Err(ConfigError(e)) = load_str(toml, &[]) else {
        panic!("refused");
    };
    for key in [
        "listen",
        "max_body_bytes",
        "http.header_timeout",
        "http.max_connections",
        "passwords.max_length",
        "passwords.argon2_iterations",
        "email.reset_ttl",
        "email.link_base",
    ] {
        let n = e
            .lines()
            .filter(|l| l.contains(&format!("`{key}`")))
            .count();
        assert_eq!(n, 1, "{key} reported {n} times in:\n{e}");
    }
    assert_eq!(e.lines().count(), 8, "{e}");
}

/// API.md §1, §9.3: the RP ID defaults to the issuer's host; an IP address is never one, so then
/// passkeys are off (a warning that says why); a set RP ID must be a name its origins are on.
#[test]
fn webauthn_follows_the_issuer_and_refuses_ip_addresses() {
    let s = load_str("issuer = \"https://auth.example.com\"\n", &[]).unwrap();
    let p = s.engine.mfa.passkeys.expect("a relying party");
    assert_eq!(p.rp_id, "auth.example.com");
    assert_eq!(p.origins[0].as_str(), "https://auth.example.com/");
    let s = load_str("issuer = \"http://127.0.0.1:8080\"\n", &[]).unwrap();
    assert!(s.engine.mfa.passkeys.is_none());
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("passkeys are off") && w.contains("webauthn.rp_id")),
        "{:?}",
        s.warnings
    );
    let s = load_str(
        "issuer = \"http://127.0.0.1:8080\"\n[webauthn]\nrp_id = \"localhost\"\norigins = [\"http://localhost:8080\"]\n",
        &[],
    )
    .unwrap();
    assert_eq!(s.engine.mfa.passkeys.expect("localhost").rp_id, "localhost");
    fails_naming("[webauthn]\nrp_id = \"10.0.0.1\"\n", &[], "webauthn.rp_id");
    fails_naming(
        "issuer = \"https://auth.example.com\"\n[webauthn]\norigins = [\"https://evil.test\"]\n",
        &[],
        "webauthn",
    );
    fails_naming(
        "[webauthn]\nrp_id = \"localhost\"\norigins = [\"ftp://localhost\"]\n",
        &[],
        "webauthn.origins",
    );
}

/// API.md §1 `[dpop]`: the algorithms are ES256, EdDSA and Ed25519 only; a proof's age is 1 s to
/// 10 min; htu is compared against the issuer's origin.
#[test]
fn dpop_settings_are_checked() {
    let s = load_str(
        "issuer = \"https://auth.example.com/\"\n[dpop]\nrequired = true\n",
        &[],
    )
    .unwrap();
    assert!(s.dpop.required && s.engine.dpop_required);
    assert_eq!(s.dpop.origin, "https://auth.example.com");
    assert_eq!(s.dpop.algorithms.len(), 3);
    assert_eq!(s.dpop.max_age_secs, 60);
    fails_naming("[dpop]\nalgorithms = [\"RS256\"]\n", &[], "dpop.algorithms");
    fails_naming("[dpop]\nalgorithms = []\n", &[], "dpop.algorithms");
    fails_naming(
        "[dpop]\nproof_max_age = \"1h\"\n",
        &[],
        "dpop.proof_max_age",
    );
}

/// `[events]`: every kind recorded by default; `refreshes = false` reaches the engine, from the
/// file or the environment.
#[test]
fn events_refreshes_is_on_by_default_and_can_be_turned_off() {
    assert!(load_str("", &[]).unwrap().engine.refresh_events);
    let off = load_str("[events]\nrefreshes = false\n", &[]).unwrap();
    assert!(!off.engine.refresh_events);
    let env = load_str("", &[("TESSERA_EVENTS__REFRESHES", "false")]).unwrap();
    assert!(!env.engine.refresh_events);
    fails_naming("[events]\nrecord = true\n", &[], "record");
}
