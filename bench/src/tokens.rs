//! Build tokens minted by the harness exactly as the edge issues them
//! (`services/edge/src/tokens.rs`): HS256, `kid` header, claims sub/uid/scope/iat/exp/iss/aud.

use anyhow::{Context, Result};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// The key id the harness signs with.
pub const KID: &str = "bench";
/// The secret (>= 32 bytes) the edge under test is given in `BUILDWIRE_JWT_KEYS`.
const SECRET: &str = "bench-secret-0123456789abcdef-0123456789";

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    uid: &'a str,
    scope: &'a str,
    iat: i64,
    exp: i64,
    iss: &'a str,
    aud: &'a str,
}

/// The keyring value for `BUILDWIRE_JWT_KEYS`.
pub fn keyring() -> String {
    format!("{KID}:{SECRET}")
}

/// A read token for `build_id`, valid for two hours.
pub fn mint(build_id: &str, user: &str) -> Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: build_id,
        uid: user,
        scope: "build:read",
        iat: now,
        exp: now + 7200,
        iss: "buildwire",
        aud: "buildwire-stream",
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KID.into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .context("signing a build token")
}
