//! Every event type survives JSON and back unchanged, and has the plan's field names.

use buildwire_schemas::api::{BuildProgress, ClientMessage};
use buildwire_schemas::events::*;
use buildwire_schemas::{BuildStatus, Event, EventBody, Stage};
use chrono::{TimeZone, Utc};

fn failure(_stage: Stage) -> StageFailure {
    StageFailure {
        code: "MAX_DELIVER".into(),
        error: "gave up".into(),
        retryable: true,
        attempts: 5,
    }
}

fn every_body() -> Vec<EventBody> {
    let task = TaskUpdate {
        task_id: "t1".into(),
        task_name: "Create components/TodoList.tsx".into(),
        details: Some(TaskDetails {
            files_created: Some(vec!["src/TodoList.tsx".into()]),
            files_modified: Some(vec![]),
            error: None,
        }),
    };
    let build = BuildUpdate {
        stage: Some(BuildPhase::Dependencies),
        logs: Some(vec!["added 12 packages".into()]),
        build_log_url: Some("http://x/logs".into()),
        severity: Some(Severity::Info),
        failure: None,
    };
    let deploy = DeployUpdate {
        preview_url: Some("http://x/preview/1/".into()),
        deployment_id: Some("d1".into()),
        ..Default::default()
    };
    let progress = BuildProgress {
        build_id: "01JD5Y8Q7R3M4N5P6Q7R8S9T0V".into(),
        status: BuildStatus::Building,
        steps: vec!["plan".into()],
        completed_steps: vec![],
        preview_url: None,
        error_message: None,
        build_log_url: None,
        last_seq: 7,
        updated_at: Utc
            .with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
            .single()
            .expect("valid date"),
        usage: Some(TokenUsage {
            provider: "openai".into(),
            model: "gpt-4.1".into(),
            input_tokens: 476,
            output_tokens: 420,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 1024,
            calls: 1,
        }),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        deploy_log_url: None,
    };
    vec![
        EventBody::Status(StatusUpdate {
            code: StatusCode::Analyze,
            message: "Analyzing requirements...".into(),
            progress: Some(5),
            build_status: Some(BuildStatus::Planning),
        }),
        EventBody::PlanGenerated(PlanGenerated {
            plan: Plan {
                id: "p1".into(),
                tasks: vec![PlanTask {
                    id: "t1".into(),
                    name: "n".into(),
                    description: "d".into(),
                    estimated_duration: 1500,
                }],
                total_estimated_time: 1500,
            },
        }),
        EventBody::PlanFailed(StageFailed {
            failure: failure(Stage::Plan),
            suggested_action: Some("Set a valid ANTHROPIC_API_KEY".into()),
        }),
        EventBody::TaskStarted(TaskUpdate {
            details: None,
            ..task.clone()
        }),
        EventBody::TaskCompleted(task.clone()),
        EventBody::TaskFailed(TaskUpdate {
            details: Some(TaskDetails {
                error: Some("path escapes".into()),
                ..Default::default()
            }),
            ..task
        }),
        EventBody::FileProgress(FileProgress {
            task_id: "t1".into(),
            path: "src/App.tsx".into(),
            bytes: 2048,
            lines: 61,
        }),
        EventBody::Usage(UsageReport {
            stage: Stage::Execute,
            task_id: Some("t1".into()),
            usage: TokenUsage {
                provider: "anthropic".into(),
                model: "claude-fake".into(),
                input_tokens: 1200,
                output_tokens: 340,
                cache_creation_input_tokens: 900,
                cache_read_input_tokens: 0,
                calls: 2,
            },
            retries: 1,
        }),
        EventBody::ExecuteFailed(failure(Stage::Execute).into()),
        EventBody::BuildStarted(BuildUpdate::default()),
        EventBody::BuildProgress(build.clone()),
        EventBody::BuildCompleted(build),
        EventBody::BuildFailed(BuildUpdate {
            failure: Some(failure(Stage::Build)),
            ..Default::default()
        }),
        EventBody::DeployStarted(DeployUpdate::default()),
        EventBody::DeployProgress(DeployUpdate {
            message: Some("uploading".into()),
            ..Default::default()
        }),
        EventBody::DeployCompleted(deploy),
        EventBody::DeployFailed(DeployUpdate {
            failure: Some(failure(Stage::Deploy)),
            ..Default::default()
        }),
        EventBody::DeployLog(DeployLog {
            message: "uploaded 3 files".into(),
            level: Severity::Info,
        }),
        EventBody::Error(ErrorReport {
            severity: ErrorSeverity::Soft,
            code: "NPM_REGISTRY".into(),
            message: "retrying".into(),
            retryable: true,
            suggested_action: None,
        }),
        EventBody::Complete(Complete {
            preview_url: "http://x/preview/1/".into(),
            message: "Your app is ready!".into(),
            build_log_url: None,
        }),
        EventBody::Failed(Failed {
            stage: Stage::Build,
            code: "TIMEOUT".into(),
            message: "build timed out".into(),
            severity: ErrorSeverity::Fatal,
        }),
        EventBody::Cancelled(Cancelled {
            message: "cancelled by the user".into(),
            stage: Some(Stage::Build),
        }),
        EventBody::Snapshot(Snapshot { progress }),
        EventBody::Connected(Connected {
            last_seq: 9,
            recovered: true,
        }),
        EventBody::Heartbeat(Heartbeat {}),
    ]
}

