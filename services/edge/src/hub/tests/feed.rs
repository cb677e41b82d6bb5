//! The feed: window edges, gaps and refetches, slow viewers, its lifetime.

use super::*;

#[tokio::test]
async fn resumes_inside_the_window_read_no_log_and_its_edges_are_exact() {
    let rig = rig(4, 8, LINGER);
    let stored = rig.steps(10);
    let mut first = rig.open(stored[9]).await;
    assert_eq!(
        take(&mut first, &mut NoInbox, 1).await,
        vec![hello(stored[9], true)]
    );
    let reads = rig.log.reads();
    // The window keeps the last 4: it covers its edge (the last dropped event), 6.
    let mut at_edge = rig.open(stored[5]).await;
    let mut expected = vec![hello(stored[9], true)];
    expected.extend(events(&stored[6..]));
    assert_eq!(take(&mut at_edge, &mut NoInbox, 5).await, expected);
    assert_eq!(rig.log.reads(), reads, "no log read inside the window");
    // One event further back is the log's: every event once all the same.
    let mut before = rig.open(stored[4]).await;
    let mut expected = vec![hello(stored[9], true)];
    expected.extend(events(&stored[5..]));
    assert_eq!(take(&mut before, &mut NoInbox, 6).await, expected);
    assert!(rig.log.reads() > reads, "read the log");
    assert!(rig.metric("buildwire_edge_stream_starts_total{from=\"window\"} 2"));
    assert!(rig.metric("buildwire_edge_stream_starts_total{from=\"history\"} 1"));
    // Live from there for both.
    let live = rig.store(status(99));
    assert_eq!(take(&mut at_edge, &mut NoInbox, 1).await, events(&[live]));
    assert_eq!(take(&mut before, &mut NoInbox, 1).await, events(&[live]));
}

#[tokio::test]
async fn a_build_without_the_edge_s_queued_event_is_whole_when_the_log_says_so() {
    // Stages alone published it (no `QUEUED` first): the log's answer decides, so a
    // viewer from 0 is served from the window.
    let rig = rig(8, 8, LINGER);
    let stored = rig.steps(3);
    let mut session = rig.open(0).await;
    assert_eq!(
        take(&mut session, &mut NoInbox, 4).await[1..],
        events(&stored)
    );
    let reads = rig.log.reads();
    let mut again = rig.open(0).await;
    assert_eq!(
        take(&mut again, &mut NoInbox, 4).await[1..],
        events(&stored)
    );
    assert_eq!(rig.log.reads(), reads);
}

#[tokio::test]
async fn a_gap_in_the_live_feed_is_refetched_from_the_log() {
    let (rig, first, mut session) = watched(8, 8).await;
    let missed = rig.store_unheard(status(1));
    let next = rig.store(status(2));
    assert_eq!(
        take(&mut session, &mut NoInbox, 2).await,
        events(&[missed, next])
    );
    assert!(rig.metric("buildwire_edge_history_refetches_total{reason=\"gap\"} 1"));
    assert!(quiet(&mut session).await.is_empty(), "once each");
    // A reconnect of NATS refetches too.
    let unheard = rig.store_unheard(status(3));
    rig.live.hear(BUILD, || Heard::Resync);
    assert_eq!(
        take(&mut session, &mut NoInbox, 1).await,
        events(&[unheard])
    );
    assert!(first < missed);
}

#[tokio::test]
async fn a_refetch_that_fails_is_retried_until_the_log_answers() {
    let (rig, _, mut session) = watched(8, 8).await;
    rig.log.fail(true);
    let missed = rig.store_unheard(status(1));
    let next = rig.store(status(2));
    assert!(quiet(&mut session).await.is_empty(), "nothing out of order");
    rig.log.fail(false);
    assert_eq!(
        take(&mut session, &mut NoInbox, 2).await,
        events(&[missed, next])
    );
}

#[tokio::test]
async fn a_slow_viewer_is_closed_while_the_window_still_serves_its_resume() {
    // The queue bound (2) and the window (8) are separate: the slow viewer is cut off at
    // 2 behind, and its resume still comes from memory.
    let (rig, first, mut slow) = watched(8, 2).await;
    let burst = rig.steps(5);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        take(&mut slow, &mut NoInbox, 1).await,
        vec![end(DisconnectReason::SlowConsumer, Some(first))]
    );
    assert!(rig.metric("buildwire_edge_slow_viewer_closes_total{transport=\"ws\"} 1"));
    let reads = rig.log.reads();
    let mut resumed = rig.open(first).await;
    let mut expected = vec![hello(burst[4], true)];
    expected.extend(events(&burst));
    assert_eq!(take(&mut resumed, &mut NoInbox, 6).await, expected);
    assert_eq!(rig.log.reads(), reads, "from the window");
}

#[tokio::test]
async fn one_feed_per_build_lingers_after_its_last_viewer_then_stops() {
    let rig = rig(8, 8, LINGER);
    rig.store(status(0));
    let (a, b) = tokio::join!(rig.open(0), rig.open(0));
    assert_eq!(
        rig.live.subscribers(BUILD),
        1,
        "one start for viewers arriving together"
    );
    assert_eq!(rig.hub.active_builds(), 1);
    drop((a, b));
    assert!(rig.metric("buildwire_edge_live_builds 1"), "lingering");
    let next = rig.store(status(1));
    // Back within the linger: the same feed, which kept receiving.
    let mut back = rig.open(0).await;
    assert_eq!(take(&mut back, &mut NoInbox, 3).await[2], Seen::Event(next));
    assert_eq!(rig.live.subscribers(BUILD), 1);
    drop(back);
    tokio::time::sleep(LINGER * 3).await;
    assert_eq!(rig.hub.active_builds(), 0);
    assert_eq!(rig.live.subscribers(BUILD), 0, "stopped after the linger");
    // Without a linger, the feed stops with its last viewer.
    let now = rig_without_linger();
    now.store(status(0));
    drop(now.open(0).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(now.live.subscribers(BUILD), 0);
}

fn rig_without_linger() -> Rig {
    rig(8, 8, Duration::ZERO)
}
