//! The notifier against a real nats-server (running as the `notify` NATS user) and a local
//! webhook receiver that verifies every signature with its own Standard Webhooks code:
//! terminal events arrive once each, signed, bodies as on the wire; `status` events only
//! when configured; a receiver answering 503 and then down gets everything once back, in
//! order, ids unchanged; 410 stops retries; a window that passes gives up and moves on;
//! internal targets are refused without `BUILDWIRE_WEBHOOK_ALLOW_PRIVATE`.

use std::collections::HashMap;
use std::time::Duration;

use buildwire_notify::{Metrics, NotifyOptions, RetryPolicy, Secret};
use buildwire_runtime::Config;
use buildwire_runtime::nats::{Nats, Role};
use buildwire_runtime::publish::Publisher;
use buildwire_schemas::events::{
    Cancelled, Complete, DeployLog, ErrorSeverity, Failed, Severity, StatusCode, StatusUpdate,
};
use buildwire_schemas::{BuildStatus, Event, EventBody, Stage};
use buildwire_testkit::{NatsFixture, applied, connect, eventually, stored_events};
use buildwire_webhook_receiver::{Delivery, Receiver, secret};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Env {
    _fixture: NatsFixture,
    admin: Nats,
    notifier_nats: Nats,
    publisher: Publisher,
}

async fn env() -> Env {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fixture = NatsFixture::start();
    let admin = applied(&fixture.url()).await;
    let notifier_nats = connect(&fixture.url_as(Role::Notify)).await;
    Env {
        publisher: Publisher::new(admin.js.clone()),
        _fixture: fixture,
        admin,
        notifier_nats,
    }
}

fn options(url: &str, secret: &str, status_events: bool) -> NotifyOptions {
    NotifyOptions {
        url: url.parse().expect("url"),
        secret: Secret::parse(secret).expect("secret"),
        status_events,
        allow_private: true,
        retry: RetryPolicy {
            window: Duration::from_secs(300),
            first: Duration::from_millis(100),
            max: Duration::from_millis(400),
            request_timeout: Duration::from_secs(2),
        },
        links: None,
        build_targets: None,
    }
}

fn spawn(
    env: &Env,
    options: NotifyOptions,
    metrics: &Metrics,
) -> (JoinHandle<()>, CancellationToken) {
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (nats, metrics, stop) = (env.notifier_nats.clone(), metrics.clone(), stop.clone());
        async move {
            buildwire_notify::run(nats, options, metrics, stop)
                .await
                .expect("the notifier runs");
        }
    });
    (task, stop)
}

fn status(code: StatusCode) -> EventBody {
    EventBody::Status(StatusUpdate {
        code,
        message: format!("{code:?}"),
        progress: Some(10),
        build_status: Some(BuildStatus::Planning),
    })
}

fn log(line: &str) -> EventBody {
    EventBody::DeployLog(DeployLog {
        message: line.into(),
        level: Severity::Info,
    })
}

fn ending(kind: usize) -> EventBody {
    match kind % 3 {
        0 => EventBody::Complete(Complete {
            preview_url: "https://x.pages.dev/".into(),
            message: "Your app is ready!".into(),
            build_log_url: None,
        }),
        1 => EventBody::Failed(Failed {
            stage: Stage::Build,
            code: "NPM_BUILD_FAILED".into(),
            message: "npm run build exited with 2".into(),
            severity: ErrorSeverity::Fatal,
        }),
        _ => EventBody::Cancelled(Cancelled {
            message: "Cancelled".into(),
            stage: Some(Stage::Build),
        }),
    }
}

/// Publishes a build: two statuses, a log line, its end.
async fn build(env: &Env, n: usize) -> String {
    let id = ulid::Ulid::generate().to_string();
    let bodies = [
        status(StatusCode::Queued),
        log("hello"),
        status(StatusCode::Analyze),
        ending(n),
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        let event = Event::new(&id, format!("req-{id}"), body);
        env.publisher
            .event(&event, &format!("{id}:test:{i}"))
            .await
            .expect("stored");
    }
    id
}

