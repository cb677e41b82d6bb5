//! Auto-fix (issue 16): when `npm run build` fails, the end of its log and the failing
//! files go back to the model ([`buildwire_llm::fix_build`]); the files it rewrites are
//! checked ([`paths::check`]), written into the build's directory and saved to `sources`
//! (`builds/<id>`, and the project's newest tree when it is still this build's), and
//! `npm run build` runs again: dependencies are installed again only when `package.json`
//! changed. Up to `BUILDWIRE_AUTOFIX_ATTEMPTS` attempts (default 2); only after the last
//! does the build fail, with the last build's error.
//!
//! Viewers see each attempt: a `status` `FIX` ("Fixing build errors (attempt 1 of 2)..."),
//! a task `fix-build-<n>` ("Fix build errors (attempt n)": `task_started`, the files as
//! `file_progress`, its tokens as `usage`, `task_completed` with the files, or
//! `task_failed`), then `status` `BUILD` and the rebuild's log lines.
//!
//! A child module of [`crate::stage`] (declared there with `#[path]`), so it runs the
//! stage's own steps (slots, npm runs, dependencies) without widening their visibility.
//! The offline provider has no fixer: with it, auto-fix is off and a failed build fails
//! at once, as before.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use buildwire_llm::{ProjectFile, Provider};
use buildwire_plan::LlmStep;
use buildwire_runtime::objects::FileTree;
use buildwire_runtime::paths;
use buildwire_runtime::stage::{Job, StageError};
use buildwire_schemas::events::{BuildPhase, StatusCode, TaskDetails, TaskUpdate};
use buildwire_schemas::{EventBody, Stage};

use super::{BuildStage, Step, status};
use crate::{FullLog, RunSpec};

/// Log lines handed to the model: the end of the failed build's output.
pub const LOG_TAIL_LINES: usize = 80;
/// Longest log tail handed to the model, in bytes (its last bytes are kept).
pub const LOG_TAIL_BYTES: usize = 12 * 1024;
/// Most bytes of project files handed to the model with one fix request.
pub const MAX_FILE_BYTES: usize = 256 * 1024;

/// The model that fixes failed builds, and how often it may try.
#[derive(Clone)]
pub struct AutoFix {
    provider: Arc<dyn Provider>,
    attempts: u32,
}

impl std::fmt::Debug for AutoFix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoFix")
            .field("provider", &self.provider.name())
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl AutoFix {
    /// Auto-fix with `provider`, `attempts` times at most; `None` (off) for the offline
    /// provider, which has no fixer, and for 0 attempts.
    pub fn new(provider: Arc<dyn Provider>, attempts: u32) -> Option<AutoFix> {
        if provider.name() == "offline" || attempts == 0 {
            tracing::info!(
                provider = provider.name(),
                attempts,
                "auto-fix off: a failed npm run build fails the build"
            );
            return None;
        }
        Some(AutoFix { provider, attempts })
    }
}

impl BuildStage {
    /// Turns auto-fix on with `provider` (`BUILDWIRE_AUTOFIX_ATTEMPTS` = `attempts`); off
    /// for the offline provider and 0 attempts.
    pub fn with_autofix(mut self, provider: Arc<dyn Provider>, attempts: u32) -> BuildStage {
        self.autofix = AutoFix::new(provider, attempts);
        self
    }

