//! Editing existing project files for follow-ups: a working copy that tracks what changed,
//! whole-line edits at the marker comments of the offline React apps, and insertions at
//! HTML marker slots with fallbacks (`<main>`, `<body>`, `</head>`, file ends) for files
//! that have no markers.

use crate::ProjectFile;

/// Entry modules tried, in order, when a feature module needs importing.
const ENTRY_CANDIDATES: &[&str] = &[
    "src/main.js",
    "src/main.ts",
    "src/main.jsx",
    "src/main.tsx",
    "src/index.js",
];

/// Stylesheets tried, in order, for feature styles.
const STYLE_CANDIDATES: &[&str] = &["src/style.css", "src/styles.css", "src/index.css"];

/// The marker line in `src/main.js` after which feature imports go.
const IMPORTS_MARKER: &str = "// buildwire:slot:imports";

/// A project being edited: its files and the paths changed so far, in change order.
pub struct Workspace {
    files: Vec<ProjectFile>,
    changed: Vec<String>,
}

impl Workspace {
    /// A working copy of `files`.
    pub fn new(files: &[ProjectFile]) -> Self {
        Workspace {
            files: files.to_vec(),
            changed: Vec::new(),
        }
    }

    /// The content at `path`, if the file exists.
    pub fn get(&self, path: &str) -> Option<&str> {
        crate::find_file(&self.files, path).map(|file| file.content.as_str())
    }

    /// Whether any file's content contains `needle`.
    pub fn any_contains(&self, needle: &str) -> bool {
        self.files.iter().any(|file| file.content.contains(needle))
    }

    /// Writes `content` to `path`; recorded as changed only when it differs.
    pub fn set(&mut self, path: &str, content: String) {
        if self.get(path) == Some(content.as_str()) {
            return;
        }
        crate::apply_writes(&mut self.files, &[ProjectFile::new(path, content)]);
        if !self.changed.iter().any(|changed| changed == path) {
            self.changed.push(path.into());
        }
    }

    /// The changed files with their new contents; when nothing changed (the edit was
    /// already there), `fallback` as it stands, so the task still reports its file.
    pub fn into_changed(self, fallback: &str) -> Vec<ProjectFile> {
        let paths = if self.changed.is_empty() {
            vec![fallback.to_owned()]
        } else {
            self.changed
        };
        paths
            .iter()
            .filter_map(|path| crate::find_file(&self.files, path).cloned())
            .collect()
    }
}

/// Where a line goes relative to the line holding a marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Just above the marker line (lines added this way keep their order).
    Before,
    /// Just below the marker line.
    After,
    /// Instead of the marker line.
    Replace,
}

/// `text` with `line` put at the first line containing `marker`, indented like that line
/// (`Replace` keeps no indentation of its own: `line` is written as given after it); `None`
/// when no line holds the marker.
pub fn at_marker(text: &str, marker: &str, place: Place, line: &str) -> Option<String> {
    let found = text.find(marker)?;
    let start = text[..found].rfind('\n').map_or(0, |at| at + 1);
    let end = text[found..]
        .find('\n')
        .map_or(text.len(), |at| found + at + 1);
    let indent: String = text[start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let mut line = format!("{indent}{}", line.trim_start());
    if !line.ends_with('\n') {
        line.push('\n');
    }
    let marker_line = &text[start..end];
    let marker_line = if marker_line.ends_with('\n') {
        marker_line.to_owned()
    } else {
        format!("{marker_line}\n")
    };
    let (head, tail) = (&text[..start], &text[end..]);
    Some(match place {
        Place::Before => format!("{head}{line}{marker_line}{tail}"),
        Place::After => format!("{head}{marker_line}{line}{tail}"),
        Place::Replace => format!("{head}{line}{tail}"),
    })
}

/// Where in `index.html` a fragment goes.
#[derive(Clone, Copy, Debug)]
pub enum Slot {
    /// Top of the main content (`<!-- buildwire:slot:main-start -->`, else after `<main>`,
    /// else after `<body>`).
    MainStart,
    /// Bottom of the main content (`<!-- buildwire:slot:main-end -->`, else before
    /// `</main>`, else before `</body>`, else the end).
    MainEnd,
}

/// Byte offset just past the opening `<tag ...>` (ASCII case-insensitive).
fn after_open_tag(html: &str, tag: &str) -> Option<usize> {
    let lower = html.to_ascii_lowercase();
    let needle = format!("<{tag}");
    let mut from = 0;
    while let Some(found) = lower[from..].find(&needle) {
        let start = from + found;
        let next = lower.as_bytes().get(start + needle.len()).copied();
        if matches!(next, Some(b'>' | b' ' | b'\n' | b'\t' | b'\r')) {
            return lower[start..].find('>').map(|end| start + end + 1);
        }
        from = start + needle.len();
    }
    None
}

/// Byte offset of the closing `</tag>` (ASCII case-insensitive), the last one.
fn close_tag(html: &str, tag: &str) -> Option<usize> {
    html.to_ascii_lowercase().rfind(&format!("</{tag}>"))
}

/// `html` with `fragment` (whole lines) inserted at `slot`.
pub fn insert_html(html: &str, slot: Slot, fragment: &str) -> String {
    let marker = match slot {
        Slot::MainStart => "<!-- buildwire:slot:main-start -->",
        Slot::MainEnd => "<!-- buildwire:slot:main-end -->",
    };
    let at = html
        .find(marker)
        .map(|found| match slot {
            // After the marker's line, so fragments stack below it.
            Slot::MainStart => html[found..]
                .find('\n')
                .map_or(html.len(), |end| found + end + 1),
            // At the start of the marker's line, so fragments keep their order above it.
            Slot::MainEnd => html[..found].rfind('\n').map_or(0, |end| end + 1),
        })
        .or_else(|| match slot {
            Slot::MainStart => {
                after_open_tag(html, "main").or_else(|| after_open_tag(html, "body"))
            }
            Slot::MainEnd => close_tag(html, "main").or_else(|| close_tag(html, "body")),
        })
        .unwrap_or(html.len());
    let mut out = String::with_capacity(html.len() + fragment.len() + 2);
    out.push_str(&html[..at]);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(fragment);
    if !fragment.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&html[at..]);
    out
}

