//! The tools the stages offer the model, `submit_plan` and `write_file`: their JSON Schemas,
//! and the parsing of their input (lenient on form, strict on meaning) into wire types.

use buildwire_schemas::events::PlanTask;
use serde_json::{Value, json};

use crate::{LlmError, ProjectFile, ToolSpec};

/// Name of the planning tool.
pub const SUBMIT_PLAN: &str = "submit_plan";
/// Name of the file-writing tool.
pub const WRITE_FILE: &str = "write_file";

/// `submit_plan`: the model hands over the ordered tasks that build the request.
pub fn submit_plan() -> ToolSpec {
    ToolSpec {
        name: SUBMIT_PLAN.into(),
        description: "Submit the plan: the ordered tasks that together carry out the request. \
                      Each task writes one or more files. Call this exactly once."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "tasks": {
                    "type": "array",
                    "minItems": 1,
                    "description": "Tasks in execution order.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": { "type": "string", "description": "Unique task id (`config`, `styles`)." },
                            "name": { "type": "string", "description": "Short name shown to the user." },
                            "description": { "type": "string", "description": "What the task does and which files it writes." },
                            "estimatedDuration": { "type": "integer", "minimum": 0, "description": "Estimate in milliseconds." }
                        },
                        "required": ["id", "name", "description", "estimatedDuration"]
                    }
                }
            },
            "required": ["tasks"]
        }),
    }
}

/// `write_file`: the model writes one file's full new content.
pub fn write_file() -> ToolSpec {
    ToolSpec {
        name: WRITE_FILE.into(),
        description: "Write one project file with its complete new content (not a diff). \
                      The path is relative to the project root and uses `/` separators."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "path": { "type": "string", "description": "Path relative to the project root (`src/main.js`)." },
                "content": { "type": "string", "description": "The file's complete content." }
            },
            "required": ["path", "content"]
        }),
    }
}

/// The `submit_plan` input carrying `tasks` (what a model sends; the offline provider builds it).
pub fn plan_input(tasks: &[PlanTask]) -> Value {
    json!({ "tasks": tasks })
}

/// The `write_file` input for `file`.
pub fn write_file_input(file: &ProjectFile) -> Value {
    json!({ "path": file.path, "content": file.content })
}

/// Parses `submit_plan` input into tasks. Accepts numeric ids and fractional estimates
/// (models send both); refuses an empty list, a missing or blank id or name, and
/// duplicate ids.
pub fn parse_plan_input(input: &Value) -> Result<Vec<PlanTask>, LlmError> {
    let invalid = |reason: String| LlmError::InvalidToolInput {
        tool: SUBMIT_PLAN.into(),
        reason,
    };
    let tasks = input
        .get("tasks")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("`tasks` must be an array".into()))?;
    if tasks.is_empty() {
        return Err(invalid("`tasks` is empty".into()));
    }
    let mut parsed: Vec<PlanTask> = Vec::with_capacity(tasks.len());
    for (index, task) in tasks.iter().enumerate() {
        let text = |field: &str| -> Option<String> {
            match task.get(field)? {
                Value::String(s) => Some(s.trim().to_owned()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let id = text("id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| invalid(format!("task {index} has no `id`")))?;
        let name = text("name")
            .filter(|name| !name.is_empty())
            .ok_or_else(|| invalid(format!("task `{id}` has no `name`")))?;
        let description = text("description").unwrap_or_default();
        let estimated_duration = match task.get("estimatedDuration") {
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64))
                .ok_or_else(|| invalid(format!("task `{id}` has a negative estimate")))?,
            Some(_) => {
                return Err(invalid(format!(
                    "task `{id}`: `estimatedDuration` must be a number"
                )));
            }
            None => 0,
        };
        if parsed.iter().any(|task| task.id == id) {
            return Err(invalid(format!("task id `{id}` appears twice")));
        }
        parsed.push(PlanTask {
            id,
            name,
            description,
            estimated_duration,
        });
    }
    Ok(parsed)
}

/// Parses `write_file` input. Only the shape is checked (a non-empty `path` and a string
/// `content`); whether the path stays inside the project is the execute stage's check.
pub fn parse_write_file(input: &Value) -> Result<ProjectFile, LlmError> {
    let invalid = |reason: &str| LlmError::InvalidToolInput {
        tool: WRITE_FILE.into(),
        reason: reason.into(),
    };
    let path = input
        .get("path")
        .and_then(Value::as_str)
        .filter(|path| !path.trim().is_empty())
        .ok_or_else(|| invalid("`path` must be a non-empty string"))?;
    let content = input
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("`content` must be a string"))?;
    Ok(ProjectFile::new(path, content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_input_round_trips_and_is_lenient_on_form() {
        let tasks = vec![PlanTask {
            id: "a".into(),
            name: "A".into(),
            description: "does a".into(),
            estimated_duration: 1200,
        }];
        assert_eq!(
            parse_plan_input(&plan_input(&tasks)).expect("round trip"),
            tasks
        );
        let lenient = json!({"tasks": [{"id": 1, "name": "One", "estimatedDuration": 10.6}]});
        let parsed = parse_plan_input(&lenient).expect("lenient");
        assert_eq!(parsed[0].id, "1");
        assert_eq!(parsed[0].estimated_duration, 11);
    }

    #[test]
    fn plan_input_refuses_bad_plans() {
        for bad in [
            json!({}),
            json!({"tasks": []}),
            json!({"tasks": [{"name": "no id"}]}),
            json!({"tasks": [{"id": "a"}]}),
            json!({"tasks": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}),
            json!({"tasks": [{"id": "a", "name": "A", "estimatedDuration": "soon"}]}),
        ] {
            assert!(
                matches!(
                    parse_plan_input(&bad),
                    Err(LlmError::InvalidToolInput { .. })
                ),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn write_file_input_parses_shape_only() {
        let file = ProjectFile::new("../outside.txt", "x");
        assert_eq!(
            parse_write_file(&write_file_input(&file)).expect("shape is fine"),
            file
        );
        assert!(parse_write_file(&json!({"path": "", "content": ""})).is_err());
        assert!(parse_write_file(&json!({"path": "a"})).is_err());
    }

    #[test]
    fn schemas_name_their_required_fields() {
        assert_eq!(submit_plan().input_schema["required"], json!(["tasks"]));
        assert_eq!(
            write_file().input_schema["required"],
            json!(["path", "content"])
        );
    }
}
