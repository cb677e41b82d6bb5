//! Issue 17, export and restore, end to end: `buildwire up` on a real nats-server with
//! real npm builds a todo app, a follow-up adds search, then a restore of the first build
//! (no LLM) is built and deployed again: its preview serves the same bytes as the first
//! build's, its ZIP unpacks to the tree the first build saved, its webhooks go to its own
//! `webhookUrl` (signed, Standard Webhooks) instead of `MAIN_APP_URL`, and the project's
//! next follow-up starts from the restored tree (search is added again).

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use buildwire_runtime::objects::{FileTree, Sources};
use buildwire_testkit::NatsFixture;
use buildwire_webhook_receiver::{Receiver, secret};
use serde_json::{Value, json};

use common::Api;

/// The preview's `index.html` and every asset it loads, by path.
async fn preview_files(api: &Api, preview: &str) -> BTreeMap<String, Vec<u8>> {
    let get = |url: String| async move {
        let answer = api.http.get(&url).send().await.expect("preview");
        assert_eq!(answer.status().as_u16(), 200, "{url}");
        answer.bytes().await.expect("body").to_vec()
    };
    let html = get(preview.to_string()).await;
    let text = String::from_utf8_lossy(&html).into_owned();
    let mut files = BTreeMap::from([("index.html".to_string(), html)]);
    for piece in text.split("./assets/").skip(1) {
        let asset = format!("assets/{}", piece.split('"').next().unwrap_or_default());
        let body = get(format!("{preview}{asset}")).await;
        files.insert(asset, body);
    }
    assert!(files.len() > 1, "index.html loads assets: {text}");
    files
}

/// `GET /v1/builds/{id}/source.zip` with `token`, unpacked below its one top folder.
async fn source_zip(api: &Api, build_id: &str, token: &str) -> FileTree {
    let answer = api
        .http
        .get(format!(
            "{}/v1/builds/{build_id}/source.zip?token={token}",
            api.base
        ))
        .send()
        .await
        .expect("zip");
    assert_eq!(answer.status().as_u16(), 200);
    let bytes = answer.bytes().await.expect("body");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    let mut tree = FileTree::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).expect("entry");
        let name = file.name().expect("name").to_string();
        let (_, path) = name.split_once('/').expect("under one folder");
        let mut content = String::new();
        file.read_to_string(&mut content).expect("text");
        tree.insert(path.to_string(), content);
    }
    tree
}

fn last_preview(events: &[Value]) -> String {
    let last = events.last().expect("events");
    assert_eq!(last["type"], "complete", "{events:#?}");
    last["previewUrl"].as_str().expect("previewUrl").to_string()
}

fn files_touched(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "task_completed")
        .flat_map(|e| {
            ["filesCreated", "filesModified"]
                .into_iter()
                .flat_map(|f| e["details"][f].as_array().cloned().unwrap_or_default())
        })
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect()
}

