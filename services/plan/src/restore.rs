//! Restores (`restoreFromBuildId`): a build that brings a project back to the tree an
//! earlier build left, with no LLM. The plan stage plans one task ([`plan`]) without
//! asking the provider; execute copies the earlier build's saved tree ([`tree`]) instead of
//! writing files, saves it as the new build's (and its project's newest), and the build,
//! deploy and stream go on as for any build.

use buildwire_runtime::objects::{FileTree, Sources};
use buildwire_runtime::stage::StageError;
use buildwire_schemas::events::{Plan, PlanTask};

/// The one task of a restore's plan.
pub const TASK_ID: &str = "restore";

/// The plan of a restore of `from` (a build id) into `build_id`.
pub fn plan(build_id: &str, from: &str) -> Plan {
    Plan {
        id: format!("plan-{build_id}"),
        tasks: vec![PlanTask {
            id: TASK_ID.into(),
            name: format!("Restore the files of build {from}"),
            description: format!(
                "Bring the project back to the files build {from} left, unchanged (no LLM)"
            ),
            estimated_duration: 1_000,
        }],
        total_estimated_time: 1_000,
    }
}

/// The saved tree of `from`: fatal `SOURCE_NOT_SAVED` when it has none (the edge checks
/// before it accepts a restore; this covers a tree that vanished since).
pub async fn tree(sources: &Sources, from: &str) -> Result<FileTree, StageError> {
    sources.of_build(from).await?.ok_or_else(|| {
        StageError::fatal(
            "SOURCE_NOT_SAVED",
            format!("build {from} has no saved project files to restore"),
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_restore_plans_one_task_naming_the_build() {
        let plan = super::plan("01B", "01A");
        assert_eq!(plan.tasks.len(), 1);
        assert_eq!(plan.tasks[0].id, super::TASK_ID);
        assert!(plan.tasks[0].name.contains("01A"), "{}", plan.tasks[0].name);
    }
}
