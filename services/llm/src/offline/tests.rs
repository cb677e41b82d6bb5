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
    assert_eq!(ids, ["config", "structure", "styles", "logic"]);
    assert_eq!(plan.tasks[0].name, "Create project configuration");
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
    assert!(matches!(&deltas[0], Delta::Text(text) if text.contains("todo")));
    assert!(
        matches!(&deltas[1], Delta::ToolUse { name, id, .. } if name == SUBMIT_PLAN && id == "toolu_offline_00")
    );
    assert_eq!(deltas.len(), 2);
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
        assert_eq!(
            paths(&written),
            [
                "package.json",
                "vite.config.js",
                "index.html",
                "src/style.css",
                "src/main.js"
            ],
            "{prompt}"
        );
        let html = content(&tree, "index.html");
        assert!(
            html.contains(&format!("content=\"buildwire offline {slug}\"")),
            "{prompt}: {html}"
        );
        for slot in ["header", "main-start", "main-end"] {
            assert!(
                html.contains(&format!("<!-- buildwire:slot:{slot} -->")),
                "{prompt}: slot {slot}"
            );
        }
        assert!(html.contains(r#"<script type="module" src="/src/main.js"></script>"#));
        let manifest: serde_json::Value =
            serde_json::from_str(content(&tree, "package.json")).expect("package.json is JSON");
        assert_eq!(manifest["private"], true);
        assert_eq!(manifest["type"], "module");
        assert_eq!(manifest["scripts"]["build"], "vite build");
        assert_eq!(manifest["devDependencies"]["vite"], VITE_VERSION);
        assert_eq!(manifest["name"], format!("buildwire-{slug}"));
        assert!(content(&tree, "vite.config.js").contains("base: './'"));
        let js = content(&tree, "src/main.js");
        assert!(
            js.starts_with("import './style.css';\n// buildwire:slot:imports\n"),
            "{prompt}"
        );
        assert!(js.contains("#theme-toggle"));
        assert!(content(&tree, "src/style.css").contains("body.dark"));
    }
}

#[test]
fn todo_app_has_documented_hooks_and_persists() {
    let files = app("Create a todo app with dark mode");
    let html = content(&files, "index.html");
    for hook in [
        "id=\"todo-form\"",
        "id=\"new-todo\"",
        "id=\"add-todo\"",
        "id=\"todo-list\"",
        "id=\"todo-count\"",
        "id=\"theme-toggle\"",
        "id=\"clear-completed\"",
    ] {
        assert!(html.contains(hook), "{hook}");
    }
    let js = content(&files, "src/main.js");
    for hook in [
        "'todo-item'",
        "'todo-toggle'",
        "'todo-delete'",
        "classList.toggle('dark', dark)",
        "dataset.theme = theme",
        "'buildwire.todo.items'",
        "'buildwire.todo.theme'",
        "localStorage.setItem(THEME_KEY, theme)",
        "saveList(TODOS_KEY, todos)",
        "loadList(TODOS_KEY)",
    ] {
        assert!(js.contains(hook), "{hook}");
    }
    assert!(
        !js.contains("innerHTML"),
        "todo text is set with textContent"
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
        assert!(content(&files, "index.html").contains("&lt;script&gt;"));
    }
    let todo = app("Create a todo app");
    let (_, tree, _) = run(prompt, &todo);
    let html = content(&tree, "index.html");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img"));
}

