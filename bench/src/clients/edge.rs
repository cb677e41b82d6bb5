//! Viewers of the buildwire edge: `GET /ws/builds/{id}?token=&after=` (a `connected`
//! greeting, then one JSON text frame per event) and `GET /events/{id}?token=&after=`
//! (SSE, `id:`/`data:` per event), with tokens minted like the edge's own.

use eventsource_stream::Eventsource;
use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{Ended, Fleet, Resume, net};
use crate::probe::ViewerSlot;
use crate::tokens;

/// The user the harness's tokens name.
const USER: &str = "bench";

fn start(slot: &ViewerSlot, resume: &Resume) -> u64 {
    let after = match resume {
        Resume::After(after) => *after,
        _ => 0,
    };
    slot.track().cursor = after;
    after
}

/// One WebSocket connection of `slot`, until it closes or the phase stops.
pub(super) async fn websocket(
    fleet: &Fleet,
    slot: &ViewerSlot,
    resume: &Resume,
    first: bool,
) -> Ended {
    let build = fleet.builds.id(slot.build);
    let token = match tokens::mint(build, USER) {
        Ok(token) => token,
        Err(err) => return Ended::Refused(err.to_string()),
    };
    let after = start(slot, resume);
    let path = format!("/ws/builds/{build}?token={token}&after={after}");
    let mut ws = match net::websocket(fleet, slot.index, &path).await {
        Ok(ws) => ws,
        Err(reason) => return Ended::Refused(reason),
    };
    let mut greeted = false;
    while let Some(message) = ws.next().await {
        match message {
            Ok(Message::Text(text)) => {
                if !greeted && text.contains("\"type\":\"connected\"") {
                    greeted = true;
                    if first {
                        fleet.probe.on_connected();
                    }
                    continue;
                }
                slot.on_frame(&fleet.probe, &text);
            }
            Ok(Message::Close(frame)) => {
                return match frame {
                    Some(frame) if frame.code == CloseCode::Normal => Ended::Finished,
                    _ => Ended::closed(greeted),
                };
            }
            Ok(_) => {}
            Err(_) => return Ended::closed(greeted),
        }
    }
    Ended::closed(greeted)
}

/// One SSE connection of `slot`, until the stream ends or the phase stops.
pub(super) async fn sse(fleet: &Fleet, slot: &ViewerSlot, resume: &Resume, first: bool) -> Ended {
    let build = fleet.builds.id(slot.build);
    let token = match tokens::mint(build, USER) {
        Ok(token) => token,
        Err(err) => return Ended::Refused(err.to_string()),
    };
    let after = start(slot, resume);
    let client = &fleet.http[slot.index % fleet.http.len()];
    let response = {
        let _slot = match fleet.handshakes.acquire().await {
            Ok(permit) => permit,
            Err(err) => return Ended::Refused(err.to_string()),
        };
        client
            .get(format!(
                "http://{}/events/{build}?token={token}&after={after}",
                fleet.addr
            ))
            .header("Accept", "text/event-stream")
            .send()
            .await
    };
    let response = match response {
        Ok(response) if response.status() == reqwest::StatusCode::OK => response,
        Ok(response) if response.status() == reqwest::StatusCode::NO_CONTENT => {
            return Ended::Finished;
        }
        Ok(response) => return Ended::Refused(format!("HTTP {}", response.status())),
        Err(err) => return Ended::Refused(err.to_string()),
    };
    if first {
        fleet.probe.on_connected();
    }
    let mut events = response.bytes_stream().eventsource();
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => {
                slot.on_frame(&fleet.probe, &event.data);
            }
            Err(_) => return Ended::Closed,
        }
    }
    Ended::Closed
}