#[test]
fn every_event_type_round_trips() {
    let bodies = every_body();
    let mut seen = std::collections::BTreeSet::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let mut event = Event::new("01JD5Y8Q7R3M4N5P6Q7R8S9T0V", "req-1", body);
        event.seq = i as u64 + 1;
        let json = serde_json::to_value(&event).expect("serializes");
        assert_eq!(json["type"], event.type_name());
        assert_eq!(json["buildId"], "01JD5Y8Q7R3M4N5P6Q7R8S9T0V");
        assert_eq!(json["requestId"], "req-1");
        assert!(
            json["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "ISO 8601 UTC: {json}"
        );
        let back: Event = serde_json::from_value(json.clone()).expect("deserializes");
        // Timestamps are carried at millisecond precision.
        assert_eq!(
            back.timestamp.timestamp_millis(),
            event.timestamp.timestamp_millis()
        );
        event.timestamp = back.timestamp;
        assert_eq!(back, event, "{json}");
        seen.insert(event.type_name());
    }
    assert_eq!(seen.len(), 25, "every variant is covered once");
}

#[test]
fn plan_field_names_are_kept() {
    let event: Event = serde_json::from_str(
        r#"{"seq":3,"buildId":"01JD5Y8Q7R3M4N5P6Q7R8S9T0V","type":"task_completed","timestamp":"2026-11-25T10:00:00.000Z",
            "requestId":"r","taskId":"t1","taskName":"Create","details":{"filesCreated":["a.ts"],"filesModified":["b.ts"]}}"#,
    )
    .expect("plan-shaped task event parses");
    let EventBody::TaskCompleted(task) = &event.body else {
        panic!("wrong variant")
    };
    assert_eq!(
        task.details.as_ref().and_then(|d| d.files_modified.clone()),
        Some(vec!["b.ts".to_string()])
    );

    let failed = Event::new("b", "r", Stage::Build.failure_body(failure(Stage::Build)));
    let json = serde_json::to_value(&failed).expect("serializes");
    assert_eq!(json["type"], "build_failed");
    assert_eq!(json["code"], "MAX_DELIVER");
    assert!(
        Event::new(
            "b",
            "r",
            EventBody::Cancelled(Cancelled {
                message: "x".into(),
                stage: None
            })
        )
        .is_terminal()
    );
}

#[test]
fn client_messages_are_strict() {
    assert_eq!(
        serde_json::from_str::<ClientMessage>(r#"{"type":"resume","after":4}"#).ok(),
        Some(ClientMessage::Resume { after: 4 })
    );
    assert_eq!(
        serde_json::from_str::<ClientMessage>(r#"{"type":"ping"}"#).ok(),
        Some(ClientMessage::Ping {})
    );
    for bad in [
        r#"{"type":"subscribe"}"#,
        r#"{"type":"resume"}"#,
        r#"{"type":"resume","after":-1}"#,
        r#"{"type":"ping","x":1}"#,
        "[]",
        "nope",
    ] {
        assert!(serde_json::from_str::<ClientMessage>(bad).is_err(), "{bad}");
    }
}
