//! Build tokens: a JWT per build (build id, user, scope, `exp`, `kid` header), HS256 only,
//! signed with the first key of the `BUILDWIRE_JWT_KEYS` keyring and accepted under any
//! key still in it, so secrets rotate without dropping clients.

use buildwire_schemas::api::ProblemCode;
use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

/// The only algorithm issued or accepted.
pub const ALGORITHM: Algorithm = Algorithm::HS256;
/// The scope a build token carries: read the build's events.
pub const SCOPE: &str = "build:read";
const ISSUER: &str = "buildwire";
const AUDIENCE: &str = "buildwire-stream";
/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECS: u64 = 5;
/// Shortest accepted secret, in bytes (HS256 wants at least its output size).
pub const MIN_SECRET_LEN: usize = 32;

/// A build token's claims.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BuildClaims {
    /// The build (a ULID).
    pub sub: String,
    /// The main app's user who submitted it.
    pub uid: String,
    /// What the token allows ([`SCOPE`]).
    pub scope: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// Always `buildwire`.
    pub iss: String,
    /// Always `buildwire-stream`.
    pub aud: String,
}

/// Why a keyring could not be built.
#[derive(Debug, thiserror::Error)]
#[error("BUILDWIRE_JWT_KEYS: {0}")]
pub struct KeyringError(String);

/// Why a token was refused. [`TokenError::status`] maps each to 401 or 403.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    /// No token came with the request.
    #[error("a build token is required (?token= or Authorization: Bearer)")]
    Missing,
    /// Not a JWT, or not one of ours (algorithm, issuer, audience, claims).
    #[error("the build token is malformed or not a buildwire token: {0}")]
    Malformed(String),
    /// Its `kid` is not (or no longer) in the keyring.
    #[error("the build token's key {0:?} is not in the keyring (rotated out?)")]
    UnknownKey(String),
    /// The signature does not match.
    #[error("the build token's signature is invalid")]
    BadSignature,
    /// Past its `exp`.
    #[error("the build token has expired; ask the main app for a fresh one")]
    Expired,
    /// A valid token for another build.
    #[error("the build token is for another build")]
    WrongBuild,
    /// A valid token without the read scope.
    #[error("the build token does not allow reading events")]
    WrongScope,
}

impl TokenError {
    /// 401 for an unusable token, 403 for a valid token that does not grant this build.
    pub fn status(&self) -> u16 {
        match self {
            TokenError::WrongBuild | TokenError::WrongScope => 403,
            _ => 401,
        }
    }

    /// The problem `code`.
    pub fn code(&self) -> ProblemCode {
        match self {
            TokenError::Missing => ProblemCode::TokenMissing,
            TokenError::Malformed(_) => ProblemCode::TokenMalformed,
            TokenError::UnknownKey(_) => ProblemCode::TokenUnknownKey,
            TokenError::BadSignature => ProblemCode::TokenBadSignature,
            TokenError::Expired => ProblemCode::TokenExpired,
            TokenError::WrongBuild => ProblemCode::TokenWrongBuild,
            TokenError::WrongScope => ProblemCode::TokenWrongScope,
        }
    }
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The signing keys, newest first.
pub struct Keyring {
    keys: Vec<Key>,
    ttl: chrono::Duration,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("Keyring").field("kids", &kids).finish()
    }
}

impl Keyring {
    /// Parses `kid:secret,kid:secret,...` (the first signs). Kids are 1-64 of
    /// `[A-Za-z0-9._-]`, unique; secrets at least [`MIN_SECRET_LEN`] bytes.
    pub fn parse(text: &str, ttl: std::time::Duration) -> Result<Keyring, KeyringError> {
        let mut keys: Vec<Key> = Vec::new();
        for (index, entry) in text.split(',').map(str::trim).enumerate() {
            let Some((kid, secret)) = entry.split_once(':') else {
                return Err(KeyringError(format!(
                    "entry {} is not kid:secret",
                    index + 1
                )));
            };
            let kid_ok = (1..=64).contains(&kid.len())
                && kid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !kid_ok {
                return Err(KeyringError(format!(
                    "entry {}: kid {kid:?} must be 1-64 of A-Z a-z 0-9 . _ -",
                    index + 1
                )));
            }
            if secret.len() < MIN_SECRET_LEN {
                return Err(KeyringError(format!(
                    "key {kid:?}: the secret must be at least {MIN_SECRET_LEN} bytes"
                )));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(KeyringError(format!("key {kid:?} appears twice")));
            }
            keys.push(Key {
                kid: kid.to_string(),
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
            });
        }
        let ttl = chrono::Duration::from_std(ttl)
            .map_err(|_| KeyringError("token lifetime out of range".into()))?;
        Ok(Keyring { keys, ttl })
    }