/// The stored events of `builds` that the notifier sends, as (webhook id, body).
async fn expected(env: &Env, builds: &[String], status_events: bool) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for id in builds {
        for event in stored_events(&env.admin, id).await {
            if event.is_terminal() || (status_events && matches!(event.body, EventBody::Status(_)))
            {
                all.push((
                    format!("evt_{}_{}", event.build_id, event.seq),
                    serde_json::to_string(&event).expect("json"),
                ));
            }
        }
    }
    all
}

/// Waits until `receiver` accepted `count` webhooks.
async fn accepted(receiver: &Receiver, count: usize, limit: Duration) -> Vec<Delivery> {
    eventually(limit, "the webhooks", || async {
        let accepted = receiver.accepted();
        (accepted.len() >= count).then_some(accepted)
    })
    .await
}

fn by_id(deliveries: &[Delivery]) -> HashMap<String, String> {
    deliveries
        .iter()
        .map(|d| (d.id.clone(), d.body.clone()))
        .collect()
}

#[tokio::test]
async fn terminal_events_arrive_signed_once_each_and_status_only_when_asked() {
    let env = env().await;
    let key = secret();
    let receiver = Receiver::start(&key).await;
    let metrics = Metrics::new();
    let (task, stop) = spawn(&env, options(&receiver.url(), &key, false), &metrics);
    let builds = vec![
        build(&env, 0).await,
        build(&env, 1).await,
        build(&env, 2).await,
    ];
    let want = expected(&env, &builds, false).await;
    assert_eq!(want.len(), 3);
    let got = accepted(&receiver, 3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_all = receiver.deliveries();
    assert_eq!(got_all.len(), 3, "nothing else sent: {got_all:#?}");
    for (delivery, (id, body)) in got.iter().zip(&want) {
        assert_eq!(delivery.verified, Ok(()), "{delivery:#?}");
        assert_eq!(&delivery.id, id, "stream order, stable ids");
        assert_eq!(
            &delivery.body, body,
            "the event as on the wire, seq included"
        );
        assert!(delivery.event["seq"].as_u64().is_some_and(|s| s > 0));
    }
    assert_eq!(metrics.count("delivered"), 3);
    assert!(
        metrics
            .encode()
            .contains("buildwire_notify_webhooks_total{outcome=\"delivered\"} 3")
    );
    stop.cancel();
    task.await.expect("stops");

    // Another endpoint configuration, same durable consumer: statuses too, from where the
    // consumer stands (nothing sent twice).
    let key = secret();
    let receiver = Receiver::start(&key).await;
    let (task, stop) = spawn(&env, options(&receiver.url(), &key, true), &Metrics::new());
    let builds = vec![build(&env, 0).await];
    let want = expected(&env, &builds, true).await;
    assert_eq!(want.len(), 3, "two statuses and the end");
    let got = accepted(&receiver, 3, Duration::from_secs(20)).await;
    let ids: Vec<&String> = got.iter().map(|d| &d.id).collect();
    assert_eq!(ids, want.iter().map(|(id, _)| id).collect::<Vec<_>>());
    stop.cancel();
    task.await.expect("stops");
}

#[tokio::test]
async fn a_receiver_that_fails_then_is_down_gets_everything_once_back() {
    let env = env().await;
    let key = secret();
    let mut receiver = Receiver::start(&key).await;
    receiver.answer(503);
    let metrics = Metrics::new();
    let (task, stop) = spawn(&env, options(&receiver.url(), &key, false), &metrics);
    let mut builds = vec![build(&env, 0).await, build(&env, 1).await];
    // Refused for a while: the first webhook is retried, the rest wait behind it.
    eventually(
        Duration::from_secs(10),
        "three refused attempts",
        || async { (receiver.deliveries().len() >= 3).then_some(()) },
    )
    .await;
    // Then down altogether (connections refused), while builds keep ending.
    receiver.stop().await;
    builds.push(build(&env, 2).await);
    builds.push(build(&env, 0).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    receiver.answer(200);
    receiver.resume().await;
    let want = expected(&env, &builds, false).await;
    let got = accepted(&receiver, want.len(), Duration::from_secs(30)).await;
    assert_eq!(
        got.iter()
            .map(|d| (d.id.clone(), d.body.clone()))
            .collect::<Vec<_>>(),
        want,
        "everything, in order, once each"
    );
    assert!(got.iter().all(|d| d.verified == Ok(())));
    // Every refused attempt carried the id its event was finally delivered with.
    let delivered = by_id(&got);
    for refused in receiver.deliveries().iter().filter(|d| d.status == 503) {
        assert_eq!(
            delivered.get(&refused.id),
            Some(&refused.body),
            "one id per event"
        );
    }
    let text = metrics.encode();
    assert!(
        text.contains("webhook_attempts_total{result=\"5xx\"}"),
        "{text}"
    );
    assert!(
        text.contains("webhook_attempts_total{result=\"error\"}"),
        "{text}"
    );
    assert_eq!(metrics.count("delivered"), 4);
    stop.cancel();
    task.await.expect("stops");
}

#[tokio::test]
async fn gone_stops_retrying_and_an_expired_window_moves_on() {
    let env = env().await;
    let key = secret();
    let receiver = Receiver::start(&key).await;
    receiver.answer(410);
    let metrics = Metrics::new();
    let (task, stop) = spawn(&env, options(&receiver.url(), &key, false), &metrics);
    let builds = vec![build(&env, 0).await, build(&env, 1).await];
    eventually(Duration::from_secs(10), "both gone", || async {
        (metrics.count("gone") == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        receiver.deliveries().len(),
        2,
        "one POST per event after a 410"
    );
    assert_eq!(expected(&env, &builds, false).await.len(), 2);
    stop.cancel();
    task.await.expect("stops");

    // A window of 1 s: an endpoint answering 500 is given up on, then the next goes.
    receiver.answer(500);
    let mut short = options(&receiver.url(), &key, false);
    short.retry.window = Duration::from_secs(1);
    let (task, stop) = spawn(&env, short, &metrics);
    build(&env, 2).await;
    eventually(Duration::from_secs(10), "expired", || async {
        (metrics.count("expired") == 1).then_some(())
    })
    .await;
    stop.cancel();
    task.await.expect("stops");
}

#[tokio::test]
async fn internal_targets_are_refused_without_the_setting() {
    let env = env().await;
    let key = secret();
    let receiver = Receiver::start(&key).await;
    for url in [
        receiver.url(),
        receiver.url().replace("127.0.0.1", "localhost"),
    ] {
        let mut refused = options(&url, &key, false);
        refused.allow_private = false;
        let err = buildwire_notify::run(
            env.notifier_nats.clone(),
            refused,
            Metrics::new(),
            CancellationToken::new(),
        )
        .await
        .expect_err("refused at start");
        let text = err.to_string();
        assert!(
            text.contains("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE") && text.contains("MAIN_APP_URL"),
            "{text}"
        );
    }
    // From the settings, as `buildwire notify` reads them.
    let config = Config {
        main_app_url: Some(receiver.url()),
        main_app_webhook_secret: Some(key.clone()),
        jwt_keys: Some("k1:0123456789abcdef0123456789abcdef".into()),
        ..Config::default()
    };
    let options = NotifyOptions::from_config(&config).expect("parsed");
    assert!(options.sender(&Metrics::new()).await.is_err());
    let allowed = Config {
        webhook_allow_private: true,
        ..config
    };
    assert!(
        NotifyOptions::from_config(&allowed)
            .expect("parsed")
            .sender(&Metrics::new())
            .await
            .is_ok()
    );
    assert!(receiver.deliveries().is_empty());
}
