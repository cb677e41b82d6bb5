//! Signed, expiring URLs (the plan's presigned log URLs, 15 minutes): an HMAC-SHA256 over
//! the path and expiry with a key of the `BUILDWIRE_JWT_KEYS` keyring. The build stage
//! signs, the edge checks with any key still in the ring, so rotation works as for tokens.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{Error, Result};

/// How long a signed URL stays valid.
pub const URL_LIFETIME_SECS: i64 = 15 * 60;

/// Why a signed URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Past its `expires`.
    #[error("the link expired; ask for a fresh one")]
    Expired,
    /// Its key is not (or no longer) in the keyring.
    #[error("the link's key is not in the keyring")]
    UnknownKey,
    /// The signature does not match.
    #[error("the link's signature is invalid")]
    BadSignature,
}

/// Signs and checks URLs with the keyring.
#[derive(Clone)]
pub struct UrlSigner {
    keys: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UrlSigner({} keys)", self.keys.len())
    }
}

impl UrlSigner {
    /// From keyring text `kid:secret,...` (the first signs).
    pub fn from_keyring(text: &str) -> Result<UrlSigner> {
        let keys: Vec<(String, Vec<u8>)> = text
            .split(',')
            .filter_map(|entry| entry.trim().split_once(':'))
            .map(|(kid, secret)| (kid.to_string(), secret.as_bytes().to_vec()))
            .collect();
        if keys.is_empty() {
            return Err(Error::Config(
                "BUILDWIRE_JWT_KEYS has no kid:secret entry".into(),
            ));
        }
        Ok(UrlSigner { keys })
    }

    /// From the configured (or generated) keyring.
    pub fn from_config(config: &crate::Config) -> Result<UrlSigner> {
        Self::from_keyring(&crate::secrets::jwt_keys(config)?)
    }

    fn mac(secret: &[u8], path: &str, expires: i64) -> Vec<u8> {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            return Vec::new();
        };
        mac.update(format!("{path}\n{expires}").as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The query string (`expires=..&kid=..&sig=..`) that makes `path` fetchable until
    /// `now + URL_LIFETIME_SECS`.
    pub fn sign(&self, path: &str, now: i64) -> String {
        let expires = now + URL_LIFETIME_SECS;
        let (kid, secret) = &self.keys[0];
        let sig = hex::encode(Self::mac(secret, path, expires));
        format!("expires={expires}&kid={kid}&sig={sig}")
    }

    /// Checks a signed request for `path` at `now`.
    pub fn verify(
        &self,
        path: &str,
        expires: i64,
        kid: &str,
        sig: &str,
        now: i64,
    ) -> std::result::Result<(), SignatureError> {
        let (_, secret) = self
            .keys
            .iter()
            .find(|(k, _)| k == kid)
            .ok_or(SignatureError::UnknownKey)?;
        let expected = Self::mac(secret, path, expires);
        let given = hex::decode(sig).map_err(|_| SignatureError::BadSignature)?;
        if !bool::from(expected.ct_eq(&given)) {
            return Err(SignatureError::BadSignature);
        }
        if now > expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_expire_and_cannot_be_altered() {
        let signer = UrlSigner::from_keyring("k2:secret-two,k1:secret-one").expect("keys");
        let query = signer.sign("/v1/builds/X/logs/build", 1_000);
        let part = |name: &str| {
            query
                .split('&')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .unwrap_or_default()
                .to_string()
        };
        let (expires, kid, sig) = (
            part("expires").parse().expect("n"),
            part("kid"),
            part("sig"),
        );
        assert_eq!(kid, "k2");
        let path = "/v1/builds/X/logs/build";
        assert_eq!(signer.verify(path, expires, &kid, &sig, 1_500), Ok(()));
        assert_eq!(
            signer.verify(path, expires, &kid, &sig, 1_000 + URL_LIFETIME_SECS + 1),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            signer.verify("/v1/builds/Y/logs/build", expires, &kid, &sig, 1_500),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            signer.verify(path, expires + 60, &kid, &sig, 1_500),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            signer.verify(path, expires, "k9", &sig, 1_500),
            Err(SignatureError::UnknownKey)
        );
        let rotated = UrlSigner::from_keyring("k3:secret-three,k2:secret-two").expect("keys");
        assert_eq!(rotated.verify(path, expires, &kid, &sig, 1_500), Ok(()));
    }
}
