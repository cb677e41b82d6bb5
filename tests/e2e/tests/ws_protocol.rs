//! Issue 15: WebSocket frames that break RFC 6455 (an unmasked client frame, text that is
//! not UTF-8, a control frame over 125 bytes, a reserved opcode, a reserved bit) are
//! answered with a close frame carrying 1002 or 1007 and a reason, not a bare TCP EOF.
//! The frames are written by hand: a WebSocket library refuses to send them.

use std::time::Duration;

use buildwire_testkit::NatsFixture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::edge_clients::{Node, submit};

/// A socket past the handshake of `/ws/builds/{id}`.
async fn upgraded(node: &Node, build_id: &str, token: &str) -> TcpStream {
    let mut stream = TcpStream::connect(node.edge.addr).await.expect("connect");
    let request = format!(
        "GET /ws/builds/{build_id}?token={token} HTTP/1.1\r\nHost: edge\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("handshake");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("handshake reply");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// One masked client frame (`fin`, `rsv` bits, `opcode`, payload), or unmasked.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if masked { 0x80 } else { 0 };
    if payload.len() < 126 {
        out.push(mask_bit | u8::try_from(payload.len()).expect("short"));
    } else {
        out.push(mask_bit | 126);
        out.extend_from_slice(&u16::try_from(payload.len()).expect("fits").to_be_bytes());
    }
    if masked {
        let key = [0x12u8, 0x34, 0x56, 0x78];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// Reads server frames until a close frame: its code and reason, or `None` on EOF.
async fn close_of(stream: &mut TcpStream) -> Option<(u16, String)> {
    loop {
        let mut head = [0u8; 2];
        if tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut head))
            .await
            .expect("an answer in time")
            .is_err()
        {
            return None;
        }
        let len = match head[1] & 0x7f {
            126 => {
                let mut n = [0u8; 2];
                stream.read_exact(&mut n).await.ok()?;
                usize::from(u16::from_be_bytes(n))
            }
            127 => {
                let mut n = [0u8; 8];
                stream.read_exact(&mut n).await.ok()?;
                usize::try_from(u64::from_be_bytes(n)).ok()?
            }
            n => usize::from(n),
        };
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await.ok()?;
        if head[0] & 0x0f == 0x8 {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            return Some((code, String::from_utf8_lossy(&payload[2..]).into_owned()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_that_break_the_protocol_get_1002_or_1007_with_a_reason() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let accepted = submit(&node, "Create a kanban board").await;
    let build_id = accepted["buildId"].as_str().expect("id").to_string();
    let token = accepted["buildToken"].as_str().expect("token").to_string();
    let ping = br#"{"type":"ping"}"#;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("an unmasked frame", frame(0x81, ping, false), 1002),
        (
            "text that is not UTF-8",
            frame(0x81, &[0xff, 0xfe, 0x80], true),
            1007,
        ),
        (
            "a control frame over 125 bytes",
            frame(0x89, &[b'x'; 200], true),
            1002,
        ),
        ("a reserved opcode", frame(0x83, ping, true), 1002),
        ("a reserved bit", frame(0xC1, ping, true), 1002),
    ];
    for (what, bytes, code) in cases {
        let mut stream = upgraded(&node, &build_id, &token).await;
        stream.write_all(&bytes).await.expect("send");
        let close = close_of(&mut stream).await;
        let (got, reason) = close.unwrap_or_else(|| panic!("{what}: a close frame, not EOF"));
        assert_eq!(got, code, "{what}: {reason}");
        assert!(!reason.is_empty(), "{what}: a reason");
    }
}
