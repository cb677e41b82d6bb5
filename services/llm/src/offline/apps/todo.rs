//! The todo app: add, complete and delete todos, clear the completed ones; todos and theme
//! persist in localStorage across reloads.
//!
//! Hooks for browser tests: `#todo-form`, `#new-todo`, `#add-todo`, `#todo-list` with
//! `.todo-item` (`data-id`, class `completed` when done) holding `.todo-toggle`,
//! `.todo-text`, `.todo-delete`; `#todo-count` ("2 items left"), `#todo-empty`,
//! `#clear-completed`; `#theme-toggle` (dark mode: `html.dark`, `data-theme="dark"`).
//! localStorage: `buildwire.todo.items` (`[{id, text, done}]`), `buildwire.todo.theme`.

use super::{AppParts, file};

/// The todo app's parts.
pub fn parts() -> AppParts {
    AppParts {
        title: "Todo List".into(),
        storage: "buildwire.todo".into(),
        config: Vec::new(),
        files: vec![
            file("src/types.ts", include_str!("templates/todo/types.ts")),
            file(
                "src/components/TodoForm.tsx",
                include_str!("templates/todo/TodoForm.tsx"),
            ),
            file(
                "src/components/TodoItem.tsx",
                include_str!("templates/todo/TodoItem.tsx"),
            ),
            file(
                "src/components/TodoList.tsx",
                include_str!("templates/todo/TodoList.tsx"),
            ),
        ],
        components: vec!["TodoList"],
        width: "max-w-2xl",
    }
}