    /// The hook after `npm run build`: `step` as it is when it succeeded or auto-fix is
    /// off, else the outcome of the last rebuild after up to the configured fixes.
    pub(super) async fn autofix(
        &self,
        job: &mut Job,
        dir: &Path,
        mut step: Step,
        full: &mut FullLog,
    ) -> Result<Step, StageError> {
        let Some(fixer) = self.autofix.clone() else {
            return Ok(step);
        };
        if step.outcome.success() || !matches!(step.outcome, crate::Outcome::Exited { .. }) {
            return Ok(step);
        }
        let build_id = job.command.build_id.clone();
        let Some(mut tree) = self.sources.of_build(&build_id).await? else {
            return Ok(step);
        };
        let parent = match job.command.parent_build_id.as_deref() {
            Some(parent) => self.sources.of_build(parent).await?,
            None => None,
        };
        for attempt in 1..=fixer.attempts {
            let task = TaskUpdate {
                task_id: format!("fix-build-{attempt}"),
                task_name: format!("Fix build errors (attempt {attempt})"),
                details: None,
            };
            job.emit(status(
                StatusCode::Fix,
                &format!(
                    "Fixing build errors (attempt {attempt} of {})...",
                    fixer.attempts
                ),
                65,
            ))
            .await?;
            job.emit(EventBody::TaskStarted(task.clone())).await?;
            let tail = log_tail(full.as_str());
            let files = files_for_fix(&tail, &tree, parent.as_ref());
            let llm = LlmStep::new(Stage::Build, Some(&task.task_id));
            let mut observe = llm.observer();
            let prompt = job.command.prompt.clone();
            let call = buildwire_llm::fix_build(
                fixer.provider.as_ref(),
                &prompt,
                &tail,
                &files,
                &mut observe,
            );
            let fixed = match llm.drive(job, call).await? {
                Ok(fixed) => fixed,
                Err(err) => {
                    tracing::warn!(code = err.code(), %err, attempt, "auto-fix: the model gave no fix");
                    fail_task(job, task, err.to_string()).await?;
                    return Ok(step);
                }
            };
            let changes = match checked_changes(fixed, &tree) {
                Ok(changes) if changes.is_empty() => {
                    fail_task(job, task, "the model changed no file".into()).await?;
                    return Ok(step);
                }
                Ok(changes) => changes,
                Err(err) => {
                    fail_task(job, task, err.to_string()).await?;
                    return Ok(step);
                }
            };
            let manifest_changed = changes.iter().any(|f| f.path == "package.json");
            let (created, modified) = split_new(&changes, &tree);
            let old_tree = tree.clone();
            for file in &changes {
                tree.insert(file.path.clone(), file.content.clone());
            }
            let written: FileTree = changes.into_iter().map(|f| (f.path, f.content)).collect();
            paths::materialize(dir, &written)
                .map_err(|e| StageError::fatal("INVALID_PATH", e.to_string()))?;
            self.save_fixed(job, &old_tree, &tree).await?;
            full.push_text(&format!(
                "auto-fix attempt {attempt}: rewrote {}",
                written.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
            let details = TaskDetails {
                files_created: Some(created),
                files_modified: Some(modified),
                error: None,
            };
            job.emit(EventBody::TaskCompleted(TaskUpdate {
                details: Some(details),
                ..task
            }))
            .await?;
            let started = Instant::now();
            let mut offset = step.next_offset;
            if manifest_changed {
                job.emit(status(
                    StatusCode::Install,
                    "Installing dependencies again (package.json changed)...",
                    66,
                ))
                .await?;
                let slot = self.wait_for_slot(job).await?;
                let ready = self.dependencies(job, dir, started, full).await?;
                drop(slot);
                match ready {
                    Ok(ready) => offset = ready.next_offset,
                    Err(error) => {
                        return Err(self.failed(&build_id, std::mem::take(full), error).await);
                    }
                }
            }
            job.emit(status(
                StatusCode::Build,
                &format!("Building application again (after fix {attempt})..."),
                70,
            ))
            .await?;
            let slot = self.wait_for_slot(job).await?;
            step = self
                .limited(
                    job,
                    BuildPhase::Compile,
                    RunSpec::npm_build(dir),
                    offset,
                    started,
                    full,
                )
                .await?;
            drop(slot);
            if step.outcome.success() || !matches!(step.outcome, crate::Outcome::Exited { .. }) {
                return Ok(step);
            }
        }
        Ok(step)
    }

    /// Saves the fixed tree as this build's, and as its project's newest when that is
    /// still this build's tree (a later build of the project is left alone).
    async fn save_fixed(
        &self,
        job: &Job,
        old_tree: &FileTree,
        tree: &FileTree,
    ) -> Result<(), StageError> {
        let build_id = &job.command.build_id;
        let project = match job.command.project_id.as_deref() {
            Some(project) => match self.sources.of_project(project).await? {
                Some(newest) if &newest == old_tree => Some(project),
                _ => None,
            },
            None => None,
        };
        self.sources.save(build_id, project, tree).await?;
        Ok(())
    }
}

async fn fail_task(job: &mut Job, task: TaskUpdate, error: String) -> Result<(), StageError> {
    job.emit(EventBody::TaskFailed(TaskUpdate {
        details: Some(TaskDetails {
            error: Some(error),
            ..TaskDetails::default()
        }),
        ..task
    }))
    .await?;
    Ok(())
}

/// The end of the log: its last [`LOG_TAIL_LINES`] lines, at most [`LOG_TAIL_BYTES`].
pub fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let mut tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
    if tail.len() > LOG_TAIL_BYTES {
        let mut cut = tail.len() - LOG_TAIL_BYTES;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail.drain(..cut);
    }
    tail
}

/// Project files an error names: tsc (`src/App.tsx(3,7): error TS2322`, `src/App.tsx:3:7 -
/// error`), vite and rollup (`/abs/dir/src/App.tsx:3:7: ERROR`, `file: ...`, `from
/// "src/main.tsx"`). Any word of the log that is, or ends with `/` + , a path of `tree`
/// counts, in order of first mention.
pub fn failing_files(log: &str, tree: &FileTree) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let word_char = |c: char| c.is_alphanumeric() || "._-/@+$~".contains(c);
    for word in log.split(|c: char| !word_char(c)) {
        let word = word.trim_matches('.');
        if word.is_empty() || !word.contains('.') {
            continue;
        }
        let word = word.strip_prefix("./").unwrap_or(word);
        let hit = if tree.contains_key(word) {
            Some(word.to_string())
        } else {
            // An absolute path inside the build's directory: the longest project path it
            // ends with.
            word.match_indices('/')
                .map(|(at, _)| &word[at + 1..])
                .find(|rest| tree.contains_key(*rest))
                .map(str::to_string)
        };
        if let Some(path) = hit
            && path != "package-lock.json"
            && !found.contains(&path)
        {
            found.push(path);
        }
    }
    found
}

