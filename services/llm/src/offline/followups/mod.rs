//! Follow-up changes to an existing project: search, header color, counter, and anything
//! else shown as a requested change. The offline React apps are edited in their components
//! ([`react`]); any other project through its `index.html` ([`html`]). Only the changed
//! files are returned, each whole.

mod html;
pub mod react;

use super::intent::Change;
use crate::ProjectFile;

/// The files `change` rewrites in `files`, with their full new contents.
pub fn apply(change: &Change, files: &[ProjectFile]) -> Vec<ProjectFile> {
    if react::is_offline_app(files) {
        react::apply(change, files)
    } else {
        html::apply(change, files)
    }
}