#[test]
fn generic_app_is_titled_from_the_prompt() {
    let files = app("Create a recipe manager with tags");
    let html = content(&files, "index.html");
    assert!(html.contains("<title>Recipe Manager</title>"));
    assert!(html.contains("Create a recipe manager with tags"));
    assert!(html.contains("id=\"new-item\""));
    let landing = app("Create a landing page for Bean There, a coffee shop");
    assert!(content(&landing, "index.html").contains("<title>Bean There</title>"));
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

fn assert_keeps(before: &[ProjectFile], after: &[ProjectFile]) {
    // Every line of the old main.js and every old element id survive the change.
    for line in content(before, "src/main.js").lines() {
        assert!(content(after, "src/main.js").contains(line), "lost: {line}");
    }
    let html = content(after, "index.html");
    for id in content(before, "index.html").split("id=\"").skip(1) {
        let id = id.split('"').next().unwrap_or_default();
        assert!(html.contains(&format!("id=\"{id}\"")), "lost #{id}");
    }
}

#[test]
fn search_follow_up_filters_each_app_and_keeps_it() {
    for (prompt, _) in APP_PROMPTS {
        let before = app(prompt);
        let (plan, after, written) = run("Add a search feature", &before);
        assert_eq!(plan.tasks.len(), 1);
        assert_eq!(plan.tasks[0].id, "search");
        assert_eq!(
            paths(&written),
            [
                "index.html",
                "src/features/search.js",
                "src/main.js",
                "src/style.css"
            ],
            "{prompt}"
        );
        assert_keeps(&before, &after);
        let html = content(&after, "index.html");
        assert_eq!(html.matches(" id=\"search\"").count(), 1);
        assert!(html.find("id=\"search\"") < html.find("<!-- buildwire:slot:main-end -->"));
        assert!(
            content(&after, "src/features/search.js")
                .contains("const ITEMS = '[data-search-item]';")
        );
        assert!(content(&after, "src/main.js").contains("import './features/search.js';"));
        let items_marked = content(&after, "src/main.js").contains("dataset.searchItem = ''")
            || html.contains("data-search-item");
        assert!(items_marked, "{prompt}: items carry data-search-item");
        assert!(content(&after, "src/style.css").contains("[data-search-hidden]"));
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
    assert_eq!(paths(&written), ["src/style.css"]);
    let css = content(&blue, "src/style.css");
    assert!(css.contains("background: #2563eb !important;"));
    assert!(css.starts_with(content(&todo, "src/style.css")));
    let (_, red, _) = run("Make the header red", &blue);
    let css = content(&red, "src/style.css");
    assert!(css.contains("#dc2626") && !css.contains("#2563eb"));
    assert_eq!(css.matches("buildwire:header-color:start").count(), 1);
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
        [
            "index.html",
            "src/features/counter.js",
            "src/main.js",
            "src/style.css"
        ]
    );
    assert_keeps(&todo, &after);
    let html = content(&after, "index.html");
    for id in [
        "counter",
        "counter-value",
        "counter-increment",
        "counter-decrement",
    ] {
        assert_eq!(html.matches(&format!(" id=\"{id}\"")).count(), 1, "{id}");
    }
    assert!(content(&after, "src/features/counter.js").contains("#counter-increment"));
    let (_, again, _) = run("add a counter", &after);
    assert_eq!(again, after);
}

#[test]
fn unknown_follow_up_shows_the_request() {
    let todo = app("Create a todo app");
    let (plan, after, written) = run("Show a welcome message for <b>guests</b>", &todo);
    assert_eq!(plan.tasks[0].id, "note");
    assert_eq!(paths(&written), ["index.html", "src/style.css"]);
    assert_keeps(&todo, &after);
    let html = content(&after, "index.html");
    assert!(html.contains("Show a welcome message for &lt;b&gt;guests&lt;/b&gt;"));
    let (_, again, _) = run("Show a welcome message for <b>guests</b>", &after);
    assert_eq!(again, after);
}

#[test]
fn several_changes_in_one_follow_up() {
    let notes = app("Make a notes app");
    let (plan, after, _) = run("Add search, a counter, and make the header green", &notes);
    let ids: Vec<&str> = plan.tasks.iter().map(|task| task.id.as_str()).collect();
    assert_eq!(ids, ["search", "header-color", "counter"]);
    assert_keeps(&notes, &after);
    let js = content(&after, "src/main.js");
    assert!(
        js.contains("import './features/search.js';")
            && js.contains("import './features/counter.js';")
    );
    assert!(content(&after, "src/style.css").contains("#16a34a"));
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
    assert_eq!(files.len(), 5);
    let changed = block_on(crate::write_task(
        &OfflineProvider,
        "add a counter",
        &stranger,
        &files,
    ))
    .expect("changes");
    assert!(content(&changed, "index.html").contains("id=\"counter\""));
    let color = PlanTask {
        id: "header-color".into(),
        ..stranger
    };
    let css = block_on(crate::write_task(
        &OfflineProvider,
        "recolor it",
        &color,
        &files,
    ))
    .expect("color");
    assert!(
        content(&css, "src/style.css").contains("#2563eb"),
        "blue when no color is named"
    );
}
