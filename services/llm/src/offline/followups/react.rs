//! Follow-ups on the offline React apps, made where a developer would make them: search
//! adds `SearchBar` and a query store and turns the list filter hook (`useFilter`, which
//! every list already shows its items through) into a search; a header color rewrites the
//! color line of `Header`; a counter adds `Counter`; anything else is listed by
//! `RequestedChanges`. New components are imported and placed in `App.tsx` at its marker
//! comments. Every edit is idempotent and keeps what was there.

use crate::ProjectFile;
use crate::offline::apps::ts_literal;
use crate::offline::intent::{Change, Color};
use crate::offline::markup::{Place, Workspace, at_marker, set_css_block};
use crate::offline::text::shorten;

/// The page component follow-ups place new components in.
pub const APP: &str = "src/App.tsx";
/// The header, whose colors a follow-up may change.
pub const HEADER: &str = "src/components/Header.tsx";
/// The hook every list filters its items through.
pub const FILTER_HOOK: &str = "src/hooks/useFilter.ts";
/// The search query store.
pub const SEARCH_STORE: &str = "src/search.ts";
/// The search box.
pub const SEARCH_BAR: &str = "src/components/SearchBar.tsx";
/// The counter.
pub const COUNTER: &str = "src/components/Counter.tsx";
/// The list of requested changes.
pub const REQUESTS: &str = "src/components/RequestedChanges.tsx";

const IMPORTS_MARKER: &str = "// buildwire:imports";
const MAIN_START: &str = "{/* buildwire:main-start */}";
const MAIN_END: &str = "{/* buildwire:main-end */}";
const HEADER_MARKER: &str = "// buildwire:header-colors";
const REQUESTS_MARKER: &str = "// buildwire:requests";

/// Whether `files` are an offline React app (its `App.tsx` has the marker comments).
pub fn is_offline_app(files: &[ProjectFile]) -> bool {
    crate::find_file(files, APP).is_some_and(|app| {
        app.content.contains(MAIN_START)
            && app.content.contains(MAIN_END)
            && app.content.contains(IMPORTS_MARKER)
    })
}

/// The files `change` rewrites in an offline React app.
pub fn apply(change: &Change, files: &[ProjectFile]) -> Vec<ProjectFile> {
    let mut workspace = Workspace::new(files);
    match change {
        Change::Search => add_search(&mut workspace),
        Change::HeaderColor(color) => recolor_header(&mut workspace, color),
        Change::Counter => {
            workspace.set(
                COUNTER,
                include_str!("../apps/templates/followups/Counter.tsx").into(),
            );
            place(&mut workspace, "Counter", Place::Before, MAIN_END);
        }
        Change::Note(request) => add_request(&mut workspace, request),
    }
    workspace.into_changed(APP)
}

/// The files search adds to or changes in `files` (the generic app ships with them).
pub fn with_search(files: &[ProjectFile]) -> Vec<ProjectFile> {
    let mut workspace = Workspace::new(files);
    add_search(&mut workspace);
    workspace.into_changed(APP)
}

fn add_search(workspace: &mut Workspace) {
    workspace.set(
        SEARCH_STORE,
        include_str!("../apps/templates/followups/search.ts").into(),
    );
    workspace.set(
        FILTER_HOOK,
        include_str!("../apps/templates/followups/useFilter.ts").into(),
    );
    workspace.set(
        SEARCH_BAR,
        include_str!("../apps/templates/followups/SearchBar.tsx").into(),
    );
    place(workspace, "SearchBar", Place::After, MAIN_START);
}

/// Imports `./components/<name>` in `App.tsx` and renders `<name />` next to `marker`,
/// unless it already does.
fn place(workspace: &mut Workspace, name: &str, place: Place, marker: &str) {
    let Some(mut app) = workspace.get(APP).map(str::to_owned) else {
        return;
    };
    let import = format!("import {{ {name} }} from './components/{name}';");
    if !app.contains(&import)
        && let Some(updated) = at_marker(&app, IMPORTS_MARKER, Place::Before, &import)
    {
        app = updated;
    }
    let element = format!("<{name} />");
    if !app.contains(&element)
        && let Some(updated) = at_marker(&app, marker, place, &element)
    {
        app = updated;
    }
    workspace.set(APP, app);
}

fn recolor_header(workspace: &mut Workspace, color: &Color) {
    let line = format!(
        "const HEADER_COLORS = 'bg-[{}] text-[{}]'; {HEADER_MARKER} ({})",
        color.background, color.foreground, color.name
    );
    let recolored = workspace
        .get(HEADER)
        .and_then(|header| at_marker(header, HEADER_MARKER, Place::Replace, &line));
    match recolored {
        Some(header) => workspace.set(HEADER, header),
        // A header rewritten by hand: the stylesheet wins over its classes.
        None => set_css_block(
            workspace,
            "header-color",
            &format!(
                "/* Header color: {name}. */\n#app-header,\nheader {{\n  background: {bg} !important;\n  color: {fg} !important;\n}}",
                name = color.name,
                bg = color.background,
                fg = color.foreground,
            ),
        ),
    }
}

fn add_request(workspace: &mut Workspace, request: &str) {
    let literal = format!("{},", ts_literal(&shorten(request, 500).into()));
    let component = match workspace.get(REQUESTS) {
        Some(existing) if existing.contains(&literal) => existing.to_owned(),
        Some(existing) => at_marker(existing, REQUESTS_MARKER, Place::Before, &literal)
            .unwrap_or_else(|| existing.to_owned()),
        None => include_str!("../apps/templates/followups/RequestedChanges.tsx")
            .replace("__REQUESTS__", &format!("  {literal}\n")),
    };
    workspace.set(REQUESTS, component);
    place(workspace, "RequestedChanges", Place::Before, MAIN_END);
}
