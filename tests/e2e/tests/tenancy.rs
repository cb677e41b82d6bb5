//! Issue 15, tenancy: a project belongs to the user whose build first named it, a build to
//! the user who submitted it. Another user naming either gets 404 (as for one that does
//! not exist), on every edge node; the owner's follow-ups are accepted on any node.

use buildwire_testkit::NatsFixture;
use serde_json::json;

use crate::edge_clients::{Node, post_build as post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_s_project_or_parent_build_is_not_found_on_every_node() {
    let fixture = NatsFixture::start();
    let a = Node::start(&fixture.url()).await;
    let b = Node::start(&fixture.url()).await;
    let (status, first) = post(
        &a,
        json!({"prompt": "Create a todo app", "userId": "alice", "projectId": "shared-name"}),
    )
    .await;
    assert_eq!(status, 202, "{first}");
    let alice_build = first["buildId"].as_str().expect("id").to_string();

    for node in [&a, &b] {
        let (status, refused) = post(
            node,
            json!({"prompt": "Add a search feature", "userId": "mallory", "projectId": "shared-name"}),
        )
        .await;
        assert_eq!(status, 404, "another user's project: {refused}");
        assert_eq!(refused["code"], "PROJECT_NOT_FOUND");
        let (status, refused) = post(
            node,
            json!({"prompt": "Add a search feature", "userId": "mallory", "parentBuildId": alice_build}),
        )
        .await;
        assert_eq!(status, 404, "another user's build: {refused}");
        assert_eq!(refused["code"], "PARENT_BUILD_NOT_FOUND");
        // Same answer as a build nobody has: existence does not leak.
        let (status, unknown) = post(
            node,
            json!({"prompt": "Add a search feature", "userId": "mallory", "parentBuildId": "01J00000000000000000000000"}),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(unknown["code"], refused["code"]);
    }
    // The owner's follow-ups, on either node.
    for node in [&b, &a] {
        let (status, body) = post(
            node,
            json!({"prompt": "Add a search feature", "userId": "alice", "projectId": "shared-name", "parentBuildId": alice_build}),
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }
    // A project nobody had yet is claimed by whoever names it first.
    let (status, body) = post(
        &b,
        json!({"prompt": "Create a notes app", "userId": "mallory", "projectId": "mallorys-own"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
}
