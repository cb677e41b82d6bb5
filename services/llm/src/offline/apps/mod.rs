//! The offline provider's apps: React 19 + strict TypeScript 7 + Tailwind CSS 4 on Vite 8,
//! built by `npm run build`: `tsc --noEmit & vite build && wait $!`, the type check
//! running while Vite bundles, and the build failing when either fails (`wait` answers
//! tsc's status). The toolchain is the native one: TypeScript 7's Go compiler, Vite 8's
//! Rolldown bundler and Tailwind 4's Oxide engine through its Vite plugin (no PostCSS), so
//! `npm run build` takes about a second and nothing in `node_modules` has an install
//! script. Every app shares a scaffold
//! (package.json with exact pins, Vite and TypeScript configs, `index.html`,
//! `src/main.tsx`, `src/config.ts` with everything taken from the prompt, the header with a
//! dark-mode toggle, a localStorage hook, the list filter hook) and adds its components
//! under `src/components/`. The TypeScript and CSS sources are files in `templates/`.
//!
//! Where follow-ups edit (see `followups::react`): in `src/App.tsx` the lines
//! `// buildwire:imports`, `{/* buildwire:main-start */}` and `{/* buildwire:main-end */}`;
//! in `src/components/Header.tsx` the `// buildwire:header-colors` line; every list shows
//! its items through `useFilter` (`src/hooks/useFilter.ts`), which search replaces.

mod generic;
mod kanban;
mod landing;
mod notes;
pub(super) mod nouns;
pub(super) mod schema;
mod timer;
mod todo;

use super::intent::{AppKind, wants_dark_mode};
use super::text::{html_escape, name_in};
use crate::ProjectFile;

/// The Vite version every app pins (8.x: Node 20.19+ and 22.12+).
pub const VITE_VERSION: &str = "8.4.0";

/// Runtime dependencies, pinned exactly.
pub const DEPENDENCIES: &[(&str, &str)] = &[("react", "19.2.0"), ("react-dom", "19.2.0")];

/// Build-time dependencies, pinned exactly. None has an install script: the native
/// parts (TypeScript 7, Rolldown, Tailwind's Oxide, Lightning CSS) are per-platform
/// optional dependencies, fetched with their parent.
pub const DEV_DEPENDENCIES: &[(&str, &str)] = &[
    ("@tailwindcss/vite", "4.3.5"),
    ("@types/react", "19.2.2"),
    ("@types/react-dom", "19.2.2"),
    ("@vitejs/plugin-react", "6.3.0"),
    ("tailwindcss", "4.3.5"),
    ("typescript", "7.0.2"),
    ("vite", VITE_VERSION),
];

