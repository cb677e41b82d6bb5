//! Where webhooks may go. Loopback, private, link-local, shared (CGNAT), documentation,
//! multicast and unspecified addresses are refused unless `BUILDWIRE_WEBHOOK_ALLOW_PRIVATE`
//! is set: at start for `MAIN_APP_URL` (every address its host resolves to), and again on
//! every connection (the HTTP client's resolver drops such answers), so a name that later
//! resolves to an internal address is never reached. Redirects are not followed.
//!
//! A build may name its own endpoint (`webhookUrl` in `POST /v1/builds`, checked by the
//! edge with [`check_target`]): the edge stores it as the [`WEBHOOK_URL_HEADER`] header of
//! the build's first event, where [`BuildTargets`] reads it back, so it lasts as long as
//! the build's events and survives any restart. It replaces `MAIN_APP_URL` for that build.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use async_nats::jetstream::stream::Stream;
use buildwire_runtime::nats::Nats;
pub use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::NotifyError;

/// Header on a build's first stored event holding its own webhook endpoint.
pub const WEBHOOK_URL_HEADER: &str = "Buildwire-Webhook-Url";

/// Longest wait for a host's addresses while a target is checked.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether `ip` is an address webhooks must not reach by default.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => is_internal_v6(v6),
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 of any IPv4
}

/// Checks `MAIN_APP_URL` as a webhook target ([`check_target`]).
pub async fn check_url(url: &Url, allow_internal: bool) -> Result<(), NotifyError> {
    check_target("MAIN_APP_URL", url, allow_internal).await
}

/// Checks `url` (named `what` in the error) as a webhook target without resolving it:
/// http(s) with a host, no credentials, and unless `allow_internal`, not an internal IP
/// literal nor `localhost`. What a name resolves to is checked on every connection (and by
/// [`check_target`]); the edge checks a build's `webhookUrl` with this, so a request never
/// waits on DNS.
pub fn check_form(what: &str, url: &Url, allow_internal: bool) -> Result<(), NotifyError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NotifyError::Config(format!(
            "{what} {url} is not an http(s) URL"
        )));
    }
    let Some(host) = url.host_str() else {
        return Err(NotifyError::Config(format!("{what} {url} has no host")));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(NotifyError::Config(format!(
            "{what} must not carry credentials (webhooks are signed instead)"
        )));
    }
    if allow_internal {
        return Ok(());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let internal = match host.parse::<IpAddr>() {
        Ok(ip) => is_internal(ip).then_some(ip.to_string()),
        Err(_) => (name == "localhost" || name.ends_with(".localhost")).then_some(name),
    };
    match internal {
        Some(address) => Err(refused(what, url, &address)),
        None => Ok(()),
    }
}

fn refused(what: &str, url: &Url, address: &str) -> NotifyError {
    NotifyError::Config(format!(
        "{what} {url} reaches {address}, a loopback or private address: refused (set \
         BUILDWIRE_WEBHOOK_ALLOW_PRIVATE=1 to allow it, e.g. on a laptop)"
    ))
}

/// Checks `url` (named `what` in the error) as a webhook target: [`check_form`], and
/// unless `allow_internal`, no address it resolves to is internal. A host that does not
/// resolve yet is allowed (the resolver checks every connection).
pub async fn check_target(what: &str, url: &Url, allow_internal: bool) -> Result<(), NotifyError> {
    check_form(what, url, allow_internal)?;
    if allow_internal {
        return Ok(());
    }
    let Some(host) = url.host_str() else {
        return Ok(());
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
        {
            Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
            Ok(Err(err)) => {
                tracing::warn!(%host, %err, "{what}'s host does not resolve yet; every connection is checked");
                return Ok(());
            }
            Err(_) => {
                tracing::warn!(%host, "{what}'s host did not resolve in time; every connection is checked");
                return Ok(());
            }
        },
    };
    match addresses.into_iter().find(|ip| is_internal(*ip)) {
        Some(ip) => Err(refused(what, url, &ip.to_string())),
        None => Ok(()),
    }
}

/// Each build's own endpoint, read from the header of its first stored event on `EVENTS`.
#[derive(Clone, Debug)]
pub struct BuildTargets {
    events: Stream,
}

impl BuildTargets {
    /// Over the `EVENTS` stream of `nats`.
    pub async fn open(nats: &Nats) -> Result<BuildTargets, NotifyError> {
        let events = nats
            .js
            .get_stream(crate::STREAM)
            .await
            .map_err(|e| NotifyError::Nats(format!("stream {}: {e}", crate::STREAM)))?;
        Ok(BuildTargets { events })
    }

    /// The endpoint `build_id` was submitted with, if any (`None` too when its first event
    /// is gone: the build's webhooks then go to `MAIN_APP_URL`).
    pub async fn of_build(&self, build_id: &str) -> Result<Option<Url>, NotifyError> {
        let subject = buildwire_schemas::subjects::events(build_id);
        let first = match self.events.direct_get_first_for_subject(subject).await {
            Ok(first) => first,
            Err(err)
                if err.kind() == async_nats::jetstream::stream::DirectGetErrorKind::NotFound =>
            {
                return Ok(None);
            }
            Err(err) => {
                return Err(NotifyError::Nats(format!(
                    "first event of {build_id}: {err}"
                )));
            }
        };
        let Some(value) = first.headers.get(WEBHOOK_URL_HEADER) else {
            return Ok(None);
        };
        Url::parse(value.as_str())
            .map(Some)
            .map_err(|e| NotifyError::Config(format!("webhookUrl of {build_id}: {e}")))
    }
}

/// The webhook client's resolver: the system's answers, refused when any is internal.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(internal) = found.iter().find(|a| is_internal(a.ip())) {
                return Err(format!(
                    "{host} resolves to {}, a loopback or private address: refused",
                    internal.ip()
                )
                .into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(is_internal(ip.parse().expect(ip)), "{ip} is internal");
        }
        for ip in [
            "1.1.1.1",
            "93.184.216.34",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip.parse().expect(ip)), "{ip} is public");
        }
    }

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/hooks",
            "http://[::1]/x",
            "http://localhost:8080/x",
            "http://10.0.0.8/",
        ] {
            let url = Url::parse(url).expect(url);
            let err = check_url(&url, false).await.expect_err(url.as_str());
            assert!(
                err.to_string().contains("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE"),
                "{err}"
            );
            check_url(&url, true).await.expect("allowed");
        }
        let ftp = Url::parse("ftp://example.com/").expect("url");
        assert!(check_url(&ftp, true).await.is_err());
        for url in [
            "http://127.0.0.1/h",
            "http://localhost./h",
            "http://app.localhost/h",
            "http://[fd00::1]/h",
            "http://user:pw@93.184.216.34/h",
            "file:///etc/passwd",
        ] {
            let url = Url::parse(url).expect(url);
            let err = check_form("webhookUrl", &url, false).expect_err(url.as_str());
            assert!(err.to_string().contains("webhookUrl"), "{err}");
        }
        check_form(
            "webhookUrl",
            &Url::parse("https://hooks.example.com/x").expect("url"),
            false,
        )
        .expect("a name is left to the resolver");
        check_url(&Url::parse("https://93.184.216.34/h").expect("url"), false)
            .await
            .expect("public");
    }

    #[tokio::test]
    async fn the_resolver_refuses_internal_answers() {
        let name: Name = "localhost".parse().expect("name");
        let refused = GuardedResolver.resolve(name).await.err().expect("refused");
        assert!(
            refused.to_string().contains("loopback or private"),
            "{refused}"
        );
    }
}
