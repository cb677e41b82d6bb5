//! A webhook receiver for tests: a local HTTP server that records every POST and checks
//! its Standard Webhooks signature with its own implementation of the specification
//! (HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>` with the base64 key after
//! `whsec_`, compared in constant time; timestamps more than 5 minutes off refused).
//!
//! Tests script it: answer another status (503, 410), answer slowly, or go down (stop
//! listening and close every connection) and come back on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use poem::http::{HeaderMap, StatusCode};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Endpoint, Request, Response};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a `webhook-timestamp` may be from now.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// The raw body.
    pub body: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub event: serde_json::Value,
    /// The signature check: `Ok` or why it failed.
    pub verified: Result<(), String>,
    /// The status the receiver answered.
    pub status: u16,
}

#[derive(Debug)]
struct Shared {
    answer: u16,
    delay: Duration,
    started: usize,
    deliveries: Vec<Delivery>,
}

/// A fresh `whsec_<base64>` secret (24 random bytes).
pub fn secret() -> String {
    format!("whsec_{}", STANDARD.encode(rand::random::<[u8; 24]>()))
}

/// Verifies one webhook as the Standard Webhooks specification says; `now` in Unix
/// seconds.
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("no {name} header"))
    };
    let (id, timestamp, signatures) = (
        header("webhook-id")?,
        header("webhook-timestamp")?,
        header("webhook-signature")?,
    );
    let sent: i64 = timestamp
        .parse()
        .map_err(|_| format!("webhook-timestamp {timestamp:?} is not Unix seconds"))?;
    if (now - sent).abs() > TOLERANCE_SECS {
        return Err(format!(
            "webhook-timestamp {sent} is more than 5 minutes from {now}"
        ));
    }
    let key = STANDARD
        .decode(
            secret
                .strip_prefix("whsec_")
                .ok_or("the secret lacks whsec_")?,
        )
        .map_err(|e| format!("the secret is not base64: {e}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    for signature in signatures.split(' ') {
        let Some(("v1", encoded)) = signature.split_once(',') else {
            continue;
        };
        if let Ok(given) = STANDARD.decode(encoded)
            && bool::from(given.ct_eq(expected.as_slice()))
        {
            return Ok(());
        }
    }
    Err(format!("no v1 signature matches in {signatures:?}"))
}

/// The receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    secret: String,
    shared: Arc<Mutex<Shared>>,
    server: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some((_, task)) = self.server.take() {
            task.abort();
        }
    }
}

impl Receiver {
    /// Starts on a free loopback port, checking signatures made with `secret`.
    pub async fn start(secret: &str) -> Receiver {
        let shared = Arc::new(Mutex::new(Shared {
            answer: 200,
            delay: Duration::ZERO,
            started: 0,
            deliveries: Vec::new(),
        }));
        let mut receiver = Receiver {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret: secret.to_string(),
            shared,
            server: None,
        };
        receiver.listen().await;
        receiver
    }

    async fn listen(&mut self) {
        let mut bound = None;
        // The port may linger briefly after a stop; retry for a few seconds.
        for _ in 0..50 {
            match TcpListener::bind(self.addr).into_acceptor().await {
                Ok(acceptor) => {
                    bound = Some(acceptor);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let acceptor = bound.expect("the receiver binds its port");
        self.addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .expect("a socket address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = endpoint(self.shared.clone(), self.secret.clone());
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async move {
                        let _ = stopped.await;
                    },
                    Some(Duration::from_millis(50)),
                )
                .await;
        });
        self.server = Some((stop, task));
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where to send webhooks.
    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    /// Answer `status` from now on (200 by default).
    pub fn answer(&self, status: u16) {
        self.shared().answer = status;
    }

    /// Wait `delay` before answering each request.
    pub fn delay(&self, delay: Duration) {
        self.shared().delay = delay;
    }

    /// Goes down: stops listening and closes every connection (clients see refusals).
    pub async fn stop(&mut self) {
        if let Some((stop, task)) = self.server.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
    }

    /// Comes back on the same port.
    pub async fn resume(&mut self) {
        if self.server.is_none() {
            self.listen().await;
        }
    }

    /// Requests received so far, answered or not (one still waiting out its delay counts).
    pub fn started(&self) -> usize {
        self.shared().started
    }

    /// Every request answered so far, in the order answered.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared().deliveries.clone()
    }

    /// The requests answered with 2xx.
    pub fn accepted(&self) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|d| (200..300).contains(&d.status))
            .collect()
    }
}

fn endpoint(shared: Arc<Mutex<Shared>>, secret: String) -> impl Endpoint {
    poem::endpoint::make(move |mut request: Request| {
        let (shared, secret) = (shared.clone(), secret.clone());
        async move {
            let body = request.take_body().into_vec().await.unwrap_or_default();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or_default();
            let verified = verify(&secret, request.headers(), &body, now);
            let delay = {
                let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
                shared.started += 1;
                shared.delay
            };
            tokio::time::sleep(delay).await;
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
            let status = match (&verified, request.method().as_str()) {
                (Err(_), _) => 401,
                (_, "POST") => shared.answer,
                _ => 405,
            };
            shared.deliveries.push(Delivery {
                id: header("webhook-id"),
                timestamp: header("webhook-timestamp"),
                event: serde_json::from_slice(&body).unwrap_or_default(),
                body: String::from_utf8_lossy(&body).into_owned(),
                verified,
                status,
            });
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .finish()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn the_specifications_example_verifies() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let mut headers = HeaderMap::new();
        headers.insert(
            "webhook-id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().expect("h"),
        );
        headers.insert("webhook-timestamp", "1614265330".parse().expect("h"));
        headers.insert(
            "webhook-signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
                .parse()
                .expect("h"),
        );
        assert_eq!(verify(secret, &headers, body, 1_614_265_330), Ok(()));
        assert!(verify(secret, &headers, b"{}", 1_614_265_330).is_err());
        assert!(verify(secret, &headers, body, 1_614_265_330 + 301).is_err());
    }
}