/// Makes the page load the module at `module` (a project path like
/// `src/features/search.js`): imported from the entry module when there is one (after
/// `// buildwire:slot:imports`, else first), else a `<script type="module">` in
/// `index.html`. Does nothing when already loaded.
pub fn load_module(workspace: &mut Workspace, module: &str) {
    let entry = ENTRY_CANDIDATES
        .iter()
        .find(|path| workspace.get(path).is_some());
    if let Some(entry) = entry.copied()
        && let Some(relative) = module.strip_prefix("src/")
    {
        let content = workspace.get(entry).unwrap_or_default().to_owned();
        let specifier = format!("'./{relative}'");
        if content.contains(&specifier) {
            return;
        }
        let line = format!("import {specifier};\n");
        let updated = match content.find(IMPORTS_MARKER) {
            Some(found) => {
                // After the marker line and the imports already added below it.
                let mut end = content[found..]
                    .find('\n')
                    .map_or(content.len(), |end| found + end + 1);
                while content[end..].starts_with("import ") {
                    end = content[end..]
                        .find('\n')
                        .map_or(content.len(), |next| end + next + 1);
                }
                let mut text = content[..end].to_owned();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                format!("{text}{line}{}", &content[end..])
            }
            None => format!("{line}{content}"),
        };
        workspace.set(entry, updated);
        return;
    }
    let html = workspace.get("index.html").unwrap_or_default().to_owned();
    let source = format!("src=\"/{module}\"");
    if html.contains(&source) {
        return;
    }
    let tag = format!("    <script type=\"module\" {source}></script>\n");
    let at = close_tag(&html, "body").unwrap_or(html.len());
    let mut updated = html[..at].to_owned();
    if !updated.is_empty() && !updated.ends_with('\n') {
        updated.push('\n');
    }
    updated.push_str(&tag);
    updated.push_str(&html[at..]);
    workspace.set("index.html", updated);
}