/// What the model sees: the failing files, else the files this build's tasks wrote (all
/// of a new project's, or those that differ from the parent build's), always with
/// `package.json`; never the lockfile; at most [`MAX_FILE_BYTES`].
pub fn files_for_fix(log: &str, tree: &FileTree, parent: Option<&FileTree>) -> Vec<ProjectFile> {
    let mut paths = failing_files(log, tree);
    if paths.is_empty() {
        paths = tree
            .iter()
            .filter(|(path, content)| {
                parent.is_none_or(|parent| parent.get(*path) != Some(*content))
            })
            .map(|(path, _)| path.clone())
            .filter(|path| path != "package-lock.json")
            .collect();
    }
    if tree.contains_key("package.json") && !paths.iter().any(|p| p == "package.json") {
        paths.push("package.json".into());
    }
    let mut budget = MAX_FILE_BYTES;
    let mut files = Vec::new();
    for path in paths {
        let Some(content) = tree.get(&path) else {
            continue;
        };
        if content.len() > budget {
            continue;
        }
        budget -= content.len();
        files.push(ProjectFile::new(path, content.clone()));
    }
    files
}

/// The model's files with checked paths, keeping only those that change something.
fn checked_changes(
    fixed: Vec<ProjectFile>,
    tree: &FileTree,
) -> Result<Vec<ProjectFile>, paths::PathError> {
    let mut changes = Vec::new();
    for mut file in fixed {
        file.path = paths::check(&file.path)?;
        if tree.get(&file.path) != Some(&file.content) {
            changes.push(file);
        }
    }
    Ok(changes)
}

