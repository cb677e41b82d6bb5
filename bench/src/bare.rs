//! The bare limit (`buildwire-bench bare`): a tokio + tokio-tungstenite WebSocket
//! broadcaster with no history, no auth and no checks. It subscribes to
//! `live.build.*.events` and forwards each payload, untouched, to the sockets of that
//! build through a `tokio::sync::broadcast` channel per build. A socket for build `<id>`
//! is `GET /builds/<id>`; it is subscribed before the handshake is answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames a socket may fall behind before it skips ahead (as the edge's queue bound).
const QUEUE: usize = 512;

type Channels = Arc<Mutex<HashMap<String, broadcast::Sender<Utf8Bytes>>>>;

/// Serves until the process is killed; prints `bare ready http://<addr>` once listening.
pub async fn serve(nats_url: &str, addr: &str) -> Result<()> {
    let client = async_nats::connect(nats_url)
        .await
        .with_context(|| format!("connecting to NATS at {nats_url}"))?;
    let mut live = client
        .subscribe("live.build.*.events")
        .await
        .context("subscribing to live.build.*.events")?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let channels: Channels = Arc::default();
    let forward = channels.clone();
    tokio::spawn(async move {
        while let Some(message) = live.next().await {
            let Some(build) = message.subject.split('.').nth(2) else {
                continue;
            };
            let sender = forward
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(build)
                .cloned();
            if let (Some(sender), Ok(text)) = (sender, Utf8Bytes::try_from(message.payload)) {
                let _ = sender.send(text);
            }
        }
    });
    println!("bare ready http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, channels.clone()));
    }
}

// tungstenite's handshake callback returns its (large) error response type by value.
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, channels: Channels) {
    let mut receiver = None;
    let subscribe = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        if let Some(build) = request.uri().path().strip_prefix("/builds/") {
            let mut channels = channels.lock().unwrap_or_else(|p| p.into_inner());
            let sender = channels
                .entry(build.to_string())
                .or_insert_with(|| broadcast::channel(QUEUE).0);
            receiver = Some(sender.subscribe());
        }
        Ok(response)
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let Ok(socket) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, subscribe, Some(config)).await
    else {
        return;
    };
    let Some(mut receiver) = receiver else {
        return;
    };
    let (mut sink, mut incoming) = socket.split();
    loop {
        tokio::select! {
            frame = receiver.recv() => match frame {
                Ok(text) => {
                    if sink.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            message = incoming.next() => match message {
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}
