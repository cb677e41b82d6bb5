//! Issue 17 at the edge, with a real nats-server and no stages: `source.zip` (who may
//! download, what it holds, 404 / 409), the deploy log behind its signed link (history and
//! SSE replay sign it, the route serves it), and the refusals of `webhookUrl` and
//! `restoreFromBuildId` in `POST /v1/builds`.

use std::io::Read;

use buildwire_runtime::objects::{Bucket, FileTree, Sources};
use buildwire_schemas::EventBody;
use buildwire_schemas::events::DeployUpdate;
use buildwire_testkit::{NatsFixture, connect};
use serde_json::{Value, json};

use crate::edge_clients::{Node, SERVICE_KEY, Stages, http, post_build as post, watch_sse};

async fn accepted(node: &Node, body: Value) -> Value {
    let (status, answer) = post(node, body).await;
    assert_eq!(status, 202, "{answer}");
    answer
}

/// The archive's entries: the top folder, and path -> content below it.
fn unzip(bytes: &[u8]) -> (String, FileTree) {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    let (mut top, mut tree) = (String::new(), FileTree::new());
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).expect("entry");
        let name = file.name().expect("name").to_string();
        let (folder, path) = name.split_once('/').expect("under a folder");
        assert!(top.is_empty() || top == folder, "one top folder: {name}");
        top = folder.to_string();
        assert!(file.enclosed_name().is_some(), "{name} stays inside");
        let mut content = String::new();
        file.read_to_string(&mut content).expect("read");
        tree.insert(path.to_string(), content);
    }
    (top, tree)
}