    /// The kid that signs new tokens.
    pub fn signing_kid(&self) -> &str {
        self.keys.first().map_or("", |k| k.kid.as_str())
    }

    /// A token for `build_id` on behalf of `user_id`, and when it expires.
    pub fn issue(&self, build_id: &str, user_id: &str) -> (String, DateTime<Utc>) {
        self.issue_at(build_id, user_id, Utc::now())
    }

    /// [`Keyring::issue`] as of `now` (tests issue expired tokens with it).
    pub fn issue_at(
        &self,
        build_id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        let expires = now + self.ttl;
        let claims = BuildClaims {
            sub: build_id.to_string(),
            uid: user_id.to_string(),
            scope: SCOPE.to_string(),
            iat: now.timestamp(),
            exp: expires.timestamp(),
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
        };
        let Some(key) = self.keys.first() else {
            return (String::new(), expires);
        };
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(key.kid.clone());
        // HMAC signing of a small struct cannot fail with a valid key.
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap_or_default();
        let expires = Utc
            .timestamp_opt(expires.timestamp(), 0)
            .single()
            .unwrap_or(expires);
        (token, expires)
    }

    /// Checks `token` and that it grants reading `build_id`.
    pub fn verify(&self, token: &str, build_id: &str) -> Result<BuildClaims, TokenError> {
        self.verify_with_leeway(token, build_id, LEEWAY_SECS)
    }

    /// [`Keyring::verify`], except that a token which expired less than `grace` ago is
    /// accepted; key, signature, algorithm, claims and build are checked as strictly. For
    /// callers that trade an old token for a fresh one (the demo page), never for reading.
    pub fn verify_expired_within(
        &self,
        token: &str,
        build_id: &str,
        grace: std::time::Duration,
    ) -> Result<BuildClaims, TokenError> {
        self.verify_with_leeway(token, build_id, grace.as_secs().max(LEEWAY_SECS))
    }

