//! The offline provider's plans, and the mapping back from a plan task to the work it
//! stands for: task ids are stable (`setup`, `tailwind`, `components`, `app` for a new app;
//! `search`, `header-color`, `counter`, `note` for follow-ups).

use buildwire_schemas::events::PlanTask;

use super::intent::{AppKind, Change, Color};
use super::text::shorten;
use crate::ProjectFile;

/// A new app's task ids, in the order they run.
pub const NEW_APP: &[&str] = &["setup", "tailwind", "components", "app"];

/// The new-app task that writes `path`.
pub fn task_of(path: &str) -> &'static str {
    match path {
        "tailwind.config.js" | "postcss.config.js" | "src/index.css" => "tailwind",
        "src/App.tsx" => "app",
        _ if path.starts_with("src/components/")
            || path.starts_with("src/hooks/")
            || path.starts_with("src/lib/")
            || matches!(path, "src/types.ts" | "src/schema.ts" | "src/search.ts") =>
        {
            "components"
        }
        _ => "setup",
    }
}

fn task(id: &str, name: String, description: String, estimated_duration: u64) -> PlanTask {
    PlanTask {
        id: id.into(),
        name,
        description,
        estimated_duration,
    }
}

/// The plan for a new `kind` app whose files are `files`: each task names what it writes.
pub fn new_app_tasks(kind: AppKind, files: &[ProjectFile]) -> Vec<PlanTask> {
    let label = kind.label();
    let of = |id: &str| -> Vec<&str> {
        files
            .iter()
            .map(|file| file.path.as_str())
            .filter(|path| task_of(path) == id)
            .collect()
    };
    let components: Vec<&str> = of("components")
        .into_iter()
        .filter_map(|path| path.strip_prefix("src/components/"))
        .filter_map(|name| name.strip_suffix(".tsx"))
        .collect();
    NEW_APP
        .iter()
        .map(|id| {
            let paths = of(id).join(", ");
            match *id {
                "setup" => task(
                    id,
                    "Set up Vite, React and TypeScript".into(),
                    format!(
                        "Write {paths} for the {label}: Vite 8 with the React and Tailwind plugins, \
                         strict TypeScript checked while the build bundles, relative asset paths \
                         for previews."
                    ),
                    1500,
                ),
                "tailwind" => task(
                    id,
                    "Configure Tailwind CSS".into(),
                    format!("Write {paths}: Tailwind CSS 4, configured in CSS, class-based dark mode."),
                    1200,
                ),
                "components" => task(
                    id,
                    format!("Create components: {}", components.join(", ")),
                    format!(
                        "Write {paths}: typed React components and hooks, data saved in localStorage."
                    ),
                    4000,
                ),
                _ => task(
                    id,
                    "Assemble the app".into(),
                    format!("Write {paths}: the page with its header and sections."),
                    1500,
                ),
            }
        })
        .collect()
}

/// Whether `task_id` is a new-app task.
pub fn is_new_app_task(task_id: &str) -> bool {
    NEW_APP.contains(&task_id)
}

/// The plan for follow-up `changes`.
pub fn change_tasks(changes: &[Change]) -> Vec<PlanTask> {
    changes
        .iter()
        .map(|change| match change {
            Change::Search => task(
                change.task_id(),
                "Add search".into(),
                "Add a search box above the lists that filters their items as you type, \
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
