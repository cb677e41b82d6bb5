//! A stream: history then live, purges, resume, client messages, timing, links, ends.

use super::*;

#[tokio::test]
async fn a_viewer_gets_history_then_live_events_once_and_ends_after_the_terminal_one() {
    let rig = rig(8, 8, LINGER);
    let stored = rig.steps(3);
    let mut session = rig.open(0).await;
    let mut expected = vec![hello(stored[2], true)];
    expected.extend(events(&stored));
    assert_eq!(take(&mut session, &mut NoInbox, 4).await, expected);
    let live = rig.steps(2);
    assert_eq!(take(&mut session, &mut NoInbox, 2).await, events(&live));
    let last = rig.store(complete());
    assert_eq!(
        take(&mut session, &mut NoInbox, 2).await,
        vec![Seen::Event(last), Seen::End(Disconnect::finished())]
    );
    // With everything already, a client is told so at once (SSE answers 204), and a
    // stream that never took a step is not counted as a connection.
    let opened = "buildwire_edge_connections_opened_total{transport=\"ws\"} 1";
    assert!(rig.metric(opened), "{}", rig.metrics.render());
    let done = rig.open(last).await;
    assert!(done.finished_at_open());
    drop(done);
    assert!(rig.metric(opened), "a 204 is no connection");
    drop(session);
    assert!(rig.metric("buildwire_edge_connections{transport=\"ws\"} 0"));
}

#[tokio::test]
async fn a_cursor_whose_events_were_purged_gets_recovered_false_and_a_snapshot() {
    let rig = rig(8, 8, LINGER);
    let stored = rig.steps(6);
    rig.log.purge(BUILD, stored[2]);
    let mut session = rig.open(stored[1]).await;
    assert_eq!(
        take(&mut session, &mut NoInbox, 2).await,
        vec![hello(stored[5], false), Seen::Snapshot(stored[5])]
    );
    let live = rig.store(status(7));
    assert_eq!(take(&mut session, &mut NoInbox, 1).await, events(&[live]));
    // A cursor still held resumes normally.
    let mut held = rig.open(stored[3]).await;
    let mut expected = vec![hello(live, true)];
    expected.extend(events(&[stored[4], stored[5], live]));
    assert_eq!(take(&mut held, &mut NoInbox, 4).await, expected);
}

#[tokio::test]
async fn a_resume_greets_again_and_sends_what_follows_exactly_once() {
    let rig = rig(8, 8, LINGER);
    let stored = rig.steps(3);
    let mut session = rig.open(0).await;
    take(&mut session, &mut NoInbox, 4).await;
    let mut expected = vec![hello(stored[2], true)];
    expected.extend(events(&stored[1..]));
    assert_eq!(
        take(&mut session, &mut resume(stored[0]), 3).await,
        expected
    );
    assert!(quiet(&mut session).await.is_empty(), "once each");
    // A resume to a cursor purged from the log and older than the window is not a silent
    // gap: a fresh greeting with a snapshot, then live.
    let rig = self::rig(2, 8, LINGER);
    let stored = rig.steps(5);
    rig.log.purge(BUILD, stored[2]);
    let mut fresh = rig.open(stored[4]).await;
    take(&mut fresh, &mut NoInbox, 1).await;
    let greeting = take(&mut fresh, &mut resume(stored[0]), 2).await;
    assert_eq!(
        greeting,
        vec![hello(stored[4], false), Seen::Snapshot(stored[4])]
    );
    let live = rig.store(status(5));
    assert_eq!(take(&mut fresh, &mut NoInbox, 1).await, events(&[live]));
}

#[tokio::test]
async fn bad_client_messages_end_the_stream_with_a_typed_disconnect() {
    let rig = rig(8, 8, LINGER);
    let first = rig.store(status(0));
    for (text, reason) in [
        (
            "{\"type\":\"subscribe\"}".to_string(),
            DisconnectReason::UnsupportedMessage,
        ),
        ("x".repeat(2000), DisconnectReason::MessageTooBig),
    ] {
        let mut session = rig.open(0).await;
        take(&mut session, &mut NoInbox, 2).await;
        let mut script = Script(vec![Inbound::Text(text.into())]);
        assert_eq!(
            take(&mut session, &mut script, 1).await,
            vec![end(reason, Some(first))]
        );
    }
    let mut session = rig.open(0).await;
    take(&mut session, &mut NoInbox, 2).await;
    let mut ping = Script(vec![Inbound::Text("{\"type\":\"ping\"}".into())]);
    assert_eq!(
        take(&mut session, &mut ping, 1).await,
        vec![Seen::Heartbeat]
    );
    let mut refused = Script(vec![Inbound::Refused(DisconnectReason::InvalidUtf8)]);
    assert_eq!(
        take(&mut session, &mut refused, 1).await,
        vec![end(DisconnectReason::InvalidUtf8, Some(first))]
    );
}

