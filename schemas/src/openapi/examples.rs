//! The examples of the OpenAPI document: one todo build told as events, and the API's
//! bodies around it. They are typed values serialized with serde, so an example always
//! has the shape the server sends; the conformance test stores these events for
//! [`BUILD_ID`] so the example ids in the spec answer with real data.

use chrono::{DateTime, TimeZone, Utc};

use crate::api::{BuildAccepted, BuildProgress, BuildToken, EventsPage, Problem, SubmitBuild};
use crate::events::*;

/// The build every example talks about (a ULID).
pub const BUILD_ID: &str = "01JF3KX0W8R4Y6T2N5M7P9Q1ZB";
/// Its request id.
pub const REQUEST_ID: &str = "req-7f3a";
/// The example build's trace id (the main app's `traceparent` trace).
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// Where the example edge is reached.
pub const BASE_URL: &str = "https://buildwire.example.com";
/// An example build token (a JWT; not valid for any real keyring).
pub const TOKEN: &str = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiIwMUpGM0tYMFc4UjRZNlQyTjVNN1A5UTFaQiIsInVpZCI6InVzZXItNDIiLCJzY29wZSI6ImJ1aWxkOnJlYWQiLCJleHAiOjE3OTU2OTUzMzB9.c2lnbmF0dXJl";

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, second)
        .single()
        .unwrap_or_default()
}

fn failure(code: &str, error: &str) -> StageFailure {
    StageFailure {
        code: code.into(),
        error: error.into(),
        retryable: false,
        attempts: 5,
    }
}

/// `usage` of one LLM step, as the example model reported it.
fn usage(stage: Stage, task_id: Option<&str>, input: u64, output: u64) -> EventBody {
    // One step here; real builds have one per plan, task and auto-fix attempt.
    EventBody::Usage(UsageReport {
        stage,
        task_id: task_id.map(str::to_string),
        usage: TokenUsage {
            provider: "anthropic".into(),
            model: "claude-sonnet-4-5-20250929".into(),
            input_tokens: input,
            output_tokens: output,
            cache_creation_input_tokens: 2048,
            cache_read_input_tokens: 0,
            calls: 2,
        },
        retries: 0,
    })
}

fn log_url() -> String {
    format!("{BASE_URL}/v1/builds/{BUILD_ID}/logs/build?expires=1795695330&kid=k1&sig=3q2-7w")
}

fn preview_url() -> String {
    format!("{BASE_URL}/preview/{BUILD_ID}/")
}

fn task(id: &str, name: &str, details: Option<TaskDetails>) -> TaskUpdate {
    TaskUpdate {
        task_id: id.into(),
        task_name: name.into(),
        details,
    }
}

/// A successful build's bodies, in order.
fn happy_path() -> Vec<EventBody> {
    let status = |code, message: &str, progress, build_status| {
        EventBody::Status(StatusUpdate {
            code,
            message: message.into(),
            progress: Some(progress),
            build_status: Some(build_status),
        })
    };
    let plan = Plan {
        id: "plan-1".into(),
        tasks: vec![PlanTask {
            id: "task-1".into(),
            name: "Create src/App.tsx".into(),
            description: "The todo list with a dark mode toggle".into(),
            estimated_duration: 4000,
        }],
        total_estimated_time: 4000,
    };
    let files = TaskDetails {
        files_created: Some(vec!["src/App.tsx".into()]),
        files_modified: Some(vec!["src/index.css".into()]),
        error: None,
    };
    let build = |stage, logs: Option<Vec<&str>>, url| BuildUpdate {
        stage: Some(stage),
        logs: logs.map(|lines| lines.into_iter().map(str::to_string).collect()),
        build_log_url: url,
        severity: Some(Severity::Info),
        failure: None,
    };
    let deploy = |message: &str, url| DeployUpdate {
        preview_url: url,
        deployment_id: Some(format!("local-{BUILD_ID}")),
        deploy_log_url: None,
        message: Some(message.into()),
        suggested_action: None,
        failure: None,
    };
    vec![
        status(StatusCode::Queued, "Queued", 0, BuildStatus::Queued),
        EventBody::PlanGenerated(PlanGenerated { plan }),
        EventBody::TaskStarted(task("task-1", "Create src/App.tsx", None)),
        EventBody::FileProgress(FileProgress {
            task_id: "task-1".into(),
            path: "src/App.tsx".into(),
            bytes: 3140,
            lines: 120,
        }),
        usage(Stage::Execute, Some("task-1"), 2700, 2440),
        EventBody::TaskCompleted(task("task-1", "Create src/App.tsx", Some(files))),
        EventBody::BuildStarted(build(BuildPhase::Dependencies, None, None)),
        EventBody::BuildProgress(build(
            BuildPhase::Compile,
            Some(vec![
                "vite v6.0.0 building for production...",
                "✓ 31 modules transformed.",
            ]),
            None,
        )),
        EventBody::BuildCompleted(build(BuildPhase::Compile, None, Some(log_url()))),
        EventBody::DeployStarted(deploy("Publishing the preview", None)),
        EventBody::DeployProgress(deploy("Uploaded 4 files", None)),
        EventBody::DeployLog(DeployLog {
            message: "index.html uploaded".into(),
            level: Severity::Info,
        }),
        EventBody::DeployCompleted(deploy("Preview is live", Some(preview_url()))),
        EventBody::Complete(Complete {
            preview_url: preview_url(),
            message: "Your app is ready!".into(),
            build_log_url: Some(log_url()),
        }),
    ]
}

