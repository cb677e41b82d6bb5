//! Who may call the API: the main app, with one of the `BUILDWIRE_SERVICE_KEYS` as a
//! bearer token. Keys are kept as SHA-256 digests and compared in constant time.

use std::sync::Arc;

use buildwire_schemas::api::ProblemCode;
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::problem::ApiError;
use crate::state::EdgeState;

/// Why the service keys could not be read.
#[derive(Debug, thiserror::Error)]
#[error("BUILDWIRE_SERVICE_KEYS: {0}")]
pub struct ServiceKeyError(String);

/// Shortest accepted service key.
pub const MIN_KEY_LEN: usize = 16;

/// The accepted main-app keys.
pub struct ServiceKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ServiceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServiceKeys({} keys)", self.digests.len())
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ServiceKeys {
    /// Parses a comma-separated list; each key at least [`MIN_KEY_LEN`] characters.
    pub fn parse(text: &str) -> Result<ServiceKeys, ServiceKeyError> {
        let mut digests = Vec::new();
        for key in text.split(',').map(str::trim) {
            if key.len() < MIN_KEY_LEN || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ServiceKeyError(format!(
                    "every key needs at least {MIN_KEY_LEN} characters and no spaces"
                )));
            }
            digests.push(digest(key));
        }
        Ok(ServiceKeys { digests })
    }

    /// Whether `presented` is one of the keys.
    pub fn accepts(&self, presented: &str) -> bool {
        let presented = digest(presented);
        // Check every key so timing does not tell which one matched.
        self.digests.iter().fold(false, |found, key| {
            found | bool::from(key.ct_eq(&presented))
        })
    }
}

/// `Authorization: Bearer <service key>` on main-app routes.
#[derive(SecurityScheme)]
#[oai(rename = "ServiceKey", ty = "bearer", checker = "check_service_key")]
pub struct ServiceKey(pub Bearer);

async fn check_service_key(req: &Request, bearer: Bearer) -> poem::Result<Bearer> {
    let accepted = req
        .data::<Arc<EdgeState>>()
        .is_some_and(|state| state.service_keys.accepts(&bearer.token));
    if accepted {
        Ok(bearer)
    } else {
        Err(ApiError::new(
            poem::http::StatusCode::UNAUTHORIZED,
            ProblemCode::ServiceKeyInvalid,
            "the service key is not one of BUILDWIRE_SERVICE_KEYS",
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_matched_exactly() {
        let keys = ServiceKeys::parse("key-one-0123456789, key-two-0123456789").expect("keys");
        assert!(keys.accepts("key-one-0123456789"));
        assert!(keys.accepts("key-two-0123456789"));
        assert!(!keys.accepts("key-one-012345678"));
        assert!(!keys.accepts(""));
        assert!(ServiceKeys::parse("short").is_err());
        assert!(ServiceKeys::parse("a,b").is_err());
    }
}