    fn verify_with_leeway(
        &self,
        token: &str,
        build_id: &str,
        leeway: u64,
    ) -> Result<BuildClaims, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if header.alg != ALGORITHM {
            return Err(TokenError::Malformed(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Malformed("no kid in the header".into()))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| TokenError::UnknownKey(kid.chars().take(64).collect()))?;
        let mut validation = Validation::new(ALGORITHM);
        validation.leeway = leeway;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<BuildClaims>(token, &key.decoding, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed(e.to_string()),
            })?
            .claims;
        if claims.scope != SCOPE {
            return Err(TokenError::WrongScope);
        }
        if claims.sub != build_id {
            return Err(TokenError::WrongBuild);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const BUILD: &str = "01JD5Y8Q7R3M4N5P6Q7R8S9T0V";
    const OTHER: &str = "01JD5Y8Q7R3M4N5P6Q7R8S9T0W";
    const S1: &str = "k1:0123456789abcdef0123456789abcdef";
    const S2: &str = "k2:fedcba9876543210fedcba9876543210";

    fn ring(text: &str) -> Keyring {
        Keyring::parse(text, Duration::from_secs(3600)).expect("keyring")
    }

    #[test]
    fn a_token_reads_its_build_only() {
        let keys = ring(S1);
        let (token, _) = keys.issue(BUILD, "user-1");
        let claims = keys.verify(&token, BUILD).expect("valid");
        assert_eq!(claims.uid, "user-1");
        assert_eq!(keys.verify(&token, OTHER), Err(TokenError::WrongBuild));
        assert_eq!(TokenError::WrongBuild.status(), 403);
    }

    #[test]
    fn forged_tokens_are_refused() {
        let keys = ring(S1);
        let (token, _) = keys.issue(BUILD, "u");
        // alg none: header {"alg":"none","kid":"k1"}, no signature.
        let mut parts = token.split('.');
        let (_, payload) = (parts.next(), parts.next().unwrap_or_default());
        let none_header = "eyJhbGciOiJub25lIiwia2lkIjoiazEifQ";
        let none = format!("{none_header}.{payload}.");
        assert!(matches!(
            keys.verify(&none, BUILD),
            Err(TokenError::Malformed(_))
        ));
        // A kid not in the ring.
        let (foreign, _) = ring("k9:0123456789abcdef0123456789abcdef").issue(BUILD, "u");
        assert!(matches!(
            keys.verify(&foreign, BUILD),
            Err(TokenError::UnknownKey(_))
        ));
        // Same kid, other secret (a forged signature).
        let (forged, _) = ring("k1:ffffffffffffffffffffffffffffffff").issue(BUILD, "u");
        assert_eq!(keys.verify(&forged, BUILD), Err(TokenError::BadSignature));
        // A tampered payload.
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap_or(0) + 3, 'x');
        assert!(keys.verify(&tampered, BUILD).is_err());
        // Expired.
        let (old, _) = keys.issue_at(BUILD, "u", Utc::now() - chrono::Duration::hours(2));
        assert_eq!(keys.verify(&old, BUILD), Err(TokenError::Expired));
        assert_eq!(keys.verify("", BUILD), Err(TokenError::Missing));
        assert!(matches!(
            keys.verify("garbage", BUILD),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn a_grace_accepts_recently_expired_tokens_only() {
        let keys = ring(S1);
        let grace = Duration::from_secs(24 * 3600);
        let hours_ago = |h: i64| Utc::now() - chrono::Duration::hours(h);
        // Issued 3 h ago with a 1 h lifetime: expired 2 h ago.
        let (recent, _) = keys.issue_at(BUILD, "demo", hours_ago(3));
        assert_eq!(keys.verify(&recent, BUILD), Err(TokenError::Expired));
        let claims = keys
            .verify_expired_within(&recent, BUILD, grace)
            .expect("within the grace");
        assert_eq!(claims.uid, "demo");
        assert_eq!(
            keys.verify_expired_within(&recent, OTHER, grace),
            Err(TokenError::WrongBuild)
        );
        let (old, _) = keys.issue_at(BUILD, "demo", hours_ago(26));
        assert_eq!(
            keys.verify_expired_within(&old, BUILD, grace),
            Err(TokenError::Expired)
        );
        let forger = ring("k1:ffffffffffffffffffffffffffffffff");
        let (forged, _) = forger.issue_at(BUILD, "demo", hours_ago(3));
        assert_eq!(
            keys.verify_expired_within(&forged, BUILD, grace),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn keys_rotate() {
        let (old_token, _) = ring(S1).issue(BUILD, "u");
        let rotated = ring(&format!("{S2},{S1}"));
        assert_eq!(rotated.signing_kid(), "k2");
        assert!(rotated.verify(&old_token, BUILD).is_ok());
        let (new_token, _) = rotated.issue(BUILD, "u");
        assert!(new_token.len() > 10);
        let removed = ring(S2);
        assert!(matches!(
            removed.verify(&old_token, BUILD),
            Err(TokenError::UnknownKey(_))
        ));
        assert!(removed.verify(&new_token, BUILD).is_ok());
    }

    #[test]
    fn bad_keyrings_are_refused() {
        for bad in [
            "",
            "nokey",
            "k1:short",
            "bad kid:0123456789abcdef0123456789abcdef",
        ] {
            assert!(
                Keyring::parse(bad, Duration::from_secs(60)).is_err(),
                "{bad}"
            );
        }
        assert!(Keyring::parse(&format!("{S1},{S1}"), Duration::from_secs(60)).is_err());
    }
}
