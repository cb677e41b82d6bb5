//! Events of a plausible build, oldest first, ending with `complete`.

use buildwire_schemas::{
    BuildStatus, Event, EventBody,
    events::{BuildUpdate, Complete, StatusCode, StatusUpdate, TaskUpdate},
};

/// `event` as a reader gets it back: through its JSON form (timestamps in milliseconds).
pub fn wire(event: Event) -> Event {
    serde_json::from_value(serde_json::to_value(&event).expect("serializes")).expect("parses")
}

/// A fresh build id (a ULID, 26 characters).
pub fn build_id() -> String {
    let mut id = String::from("01JD");
    let chars = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    for _ in 0..22 {
        id.push(chars[rand::random_range(0..chars.len())] as char);
    }
    id
}

/// `status` with a build status.
pub fn status(build_id: &str, code: StatusCode, build_status: BuildStatus) -> Event {
    wire(Event::new(
        build_id,
        "req-test",
        EventBody::Status(StatusUpdate {
            code,
            message: format!("{code:?}"),
            progress: None,
            build_status: Some(build_status),
        }),
    ))
}

/// `task_started` or `task_completed` of `task`.
pub fn task(build_id: &str, task: &str, done: bool) -> Event {
    let update = TaskUpdate {
        task_id: task.into(),
        task_name: format!("task {task}"),
        ..TaskUpdate::default()
    };
    let body = if done {
        EventBody::TaskCompleted(update)
    } else {
        EventBody::TaskStarted(update)
    };
    wire(Event::new(build_id, "req-test", body))
}

/// `build_progress` with one log line.
pub fn log(build_id: &str, line: usize) -> Event {
    wire(Event::new(
        build_id,
        "req-test",
        EventBody::BuildProgress(BuildUpdate {
            logs: Some(vec![format!("line {line}")]),
            ..BuildUpdate::default()
        }),
    ))
}

/// `complete`.
pub fn complete(build_id: &str) -> Event {
    wire(Event::new(
        build_id,
        "req-test",
        EventBody::Complete(Complete {
            preview_url: format!("http://127.0.0.1:8080/preview/{build_id}/"),
            message: "Your app is ready!".into(),
            build_log_url: None,
        }),
    ))
}

/// A whole build of about `n` events: queued, tasks, log lines, `complete`.
pub fn build(build_id: &str, n: usize) -> Vec<Event> {
    let mut events = vec![status(build_id, StatusCode::Queued, BuildStatus::Queued)];
    let tasks = (n / 4).max(1);
    for t in 0..tasks {
        events.push(task(build_id, &format!("t{t}"), false));
        events.push(task(build_id, &format!("t{t}"), true));
    }
    while events.len() + 1 < n {
        events.push(log(build_id, events.len()));
    }
    events.push(complete(build_id));
    events
}
