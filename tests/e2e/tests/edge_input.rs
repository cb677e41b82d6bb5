//! What the API refuses in a submission before anything is queued: JSON of the wrong
//! type (422 naming the field, never read as a string) and `Idempotency-Key` values that
//! are not visible ASCII (400, never ignored into a second build).

use buildwire_testkit::{NatsFixture, connect};
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use crate::edge_api::problem;
use crate::edge_clients::{Node, SERVICE_KEY, http};

/// How many builds the edge queued (plan commands waiting in `CMDS`).
async fn queued(nats: &buildwire_runtime::nats::Nats) -> u64 {
    let mut stream = nats.js.get_stream("CMDS").await.expect("CMDS");
    stream.info().await.expect("info").state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_json_types_and_bad_idempotency_keys_are_refused() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let client = http();
    let url = format!("{}/v1/builds", node.http());
    let post = |body: Value, key: Option<HeaderValue>| {
        let mut request = client.post(&url).bearer_auth(SERVICE_KEY).json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send()
    };

    for (body, code) in [
        (
            json!({ "prompt": "Create a todo app", "userId": false }),
            "INVALID_USER_ID",
        ),
        (json!({ "prompt": 5, "userId": "user-1" }), "INVALID_PROMPT"),
        (json!({ "prompt": "Create a todo app" }), "INVALID_USER_ID"),
        (
            json!({ "prompt": "Create a todo app", "userId": "u", "projectId": 7 }),
            "INVALID_PROJECT_ID",
        ),
        (json!(["Create a todo app"]), "INVALID_BODY"),
    ] {
        let (status, refusal) = problem(post(body.clone(), None).await.expect("send")).await;
        assert_eq!(
            (status, refusal["code"].as_str()),
            (422, Some(code)),
            "{body}"
        );
        assert!(refusal["detail"].is_string());
    }
    // `null` is an absent optional field.
    let accepted = post(
        json!({ "prompt": "Create a todo app", "userId": "user-1", "projectId": null }),
        None,
    )
    .await
    .expect("send");
    assert_eq!(accepted.status().as_u16(), 202);
    assert_eq!(queued(&nats).await, 1);

    // A key that is not visible ASCII is refused, twice, and queues nothing.
    let good = json!({ "prompt": "Create a notes app", "userId": "user-1" });
    for key in ["clé-42".as_bytes(), b"order 42"] {
        for _ in 0..2 {
            let value = HeaderValue::from_bytes(key).expect("header bytes");
            let (status, refusal) =
                problem(post(good.clone(), Some(value)).await.expect("send")).await;
            assert_eq!(
                (status, refusal["code"].as_str()),
                (400, Some("INVALID_IDEMPOTENCY_KEY")),
                "{key:?}"
            );
        }
    }
    assert_eq!(queued(&nats).await, 1, "no build for a refused key");
    // Two keys at once are refused too.
    let (status, refusal) = problem(
        client
            .post(&url)
            .bearer_auth(SERVICE_KEY)
            .header("Idempotency-Key", "order-1")
            .header("Idempotency-Key", "order-2")
            .json(&good)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (status, refusal["code"].as_str()),
        (400, Some("INVALID_IDEMPOTENCY_KEY"))
    );
}