/// What an app kind adds to the scaffold.
pub struct AppParts {
    /// Title shown in the header and the tab (plain text; a name in the prompt wins).
    pub title: String,
    /// localStorage key prefix (`buildwire.todo`).
    pub storage: String,
    /// More `APP` settings for `src/config.ts`: name and JSON value.
    pub config: Vec<(&'static str, serde_json::Value)>,
    /// The app's own files (components, hooks, types).
    pub files: Vec<ProjectFile>,
    /// Components `App.tsx` renders, in order, each from `./components/<Name>`.
    pub components: Vec<&'static str>,
    /// Tailwind max-width class of the page's main column.
    pub width: &'static str,
}

/// A project file.
pub(crate) fn file(path: &str, content: &str) -> ProjectFile {
    ProjectFile::new(path, content)
}

/// Every file of a new `kind` app for `prompt`, in the order the plan writes them.
pub fn app_files(kind: AppKind, prompt: &str) -> Vec<ProjectFile> {
    let mut parts = match kind {
        AppKind::Todo => todo::parts(),
        AppKind::Notes => notes::parts(),
        AppKind::Kanban => kanban::parts(),
        AppKind::Timer => timer::parts(),
        AppKind::Landing => landing::parts(prompt),
        AppKind::Generic => generic::parts(prompt),
    };
    if let Some(name) = name_in(prompt) {
        parts.title = name;
    }
    let slug = kind.slug();
    let mut files = vec![
        file("package.json", &package_json(slug)),
        file(
            "vite.config.ts",
            include_str!("templates/shared/vite.config.ts"),
        ),
        file(
            "tsconfig.json",
            include_str!("templates/shared/tsconfig.json"),
        ),
        file("index.html", &index_html(slug, &parts.title)),
        file("src/main.tsx", include_str!("templates/shared/main.tsx")),
        file(
            "src/vite-env.d.ts",
            include_str!("templates/shared/vite-env.d.ts"),
        ),
        file("src/config.ts", &config_ts(&parts, wants_dark_mode(prompt))),
        file("src/index.css", include_str!("templates/shared/index.css")),
        file(
            "src/components/Header.tsx",
            include_str!("templates/shared/Header.tsx"),
        ),
        file(
            "src/components/ThemeToggle.tsx",
            include_str!("templates/shared/ThemeToggle.tsx"),
        ),
        file(
            "src/hooks/useTheme.ts",
            include_str!("templates/shared/useTheme.ts"),
        ),
        file(
            "src/hooks/useLocalStorage.ts",
            include_str!("templates/shared/useLocalStorage.ts"),
        ),
        file(
            "src/hooks/useFilter.ts",
            include_str!("templates/shared/useFilter.ts"),
        ),
        file("src/lib/id.ts", include_str!("templates/shared/id.ts")),
    ];
    files.append(&mut parts.files);
    files.push(file("src/App.tsx", &app_tsx(&parts)));
    if kind == AppKind::Generic {
        // Search is part of the generic app: the same files the search follow-up writes.
        let search = super::followups::react::with_search(&files);
        crate::apply_writes(&mut files, &search);
        // App.tsx stays last, as the plan writes it.
        if let Some(at) = files.iter().position(|f| f.path == "src/App.tsx") {
            let app = files.remove(at);
            files.push(app);
        }
    }
    files
}

fn package_json(slug: &str) -> String {
    let list = |deps: &[(&str, &str)]| {
        deps.iter()
            .map(|(name, version)| format!("    \"{name}\": \"{version}\""))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    format!(
        r#"{{
  "name": "buildwire-{slug}",
  "private": true,
  "version": "0.1.0",
  "type": "module",
  "scripts": {{
    "dev": "vite",
    "build": "tsc --noEmit & vite build && wait $!",
    "typecheck": "tsc --noEmit",
    "preview": "vite preview"
  }},
  "dependencies": {{
{}
  }},
  "devDependencies": {{
{}
  }}
}}
"#,
        list(DEPENDENCIES),
        list(DEV_DEPENDENCIES)
    )
}

fn index_html(slug: &str, title: &str) -> String {
    let title = html_escape(title);
    format!(
        r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <meta name="generator" content="buildwire offline {slug}" />
    <link rel="icon" href="data:," />
    <title>{title}</title>
  </head>
  <body>
    <div id="root"></div>
    <script type="module" src="/src/main.tsx"></script>
  </body>
</html>
"#
    )
}

/// A TypeScript literal for `value` (JSON is valid TypeScript; prompt text stays inside
/// string literals).
pub(crate) fn ts_literal(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn config_ts(parts: &AppParts, dark_mode_asked: bool) -> String {
    let mut lines = vec![
        format!("  title: {},", ts_literal(&parts.title.clone().into())),
        format!(
            "  storageKey: {},",
            ts_literal(&parts.storage.clone().into())
        ),
        format!("  followSystemTheme: {dark_mode_asked},"),
    ];
    for (name, value) in &parts.config {
        lines.push(format!("  {name}: {},", ts_literal(value)));
    }
    format!(
        "/** This app's settings, taken from the prompt it was built from. */\nexport const APP = {{\n{}\n}} as const;\n",
        lines.join("\n")
    )
}

fn app_tsx(parts: &AppParts) -> String {
    let imports: String = parts
        .components
        .iter()
        .map(|name| format!("import {{ {name} }} from './components/{name}';\n"))
        .collect();
    let body: String = parts
        .components
        .iter()
        .map(|name| format!("        <{name} />\n"))
        .collect();
    include_str!("templates/shared/App.tsx")
        .replace("__IMPORTS__", &imports)
        .replace("__BODY__", &body)
        .replace("__WIDTH__", parts.width)
}