/// Puts `css` in the project's stylesheet between `/* buildwire:<key>:start */` and
/// `/* buildwire:<key>:end */`, replacing an earlier block with the same key (so applying
/// a change twice leaves one block). Without a stylesheet, the block goes in a `<style>`
/// in `index.html`'s head.
pub fn set_css_block(workspace: &mut Workspace, key: &str, css: &str) {
    let start = format!("/* buildwire:{key}:start */");
    let end = format!("/* buildwire:{key}:end */");
    let block = format!("{start}\n{}\n{end}", css.trim_end());
    let replace = |text: &str| -> Option<String> {
        let from = text.find(&start)?;
        let to = text[from..].find(&end)? + from + end.len();
        Some(format!("{}{block}{}", &text[..from], &text[to..]))
    };
    let sheet = STYLE_CANDIDATES
        .iter()
        .find(|path| workspace.get(path).is_some());
    if let Some(sheet) = sheet.copied() {
        let content = workspace.get(sheet).unwrap_or_default().to_owned();
        let updated = replace(&content).unwrap_or_else(|| {
            let separator = if content.is_empty() || content.ends_with("\n\n") {
                ""
            } else if content.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{content}{separator}{block}\n")
        });
        workspace.set(sheet, updated);
        return;
    }
    let html = workspace.get("index.html").unwrap_or_default().to_owned();
    let updated = replace(&html).unwrap_or_else(|| {
        let at = close_tag(&html, "head").unwrap_or(0);
        format!(
            "{}    <style>\n{block}\n    </style>\n{}",
            &html[..at],
            &html[at..]
        )
    });
    workspace.set("index.html", updated);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_at_markers_in_order() {
        let html = "<main>\n  <!-- buildwire:slot:main-start -->\n  <p>x</p>\n  <!-- buildwire:slot:main-end -->\n</main>\n";
        let once = insert_html(html, Slot::MainEnd, "  <p>a</p>");
        let twice = insert_html(&once, Slot::MainEnd, "  <p>b</p>");
        assert!(
            twice.contains("<p>x</p>\n  <p>a</p>\n  <p>b</p>\n  <!-- buildwire:slot:main-end -->")
        );
        let top = insert_html(html, Slot::MainStart, "  <p>top</p>");
        assert!(top.contains("main-start -->\n  <p>top</p>\n  <p>x</p>"));
    }

    #[test]
    fn falls_back_without_markers() {
        let html = "<html><BODY class=\"x\"><Main id=m><p>x</p></main></body></html>";
        assert!(
            insert_html(html, Slot::MainStart, "<i>s</i>")
                .contains("<Main id=m>\n<i>s</i>\n<p>x</p>")
        );
        assert!(
            insert_html(html, Slot::MainEnd, "<i>e</i>").contains("<p>x</p>\n<i>e</i>\n</main>")
        );
        let no_main = "<body><p>x</p></body>";
        assert!(insert_html(no_main, Slot::MainStart, "<i>s</i>").starts_with("<body>\n<i>s</i>"));
        assert!(
            insert_html(no_main, Slot::MainEnd, "<i>e</i>").contains("<p>x</p>\n<i>e</i>\n</body>")
        );
        assert_eq!(insert_html("", Slot::MainEnd, "<i>e</i>"), "<i>e</i>\n");
        // `<mainframe>` is not `<main>`.
        assert!(
            insert_html(
                "<mainframe></mainframe><body></body>",
                Slot::MainStart,
                "<i/>"
            )
            .contains("<body>\n<i/>")
        );
    }

    #[test]
    fn loads_modules_once() {
        let files = [
            ProjectFile::new(
                "src/main.js",
                "import './style.css';\n// buildwire:slot:imports\ncode();\n",
            ),
            ProjectFile::new("index.html", "<body></body>"),
        ];
        let mut workspace = Workspace::new(&files);
        load_module(&mut workspace, "src/features/a.js");
        load_module(&mut workspace, "src/features/a.js");
        assert_eq!(
            workspace.get("src/main.js"),
            Some(
                "import './style.css';\n// buildwire:slot:imports\nimport './features/a.js';\ncode();\n"
            )
        );
        load_module(&mut workspace, "src/features/b.js");
        assert!(
            workspace
                .get("src/main.js")
                .is_some_and(|js| js
                    .contains("import './features/a.js';\nimport './features/b.js';\ncode();")),
            "imports keep the order they were added in"
        );
        let mut bare = Workspace::new(&files[1..]);
        load_module(&mut bare, "src/features/a.js");
        load_module(&mut bare, "src/features/a.js");
        assert_eq!(
            bare.get("index.html"),
            Some(
                "<body>\n    <script type=\"module\" src=\"/src/features/a.js\"></script>\n</body>"
            )
        );
    }

    #[test]
    fn css_blocks_replace_themselves() {
        let mut workspace = Workspace::new(&[ProjectFile::new("src/style.css", "body {}\n")]);
        set_css_block(&mut workspace, "k", "a {}");
        set_css_block(&mut workspace, "k", "b {}");
        let css = workspace.get("src/style.css").expect("sheet");
        assert_eq!(
            css,
            "body {}\n\n/* buildwire:k:start */\nb {}\n/* buildwire:k:end */\n"
        );
        let mut html_only = Workspace::new(&[ProjectFile::new("index.html", "<head></head>")]);
        set_css_block(&mut html_only, "k", "a {}");
        set_css_block(&mut html_only, "k", "b {}");
        let html = html_only.get("index.html").expect("html");
        assert!(html.contains("b {}") && !html.contains("a {}"), "{html}");
        assert_eq!(html.matches("<style>").count(), 1);
    }

    #[test]
    fn edits_at_marker_lines() {
        let text = "a\n    // m\nb";
        assert_eq!(
            at_marker(text, "// m", Place::Before, "x").as_deref(),
            Some("a\n    x\n    // m\nb")
        );
        assert_eq!(
            at_marker(text, "// m", Place::After, "x").as_deref(),
            Some("a\n    // m\n    x\nb")
        );
        assert_eq!(
            at_marker(text, "// m", Place::Replace, "y // m").as_deref(),
            Some("a\n    y // m\nb")
        );
        assert_eq!(
            at_marker("// m", "// m", Place::After, "x").as_deref(),
            Some("// m\nx\n")
        );
        assert_eq!(at_marker(text, "// z", Place::After, "x"), None);
    }

    #[test]
    fn unchanged_workspace_reports_its_fallback() {
        let files = [ProjectFile::new("index.html", "x")];
        let mut workspace = Workspace::new(&files);
        workspace.set("index.html", "x".into());
        assert_eq!(workspace.into_changed("index.html"), files.to_vec());
    }
}