/// The receiver's verified `complete` of `build_id`, within `limit`.
async fn completion(receiver: &Receiver, build_id: &str, limit: Duration) -> Option<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let found = receiver
            .accepted()
            .into_iter()
            .find(|d| d.event["buildId"] == build_id && d.event["type"] == "complete");
        if let Some(delivery) = found {
            assert_eq!(delivery.verified, Ok(()), "signed per Standard Webhooks");
            return Some(delivery.event);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_rebuilds_the_earlier_tree_and_the_next_follow_up_starts_from_it() {
    let fixture = NatsFixture::start();
    let key = secret();
    let main_app = Receiver::start(&key).await;
    let own = Receiver::start(&key).await;
    let main_url = main_app.url();
    let (base, _data, _up) = common::up(
        &fixture.url(),
        &[
            ("MAIN_APP_URL", main_url.as_str()),
            ("MAIN_APP_WEBHOOK_SECRET", key.as_str()),
            ("BUILDWIRE_WEBHOOK_ALLOW_PRIVATE", "1"),
        ],
    )
    .await;
    let api = Api::new(&base);
    let nats = buildwire_testkit::connect(&fixture.url()).await;
    let sources = Sources::open(&nats).await.expect("sources");
    let user = json!("user-r");

    let first = api
        .submit(&json!({"prompt": "Create a todo app with dark mode", "userId": user, "projectId": "proj-r"}))
        .await;
    let first_id = first["buildId"].as_str().expect("id").to_string();
    let first_preview = last_preview(&api.finished(&first_id).await);
    let first_files = preview_files(&api, &first_preview).await;
    let first_tree = sources
        .of_build(&first_id)
        .await
        .expect("read")
        .expect("saved");
    let token = first["buildToken"].as_str().expect("token");
    assert_eq!(
        source_zip(&api, &first_id, token).await,
        first_tree,
        "the ZIP unpacks to the tree the build used"
    );

    let search = api
        .submit(&json!({"prompt": "Add a search feature", "userId": user, "projectId": "proj-r", "parentBuildId": first_id}))
        .await;
    let search_id = search["buildId"].as_str().expect("id").to_string();
    let search_events = api.finished(&search_id).await;
    last_preview(&search_events);

    // The restore: one planned task, no LLM, built and deployed like any build.
    let restore = api
        .submit(&json!({
            "prompt": "Restore the first version",
            "userId": user,
            "restoreFromBuildId": first_id,
            "webhookUrl": own.url(),
        }))
        .await;
    let restore_id = restore["buildId"].as_str().expect("id").to_string();
    let events = api.finished(&restore_id).await;
    let plan = events
        .iter()
        .find(|e| e["type"] == "plan_generated")
        .expect("plan_generated");
    let tasks = plan["plan"]["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(tasks.len(), 1, "{plan}");
    assert!(
        tasks[0]["name"]
            .as_str()
            .is_some_and(|n| n.contains(&first_id)),
        "{plan}"
    );
    assert!(!events.iter().any(|e| e["type"] == "usage"), "no LLM call");
    for kind in ["build_completed", "deploy_completed"] {
        assert!(events.iter().any(|e| e["type"] == kind), "{kind}");
    }
    let restored_preview = last_preview(&events);
    assert_ne!(restored_preview, first_preview);
    assert_eq!(
        preview_files(&api, &restored_preview).await,
        first_files,
        "the restore's preview serves the first build's bytes"
    );
    let restored_tree = sources
        .of_build(&restore_id)
        .await
        .expect("read")
        .expect("saved");
    assert_eq!(restored_tree, first_tree);
    assert_eq!(
        sources.of_project("proj-r").await.expect("read"),
        Some(first_tree.clone()),
        "the restore joined the first build's project and is its newest tree"
    );
    let token = restore["buildToken"].as_str().expect("token");
    assert_eq!(source_zip(&api, &restore_id, token).await, first_tree);

    // Its webhook went to its own URL, not to MAIN_APP_URL.
    let hook = completion(&own, &restore_id, Duration::from_secs(30))
        .await
        .expect("the restore's complete reached its webhookUrl");
    assert_eq!(hook["previewUrl"].as_str(), Some(restored_preview.as_str()));
    assert!(
        completion(&main_app, &first_id, Duration::from_secs(30))
            .await
            .is_some(),
        "other builds still go to MAIN_APP_URL"
    );
    assert!(
        completion(&main_app, &restore_id, Duration::from_secs(2))
            .await
            .is_none(),
        "the per-build URL overrides MAIN_APP_URL"
    );

    // The project's next follow-up starts from the restored tree: search is added again,
    // touching what the search build touched.
    let again = api
        .submit(&json!({"prompt": "Add a search feature", "userId": user, "projectId": "proj-r"}))
        .await;
    let again_id = again["buildId"].as_str().expect("id").to_string();
    let again_events = api.finished(&again_id).await;
    last_preview(&again_events);
    let mut touched = files_touched(&again_events);
    let mut expected = files_touched(&search_events);
    touched.sort();
    expected.sort();
    assert!(
        !touched.is_empty(),
        "the follow-up changed the restored files"
    );
    assert_eq!(touched, expected);
}
