//! Folding a build's events into its [`BuildProgress`]: the one place that decides what
//! an event means for `GET /v1/builds/{id}`, a stream's `snapshot`, and (later) the
//! recorder's `build_progress` row.

use chrono::{DateTime, Utc};

use crate::api::BuildProgress;
use crate::events::{BuildStatus, Event, EventBody, Stage};

impl BuildProgress {
    /// The progress of a build no event has touched yet.
    pub fn new(build_id: impl Into<String>, at: DateTime<Utc>) -> BuildProgress {
        BuildProgress {
            build_id: build_id.into(),
            status: BuildStatus::Queued,
            steps: Vec::new(),
            completed_steps: Vec::new(),
            preview_url: None,
            error_message: None,
            build_log_url: None,
            last_seq: 0,
            updated_at: at,
            usage: None,
            trace_id: None,
            deploy_log_url: None,
        }
    }

    /// Folds every event, oldest first.
    pub fn from_events<'a>(
        build_id: &str,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> BuildProgress {
        let mut progress = BuildProgress::new(build_id, Utc::now());
        let mut any = false;
        for event in events {
            if !any {
                progress.updated_at = event.timestamp;
                any = true;
            }
            progress.apply(event);
        }
        progress
    }

    /// Applies one event. Events at or below `last_seq` are ignored, so replays are
    /// harmless; a terminal status is never left again.
    pub fn apply(&mut self, event: &Event) {
        if event.seq != 0 && event.seq <= self.last_seq {
            return;
        }
        if event.seq != 0 {
            self.last_seq = event.seq;
        }
        self.updated_at = event.timestamp;
        let status = match &event.body {
            EventBody::Status(update) => update.build_status,
            EventBody::PlanGenerated(generated) => {
                for task in &generated.plan.tasks {
                    self.add_step(&task.id);
                }
                Some(BuildStatus::Planning)
            }
            // Tasks also run in the build stage (auto-fix attempts): they never move the
            // status back from building.
            EventBody::TaskStarted(task) => {
                self.add_step(&task.task_id);
                self.executing_unless_later()
            }
            EventBody::TaskCompleted(task) => {
                self.add_step(&task.task_id);
                if !self.completed_steps.contains(&task.task_id) {
                    self.completed_steps.push(task.task_id.clone());
                }
                self.executing_unless_later()
            }
            EventBody::Usage(report) => {
                self.usage
                    .get_or_insert_with(Default::default)
                    .add(&report.usage);
                None
            }
            EventBody::TaskFailed(task) => {
                if let Some(error) = task.details.as_ref().and_then(|d| d.error.clone()) {
                    self.error_message = Some(error);
                }
                None
            }
            EventBody::BuildStarted(update)
            | EventBody::BuildProgress(update)
            | EventBody::BuildCompleted(update) => {
                self.note_log_url(update.build_log_url.as_deref());
                Some(Stage::Build.status())
            }
            EventBody::BuildFailed(update) => {
                self.note_log_url(update.build_log_url.as_deref());
                self.note_failure(update.failure.as_ref().map(|f| f.error.as_str()));
                None
            }
            EventBody::DeployStarted(_) | EventBody::DeployProgress(_) => {
                Some(Stage::Deploy.status())
            }
            EventBody::DeployCompleted(update) => {
                self.note_deploy_log_url(update.deploy_log_url.as_deref());
                if update.preview_url.is_some() {
                    self.preview_url = update.preview_url.clone();
                }
                Some(Stage::Deploy.status())
            }
            EventBody::PlanFailed(failure) | EventBody::ExecuteFailed(failure) => {
                self.note_failure(Some(&failure.error));
                None
            }
            EventBody::DeployFailed(update) => {
                self.note_deploy_log_url(update.deploy_log_url.as_deref());
                self.note_failure(update.failure.as_ref().map(|f| f.error.as_str()));
                None
            }
            EventBody::Complete(complete) => {
                self.preview_url = Some(complete.preview_url.clone());
                self.note_log_url(complete.build_log_url.as_deref());
                Some(BuildStatus::Completed)
            }
            EventBody::Failed(failed) => {
                self.error_message = Some(failed.message.clone());
                Some(BuildStatus::Failed)
            }
            EventBody::Cancelled(cancelled) => {
                self.error_message = Some(cancelled.message.clone());
                Some(BuildStatus::Cancelled)
            }
            EventBody::Snapshot(snapshot) => {
                let last_seq = self.last_seq;
                *self = snapshot.progress.clone();
                self.last_seq = self.last_seq.max(last_seq);
                None
            }
            EventBody::DeployLog(_)
            | EventBody::FileProgress(_)
            | EventBody::Error(_)
            | EventBody::Connected(_)
            | EventBody::Heartbeat(_) => None,
        };
        if let Some(status) = status
            && !self.status.is_terminal()
        {
            self.status = status;
        }
    }

    /// `executing`, unless the build is already past it (an auto-fix task while building).
    fn executing_unless_later(&self) -> Option<BuildStatus> {
        matches!(
            self.status,
            BuildStatus::Queued | BuildStatus::Planning | BuildStatus::Executing
        )
        .then_some(BuildStatus::Executing)
    }

    fn add_step(&mut self, step: &str) {
        if !self.steps.iter().any(|s| s == step) {
            self.steps.push(step.to_string());
        }
    }

