//! A minimal socket.io v5 client over Engine.IO v4's WebSocket transport, enough to watch
//! one namespace: `/socket.io/?EIO=4&transport=websocket`, the open packet `0{...}`, the
//! namespace connect `40/build-<id>,` (with `{"pid","offset"}` to recover a session),
//! its ack `40/build-<id>,{"sid","pid"}`, events `42/build-<id>,["event",{...},"<offset>"]`
//! and ping `2` -> pong `3`. Written here rather than with `rust_socketio`, which runs a
//! thread per client and cannot resume a session from a chosen offset.

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use super::{Ended, Fleet, Resume, net};
use crate::probe::ViewerSlot;

#[derive(Deserialize)]
struct ConnectAck {
    pid: Option<String>,
}

/// The offset socket.io appends to a recoverable event packet: its last array element.
fn offset(packet: &str) -> Option<&str> {
    let body = packet.strip_suffix("\"]")?;
    let (_, offset) = body.rsplit_once(",\"")?;
    Some(offset)
}

/// One socket.io connection of `slot`, until it closes or the phase stops.
pub(super) async fn session(
    fleet: &Fleet,
    slot: &ViewerSlot,
    resume: &Resume,
    first: bool,
) -> Ended {
    let namespace = format!("/build-{}", fleet.builds.id(slot.build));
    let mut ws =
        match net::websocket(fleet, slot.index, "/socket.io/?EIO=4&transport=websocket").await {
            Ok(ws) => ws,
            Err(reason) => return Ended::Refused(reason),
        };
    match ws.next().await {
        Some(Ok(Message::Text(open))) if open.starts_with('0') => {}
        other => return Ended::Refused(format!("no Engine.IO open packet: {other:?}")),
    }
    let (connect, wanted_pid) = match resume {
        Resume::Recover { pid, offset } => (
            format!(
                "40{namespace},{}",
                serde_json::json!({ "pid": pid, "offset": offset })
            ),
            Some(pid.clone()),
        ),
        _ => (format!("40{namespace},"), None),
    };
    if ws.send(Message::text(connect)).await.is_err() {
        return Ended::Refused("sending the namespace connect failed".into());
    }
    let event_prefix = format!("42{namespace},");
    let ack_prefix = format!("40{namespace},");
    let mut acked = false;
    while let Some(message) = ws.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => return Ended::closed(acked),
            Ok(_) => continue,
        };
        if text.as_str() == "2" {
            if ws.send(Message::text("3")).await.is_err() {
                return Ended::closed(acked);
            }
        } else if text.starts_with(&event_prefix) {
            if let Some(seen) = slot.on_frame(&fleet.probe, &text)
                && let Some(offset) = offset(&text)
            {
                let mut track = slot.track();
                if let Some(offsets) = track.offsets.as_mut() {
                    let at = seen.n as usize;
                    if offsets.len() <= at {
                        offsets.resize(at + 1, None);
                    }
                    offsets[at] = Some(offset.to_string());
                }
                track.last_offset = Some(offset.to_string());
            }
        } else if let Some(ack) = text.strip_prefix(ack_prefix.as_str()) {
            let pid = serde_json::from_str::<ConnectAck>(ack)
                .ok()
                .and_then(|ack| ack.pid);
            if pid.is_some() && pid == wanted_pid {
                fleet.probe.on_recovered();
            }
            slot.track().pid = pid;
            if !acked && first {
                fleet.probe.on_connected();
            }
            acked = true;
        } else if text.starts_with("44") {
            return Ended::Refused(format!("namespace refused: {text}"));
        } else if text.starts_with("41") {
            return Ended::closed(acked);
        }
    }
    Ended::closed(acked)
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets_are_the_last_element() {
        let packet = r#"42/build-X,["event",{"a":"b\"]"},"MzX1-0"]"#;
        assert_eq!(super::offset(packet), Some("MzX1-0"));
        assert_eq!(super::offset(r#"42/build-X,["event",{}]"#), None);
    }
}
