//! The kanban board: cards in To do / Doing / Done columns, moved with arrow buttons or by
//! dragging, deleted; saved in localStorage.
//!
//! Hooks: `#card-form`, `#new-card`, `#add-card`; `.kanban-column[data-column=todo|doing|done]`
//! (`#column-todo`, ...) with `.column-count` and a `.kanban-cards` list of `.kanban-card`
//! (`data-id`) holding `.card-text`, `.card-left`, `.card-right`, `.card-delete`.
//! localStorage: `buildwire.kanban.cards` (`[{id, text, column}]`).

use super::{AppParts, file};

/// The kanban board's parts.
pub fn parts() -> AppParts {
    AppParts {
        title: "Kanban Board".into(),
        storage: "buildwire.kanban".into(),
        config: Vec::new(),
        files: vec![
            file("src/types.ts", include_str!("templates/kanban/types.ts")),
            file(
                "src/components/CardForm.tsx",
                include_str!("templates/kanban/CardForm.tsx"),
            ),
            file(
                "src/components/KanbanCard.tsx",
                include_str!("templates/kanban/KanbanCard.tsx"),
            ),
            file(
                "src/components/Column.tsx",
                include_str!("templates/kanban/Column.tsx"),
            ),
            file(
                "src/components/Board.tsx",
                include_str!("templates/kanban/Board.tsx"),
            ),
        ],
        components: vec!["Board"],
        width: "max-w-6xl",
    }
}
