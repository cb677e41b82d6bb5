//! The fake's own helpers: Cloudflare's answer envelope, wrangler's asset hash computed
//! independently of the deploy crate, a minimal multipart/form-data reader.

use poem::Response;
use poem::http::StatusCode;
use serde_json::{Value, json};

/// `{success: true, errors: [], messages: [], result}`.
pub fn ok(result: Value) -> Response {
    envelope(StatusCode::OK, true, json!([]), result)
}

/// `{success: false, errors: [{code, message}], result: null}` with `status`.
pub fn refuse(status: StatusCode, code: u32, message: &str) -> Response {
    envelope(
        status,
        false,
        json!([{ "code": code, "message": message }]),
        Value::Null,
    )
}

fn envelope(status: StatusCode, success: bool, errors: Value, result: Value) -> Response {
    let body = json!({ "success": success, "errors": errors, "messages": [], "result": result });
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// Wrangler's hash of a file at `path` whose content is `base64`: BLAKE3 of the base64
/// text followed by the extension (node's `extname` without the dot), first 32 hex chars.
pub fn wrangler_hash(base64: &str, path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let extension = match file.rfind('.') {
        Some(0) | None => "",
        Some(dot) => &file[dot + 1..],
    };
    let digest = blake3::hash(format!("{base64}{extension}").as_bytes());
    hex::encode(digest.as_bytes())[..32].to_string()
}

/// Whether `hash` has the shape of wrangler's: 32 lowercase hex characters.
pub fn looks_like_hash(hash: &str) -> bool {
    hash.len() == 32 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The text fields of a `multipart/form-data` body with `content_type`'s boundary.
pub fn form_fields(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .ok_or("not multipart/form-data with a boundary")?
        .trim_matches('"');
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let (head, value) = part
            .split_once("\r\n\r\n")
            .ok_or("a part without headers")?;
        let name = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .and_then(|l| l.split("name=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .ok_or("a part without a name")?;
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        fields.push((name.to_string(), value.to_string()));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_take_the_extension_without_the_dot() {
        let digest = blake3::hash(b"aGk=js");
        assert_eq!(
            wrangler_hash("aGk=", "assets/a.js"),
            hex::encode(digest.as_bytes())[..32]
        );
        assert_eq!(
            wrangler_hash("aGk=", ".env"),
            hex::encode(blake3::hash(b"aGk=").as_bytes())[..32]
        );
        assert!(looks_like_hash(&wrangler_hash("", "x")));
        assert!(!looks_like_hash("ABC"));
    }

    #[test]
    fn multipart_text_fields_are_read() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"manifest\"\r\n\r\n{\"/a\":\"b\"}\r\n--XX\r\nContent-Disposition: form-data; name=\"branch\"\r\n\r\nmain\r\n--XX--\r\n";
        let fields =
            form_fields("multipart/form-data; boundary=XX", body.as_bytes()).expect("parses");
        assert_eq!(
            fields,
            vec![
                ("manifest".to_string(), "{\"/a\":\"b\"}".to_string()),
                ("branch".to_string(), "main".to_string())
            ]
        );
    }
}