fn tree() -> FileTree {
    [
        ("package.json", "{\"name\":\"todo\"}\n"),
        ("index.html", "<!doctype html><div id=\"root\"></div>\n"),
        (
            "src/App.tsx",
            "export default function App() { return null }\n",
        ),
        (
            "src/components/TodoList.tsx",
            "export const TodoList = () => null;\n",
        ),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_string(), c.to_string()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_zip_is_the_saved_tree_for_the_key_or_the_build_s_token_only() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let sources = Sources::open(&nats).await.expect("sources");
    let saved = accepted(
        &node,
        json!({"prompt": "Create a todo app", "userId": "alice", "projectId": "team@x:todo"}),
    )
    .await;
    let other = accepted(
        &node,
        json!({"prompt": "Create a notes app", "userId": "alice"}),
    )
    .await;
    let id = saved["buildId"].as_str().expect("id");
    let other_id = other["buildId"].as_str().expect("id");
    sources
        .save(id, Some("team@x:todo"), &tree())
        .await
        .expect("save");
    let url = format!("{}/v1/builds/{id}/source.zip", node.http());

    let answer = http().get(&url).send().await.expect("get");
    assert_eq!(answer.status().as_u16(), 401, "no credentials");
    let problem: Value = answer.json().await.expect("problem");
    assert_eq!(problem["code"], "TOKEN_MISSING");
    let answer = http()
        .get(format!(
            "{url}?token={}",
            other["buildToken"].as_str().expect("t")
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(answer.status().as_u16(), 403, "another build's token");
    let problem: Value = answer.json().await.expect("problem");
    assert_eq!(problem["code"], "TOKEN_WRONG_BUILD");

    let by_token = http()
        .get(&url)
        .bearer_auth(saved["buildToken"].as_str().expect("t"))
        .send()
        .await
        .expect("get");
    assert_eq!(by_token.status().as_u16(), 200);
    assert_eq!(by_token.headers()["content-type"], "application/zip");
    let name = format!("team-x-todo-{id}");
    assert_eq!(
        by_token.headers()["content-disposition"],
        format!("attachment; filename=\"{name}.zip\"").as_str()
    );
    let (top, unpacked) = unzip(&by_token.bytes().await.expect("body"));
    assert_eq!(top, name);
    let stored = sources.of_build(id).await.expect("read").expect("saved");
    assert_eq!(unpacked, stored, "the ZIP unpacks to the saved tree");
    let by_key = http()
        .get(format!("{url}?token=not-a-jwt"))
        .bearer_auth(SERVICE_KEY)
        .send()
        .await
        .expect("get");
    assert_eq!(by_key.status().as_u16(), 200, "the service key");
    assert_eq!(unzip(&by_key.bytes().await.expect("body")).1, stored);

    // A known build without a saved tree, and a build nobody has.
    for (build, status, code) in [
        (other_id, 409, "SOURCE_NOT_SAVED"),
        ("01J00000000000000000000000", 404, "BUILD_NOT_FOUND"),
    ] {
        let answer = http()
            .get(format!("{}/v1/builds/{build}/source.zip", node.http()))
            .bearer_auth(SERVICE_KEY)
            .send()
            .await
            .expect("get");
        assert_eq!(answer.status().as_u16(), status);
        let problem: Value = answer.json().await.expect("problem");
        assert_eq!(problem["code"], code);
    }
    // A tree holding a path that would leave the folder is never sent.
    let mut bad = tree();
    bad.insert("../../etc/cron.d/x".into(), "x".into());
    sources.save(other_id, None, &bad).await.expect("save");
    let answer = http()
        .get(format!("{}/v1/builds/{other_id}/source.zip", node.http()))
        .bearer_auth(SERVICE_KEY)
        .send()
        .await
        .expect("get");
    assert_eq!(answer.status().as_u16(), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_log_is_served_behind_a_fresh_signed_link_on_every_path() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let build = accepted(
        &node,
        json!({"prompt": "Create a todo app", "userId": "u1"}),
    )
    .await;
    let id = build["buildId"].as_str().expect("id");
    let logs = Bucket::open(&nats, "logs").await.expect("logs");
    let text = "Initializing build environment\nSuccess: deployed\n";
    logs.put(&format!("{id}/deploy.log"), text.as_bytes())
        .await
        .expect("put");
    let mut stages = Stages::new(&nats, id);
    stages
        .publish(EventBody::DeployCompleted(DeployUpdate {
            preview_url: Some("https://p.example.com/".into()),
            deployment_id: Some("dep-1".into()),
            deploy_log_url: Some(format!("/v1/builds/{id}/logs/deploy")),
            message: Some("Deployed".into()),
            ..DeployUpdate::default()
        }))
        .await;
    stages.complete().await;

    let page: Value = http()
        .get(format!("{}/v1/builds/{id}/events", node.http()))
        .bearer_auth(SERVICE_KEY)
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("json");
    let events = page["events"].as_array().cloned().unwrap_or_default();
    let deployed = events
        .iter()
        .find(|e| e["type"] == "deploy_completed")
        .expect("deploy_completed");
    let link = deployed["deployLogUrl"].as_str().expect("a link");
    let prefix = format!("{}/v1/builds/{id}/logs/deploy?", node.http());
    assert!(link.starts_with(&prefix), "signed absolute link: {link}");

    let answer = http().get(link).send().await.expect("get");
    assert_eq!(answer.status().as_u16(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    assert_eq!(answer.text().await.expect("text"), text);
    let tampered = link.replace("sig=", "sig=0");
    let answer = http().get(&tampered).send().await.expect("get");
    assert_eq!(answer.status().as_u16(), 403);
    // The build log's signature does not open the deploy log.
    let build_link = link.replace("/logs/deploy?", "/logs/build?");
    assert_eq!(
        http()
            .get(&build_link)
            .send()
            .await
            .expect("get")
            .status()
            .as_u16(),
        403
    );

    // The SSE replay signs it too.
    let token = build["buildToken"].as_str().expect("t");
    let (status, seen) = watch_sse(&node.sse(id, token), None).await;
    assert_eq!(status, 200);
    let replayed = seen
        .messages
        .iter()
        .find(|e| e["type"] == "deploy_completed")
        .expect("replayed");
    let link = replayed["deployLogUrl"].as_str().expect("a link");
    assert!(link.starts_with(&prefix), "{link}");
    assert_eq!(
        http()
            .get(link)
            .send()
            .await
            .expect("get")
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_urls_and_restores_are_refused_with_the_field_s_code() {
    let fixture = NatsFixture::start();
    let node = Node::start(&fixture.url()).await;
    let nats = connect(&fixture.url()).await;
    let base = json!({"prompt": "Create a todo app", "userId": "alice"});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    for url in [
        json!("http://127.0.0.1:9/hooks"),
        json!("http://localhost/hooks"),
        json!("http://[::1]/hooks"),
        json!("https://10.1.2.3/hooks"),
        json!("http://169.254.169.254/latest"),
        json!("ftp://hooks.example.com/"),
        json!("not a url"),
        json!("https://hooks.example.com/a\r\nNats-Msg-Id: x"),
        json!(" https://hooks.example.com/"),
        json!("https://user:pw@hooks.example.com/"),
        json!(format!("https://hooks.example.com/{}", "a".repeat(2100))),
        json!(5),
    ] {
        let (status, problem) = post(&node, with("webhookUrl", url.clone())).await;
        assert_eq!(status, 422, "{url}: {problem}");
        assert_eq!(problem["code"], "INVALID_WEBHOOK_URL", "{url}");
    }
    let (status, body) = post(
        &node,
        with("webhookUrl", json!("https://hooks.example.com/b")),
    )
    .await;
    assert_eq!(status, 202, "a public endpoint: {body}");

    // Restores.
    let first = accepted(
        &node,
        json!({"prompt": "Create a todo app", "userId": "alice", "projectId": "p1"}),
    )
    .await;
    let first_id = first["buildId"].as_str().expect("id");
    let mut restore = with("restoreFromBuildId", json!(first_id));
    restore["parentBuildId"] = json!(first_id);
    let (status, problem) = post(&node, restore).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "INVALID_RESTORE_FROM_BUILD_ID");
    let (status, problem) = post(&node, with("restoreFromBuildId", json!("../x"))).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (422, json!("INVALID_RESTORE_FROM_BUILD_ID"))
    );
    for (user, from) in [
        ("alice", "01J00000000000000000000000"),
        ("mallory", first_id),
    ] {
        let mut body = with("restoreFromBuildId", json!(from));
        body["userId"] = json!(user);
        let (status, problem) = post(&node, body).await;
        assert_eq!(status, 404, "{problem}");
        assert_eq!(problem["code"], "RESTORE_BUILD_NOT_FOUND");
    }
    let (status, problem) = post(&node, with("restoreFromBuildId", json!(first_id))).await;
    assert_eq!(status, 409, "no saved tree yet: {problem}");
    assert_eq!(problem["code"], "SOURCE_NOT_SAVED");
    Sources::open(&nats)
        .await
        .expect("sources")
        .save(first_id, Some("p1"), &tree())
        .await
        .expect("save");
    let mut other_project = with("restoreFromBuildId", json!(first_id));
    other_project["projectId"] = json!("p2");
    let (status, problem) = post(&node, other_project).await;
    assert_eq!(status, 404, "a restore stays in its project: {problem}");
    assert_eq!(problem["code"], "RESTORE_BUILD_NOT_FOUND");
    let (status, body) = post(&node, with("restoreFromBuildId", json!(first_id))).await;
    assert_eq!(status, 202, "{body}");
}
