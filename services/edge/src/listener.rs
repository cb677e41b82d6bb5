//! The edge's TCP acceptor: poem's, with `TCP_NODELAY` on every accepted socket.
//!
//! Events are small writes sent one after another; with Nagle's algorithm on, a write
//! waits for the peer to acknowledge the previous one, and against a delayed ACK that is
//! tens of milliseconds on a stream that is meant to be live.

use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};
use tokio::net::TcpStream;

/// [`TcpAcceptor`] with `TCP_NODELAY` set on each connection.
pub struct NoDelayAcceptor(pub TcpAcceptor);

impl Acceptor for NoDelayAcceptor {
    type Io = TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(TcpStream, LocalAddr, RemoteAddr, Scheme)> {
        let accepted = self.0.accept().await?;
        if let Err(err) = accepted.0.set_nodelay(true) {
            // The connection still works, only with Nagle's delays.
            tracing::debug!(%err, "TCP_NODELAY not set");
        }
        Ok(accepted)
    }
}