/// The changed paths, split into created and modified.
fn split_new(changes: &[ProjectFile], tree: &FileTree) -> (Vec<String>, Vec<String>) {
    changes
        .iter()
        .map(|file| file.path.clone())
        .partition(|path| !tree.contains_key(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(paths: &[&str]) -> FileTree {
        paths
            .iter()
            .map(|path| (path.to_string(), format!("// {path}\n")))
            .collect()
    }

    #[test]
    fn failing_files_come_from_tsc_and_vite_errors() {
        let tree = tree(&[
            "package.json",
            "package-lock.json",
            "src/App.tsx",
            "src/main.tsx",
            "src/components/TodoList.tsx",
            "src/lib/id.ts",
        ]);
        let log = "\
> tsc --noEmit && vite build
src/components/TodoList.tsx(12,5): error TS2322: Type 'string' is not assignable to type 'number'.
src/App.tsx:3:10 - error TS2305: Module './lib/id' has no exported member 'uid'.
[vite:esbuild] Transform failed with 1 error:
/data/builds/01JD-x1/src/main.tsx:4:2: ERROR: Unexpected \"}\"
file: /data/builds/01JD-x1/src/main.tsx:4:2
Could not resolve \"./Missing\" from \"./src/App.tsx\"
npm error path /data/builds/01JD-x1/package-lock.json
npm error code 2";
        assert_eq!(
            failing_files(log, &tree),
            ["src/components/TodoList.tsx", "src/App.tsx", "src/main.tsx"]
        );
    }

    #[test]
    fn without_named_files_the_builds_own_files_go() {
        let mut now = tree(&[
            "package.json",
            "package-lock.json",
            "src/App.tsx",
            "src/a.ts",
        ]);
        let parent = now.clone();
        now.insert("src/App.tsx".into(), "changed".into());
        now.insert("src/new.ts".into(), "new".into());
        let paths = |files: Vec<ProjectFile>| -> Vec<String> {
            files.into_iter().map(|f| f.path).collect()
        };
        assert_eq!(
            paths(files_for_fix("exit 2", &now, Some(&parent))),
            ["src/App.tsx", "src/new.ts", "package.json"]
        );
        assert_eq!(
            paths(files_for_fix("exit 2", &now, None)),
            ["package.json", "src/App.tsx", "src/a.ts", "src/new.ts"]
        );
        assert_eq!(
            paths(files_for_fix("src/a.ts(1,1): error", &now, None)),
            ["src/a.ts", "package.json"]
        );
    }

    #[test]
    fn the_tail_keeps_the_last_lines_and_bytes() {
        let log: String = (0..200).map(|n| format!("line {n}\n")).collect();
        let tail = log_tail(&log);
        assert!(tail.starts_with("line 120\n") && tail.ends_with("line 199"));
        let long = "é".repeat(LOG_TAIL_BYTES);
        assert!(log_tail(&long).len() <= LOG_TAIL_BYTES);
    }

    #[test]
    fn changes_are_checked_and_only_real_changes_count() {
        let tree = tree(&["src/App.tsx"]);
        let same = ProjectFile::new("./src/App.tsx", "// src/App.tsx\n");
        let new = ProjectFile::new("src/New.tsx", "x");
        let changes = checked_changes(vec![same, new], &tree).expect("checked");
        assert_eq!(changes, [ProjectFile::new("src/New.tsx", "x")]);
        assert_eq!(
            split_new(&changes, &tree),
            (vec!["src/New.tsx".into()], vec![])
        );
        assert!(checked_changes(vec![ProjectFile::new("../x", "y")], &tree).is_err());
    }
}
