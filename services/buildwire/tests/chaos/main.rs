//! Issue 15, "in the repo, run by CI": a chaos test over a multi-process deployment (two
//! edge nodes, each stage its own process with two build workers, the recorder, a 3-node
//! NATS cluster, PostgreSQL). Each phase submits real npm builds, follows them with
//! WebSocket and SSE viewers on both edges, and SIGKILLs one part mid-build: a build
//! worker mid-install, an edge node, the recorder, a NATS node, the EVENTS stream leader,
//! PostgreSQL; the part is started again a moment later. After each: every build
//! complete, every viewer holding every stored event once and in order, the database
//! rows equal to the stream, nothing left in `CMDS` or awaiting an ack. The recovery
//! time and the table of figures are printed (`--no-capture`).

#[path = "../common/mod.rs"]
mod common;

mod checks;
mod faults;
mod stack;
mod viewers;

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use checks::Stored;
use faults::Fault;
use stack::Stack;
use viewers::{Edges, Transport, Viewer};

/// Builds in flight per phase.
const BUILDS: usize = 2;
/// Viewers per build: half WebSocket, half SSE, spread over both edges.
const VIEWERS_PER_BUILD: usize = 100;
/// Prompts of the offline provider's apps (each a real React + Vite project).
const PROMPTS: [&str; 4] = [
    "Create a todo app with dark mode",
    "Make a notes app",
    "Build a kanban board",
    "Create a stopwatch timer",
];
/// Longest a phase's builds may take after the fault (generous: CI machines vary).
const FINISH_WITHIN: Duration = Duration::from_secs(180);

/// One line of the table.
struct Row {
    fault: Fault,
    builds: String,
    viewers: String,
    recovery: String,
    done: Duration,
    problems: Vec<String>,
}

impl Row {
    fn line(&self) -> String {
        let result = if self.problems.is_empty() {
            "pass".to_string()
        } else {
            format!("FAIL ({} problems)", self.problems.len())
        };
        format!(
            "| {} | {} | {} | {} | {:.1} s | {result} |",
            self.fault.name(),
            self.builds,
            self.viewers,
            self.recovery,
            self.done.as_secs_f64()
        )
    }
}

const HEADER: &str = "| fault (kill -9) | builds | viewers (resumed) | recovery | all complete after the kill | result |\n| --- | --- | --- | --- | --- | --- |";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_and_viewers_come_through_kill_9_of_every_part() {
    let started = Instant::now();
    let mut stack = Stack::start().await;
    eprintln!(
        "chaos: deployment up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let http = viewers::http();
    let edges = Edges(std::sync::Arc::new(
        stack
            .edges
            .iter()
            .map(|e| e.addr.clone().expect("edge address"))
            .collect(),
    ));
    let mut rows = Vec::new();
    for (n, fault) in Fault::ALL.into_iter().enumerate() {
        stack.wait_healthy().await;
        let row = phase(&mut stack, &http, &edges, n, fault).await;
        eprintln!("chaos: {}", row.line());
        for problem in &row.problems {
            eprintln!("chaos:   {problem}");
        }
        let failed = !row.problems.is_empty();
        rows.push(row);
        if failed {
            break;
        }
    }
    let table: Vec<String> = rows.iter().map(Row::line).collect();
    eprintln!(
        "chaos: {:.0} s in all\n{HEADER}\n{}",
        started.elapsed().as_secs_f64(),
        table.join("\n")
    );
    let problems: Vec<&String> = rows.iter().flat_map(|r| &r.problems).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(rows.len(), Fault::ALL.len());
}

/// Submits the phase's builds, follows them, injects `fault`, and checks.
async fn phase(
    stack: &mut Stack,
    http: &reqwest::Client,
    edges: &Edges,
    n: usize,
    fault: Fault,
) -> Row {
    let mut builds = Vec::new();
    let mut viewers = Vec::new();
    for i in 0..BUILDS {
        let answer = submit(
            stack,
            http,
            i % 2,
            &json!({
                "prompt": PROMPTS[(n + i) % PROMPTS.len()],
                "userId": format!("chaos-{n}-{i}"),
            }),
        )
        .await;
        let build_id = answer["buildId"].as_str().expect("buildId").to_string();
        let token = answer["buildToken"].as_str().expect("buildToken");
        for v in 0..VIEWERS_PER_BUILD {
            let transport = if v % 2 == 0 {
                Transport::Ws
            } else {
                Transport::Sse
            };
            viewers.push(Viewer::spawn(
                edges,
                http,
                i,
                &build_id,
                token,
                transport,
                (v / 2) % 2,
            ));
        }
        builds.push(Stored::new(&build_id));
    }

    let deadline = Instant::now() + FINISH_WITHIN;
    while !fault.due(stack, &builds, &viewers) {
        assert!(
            Instant::now() < deadline,
            "{}: the moment to strike never came: {builds:#?}",
            fault.name()
        );
        refresh(stack, &mut builds).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let injected = fault.inject(stack, &mut builds, &viewers).await;
    let (nats, store) = (stack.nats.clone(), stack.store.clone());
    let ((), recovered) = tokio::join!(
        injected.restore(stack),
        injected.recovered(&nats, &store, &mut builds, &viewers)
    );

    let deadline = injected.at + FINISH_WITHIN;
    while builds.iter().any(|b| b.terminal().is_none()) && Instant::now() < deadline {
        refresh(stack, &mut builds).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let done = injected.at.elapsed();
    let joined = Instant::now() + Duration::from_secs(60);
    for viewer in &mut viewers {
        viewer.join(joined).await;
    }

    let mut problems = Vec::new();
    checks::builds_completed(&builds, &mut problems);
    checks::viewers_hold_the_stream(&viewers, &builds, &mut problems);
    checks::rows_equal_the_stream(&stack.store, &builds, &mut problems).await;
    checks::nothing_pending(&stack.nats, &mut problems).await;
    let recovery = match recovered {
        Some(took) => format!("{:.1} s", took.as_secs_f64()),
        None => {
            problems.push(format!(
                "{}: {} not within {FINISH_WITHIN:?}",
                fault.name(),
                fault.recovery()
            ));
            "none".into()
        }
    };
    let complete = builds
        .iter()
        .filter(|b| b.terminal().is_some_and(|e| e["type"] == "complete"))
        .count();
    let resumed = viewers
        .iter()
        .filter(|v| v.seen.lock().expect("viewer state").connected.len() > 1)
        .count();
    Row {
        fault,
        builds: format!("{complete}/{} complete", builds.len()),
        viewers: format!("{} ({resumed})", viewers.len()),
        recovery,
        done,
        problems,
    }
}

/// `POST /v1/builds` on edge `edge`: the 202 body.
async fn submit(stack: &Stack, http: &reqwest::Client, edge: usize, body: &Value) -> Value {
    let response = http
        .post(format!("{}/v1/builds", stack.edge_url(edge)))
        .bearer_auth(common::KEY)
        .json(body)
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status().as_u16(), 202, "submission accepted");
    response.json().await.expect("json")
}

/// Reads what each build stored since the last call; false if the stream did not answer.
async fn refresh(stack: &Stack, builds: &mut [Stored]) -> bool {
    let mut answered = true;
    for build in builds {
        answered &= build.refresh(&stack.nats).await;
    }
    answered
}
