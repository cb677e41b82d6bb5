//! What a prompt asks the offline provider for: which app to create, or which changes to
//! make to an existing one. Keyword matching on whole words, deterministic.

use super::text::{find_phrase, without_name, words};

/// The apps the offline provider can create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppKind {
    /// Todo list with a dark-mode toggle.
    Todo,
    /// Notes with titles and bodies.
    Notes,
    /// Kanban board with three columns.
    Kanban,
    /// Stopwatch with laps and a countdown timer.
    Timer,
    /// Marketing landing page with a signup form.
    Landing,
    /// Anything else: a titled page with an item list.
    Generic,
}

/// Phrases that select each kind; the kind whose phrase appears first in the prompt wins.
const KIND_PHRASES: &[(AppKind, &[&[&str]])] = &[
    (
        AppKind::Landing,
        &[
            &["landing"],
            &["homepage"],
            &["home", "page"],
            &["marketing", "page"],
            &["marketing", "site"],
            &["product", "page"],
            &["launch", "page"],
        ],
    ),
    (
        AppKind::Kanban,
        &[
            &["kanban"],
            &["trello"],
            &["task", "board"],
            &["project", "board"],
            &["scrum", "board"],
            &["sprint", "board"],
        ],
    ),
    (
        AppKind::Timer,
        &[
            &["timer"],
            &["stopwatch"],
            &["stop", "watch"],
            &["countdown"],
            &["pomodoro"],
        ],
    ),
    (
        AppKind::Notes,
        &[
            &["note"],
            &["notes"],
            &["notepad"],
            &["notebook"],
            &["journal"],
            &["memo"],
            &["memos"],
        ],
    ),
    (
        AppKind::Todo,
        &[
            &["todo"],
            &["todos"],
            &["to", "do"],
            &["to", "dos"],
            &["task", "list"],
            &["tasks"],
            &["checklist"],
        ],
    ),
];

impl AppKind {
    /// Picks the app for a new-project prompt: the kind named earliest wins ("a landing
    /// page for my todo app" is a landing page), `Generic` when none is named.
    /// Words of a name the prompt gives ("an app called Note Keeper") do not count.
    pub fn detect(prompt: &str) -> AppKind {
        let words = words(&without_name(prompt));
        KIND_PHRASES
            .iter()
            .filter_map(|(kind, phrases)| {
                phrases
                    .iter()
                    .filter_map(|phrase| find_phrase(&words, phrase))
                    .min()
                    .map(|at| (at, *kind))
            })
            .min_by_key(|(at, _)| *at)
            .map_or(AppKind::Generic, |(_, kind)| kind)
    }

    /// Short lowercase name (`todo`, `notes`, ...), used in package names and storage keys.
    pub fn slug(self) -> &'static str {
        match self {
            AppKind::Todo => "todo",
            AppKind::Notes => "notes",
            AppKind::Kanban => "kanban",
            AppKind::Timer => "timer",
            AppKind::Landing => "landing",
            AppKind::Generic => "app",
        }
    }

    /// What the app is, for plan texts.
    pub fn label(self) -> &'static str {
        match self {
            AppKind::Todo => "todo app with a dark-mode toggle",
            AppKind::Notes => "notes app",
            AppKind::Kanban => "kanban board",
            AppKind::Timer => "stopwatch and countdown timer",
            AppKind::Landing => "landing page",
            AppKind::Generic => "list app shaped by your request",
        }
    }
}

/// Whether the prompt asks for dark mode ("with dark mode", "a dark theme", "night
/// mode"): the app then starts in the system's theme; every app has the toggle.
pub fn wants_dark_mode(prompt: &str) -> bool {
    let words = words(prompt);
    [
        &["dark", "mode"][..],
        &["dark", "theme"],
        &["night", "mode"],
        &["darkmode"],
        &["dark", "themes"],
    ]
    .iter()
    .any(|phrase| find_phrase(&words, phrase).is_some())
}

/// A named color for the header: its background and a readable text color on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Color {
    /// The name as asked (`blue`, `#ff8800`).
    pub name: String,
    /// CSS background (`#2563eb`).
    pub background: String,
    /// CSS text color that reads on it.
    pub foreground: &'static str,
}

/// Color names understood, with their hex value and whether text on them should be dark.
const COLORS: &[(&str, &str, bool)] = &[
    ("red", "#dc2626", false),
    ("crimson", "#b91c1c", false),
    ("maroon", "#7f1d1d", false),
    ("orange", "#ea580c", false),
    ("yellow", "#facc15", true),
    ("gold", "#eab308", true),
    ("lime", "#84cc16", true),
    ("green", "#16a34a", false),
    ("teal", "#0d9488", false),
    ("cyan", "#06b6d4", true),
    ("blue", "#2563eb", false),
    ("navy", "#1e3a8a", false),
    ("indigo", "#4f46e5", false),
    ("purple", "#7c3aed", false),
    ("violet", "#8b5cf6", false),
    ("magenta", "#c026d3", false),
    ("pink", "#db2777", false),
    ("brown", "#92400e", false),
    ("black", "#111827", false),
    ("gray", "#4b5563", false),
    ("grey", "#4b5563", false),
    ("silver", "#cbd5e1", true),
    ("white", "#ffffff", true),
];

