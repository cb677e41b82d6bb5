//! Project files as the LLM sees and writes them.

use serde::{Deserialize, Serialize};

/// One file of a project: what a completion reads as context and what `write_file` writes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ProjectFile {
    /// Path relative to the project root with `/` separators (`src/main.js`). Paths the
    /// model wrote are not validated here: the execute stage checks them before writing.
    pub path: String,
    /// The file's full content (UTF-8 text).
    pub content: String,
}

impl ProjectFile {
    /// A file at `path` with `content`.
    pub fn new(path: impl Into<String>, content: impl Into<String>) -> Self {
        ProjectFile {
            path: path.into(),
            content: content.into(),
        }
    }
}

/// Applies `written` to `tree`: a path already present gets the new content in place, a new
/// path is appended. This is how a project's files evolve from task to task.
pub fn apply_writes(tree: &mut Vec<ProjectFile>, written: &[ProjectFile]) {
    for file in written {
        match tree.iter_mut().find(|existing| existing.path == file.path) {
            Some(existing) => existing.content.clone_from(&file.content),
            None => tree.push(file.clone()),
        }
    }
}

/// The file at `path` in `files`, if any.
pub fn find_file<'a>(files: &'a [ProjectFile], path: &str) -> Option<&'a ProjectFile> {
    files.iter().find(|file| file.path == path)
}
