//! The config parser and validator on any TOML text: never a panic, only a ConfigError.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_server::config::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(config) = Config::parse(Some((text, "fuzz.toml")), Vec::new())
    {
        let _ = config.validate();
    }
});
