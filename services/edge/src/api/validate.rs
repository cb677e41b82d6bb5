//! Checks on what the main app sends, each failing with a 422 naming the field: the
//! rules the spec states for `SubmitBuild` (`buildwire_schemas::api`'s patterns).

use buildwire_schemas::api::{ProblemCode, SubmitBuild};
use buildwire_schemas::subjects::check_build_id;
use serde_json::Value;

use crate::problem::ApiError;

pub use buildwire_schemas::api::{MAX_ID_CHARS, MAX_PROMPT_CHARS, MAX_WEBHOOK_URL_CHARS};

/// A submission's fields: JSON name, the code a refusal carries, required.
const SUBMISSION_FIELDS: [(&str, ProblemCode, bool); 7] = [
    ("prompt", ProblemCode::InvalidPrompt, true),
    ("userId", ProblemCode::InvalidUserId, true),
    ("projectId", ProblemCode::InvalidProjectId, false),
    ("parentBuildId", ProblemCode::InvalidParentBuildId, false),
    ("requestId", ProblemCode::InvalidRequestId, false),
    (
        "restoreFromBuildId",
        ProblemCode::InvalidRestoreFromBuildId,
        false,
    ),
    ("webhookUrl", ProblemCode::InvalidWebhookUrl, false),
];

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A submission's JSON types, before it is read: an object whose fields are strings
/// (optional ones may be absent or `null`). serde alone would name no field, and
/// poem-openapi would read `false` or `5` as a string.
pub fn submission_json(body: &Value) -> Result<(), ApiError> {
    let Some(fields) = body.as_object() else {
        return Err(ApiError::invalid(
            ProblemCode::InvalidBody,
            format!("the body must be a JSON object, not {}", json_type(body)),
        ));
    };
    for (name, code, required) in SUBMISSION_FIELDS {
        match fields.get(name) {
            Some(Value::String(_)) => {}
            None | Some(Value::Null) if !required => {}
            None => return Err(ApiError::invalid(code, format!("{name} is required"))),
            Some(other) => {
                return Err(ApiError::invalid(
                    code,
                    format!("{name} must be a string, not {}", json_type(other)),
                ));
            }
        }
    }
    Ok(())
}

fn id_like(value: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-@:+".contains(c))
}

/// A submission's fields, checked.
pub fn submission(body: &SubmitBuild) -> Result<(), ApiError> {
    let prompt = body.prompt.as_str();
    if prompt.trim().is_empty() {
        return Err(ApiError::invalid(
            ProblemCode::InvalidPrompt,
            "prompt is empty",
        ));
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(ApiError::invalid(
            ProblemCode::InvalidPrompt,
            format!("prompt is longer than {MAX_PROMPT_CHARS} characters"),
        ));
    }
    if prompt
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(
            ProblemCode::InvalidPrompt,
            "prompt contains control characters",
        ));
    }
    if !id_like(&body.user_id) {
        return Err(ApiError::invalid(
            ProblemCode::InvalidUserId,
            format!("userId must be 1-{MAX_ID_CHARS} of A-Z a-z 0-9 _ . - @ : +"),
        ));
    }
    if let Some(project) = &body.project_id
        && !id_like(project)
    {
        return Err(ApiError::invalid(
            ProblemCode::InvalidProjectId,
            format!("projectId must be 1-{MAX_ID_CHARS} of A-Z a-z 0-9 _ . - @ : +"),
        ));
    }
    if let Some(parent) = &body.parent_build_id {
        check_build_id(parent)
            .map_err(|e| ApiError::invalid(ProblemCode::InvalidParentBuildId, e.to_string()))?;
    }
    if let Some(request) = &body.request_id
        && !id_like(request)
    {
        return Err(ApiError::invalid(
            ProblemCode::InvalidRequestId,
            format!("requestId must be 1-{MAX_ID_CHARS} of A-Z a-z 0-9 _ . - @ : +"),
        ));
    }
    if let Some(restore) = &body.restore_from_build_id {
        check_build_id(restore).map_err(|e| {
            ApiError::invalid(
                ProblemCode::InvalidRestoreFromBuildId,
                format!("restoreFromBuildId: {e}"),
            )
        })?;
        if body.parent_build_id.is_some() {
            return Err(ApiError::invalid(
                ProblemCode::InvalidRestoreFromBuildId,
                "restoreFromBuildId and parentBuildId exclude each other: a restore starts \
                 from the restored build's tree",
            ));
        }
    }
    Ok(())
}

