//! The data directory's secret files: `master.key` and `admin.key`, created 0600 on first start;
//! their paths are logged, their contents never.
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use tessera_core::MasterKey;

use crate::config::Settings;

/// The master key: `secret_key` from the config, else `<data dir>/master.key` (made if missing).
pub fn master_key(s: &Settings) -> Result<MasterKey, String> {
    if let Some(secret) = &s.secret_key {
        return MasterKey::from_secret(secret.expose().as_bytes())
            .ok_or_else(|| "secret_key is too short".into());
    }
    let path = s.data_dir.join("master.key");
    let existed = path.exists();
    let text = read_or_create(&path, || random_b64(32))?;
    if existed {
        tracing::info!(path = %path.display(), "master key read from file");
    } else {
        tracing::info!(path = %path.display(), "generated a master key (back it up: the signing keys are sealed with it)");
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|_| format!("{} is not a Tessera master key file", path.display()))?;
    MasterKey::from_secret(&bytes)
        .ok_or_else(|| format!("{} holds too short a key", path.display()))
}

/// The admin API keys: from the config, else `<data dir>/admin.key` (made if missing). The path
/// is logged; the key never is.
pub fn admin_keys(s: &Settings) -> Result<Vec<String>, String> {
    if !s.admin_api_keys.is_empty() {
        return Ok(s
            .admin_api_keys
            .iter()
            .map(|k| k.expose().clone())
            .collect());
    }
    let path = s.data_dir.join("admin.key");
    let existed = path.exists();
    let key = read_or_create(&path, || format!("tsk_{}", random_b64(32)))?;
    if existed {
        tracing::info!(path = %path.display(), "admin API key read from file");
    } else {
        tracing::info!(path = %path.display(), "generated an admin API key (send it as X-Api-Key)");
    }
    Ok(vec![key.trim().to_owned()])
}

fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a secret file, or creates it with `make()` and mode 0600 (never overwriting: two
/// processes starting together both end up reading the one that won).
fn read_or_create(path: &Path, make: impl FnOnce() -> String) -> Result<String, String> {
    ensure_dir(path.parent().unwrap_or(Path::new(".")))?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut f) => {
            let value = make();
            f.write_all(value.as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(value)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(path = %path.display(), "key file is readable by group or others; chmod 600 it");
            }
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}

fn ensure_dir(dir: &Path) -> Result<PathBuf, String> {
    if !dir.as_os_str().is_empty() && !dir.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    Ok(dir.to_path_buf())
}