#[tokio::test]
async fn only_events_that_arrived_live_are_timed() {
    let (rig, first, mut watching) = watched(8, 8).await;
    let stored = rig.steps(2);
    assert_eq!(take(&mut watching, &mut NoInbox, 2).await, events(&stored));
    assert!(rig.metric("buildwire_edge_delivery_latency_seconds_count 2"));
    // A viewer joining later replays the same frames from the window: not timed.
    let mut late = rig.open(0).await;
    let mut expected = vec![hello(stored[1], true)];
    expected.extend(events(&[first, stored[0], stored[1]]));
    assert_eq!(take(&mut late, &mut NoInbox, 4).await, expected);
    assert!(
        rig.metric("buildwire_edge_delivery_latency_seconds_count 2"),
        "{}",
        rig.metrics.render()
    );
}

#[tokio::test]
async fn history_that_cannot_be_read_ends_a_resume_with_1011() {
    let rig = rig(2, 8, LINGER);
    let stored = rig.steps(5);
    let mut session = rig.open(stored[4]).await;
    take(&mut session, &mut NoInbox, 1).await;
    rig.log.fail(true);
    let got = take(&mut session, &mut resume(stored[0]), 1).await;
    assert_eq!(
        got,
        vec![end(DisconnectReason::HistoryUnavailable, Some(stored[0]))]
    );
    assert!(matches!(&got[0], Seen::End(d) if d.code == 1011));
}

#[tokio::test]
async fn log_links_are_signed_on_the_way_out() {
    let rig = rig(8, 8, LINGER);
    rig.store(status(0));
    rig.store(complete());
    let mut session = rig.open(0).await;
    let step = session.next(&mut NoInbox).await;
    assert!(matches!(step, Step::Say(Out::Connected { .. })));
    let texts: Vec<String> = match session.next(&mut NoInbox).await {
        Step::Run(run) => run
            .map(|out| match out {
                Out::Event { text, .. } => text.to_string(),
                _ => String::new(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let signed = texts.last().cloned().unwrap_or_default();
    assert!(
        signed.contains("http://edge.test/v1/builds/") && signed.contains("sig="),
        "{signed}"
    );
}

#[tokio::test]
async fn an_unknown_build_is_refused_and_shutdown_ends_streams_with_going_away() {
    let rig = rig(8, 8, LINGER);
    assert!(Session::open(&rig.hub, BUILD, 0, "ws", None).await.is_err());
    let first = rig.store(status(0));
    let mut session = rig.open(0).await;
    take(&mut session, &mut NoInbox, 2).await;
    rig.stop.cancel();
    assert_eq!(
        take(&mut session, &mut NoInbox, 1).await,
        vec![end(DisconnectReason::GoingAway, Some(first))]
    );
}

#[tokio::test]
async fn events_purged_while_a_viewer_catches_up_give_a_fresh_greeting_not_a_gap() {
    // The window (2) is far ahead: the viewer pages through the log (256 a read), and the
    // events after its first page are purged before it reads the second.
    let rig = rig(2, 8, LINGER);
    let stored = rig.steps(300);
    let mut session = rig.open(stored[0]).await;
    let first = take(&mut session, &mut NoInbox, 1 + 256).await;
    assert_eq!(first[0], hello(stored[299], true));
    assert_eq!(first[1..], events(&stored[1..=256])[..]);
    rig.log.purge(BUILD, stored[280]);
    assert_eq!(
        take(&mut session, &mut NoInbox, 2).await,
        vec![hello(stored[299], false), Seen::Snapshot(stored[299])]
    );
    let live = rig.store(status(300));
    assert_eq!(take(&mut session, &mut NoInbox, 1).await, events(&[live]));
    assert!(quiet(&mut session).await.is_empty(), "nothing twice");
}
