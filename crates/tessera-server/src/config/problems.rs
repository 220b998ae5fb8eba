//! Validation errors as values: each check notes what is wrong with its key and hands back a
//! stand-in, so every key is looked at in one run and every bad one reported (one line per key,
//! naming where its value came from).
use super::ConfigError;

/// What is wrong with one key.
#[derive(Debug)]
pub struct KeyError {
    pub key: String,
    pub why: String,
}

/// `key` is wrong because `why`.
pub fn err(key: &str, why: impl std::fmt::Display) -> KeyError {
    KeyError {
        key: key.to_owned(),
        why: why.to_string(),
    }
}

/// Every problem found so far, at most one per key.
#[derive(Default)]
pub struct Problems(Vec<KeyError>);

impl Problems {
    /// Notes `e`, unless its key already has a problem noted.
    pub fn note(&mut self, e: KeyError) {
        if !self.0.iter().any(|p| p.key == e.key) {
            self.0.push(e);
        }
    }

    /// Notes a problem with `key` unless `ok`.
    pub fn check(&mut self, ok: bool, key: &str, why: impl std::fmt::Display) {
        if !ok {
            self.note(err(key, why));
        }
    }

    /// `r`'s value; on an error, notes it and gives `stand_in`, so the other keys are still
    /// checked (nothing built from a stand-in is ever used: [`Problems::finish`] refuses).
    pub fn or<T>(&mut self, r: Result<T, KeyError>, stand_in: T) -> T {
        r.unwrap_or_else(|e| {
            self.note(e);
            stand_in
        })
    }

    /// `value` if nothing was noted; else every problem, one line each, with the source of
    /// each key's value from `origins` (`key` → "in FILE" or "from environment variable NAME").
    pub fn finish<T>(self, value: T, origins: &[(String, String)]) -> Result<T, ConfigError> {
        if self.0.is_empty() {
            return Ok(value);
        }
        let lines: Vec<String> = self
            .0
            .iter()
            .map(|e| {
                let from = origins.iter().rev().find(|(k, _)| *k == e.key);
                match from {
                    Some((_, from)) => format!("config key `{}` ({from}): {}", e.key, e.why),
                    None => format!("config key `{}`: {}", e.key, e.why),
                }
            })
            .collect();
        Err(ConfigError(lines.join("\n")))
    }
}
