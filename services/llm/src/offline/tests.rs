//! Offline provider tests: plans, determinism, app choice, follow-ups, escaping.

use buildwire_schemas::events::Plan;
use futures::executor::block_on;

use super::*;

/// Plans `prompt` against `files` and runs every task in order, as the stages do: the plan,
/// the resulting tree, and what the tasks wrote.
fn run(prompt: &str, files: &[ProjectFile]) -> (Plan, Vec<ProjectFile>, Vec<ProjectFile>) {
    block_on(async {
        let provider = OfflineProvider;
        let plan = crate::plan(&provider, prompt, files).await.expect("plan");
        let mut tree = files.to_vec();
        let mut written = Vec::new();
        for task in &plan.tasks {
            let files = crate::write_task(&provider, prompt, task, &tree)
                .await
                .expect("write");
            apply_writes(&mut tree, &files);
            apply_writes(&mut written, &files);
        }
        (plan, tree, written)
    })
}

fn app(prompt: &str) -> Vec<ProjectFile> {
    run(prompt, &[]).1
}

fn content<'a>(files: &'a [ProjectFile], path: &str) -> &'a str {
    &find_file(files, path)
        .unwrap_or_else(|| panic!("{path} missing"))
        .content
}

fn paths(files: &[ProjectFile]) -> Vec<&str> {
    files.iter().map(|file| file.path.as_str()).collect()
}

const APP_PROMPTS: &[(&str, &str)] = &[
    ("Create a todo app with dark mode", "todo"),
    ("Make a notes app", "notes"),
    ("Build a kanban board", "kanban"),
    ("Create a stopwatch timer", "timer"),
    ("Landing page for a coffee shop", "landing"),
    ("Create a recipe manager", "app"),
];

#[test]
fn new_app_plan_has_four_estimated_tasks() {
    let (plan, _, _) = run("Create a todo app with dark mode", &[]);
    let ids: Vec<&str> = plan.tasks.iter().map(|task| task.id.as_str()).collect();
    assert_eq!(ids, ["setup", "tailwind", "components", "app"]);
    assert_eq!(plan.tasks[0].name, "Set up Vite, React and TypeScript");
    assert_eq!(plan.tasks[1].name, "Configure Tailwind CSS");
    assert!(
        plan.tasks[2].name.contains("TodoList") && plan.tasks[2].name.contains("TodoItem"),
        "{}",
        plan.tasks[2].name
    );
    assert!(
        plan.tasks
            .iter()
            .all(|task| task.estimated_duration > 0 && !task.description.is_empty())
    );
    assert_eq!(
        plan.total_estimated_time,
        plan.tasks
            .iter()
            .map(|task| task.estimated_duration)
            .sum::<u64>()
    );
    assert!(
        plan.id.starts_with("plan-") && plan.id.len() == 21,
        "{}",
        plan.id
    );
}

#[test]
fn answers_like_a_model_text_then_tool_calls() {
    let request = Completion {
        system: String::new(),
        prompt: "Create a todo app".into(),
        files: vec![],
        task: None,
        tools: vec![tools::submit_plan()],
    };
    let deltas: Vec<Delta> = block_on(
        OfflineProvider
            .complete(request.clone())
            .map(|d| d.expect("delta"))
            .collect(),
    );
    assert!(
        matches!(&deltas[0], Delta::Usage(usage) if usage.provider == "offline" && usage.output_tokens == 0)
    );
    assert!(matches!(&deltas[1], Delta::Text(text) if text.contains("todo")));
    assert!(
        matches!(&deltas[2], Delta::ToolUse { name, id, .. } if name == SUBMIT_PLAN && id == "toolu_offline_00")
    );
    assert_eq!(deltas.len(), 3);
    let no_tools = Completion {
        tools: vec![],
        ..request
    };
    let deltas: Vec<_> = block_on(OfflineProvider.complete(no_tools).collect());
    assert!(matches!(deltas.as_slice(), [Ok(Delta::Text(_))]));
}

#[test]
fn same_prompt_same_output() {
    for (prompt, _) in APP_PROMPTS {
        assert_eq!(run(prompt, &[]), run(prompt, &[]), "{prompt}");
    }
    let todo = app("Create a todo app");
    assert_eq!(
        run("Add a search feature", &todo),
        run("Add a search feature", &todo)
    );
}