/// One body of every event type: [`happy_path`], then failures and stream-only types.
pub fn bodies() -> Vec<EventBody> {
    let build = |failure| BuildUpdate {
        stage: Some(BuildPhase::Compile),
        build_log_url: Some(log_url()),
        severity: Some(Severity::Error),
        failure: Some(failure),
        ..BuildUpdate::default()
    };
    let mut bodies = happy_path();
    bodies.extend([
        EventBody::PlanFailed(StageFailed {
            failure: StageFailure {
                retryable: true,
                ..failure(
                    "LLM_UNAVAILABLE",
                    "anthropic is unavailable: 529 overloaded_error; 4 retries spent",
                )
            },
            suggested_action: Some(
                "The model provider is busy or unreachable. Try again in a few minutes.".into(),
            ),
        }),
        EventBody::TaskFailed(task(
            "task-2",
            "Create ../outside.ts",
            Some(TaskDetails {
                error: Some("path escapes the project".into()),
                ..TaskDetails::default()
            }),
        )),
        EventBody::ExecuteFailed(failure("INVALID_PATH", "path escapes the project").into()),
        EventBody::BuildFailed(build(failure(
            "BUILD_FAILED",
            "npm run build exited with 2",
        ))),
        EventBody::DeployFailed(DeployUpdate {
            message: Some("Publishing failed".into()),
            failure: Some(failure(
                "DEPLOY_FAILED",
                "the artifacts bucket refused the upload",
            )),
            ..DeployUpdate::default()
        }),
        EventBody::Error(ErrorReport {
            severity: ErrorSeverity::Fatal,
            code: "BUILD_FAILED".into(),
            message: "npm run build exited with 2".into(),
            retryable: false,
            suggested_action: Some("Describe the change again".into()),
        }),
        EventBody::Failed(Failed {
            stage: Stage::Build,
            code: "BUILD_FAILED".into(),
            message: "npm run build exited with 2".into(),
            severity: ErrorSeverity::Fatal,
        }),
        EventBody::Cancelled(Cancelled {
            message: "Build cancelled".into(),
            stage: Some(Stage::Build),
        }),
        EventBody::Snapshot(Snapshot {
            // A stream's fold reads no headers: no trace id.
            progress: BuildProgress {
                trace_id: None,
                ..progress()
            },
        }),
        EventBody::Connected(Connected {
            last_seq: 12,
            recovered: true,
        }),
        EventBody::Heartbeat(Heartbeat {}),
    ]);
    bodies
}

fn stored(bodies: Vec<EventBody>) -> Vec<Event> {
    bodies
        .into_iter()
        .zip(1u32..)
        .map(|(body, n)| Event {
            seq: u64::from(n),
            build_id: BUILD_ID.into(),
            timestamp: at(n),
            request_id: REQUEST_ID.into(),
            body,
        })
        .collect()
}

/// [`bodies`] as the stored events of [`BUILD_ID`], `seq` 1, 2, ...
pub fn events() -> Vec<Event> {
    stored(bodies())
}

/// The progress of the successful build.
pub fn progress() -> BuildProgress {
    let mut progress = BuildProgress::new(BUILD_ID, at(0));
    for event in &stored(happy_path()) {
        progress.apply(event);
    }
    progress.trace_id = Some(TRACE_ID.into());
    progress
}

/// `POST /v1/builds`.
pub fn submit_build() -> SubmitBuild {
    SubmitBuild {
        prompt: "Create a todo app with dark mode".into(),
        user_id: "user-42".into(),
        project_id: Some("project-7".into()),
        parent_build_id: None,
        request_id: Some(REQUEST_ID.into()),
        restore_from_build_id: None,
        webhook_url: Some("https://app.example.com/api/buildwire-webhooks".into()),
    }
}

/// Its `202`.
pub fn build_accepted() -> BuildAccepted {
    BuildAccepted {
        build_id: BUILD_ID.into(),
        build_token: TOKEN.into(),
        token_expires_at: at(30) + chrono::Duration::hours(1),
        websocket_url: format!("wss://buildwire.example.com/ws/builds/{BUILD_ID}"),
        events_url: format!("{BASE_URL}/events/{BUILD_ID}"),
        status_url: format!("{BASE_URL}/v1/builds/{BUILD_ID}"),
    }
}

/// `POST /v1/builds/{id}/token`.
pub fn build_token() -> BuildToken {
    BuildToken {
        build_token: TOKEN.into(),
        token_expires_at: at(30) + chrono::Duration::hours(1),
    }
}

/// A page of history.
pub fn events_page() -> EventsPage {
    EventsPage {
        events: events().into_iter().take(3).collect(),
        has_more: true,
    }
}

/// A refusal.
pub fn problem() -> Problem {
    Problem {
        problem_type: "https://buildwire.dev/problems/build-not-found".into(),
        title: "Not Found".into(),
        status: 404,
        detail: format!("no build {BUILD_ID} is known"),
        code: crate::api::ProblemCode::BuildNotFound,
        retryable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_an_example() {
        let types: Vec<&str> = bodies().iter().map(EventBody::type_name).collect();
        let mut unique = types.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), types.len(), "one body per type");
        assert_eq!(types.len(), super::super::EVENT_TYPES.len());
        let progress = progress();
        assert_eq!(progress.status, BuildStatus::Completed);
        assert_eq!(progress.preview_url, Some(preview_url()));
    }
}
