//! `NATS_URL` values: comma-separated server addresses that may carry a user and password
//! (`nats://user:password@host:4222`). async-nats ignores credentials in an address, so
//! they are taken out here, and never shown: logs and errors get [`redact`]ed URLs.

use async_nats::ServerAddr;

use super::Credentials;
use crate::{Error, Result};

/// Parsed `NATS_URL`.
pub(super) struct Target {
    /// The addresses, without credentials.
    pub addrs: Vec<ServerAddr>,
    /// The first user and password found in an address.
    pub credentials: Option<Credentials>,
    /// The URL as it may be shown.
    pub redacted: String,
}

impl Target {
    /// Parses `url`; an unreadable address is a configuration error (shown redacted).
    pub fn parse(url: &str) -> Result<Target> {
        let redacted = redact(url);
        let mut addrs = Vec::new();
        let mut credentials = None;
        for part in url.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |err: &dyn std::fmt::Display| {
                Error::Config(format!("NATS_URL {redacted:?}: {}: {err}", redact(part)))
            };
            let addr: ServerAddr = part.parse().map_err(|e| bad(&e))?;
            if let Some(user) = addr.username() {
                credentials.get_or_insert_with(|| Credentials {
                    user: decode(user),
                    password: decode(addr.password().unwrap_or_default()),
                });
            }
            let mut bare = addr.into_inner();
            // Only fails for URLs that cannot have credentials, which these had none of.
            let _ = bare.set_username("");
            let _ = bare.set_password(None);
            addrs.push(ServerAddr::from_url(bare).map_err(|e| bad(&e))?);
        }
        if addrs.is_empty() {
            return Err(Error::Config("NATS_URL names no server".into()));
        }
        Ok(Target {
            addrs,
            credentials,
            redacted,
        })
    }
}

/// `url` with every password replaced by `***` (`nats://edge:***@host:4222`).
pub fn redact(url: &str) -> String {
    url.split(',')
        .map(|part| {
            let (scheme, rest) = match part.split_once("://") {
                Some((scheme, rest)) => (format!("{scheme}://"), rest),
                None => (String::new(), part),
            };
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => {
                    let user = rest[..at].split(':').next().unwrap_or_default();
                    format!("{scheme}{user}:***{}", &rest[at..])
                }
                None => part.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Percent-decoding of a URL's user or password (`p%40ss` -> `p@ss`).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok();
        match (bytes[i], hex().and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_taken_out_of_the_url_and_never_shown() {
        let target = Target::parse("nats://edge:p%40ss@127.0.0.1:4222, nats://edge:p%40ss@h2:4223")
            .expect("parses");
        assert_eq!(
            target.credentials,
            Some(Credentials {
                user: "edge".into(),
                password: "p@ss".into()
            })
        );
        assert_eq!(target.addrs.len(), 2);
        assert!(target.addrs.iter().all(|a| a.username().is_none()));
        assert_eq!(
            target.redacted,
            "nats://edge:***@127.0.0.1:4222, nats://edge:***@h2:4223"
        );
        assert!(!format!("{:?}", target.addrs).contains("p%40ss"));
    }

    #[test]
    fn plain_urls_stay_as_they_are() {
        let target = Target::parse("127.0.0.1:4222").expect("parses");
        assert_eq!(target.credentials, None);
        assert_eq!(target.redacted, "127.0.0.1:4222");
        assert_eq!(redact("nats://a:1,nats://b:2"), "nats://a:1,nats://b:2");
        assert_eq!(redact("nats://tok@h:1"), "nats://tok:***@h:1");
        let err = Target::parse("http://u:secret@h:1")
            .err()
            .expect("bad scheme");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(Target::parse(" , ").is_err());
    }
}
