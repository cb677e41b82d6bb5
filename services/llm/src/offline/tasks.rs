//! The offline provider's plans, and the mapping back from a plan task to the work it
//! stands for: task ids are stable (`config`, `structure`, `styles`, `logic` for a new app;
//! `search`, `header-color`, `counter`, `note` for follow-ups).

use buildwire_schemas::events::PlanTask;

use super::intent::{AppKind, Change, Color};
use super::text::shorten;

/// A new app's tasks and the files each writes.
const NEW_APP: &[(&str, &str, &[&str], u64)] = &[
    (
        "config",
        "Create project configuration",
        &["package.json", "vite.config.js"],
        1500,
    ),
    ("structure", "Create page structure", &["index.html"], 2500),
    ("styles", "Create styles", &["src/style.css"], 2000),
    ("logic", "Create app logic", &["src/main.js"], 3500),
];

fn task(id: &str, name: String, description: String, estimated_duration: u64) -> PlanTask {
    PlanTask {
        id: id.into(),
        name,
        description,
        estimated_duration,
    }
}

/// The plan for a new `kind` app.
pub fn new_app_tasks(kind: AppKind) -> Vec<PlanTask> {
    let label = kind.label();
    NEW_APP
        .iter()
        .map(|(id, name, paths, estimate)| {
            let what = match *id {
                "config" => "the Vite 5 build setup with relative asset paths for previews",
                "structure" => "the page markup with stable ids for testing",
                "styles" => "layout plus light and dark themes",
                _ => "behaviour, saved in localStorage where it keeps data",
            };
            task(
                id,
                (*name).into(),
                format!("Write {} for the {label}: {what}.", paths.join(" and ")),
                *estimate,
            )
        })
        .collect()
}

/// The files a new-app task writes, or `None` when `task_id` is not a new-app task.
pub fn new_app_paths(task_id: &str) -> Option<&'static [&'static str]> {
    NEW_APP
        .iter()
        .find(|(id, ..)| *id == task_id)
        .map(|(_, _, paths, _)| *paths)
}

/// The plan for follow-up `changes`.
pub fn change_tasks(changes: &[Change]) -> Vec<PlanTask> {
    changes
        .iter()
        .map(|change| match change {
            Change::Search => task(
                change.task_id(),
                "Add search".into(),
                "Add a search box above the list that filters its items as you type, \
                 keeping every existing feature."
                    .into(),
                2500,
            ),
            Change::HeaderColor(color) => task(
                change.task_id(),
                format!("Make the header {}", color.name),
                format!(
                    "Set the header background to {} with readable text, in light and dark themes.",
                    color.background
                ),
                1500,
            ),
            Change::Counter => task(
                change.task_id(),
                "Add a counter".into(),
                "Add a counter with - and + buttons, remembered across reloads.".into(),
                2500,
            ),
            Change::Note(request) => task(
                change.task_id(),
                "Show the requested change".into(),
                format!(
                    "Add a section to the page describing the request: {}",
                    shorten(request, 160)
                ),
                1500,
            ),
        })
        .collect()
}

/// The change a follow-up task stands for, from its id; the details (which color, what
/// text) come from the prompt, then from the task's own text.
pub fn change_for(task: &PlanTask, prompt: &str) -> Option<Change> {
    Some(match task.id.as_str() {
        "search" => Change::Search,
        "counter" => Change::Counter,
        "header-color" => Change::HeaderColor(
            Color::find(prompt)
                .or_else(|| Color::find(&format!("{} {}", task.name, task.description)))
                .or_else(|| Color::find("blue"))?,
        ),
        "note" => Change::Note(prompt.trim().into()),
        _ => return None,
    })
}
