//! Where the database is: checking a URL before connecting (so a typo is a setup error,
//! not an outage), the embedded SQLite default, and URLs safe to log.

use std::path::{Path, PathBuf};

use crate::RecordError;

/// The backend a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// `sqlite://<data_dir>/buildwire.db?mode=rwc` with an absolute path: the embedded
/// default when no `DATABASE_URL` is set. The file (and its folder) is created on
/// connect.
pub fn default_url(data_dir: &Path) -> String {
    let dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    format!("sqlite://{}?mode=rwc", dir.join("buildwire.db").display())
}

/// Checks `url` names a supported backend; for a SQLite file, creates its folder.
pub(crate) fn prepare(url: &str) -> Result<Backend, RecordError> {
    let bad = |reason: &str| RecordError::BadUrl {
        url: redact(url),
        reason: reason.into(),
    };
    if let Some(rest) = url.strip_prefix("sqlite:") {
        if let Some(path) = sqlite_file(rest)
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| bad(&format!("cannot create {}: {e}", dir.display())))?;
        }
        return Ok(Backend::Sqlite);
    }
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        if rest.is_empty() || rest.starts_with('/') && !rest.contains("host=") {
            return Err(bad("no host: expected postgres://user@host:port/database"));
        }
        return Ok(Backend::Postgres);
    }
    Err(bad(
        "expected sqlite:///<path>?mode=rwc or postgres://user@host:port/database",
    ))
}

/// The file a `sqlite:` URL's remainder names; `None` for in-memory databases.
fn sqlite_file(rest: &str) -> Option<PathBuf> {
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// `url` without its password, for errors and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_redacted() {
        assert_eq!(prepare("sqlite::memory:").ok(), Some(Backend::Sqlite));
        assert_eq!(
            prepare("postgres://u@localhost/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(matches!(
            prepare("mysql://u@h/db"),
            Err(RecordError::BadUrl { .. })
        ));
        assert!(matches!(
            prepare("postgres://"),
            Err(RecordError::BadUrl { .. })
        ));
        assert_eq!(
            redact("postgres://me:secret@h:5432/db"),
            "postgres://me:***@h:5432/db"
        );
        assert_eq!(
            default_url(Path::new("/data")),
            "sqlite:///data/buildwire.db?mode=rwc"
        );
    }
}
