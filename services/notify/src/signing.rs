//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`
//! with the key that follows `whsec_` in the secret (base64).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::NotifyError;

/// A webhook signing secret (`MAIN_APP_WEBHOOK_SECRET`).
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// Parses `whsec_<base64>`; the key must be 24 to 64 bytes, as the specification asks.
    pub fn parse(text: &str) -> Result<Secret, NotifyError> {
        let bad = |why: &str| {
            NotifyError::Config(format!(
                "MAIN_APP_WEBHOOK_SECRET {why}: expected whsec_ followed by the base64 of 24 to 64 random bytes"
            ))
        };
        let encoded = text
            .trim()
            .strip_prefix("whsec_")
            .ok_or_else(|| bad("lacks the whsec_ prefix"))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| bad("is not valid base64 after whsec_"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(bad(&format!("holds {} bytes", key.len())));
        }
        Ok(Secret(key))
    }

    /// The `webhook-signature` value for message `id` sent at `timestamp` (Unix seconds).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes keys of any length; the fallback is never used.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries.
    #[test]
    fn signs_like_the_specification() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }

    #[test]
    fn bad_secrets_are_named() {
        for text in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!!",
            "whsec_c2hvcnQ=",
        ] {
            let err = Secret::parse(text).expect_err(text);
            assert!(err.to_string().contains("MAIN_APP_WEBHOOK_SECRET"), "{err}");
        }
    }
}
