//! Log links in webhook bodies, fresh. Stored events keep a build log link that expires
//! 15 minutes after it was signed (or only a reference); the edge signs a fresh one each
//! time it hands an event out, and so does the notifier, so a webhook sent after a
//! receiver's outage still carries a working link.

use buildwire_runtime::signing::UrlSigner;
use buildwire_schemas::{Event, EventBody};

/// Signs build log links with the keyring the edge checks them with.
#[derive(Clone)]
pub struct Links {
    signer: UrlSigner,
    base: String,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Links({})", self.base)
    }
}

impl Links {
    /// Links under `base` (`BUILDWIRE_PUBLIC_URL`), signed by `signer`.
    pub fn new(signer: UrlSigner, base: &str) -> Links {
        Links {
            signer,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// Replaces a `complete` event's build log link with a freshly signed one.
    pub fn refresh(&self, event: &mut Event) {
        if let EventBody::Complete(complete) = &mut event.body
            && complete.build_log_url.is_some()
        {
            let path = format!("/v1/builds/{}/logs/build", event.build_id);
            let query = self.signer.sign(&path, chrono::Utc::now().timestamp());
            complete.build_log_url = Some(format!("{}{path}?{query}", self.base));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buildwire_schemas::events::Complete;

    #[test]
    fn complete_events_get_a_fresh_link() {
        let signer = UrlSigner::from_keyring("k1:0123456789abcdef0123456789abcdef").expect("ring");
        let links = Links::new(signer.clone(), "http://edge.test/");
        let mut event = Event::new(
            "B1",
            "r",
            EventBody::Complete(Complete {
                preview_url: "http://x/".into(),
                message: "done".into(),
                build_log_url: Some("/v1/builds/B1/logs/build".into()),
            }),
        );
        links.refresh(&mut event);
        let EventBody::Complete(complete) = &event.body else {
            unreachable!()
        };
        let url = complete.build_log_url.as_deref().expect("url");
        assert!(
            url.starts_with("http://edge.test/v1/builds/B1/logs/build?"),
            "{url}"
        );
        let query: std::collections::HashMap<&str, &str> = url
            .split_once('?')
            .map(|(_, q)| q.split('&').filter_map(|kv| kv.split_once('=')).collect())
            .unwrap_or_default();
        let expires: i64 = query["expires"].parse().expect("expires");
        let now = chrono::Utc::now().timestamp();
        signer
            .verify(
                "/v1/builds/B1/logs/build",
                expires,
                query["kid"],
                query["sig"],
                now,
            )
            .expect("the edge accepts it");
    }
}