/// A per-build `webhookUrl`: an http(s) URL of at most [`MAX_WEBHOOK_URL_CHARS`] that
/// passes the notifier's own target check (no loopback or private address unless
/// `allow_private`; without DNS: the notifier checks what a name resolves to on every
/// connection); 422 `INVALID_WEBHOOK_URL` otherwise.
pub fn webhook_url(url: &str, allow_private: bool) -> Result<(), ApiError> {
    let refuse = |detail: String| ApiError::invalid(ProblemCode::InvalidWebhookUrl, detail);
    if url.chars().count() > MAX_WEBHOOK_URL_CHARS {
        return Err(refuse(format!(
            "webhookUrl is longer than {MAX_WEBHOOK_URL_CHARS} characters"
        )));
    }
    // URL parsing drops tabs and line breaks; the text is stored as a NATS header as given.
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refuse(
            "webhookUrl must not contain white space or control characters".into(),
        ));
    }
    let parsed = buildwire_notify::target::Url::parse(url)
        .map_err(|e| refuse(format!("webhookUrl {url:?}: {e}")))?;
    buildwire_notify::target::check_form("webhookUrl", &parsed, allow_private).map_err(|err| {
        match err {
            buildwire_notify::NotifyError::Config(reason)
            | buildwire_notify::NotifyError::Nats(reason) => refuse(reason),
        }
    })
}

/// An `Idempotency-Key` header: 1-255 visible ASCII characters.
pub fn idempotency_key(key: &str) -> Result<(), ApiError> {
    if (1..=255).contains(&key.len()) && key.chars().all(|c| c.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            ProblemCode::InvalidIdempotencyKey,
            "Idempotency-Key must be 1-255 visible ASCII characters",
        ))
    }
}

/// A build id from a path.
pub fn build_id(id: &str) -> Result<(), ApiError> {
    check_build_id(id)
        .map_err(|e| ApiError::bad_request(ProblemCode::InvalidBuildId, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(prompt: &str, user: &str) -> SubmitBuild {
        SubmitBuild {
            prompt: prompt.into(),
            user_id: user.into(),
            project_id: None,
            parent_build_id: None,
            restore_from_build_id: None,
            webhook_url: None,
            request_id: None,
        }
    }

    #[test]
    fn bad_fields_are_named() {
        assert!(submission(&body("Create a todo app", "user-1")).is_ok());
        let code = |b: &SubmitBuild| submission(b).err().map(|e| e.code);
        assert_eq!(code(&body("  ", "u")), Some(ProblemCode::InvalidPrompt));
        assert_eq!(
            code(&body("a\u{0}b", "u")),
            Some(ProblemCode::InvalidPrompt)
        );
        assert_eq!(
            code(&body(&"x".repeat(8001), "u")),
            Some(ProblemCode::InvalidPrompt)
        );
        assert_eq!(code(&body("ok", "")), Some(ProblemCode::InvalidUserId));
        assert_eq!(code(&body("ok", "a b")), Some(ProblemCode::InvalidUserId));
        let mut parent = body("ok", "u");
        parent.parent_build_id = Some("../../etc".into());
        assert_eq!(code(&parent), Some(ProblemCode::InvalidParentBuildId));
        assert!(idempotency_key("abc-123").is_ok());
        assert!(idempotency_key("").is_err());
        assert!(idempotency_key("has space").is_err());
        assert!(idempotency_key("clé").is_err());
    }

    #[test]
    fn wrong_json_types_name_the_field() {
        let code = |v: Value| {
            submission_json(&v)
                .err()
                .map(|e| (e.status.as_u16(), e.code))
        };
        assert_eq!(
            code(serde_json::json!({ "prompt": "p", "userId": "u" })),
            None
        );
        assert_eq!(
            code(serde_json::json!({ "prompt": "p", "userId": "u", "projectId": null })),
            None
        );
        assert_eq!(
            code(serde_json::json!({ "prompt": "p", "userId": false })),
            Some((422, ProblemCode::InvalidUserId))
        );
        assert_eq!(
            code(serde_json::json!({ "prompt": 5, "userId": "u" })),
            Some((422, ProblemCode::InvalidPrompt))
        );
        assert_eq!(
            code(serde_json::json!({ "prompt": "p" })),
            Some((422, ProblemCode::InvalidUserId))
        );
        assert_eq!(
            code(serde_json::json!({ "prompt": "p", "userId": "u", "requestId": ["x"] })),
            Some((422, ProblemCode::InvalidRequestId))
        );
        assert_eq!(
            code(serde_json::json!([1])),
            Some((422, ProblemCode::InvalidBody))
        );
    }
}