impl Color {
    /// The first color named in `prompt`: a known name, or a `#rgb` / `#rrggbb` hex value.
    pub fn find(prompt: &str) -> Option<Color> {
        let named = words(prompt).into_iter().find_map(|word| {
            COLORS
                .iter()
                .find(|(name, _, _)| *name == word)
                .map(|(name, hex, light)| Color {
                    name: (*name).into(),
                    background: (*hex).into(),
                    foreground: if *light { "#111827" } else { "#ffffff" },
                })
        });
        named.or_else(|| Self::find_hex(prompt))
    }

    fn find_hex(prompt: &str) -> Option<Color> {
        prompt.match_indices('#').find_map(|(at, _)| {
            let digits: String = prompt[at + 1..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            if digits.len() != 3 && digits.len() != 6 {
                return None;
            }
            let full: Vec<u32> = if digits.len() == 3 {
                digits
                    .chars()
                    .filter_map(|c| c.to_digit(16))
                    .map(|d| d * 17)
                    .collect()
            } else {
                (0..3)
                    .filter_map(|i| u32::from_str_radix(&digits[i * 2..i * 2 + 2], 16).ok())
                    .collect()
            };
            let luminance = full.first()? * 299 + full.get(1)? * 587 + full.get(2)? * 114;
            let hex = format!("#{}", digits.to_lowercase());
            Some(Color {
                name: hex.clone(),
                background: hex,
                foreground: if luminance > 150_000 {
                    "#111827"
                } else {
                    "#ffffff"
                },
            })
        })
    }
}

/// One change a follow-up asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A search box filtering the app's items.
    Search,
    /// The header recolored.
    HeaderColor(Color),
    /// A counter with +/- buttons.
    Counter,
    /// Anything else: the request shown as a section on the page.
    Note(String),
}

impl Change {
    /// The plan task id for this change (stable: the write step maps it back).
    pub fn task_id(&self) -> &'static str {
        match self {
            Change::Search => "search",
            Change::HeaderColor(_) => "header-color",
            Change::Counter => "counter",
            Change::Note(_) => "note",
        }
    }

    /// Every change `prompt` asks for, in a fixed order; a single `Note` when none is
    /// recognized.
    pub fn detect(prompt: &str) -> Vec<Change> {
        let words = words(prompt);
        let has = |word: &str| words.iter().any(|w| w == word);
        let mut changes = Vec::new();
        if has("search") || has("filter") || has("find") {
            changes.push(Change::Search);
        }
        let colorish = [
            "header", "heading", "navbar", "nav", "banner", "bar", "title", "color", "colour",
            "make", "turn", "paint",
        ];
        if colorish.iter().any(|word| has(word))
            && let Some(color) = Color::find(prompt)
        {
            changes.push(Change::HeaderColor(color));
        }
        if has("counter") || has("counters") {
            changes.push(Change::Counter);
        }
        if changes.is_empty() {
            changes.push(Change::Note(prompt.trim().into()));
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_app_kind() {
        for (prompt, kind) in [
            ("Create a todo app with dark mode", AppKind::Todo),
            ("Build a To-Do list", AppKind::Todo),
            ("a checklist for groceries", AppKind::Todo),
            ("Make a notes app", AppKind::Notes),
            ("I need a journal", AppKind::Notes),
            ("Create a kanban board for tasks", AppKind::Kanban),
            ("a Trello clone", AppKind::Kanban),
            ("Build a pomodoro timer", AppKind::Timer),
            ("stopwatch with laps", AppKind::Timer),
            ("Landing page for a coffee shop", AppKind::Landing),
            ("Create a landing page for my todo app", AppKind::Landing),
            ("A todo app with a timer", AppKind::Todo),
            ("Create a recipe manager", AppKind::Generic),
            ("mastodon client", AppKind::Generic),
            ("a dashboard", AppKind::Generic),
            ("an app called Note Keeper for recipes", AppKind::Generic),
            (
                "a landing page for my bakery called Sweet Crumbs",
                AppKind::Landing,
            ),
        ] {
            assert_eq!(AppKind::detect(prompt), kind, "{prompt}");
        }
    }

    #[test]
    fn hears_dark_mode() {
        assert!(wants_dark_mode("Create a todo app with dark mode"));
        assert!(wants_dark_mode("notes, dark theme please"));
        assert!(!wants_dark_mode("Create a todo app"));
        assert!(!wants_dark_mode("a dark chocolate shop"));
    }

    #[test]
    fn finds_colors() {
        let blue = Color::find("make the header blue").expect("blue");
        assert_eq!(
            (blue.background.as_str(), blue.foreground),
            ("#2563eb", "#ffffff")
        );
        let yellow = Color::find("Yellow header please").expect("yellow");
        assert_eq!(yellow.foreground, "#111827");
        assert_eq!(
            Color::find("header #FF8800").expect("hex").background,
            "#ff8800"
        );
        assert_eq!(
            Color::find("header #fff").expect("hex").foreground,
            "#111827"
        );
        assert_eq!(Color::find("header #12345"), None);
        assert_eq!(Color::find("make the header nicer"), None);
    }

    #[test]
    fn detects_changes() {
        assert_eq!(Change::detect("Add a search feature"), vec![Change::Search]);
        assert_eq!(Change::detect("add a counter"), vec![Change::Counter]);
        assert!(matches!(
            Change::detect("make the header blue").as_slice(),
            [Change::HeaderColor(Color { name, .. })] if name == "blue"
        ));
        assert_eq!(
            Change::detect("Add search and a counter").len(),
            2,
            "both changes are planned"
        );
        assert_eq!(
            Change::detect("  Show a welcome message "),
            vec![Change::Note("Show a welcome message".into())]
        );
    }
}
