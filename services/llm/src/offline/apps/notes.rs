//! The notes app: write notes with a title and text, edit and delete them, newest first;
//! saved in localStorage.
//!
//! Hooks: `#note-form`, `#note-title`, `#note-body`, `#save-note` ("Save note", "Update
//! note" while editing), `#cancel-edit`, `#note-list` with `.note-item` (`data-id`) holding
//! `.note-title`, `.note-body`, `.note-date`, `.note-edit`, `.note-delete`; `#notes-empty`.
//! localStorage: `buildwire.notes.items`.

use super::{AppParts, file};

/// The notes app's parts.
pub fn parts() -> AppParts {
    AppParts {
        title: "Notes".into(),
        storage: "buildwire.notes".into(),
        config: Vec::new(),
        files: vec![
            file("src/types.ts", include_str!("templates/notes/types.ts")),
            file(
                "src/components/NoteEditor.tsx",
                include_str!("templates/notes/NoteEditor.tsx"),
            ),
            file(
                "src/components/NoteCard.tsx",
                include_str!("templates/notes/NoteCard.tsx"),
            ),
            file(
                "src/components/Notes.tsx",
                include_str!("templates/notes/Notes.tsx"),
            ),
        ],
        components: vec!["Notes"],
        width: "max-w-4xl",
    }
}
