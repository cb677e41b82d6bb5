//! Where webhooks may go. Loopback, private, link-local, shared (CGNAT), documentation,
//! multicast and unspecified addresses are refused unless `BUILDWIRE_WEBHOOK_ALLOW_PRIVATE`
//! is set: at start for `MAIN_APP_URL` (every address its host resolves to), and again on
//! every connection (the HTTP client's resolver drops such answers), so a name that later
//! resolves to an internal address is never reached. Redirects are not followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::NotifyError;

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

/// Checks `url` as a webhook target: http(s) with a host, and unless `allow_internal`,
/// no address it resolves to is internal. A host that does not resolve yet is allowed
/// (the resolver checks every connection).
pub async fn check_url(url: &Url, allow_internal: bool) -> Result<(), NotifyError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NotifyError::Config(format!(
            "MAIN_APP_URL {url} is not an http(s) URL"
        )));
    }
    let Some(host) = url.host_str() else {
        return Err(NotifyError::Config(format!(
            "MAIN_APP_URL {url} has no host"
        )));
    };
    if allow_internal {
        return Ok(());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::net::lookup_host((host, url.port_or_known_default().unwrap_or(443)))
            .await
        {
            Ok(found) => found.map(|a| a.ip()).collect(),
            Err(err) => {
                tracing::warn!(%host, %err, "MAIN_APP_URL's host does not resolve yet; every connection is checked");
                return Ok(());
            }
        },
    };
    if let Some(ip) = addresses.into_iter().find(|ip| is_internal(*ip)) {
        return Err(NotifyError::Config(format!(
            "MAIN_APP_URL {url} reaches {ip}, a loopback or private address: refused \
             (set BUILDWIRE_WEBHOOK_ALLOW_PRIVATE=1 to allow it, e.g. on a laptop)"
        )));
    }
    Ok(())
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
