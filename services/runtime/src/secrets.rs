//! Secrets a laptop stack needs but nobody configured: with `BUILDWIRE_SERVICE_KEYS` or
//! `BUILDWIRE_JWT_KEYS` unset, one is generated once into the data dir (mode 0600) and
//! reused, so restarting `up` keeps keys and issued tokens valid.

use std::io::Write;
use std::path::Path;

use rand::Rng;

/// A random hex string of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

/// The content of `<dir>/<name>`, created with `make()` when missing.
pub fn load_or_create(
    dir: &Path,
    name: &str,
    make: impl FnOnce() -> String,
) -> std::io::Result<String> {
    let path = dir.join(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = text.trim().to_string();
        if !text.is_empty() {
            return Ok(text);
        }
    }
    std::fs::create_dir_all(dir)?;
    let value = make();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    writeln!(file, "{value}")?;
    Ok(value)
}

/// The build-token keyring text: `BUILDWIRE_JWT_KEYS`, else the one generated once under
/// the data dir (shared by every service of a laptop stack).
pub fn jwt_keys(config: &crate::Config) -> std::io::Result<String> {
    match &config.jwt_keys {
        Some(keys) => Ok(keys.clone()),
        None => load_or_create(&config.data_dir, "jwt-keys", || {
            format!("local:{}", random_hex(32))
        }),
    }
}
