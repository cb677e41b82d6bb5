//! Viewers of the bare broadcaster: `GET /builds/{id}` upgraded to WebSocket, then every
//! stored payload as a text frame (no greeting, no `seq`, no history).

use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use super::{Ended, Fleet, net};
use crate::probe::ViewerSlot;

/// One connection of `slot`, until it closes or the phase stops.
pub(super) async fn session(fleet: &Fleet, slot: &ViewerSlot, first: bool) -> Ended {
    let path = format!("/builds/{}", fleet.builds.id(slot.build));
    let mut ws = match net::websocket(fleet, slot.index, &path).await {
        Ok(ws) => ws,
        Err(reason) => return Ended::Refused(reason),
    };
    // The server subscribes the socket before it answers the handshake.
    if first {
        fleet.probe.on_connected();
    }
    while let Some(message) = ws.next().await {
        match message {
            Ok(Message::Text(text)) => {
                slot.on_frame(&fleet.probe, &text);
            }
            Ok(Message::Close(_)) | Err(_) => return Ended::Closed,
            Ok(_) => {}
        }
    }
    Ended::Closed
}