#[test]
fn picks_each_app_and_writes_every_file() {
    for (prompt, slug) in APP_PROMPTS {
        let (_, tree, written) = run(prompt, &[]);
        let written = paths(&written);
        assert_eq!(
            written[..4],
            [
                "package.json",
                "vite.config.ts",
                "tsconfig.json",
                "index.html"
            ],
            "{prompt}"
        );
        assert_eq!(written.last(), Some(&"src/App.tsx"), "{prompt}");
        for path in [
            "src/main.tsx",
            "src/config.ts",
            "src/vite-env.d.ts",
            "src/index.css",
            "src/components/Header.tsx",
            "src/components/ThemeToggle.tsx",
            "src/hooks/useFilter.ts",
        ] {
            assert!(written.contains(&path), "{prompt}: {path}");
        }
        assert!(
            written
                .iter()
                .filter(|p| p.starts_with("src/components/"))
                .count()
                >= 3,
            "{prompt}: {written:?}"
        );
        let html = content(&tree, "index.html");
        assert!(
            html.contains(&format!("content=\"buildwire offline {slug}\"")),
            "{prompt}: {html}"
        );
        assert!(html.contains(r#"<div id="root"></div>"#));
        assert!(html.contains(r#"<script type="module" src="/src/main.tsx"></script>"#));
        let manifest: serde_json::Value =
            serde_json::from_str(content(&tree, "package.json")).expect("package.json is JSON");
        assert_eq!(manifest["private"], true);
        assert_eq!(manifest["type"], "module");
        assert_eq!(
            manifest["scripts"]["build"],
            "tsc --noEmit & vite build && wait $!"
        );
        assert_eq!(manifest["scripts"]["typecheck"], "tsc --noEmit");
        assert_eq!(manifest["devDependencies"]["vite"], VITE_VERSION);
        assert_eq!(manifest["name"], format!("buildwire-{slug}"));
        for section in ["dependencies", "devDependencies"] {
            for (name, version) in manifest[section].as_object().expect("deps") {
                let version = version.as_str().expect("version");
                assert!(
                    version.chars().all(|c| c.is_ascii_digit() || c == '.'),
                    "{name} is pinned exactly: {version}"
                );
            }
        }
        for package in ["react", "react-dom"] {
            assert!(manifest["dependencies"][package].is_string(), "{package}");
        }
        for package in [
            "typescript",
            "tailwindcss",
            "@tailwindcss/vite",
            "@vitejs/plugin-react",
        ] {
            assert!(
                manifest["devDependencies"][package].is_string(),
                "{package}"
            );
        }
        let tsconfig: serde_json::Value =
            serde_json::from_str(content(&tree, "tsconfig.json")).expect("tsconfig is JSON");
        assert_eq!(tsconfig["compilerOptions"]["strict"], true);
        assert!(content(&tree, "vite.config.ts").contains("base: './'"));
        assert!(content(&tree, "vite.config.ts").contains("tailwindcss()"));
        let css = content(&tree, "src/index.css");
        assert!(css.contains("@import 'tailwindcss';"), "{css}");
        assert!(
            css.contains("@custom-variant dark (&:where(.dark, .dark *));"),
            "dark mode follows the class: {css}"
        );
        let app = content(&tree, "src/App.tsx");
        for marker in [
            "// buildwire:imports",
            "{/* buildwire:main-start */}",
            "{/* buildwire:main-end */}",
        ] {
            assert!(app.contains(marker), "{prompt}: {marker}");
        }
        assert!(content(&tree, "src/components/Header.tsx").contains("// buildwire:header-colors"));
        assert!(content(&tree, "src/config.ts").contains("title: "));
    }
}

#[test]
fn todo_app_has_documented_hooks_and_persists() {
    let files = app("Create a todo app with dark mode");
    let sources: String = files
        .iter()
        .filter(|file| file.path.ends_with(".tsx") || file.path.ends_with(".ts"))
        .map(|file| file.content.as_str())
        .collect();
    for hook in [
        "id=\"todo-form\"",
        "id=\"new-todo\"",
        "id=\"add-todo\"",
        "id=\"todo-list\"",
        "id=\"todo-count\"",
        "id=\"theme-toggle\"",
        "id=\"clear-completed\"",
        "todo-item",
        "todo-toggle",
        "todo-delete",
        "completed",
        "classList.toggle('dark'",
        "root.dataset.theme = theme",
        "${APP.storageKey}.items",
        "${APP.storageKey}.theme",
        "localStorage.setItem",
    ] {
        assert!(sources.contains(hook), "{hook}");
    }
    assert!(!sources.contains("dangerouslySetInnerHTML"));
    let config = content(&files, "src/config.ts");
    assert!(
        config.contains("storageKey: \"buildwire.todo\""),
        "{config}"
    );
    assert!(
        config.contains("followSystemTheme: true"),
        "dark mode was asked for"
    );
    assert!(
        content(&app("Create a todo app"), "src/config.ts").contains("followSystemTheme: false")
    );
}

#[test]
fn prompt_text_is_escaped_everywhere() {
    let prompt =
        r#"Create a <script>alert("x")</script> & 'quoted' <img src=x onerror=alert(1)> app"#;
    for files in [app(prompt), app(&format!("Landing page for {prompt}"))] {
        for file in &files {
            assert!(!file.content.contains("<script>alert"), "{}", file.path);
            assert!(!file.content.contains("<img src=x"), "{}", file.path);
        }
    }
    let named = app(r#"a todo app called "<b>Bold</b> & Co""#);
    assert!(
        content(&named, "index.html").contains("<title>&lt;b&gt;Bold&lt;/b&gt; &amp; Co</title>")
    );
    assert!(content(&named, "src/config.ts").contains(r#"title: "<b>Bold</b> & Co","#));
    let todo = app("Create a todo app");
    let (_, tree, _) = run(prompt, &todo);
    let requests = content(&tree, "src/components/RequestedChanges.tsx");
    let literal = serde_json::to_string(prompt).expect("json");
    assert!(requests.contains(&format!("{literal},")), "{requests}");
    assert_eq!(content(&tree, "index.html"), content(&todo, "index.html"));
}

#[test]
fn names_and_nouns_come_from_the_prompt() {
    let files = app("Create a recipe manager with tags");
    assert!(content(&files, "index.html").contains("<title>Recipe Manager</title>"));
    let landing = app("Create a landing page for Bean There, a coffee shop");
    assert!(content(&landing, "index.html").contains("<title>Bean There</title>"));
    let bakery = app("a landing page for my bakery called Sweet Crumbs");
    assert!(content(&bakery, "index.html").contains("<title>Sweet Crumbs</title>"));
    let config = content(&bakery, "src/config.ts");
    assert!(
        config.contains("title: \"Sweet Crumbs\"") && config.contains("bakery"),
        "{config}"
    );
    let named = app("Create a todo app called Daily Wins with dark mode");
    assert!(content(&named, "index.html").contains("<title>Daily Wins</title>"));
    assert!(content(&named, "src/components/TodoList.tsx").contains("TodoForm"));

    let recipes = app("a recipe manager with ingredients and cooking time");
    let schema = content(&recipes, "src/schema.ts");
    for expected in [
        r#"one: "recipe","#,
        r#"many: "recipes","#,
        r#"{ key: "name", label: "Name", kind: "text" },"#,
        r#"{ key: "ingredients", label: "Ingredients", kind: "list" },"#,
        r#"{ key: "cookingTime", label: "Cooking time", kind: "duration", unit: "min" },"#,
    ] {
        assert!(schema.contains(expected), "{expected} in {schema}");
    }
    assert!(content(&recipes, "src/config.ts").contains("storageKey: \"buildwire.recipes\""));
    // The generic app searches from the start.
    assert!(content(&recipes, "src/App.tsx").contains("<SearchBar />"));
    assert!(content(&recipes, "src/hooks/useFilter.ts").contains("useSearchQuery"));
}

#[test]
fn every_path_stays_inside_the_project() {
    let todo = app("Create a todo app");
    for (prompt, files) in [
        ("Create a todo app ../../etc/passwd", vec![]),
        (
            "Add search and a counter and make the header red",
            todo.clone(),
        ),
        ("write /etc/passwd", todo),
    ] {
        for file in run(prompt, &files).2 {
            assert!(
                !file.path.starts_with('/') && !file.path.contains(".."),
                "{}",
                file.path
            );
            assert!(!file.path.contains('\\'));
        }
    }
}

/// Every file of `before` is still there, every line of its `App.tsx` too, and every
/// component it rendered still renders.
fn assert_keeps(before: &[ProjectFile], after: &[ProjectFile]) {
    for file in before {
        assert!(find_file(after, &file.path).is_some(), "lost {}", file.path);
    }
    let app = content(after, "src/App.tsx");
    for line in content(before, "src/App.tsx").lines() {
        assert!(app.contains(line), "lost: {line}");
    }
}

#[test]
fn search_follow_up_filters_each_app_and_keeps_it() {
    for (prompt, slug) in APP_PROMPTS {
        let before = app(prompt);
        let (plan, after, written) = run("Add a search feature", &before);
        assert_eq!(plan.tasks.len(), 1);
        assert_eq!(plan.tasks[0].id, "search");
        let expected: &[&str] = if *slug == "app" {
            // The generic app has search already: nothing changes.
            &["src/App.tsx"]
        } else {
            &[
                "src/search.ts",
                "src/hooks/useFilter.ts",
                "src/components/SearchBar.tsx",
                "src/App.tsx",
            ]
        };
        assert_eq!(paths(&written), expected, "{prompt}");
        assert_keeps(&before, &after);
        let app_tsx = content(&after, "src/App.tsx");
        assert_eq!(app_tsx.matches("<SearchBar />").count(), 1);
        assert_eq!(
            app_tsx
                .matches("import { SearchBar } from './components/SearchBar';")
                .count(),
            1
        );
        assert!(
            app_tsx.find("<SearchBar />") < app_tsx.find("{/* buildwire:main-end */}"),
            "{app_tsx}"
        );
        assert!(content(&after, "src/hooks/useFilter.ts").contains("matchesSearch"));
        let lists: Vec<&ProjectFile> = after
            .iter()
            .filter(|file| file.content.contains("useFilter("))
            .collect();
        assert!(
            !lists.is_empty(),
            "{prompt}: a list filters through useFilter"
        );
        // Twice changes nothing more.
        let (_, again, _) = run("Add a search feature", &after);
        assert_eq!(again, after, "{prompt}");
    }
}

#[test]
fn header_color_follow_up_recolors_once() {
    let todo = app("Create a todo app with dark mode");
    let (plan, blue, written) = run("make the header blue", &todo);
    assert_eq!(plan.tasks[0].name, "Make the header blue");
    assert_eq!(paths(&written), ["src/components/Header.tsx"]);
    let header = content(&blue, "src/components/Header.tsx");
    assert!(
        header.contains("const HEADER_COLORS = 'bg-[#2563eb] text-[#ffffff]';"),
        "{header}"
    );
    let (_, red, _) = run("Make the header red", &blue);
    let header = content(&red, "src/components/Header.tsx");
    assert!(header.contains("#dc2626") && !header.contains("#2563eb"));
    assert_eq!(header.matches("buildwire:header-colors").count(), 1);
    for color in ["green", "purple", "orange"] {
        let (plan, _, _) = run(&format!("Change the header color to {color}"), &todo);
        assert_eq!(plan.tasks[0].id, "header-color", "{color}");
    }
}

#[test]
fn counter_follow_up_adds_a_working_counter() {
    let todo = app("Create a todo app with dark mode");
    let (_, after, written) = run("add a counter", &todo);
    assert_eq!(
        paths(&written),
        ["src/components/Counter.tsx", "src/App.tsx"]
    );
    assert_keeps(&todo, &after);
    let app_tsx = content(&after, "src/App.tsx");
    assert_eq!(app_tsx.matches("<Counter />").count(), 1);
    assert!(app_tsx.find("<TodoList />") < app_tsx.find("<Counter />"));
    let counter = content(&after, "src/components/Counter.tsx");
    for id in [
        "counter",
        "counter-value",
        "counter-increment",
        "counter-decrement",
    ] {
        assert!(counter.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let (_, again, _) = run("add a counter", &after);
    assert_eq!(again, after);
}

#[test]
fn unknown_follow_up_shows_the_request() {
    let todo = app("Create a todo app");
    let (plan, after, written) = run("Show a welcome message for <b>guests</b>", &todo);
    assert_eq!(plan.tasks[0].id, "note");
    assert_eq!(
        paths(&written),
        ["src/components/RequestedChanges.tsx", "src/App.tsx"]
    );
    assert_keeps(&todo, &after);
    let requests = content(&after, "src/components/RequestedChanges.tsx");
    assert!(requests.contains(r#""Show a welcome message for <b>guests</b>","#));
    let (_, again, _) = run("Show a welcome message for <b>guests</b>", &after);
    assert_eq!(again, after);
    let (_, more, _) = run("Add a footer", &after);
    let requests = content(&more, "src/components/RequestedChanges.tsx");
    assert!(
        requests.find("welcome") < requests.find("Add a footer"),
        "requests keep their order"
    );
    assert_eq!(
        content(&more, "src/App.tsx")
            .matches("<RequestedChanges />")
            .count(),
        1
    );
}

#[test]
fn several_changes_in_one_follow_up() {
    let notes = app("Make a notes app");
    let (plan, after, _) = run("Add search, a counter, and make the header green", &notes);
    let ids: Vec<&str> = plan.tasks.iter().map(|task| task.id.as_str()).collect();
    assert_eq!(ids, ["search", "header-color", "counter"]);
    assert_keeps(&notes, &after);
    let app_tsx = content(&after, "src/App.tsx");
    assert!(app_tsx.contains("<SearchBar />") && app_tsx.contains("<Counter />"));
    assert!(content(&after, "src/components/Header.tsx").contains("#16a34a"));
}

#[test]
fn follow_ups_fall_back_without_markers() {
    let foreign = vec![
        ProjectFile::new(
            "index.html",
            "<html><head><title>x</title></head><body><main><ul><li>a</li></ul></main><script type=\"module\" src=\"/src/main.ts\"></script></body></html>",
        ),
        ProjectFile::new("src/main.ts", "console.log('hi');\n"),
    ];
    let (_, after, _) = run("add a search box", &foreign);
    let html = content(&after, "index.html");
    assert!(html.contains("<main>\n      <section id=\"search-bar\""));
    assert!(
        content(&after, "src/main.ts")
            .starts_with("import './features/search.js';\nconsole.log('hi');")
    );
    assert!(
        content(&after, "src/features/search.js")
            .contains("const ITEMS = 'li, article, tbody tr';")
    );
    assert!(
        html.contains("[data-search-hidden]"),
        "styles go in a <style> without a stylesheet"
    );
    let (_, after, _) = run("make the header purple", &after);
    assert!(content(&after, "index.html").contains("#7c3aed"));
    let bare = vec![ProjectFile::new("index.html", "<body><p>x</p></body>")];
    let (_, after, _) = run("add a counter", &bare);
    let html = content(&after, "index.html");
    assert!(html.contains("id=\"counter\"") && html.contains("src=\"/src/features/counter.js\""));
}

#[test]
fn tasks_from_elsewhere_still_get_work_done() {
    let stranger = PlanTask {
        id: "t1".into(),
        name: "Do it all".into(),
        description: String::new(),
        estimated_duration: 1,
    };
    let files = block_on(crate::write_task(
        &OfflineProvider,
        "Create a kanban board",
        &stranger,
        &[],
    ))
    .expect("whole app");
    assert_eq!(files, app("Create a kanban board"));
    let changed = block_on(crate::write_task(
        &OfflineProvider,
        "add a counter",
        &stranger,
        &files,
    ))
    .expect("changes");
    assert!(content(&changed, "src/App.tsx").contains("<Counter />"));
    let color = PlanTask {
        id: "header-color".into(),
        ..stranger
    };
    let header = block_on(crate::write_task(
        &OfflineProvider,
        "recolor it",
        &color,
        &files,
    ))
    .expect("color");
    assert!(
        content(&header, "src/components/Header.tsx").contains("#2563eb"),
        "blue when no color is named"
    );
}
