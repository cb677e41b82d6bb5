//! The client's side of a build's WebSocket: text messages for the session, and frames the
//! protocol layer refused matched by their error type (1009 for a message over the limit,
//! 1007 for text that is not UTF-8, 1002 for any other protocol violation, as RFC 6455
//! (7.4.1) asks), never by an error string.

use buildwire_schemas::stream::DisconnectReason;
use futures::StreamExt;
use futures::stream::SplitStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};

use super::Socket;
use crate::hub::session::{Inbound, Inbox, MAX_CLIENT_MESSAGE};

/// The client's side of the socket.
pub(super) struct Incoming(pub(super) SplitStream<Socket>);

impl Inbox for Incoming {
    async fn recv(&mut self) -> Inbound {
        loop {
            return match self.0.next().await {
                None | Some(Ok(Message::Close(_))) => Inbound::Closed,
                Some(Ok(Message::Text(text))) => Inbound::Text(text),
                Some(Ok(Message::Binary(data))) if data.len() > MAX_CLIENT_MESSAGE => {
                    Inbound::Refused(DisconnectReason::MessageTooBig)
                }
                Some(Ok(Message::Binary(_))) => {
                    Inbound::Refused(DisconnectReason::UnsupportedMessage)
                }
                // Pings and pongs: answered by the protocol layer.
                Some(Ok(_)) => continue,
                Some(Err(err)) => refused(&err).map_or(Inbound::Closed, Inbound::Refused),
            };
        }
    }
}

/// Why the protocol layer refused a frame; `None` when the connection is gone (nothing can
/// be sent).
fn refused(err: &WsError) -> Option<DisconnectReason> {
    match err {
        WsError::Capacity(_) => Some(DisconnectReason::MessageTooBig),
        WsError::Utf8(_) => Some(DisconnectReason::InvalidUtf8),
        WsError::Protocol(
            ProtocolError::ResetWithoutClosingHandshake
            | ProtocolError::SendAfterClosing
            | ProtocolError::ReceivedAfterClosing,
        ) => None,
        WsError::Protocol(_) => Some(DisconnectReason::ProtocolError),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::error::CapacityError;

    use super::*;

    #[test]
    fn refused_frames_map_to_the_rfc_close_codes_by_type() {
        let code = |err: WsError| refused(&err).map(|r| r.close_code());
        let too_long = CapacityError::MessageTooLong {
            size: 2000,
            max_size: 1024,
        };
        assert_eq!(code(WsError::Capacity(too_long)), Some(1009));
        assert_eq!(code(WsError::Utf8("bad".into())), Some(1007));
        assert_eq!(
            code(WsError::Protocol(ProtocolError::UnmaskedFrameFromClient)),
            Some(1002)
        );
        assert_eq!(
            code(WsError::Protocol(
                ProtocolError::ResetWithoutClosingHandshake
            )),
            None
        );
        assert_eq!(code(WsError::ConnectionClosed), None);
    }
}