    fn note_log_url(&mut self, url: Option<&str>) {
        if let Some(url) = url {
            self.build_log_url = Some(url.to_string());
        }
    }

    fn note_deploy_log_url(&mut self, url: Option<&str>) {
        if let Some(url) = url {
            self.deploy_log_url = Some(url.to_string());
        }
    }

    fn note_failure(&mut self, error: Option<&str>) {
        if let Some(error) = error {
            self.error_message = Some(error.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Complete, Failed, StatusCode, StatusUpdate, TaskUpdate};

    fn event(seq: u64, body: EventBody) -> Event {
        let mut event = Event::new("01JD5Y8Q7R3M4N5P6Q7R8S9T0V", "req", body);
        event.seq = seq;
        event
    }

    #[test]
    fn a_build_folds_into_its_progress() {
        let events = [
            event(
                3,
                EventBody::Status(StatusUpdate {
                    code: StatusCode::Queued,
                    message: "Queued".into(),
                    progress: None,
                    build_status: Some(BuildStatus::Queued),
                }),
            ),
            event(
                7,
                EventBody::TaskStarted(TaskUpdate {
                    task_id: "t1".into(),
                    ..TaskUpdate::default()
                }),
            ),
            event(
                9,
                EventBody::TaskCompleted(TaskUpdate {
                    task_id: "t1".into(),
                    ..TaskUpdate::default()
                }),
            ),
            event(
                12,
                EventBody::Complete(Complete {
                    preview_url: "http://x/preview/1/".into(),
                    message: "ready".into(),
                    build_log_url: None,
                }),
            ),
            // Late and replayed events change nothing.
            event(9, EventBody::TaskStarted(TaskUpdate::default())),
            event(
                13,
                EventBody::Failed(Failed {
                    stage: Stage::Build,
                    code: "X".into(),
                    message: "late".into(),
                    severity: crate::events::ErrorSeverity::Fatal,
                }),
            ),
        ];
        let progress = BuildProgress::from_events("01JD5Y8Q7R3M4N5P6Q7R8S9T0V", &events);
        assert_eq!(progress.status, BuildStatus::Completed);
        assert_eq!(progress.steps, vec!["t1"]);
        assert_eq!(progress.completed_steps, vec!["t1"]);
        assert_eq!(progress.preview_url.as_deref(), Some("http://x/preview/1/"));
        assert_eq!(progress.last_seq, 13);
    }

    #[test]
    fn the_deploy_log_link_is_kept_from_the_deploy_events() {
        use crate::events::DeployUpdate;
        let link = "/v1/builds/01JD5Y8Q7R3M4N5P6Q7R8S9T0V/logs/deploy";
        let deployed = |seq, log: Option<&str>| {
            event(
                seq,
                EventBody::DeployCompleted(DeployUpdate {
                    preview_url: Some("https://x.pages.dev/".into()),
                    deploy_log_url: log.map(str::to_owned),
                    ..DeployUpdate::default()
                }),
            )
        };
        let progress = BuildProgress::from_events(
            "01JD5Y8Q7R3M4N5P6Q7R8S9T0V",
            &[deployed(4, Some(link)), deployed(5, None)],
        );
        assert_eq!(progress.deploy_log_url.as_deref(), Some(link));
        let local = BuildProgress::from_events("01JD5Y8Q7R3M4N5P6Q7R8S9T0V", &[deployed(4, None)]);
        assert_eq!(local.deploy_log_url, None, "a target without a log");
    }

    #[test]
    fn usage_adds_up_and_auto_fix_tasks_stay_in_building() {
        use crate::events::{TokenUsage, UsageReport};
        let usage = |stage, task: Option<&str>, input, output| {
            EventBody::Usage(UsageReport {
                stage,
                task_id: task.map(str::to_string),
                usage: TokenUsage {
                    provider: "anthropic".into(),
                    model: "claude-fake".into(),
                    input_tokens: input,
                    output_tokens: output,
                    cache_creation_input_tokens: 900,
                    cache_read_input_tokens: 0,
                    calls: 1,
                },
                retries: 0,
            })
        };
        let building = EventBody::Status(StatusUpdate {
            code: StatusCode::Build,
            message: "Building application...".into(),
            progress: None,
            build_status: Some(BuildStatus::Building),
        });
        let fix = TaskUpdate {
            task_id: "fix-build-1".into(),
            task_name: "Fix build errors (attempt 1)".into(),
            details: None,
        };
        let events = [
            event(1, usage(Stage::Plan, None, 1200, 340)),
            event(2, usage(Stage::Execute, Some("t1"), 1000, 60)),
            event(3, building),
            event(4, EventBody::TaskStarted(fix.clone())),
            event(5, usage(Stage::Build, Some("fix-build-1"), 10, 1)),
            event(6, EventBody::TaskCompleted(fix)),
        ];
        let progress = BuildProgress::from_events("01JD5Y8Q7R3M4N5P6Q7R8S9T0V", &events);
        assert_eq!(progress.status, BuildStatus::Building);
        assert_eq!(progress.completed_steps, vec!["fix-build-1"]);
        let total = progress.usage.expect("usage");
        assert_eq!((total.input_tokens, total.output_tokens), (2210, 401));
        assert_eq!((total.cache_creation_input_tokens, total.calls), (2700, 3));
        assert_eq!(
            (total.provider.as_str(), total.model.as_str()),
            ("anthropic", "claude-fake")
        );
    }
}
