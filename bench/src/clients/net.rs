//! Opening viewer connections: TCP from a chosen loopback source address (bound before
//! connecting, so more sockets than one address has ephemeral ports can reach one port) and the WebSocket
//! handshake with small buffers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::Fleet;

/// A viewer's WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// The next loopback source address to hand out, as an offset into 127.1.0.0/16.
static NEXT_SOURCE: AtomicU32 = AtomicU32::new(0);

/// `count` (at least one) loopback source addresses in 127.1.0.0/16 that no earlier
/// fleet of this process used, so ports in TIME_WAIT from an earlier run never collide.
pub fn source_addresses(count: usize) -> Vec<IpAddr> {
    let count = u32::try_from(count.max(1)).unwrap_or(u32::MAX);
    let first = NEXT_SOURCE.fetch_add(count, Ordering::Relaxed);
    let base = u32::from(Ipv4Addr::new(127, 1, 0, 1));
    (first..first + count)
        .map(|i| IpAddr::V4(Ipv4Addr::from(base + i % 65_000)))
        .collect()
}

/// A TCP connection to `addr` from `source`.
pub async fn tcp(addr: SocketAddr, source: IpAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Connects viewer `viewer` to `path` (with its query) over WebSocket, holding one of the
/// fleet's handshake slots meanwhile. The error names the HTTP status of a refusal.
pub async fn websocket(fleet: &Fleet, viewer: usize, path: &str) -> Result<Ws, String> {
    let _slot = fleet
        .handshakes
        .acquire()
        .await
        .map_err(|e| e.to_string())?;
    let stream = tcp(fleet.addr, fleet.source(viewer))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let url = format!("ws://{}{path}", fleet.addr);
    // Frames are small; tungstenite's default 128 KiB read buffer per socket is not.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    match tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(format!("handshake refused: HTTP {}", response.status()))
        }
        Err(err) => Err(format!("handshake: {err}")),
    }
}
