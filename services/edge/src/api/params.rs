//! What the API reads from a request besides the service key, each with the schema the
//! spec shows and the refusal it answers: the build id in the path ([`BuildId`]), the
//! `Idempotency-Key` header ([`IdempotencyKey`]) and a submission's body ([`SubmitBody`]).

use std::borrow::Cow;

use buildwire_schemas::api::{ProblemCode, SubmitBuild};
use buildwire_schemas::openapi::examples;
use poem::{Request, RequestBody};
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaParamIn, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, Type};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions, impl_apirequest_for_payload,
};
use serde_json::Value;

use super::validate;
use crate::problem::ApiError;

/// A ULID in canonical form: 26 Crockford base-32 characters, the first at most `7`.
pub use buildwire_schemas::api::BUILD_ID_PATTERN as ULID_PATTERN;
/// 1-255 visible ASCII characters.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";

/// The refusal of a path poem-openapi could not read. Its parameters are renamed inside
/// poem-openapi's router, but the only one that can be refused is a [`BuildId`].
pub fn path_refusal(reason: &str) -> ApiError {
    ApiError::bad_request(ProblemCode::InvalidBuildId, reason.to_string())
}

/// The refusal of a query parameter poem-openapi could not read (named as in the spec).
pub fn refusal(param: &str, reason: &str) -> ApiError {
    let detail = format!("{param}: {reason}");
    match param {
        "after" => ApiError::bad_request(ProblemCode::InvalidCursor, detail),
        "limit" => ApiError::invalid(
            ProblemCode::InvalidLimit,
            "limit must be an integer, 1-1000",
        ),
        _ => ApiError::bad_request(ProblemCode::BadRequest, detail),
    }
}

fn string_schema(
    description: &'static str,
    pattern: &str,
    (min_length, max_length): (usize, usize),
    example: &str,
) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(description),
        pattern: Some(pattern.into()),
        min_length: Some(min_length),
        max_length: Some(max_length),
        example: Some(example.into()),
        ..MetaSchema::new("string")
    }))
}

/// Implements poem-openapi's `Type` for a string newtype path parameter whose schema
/// `$schema` returns, and `ParseFromParameter` with `$parse`.
macro_rules! string_param {
    ($ty:ident, $schema:expr, $parse:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = String;
            type RawElementValueType = String;

            fn name() -> Cow<'static, str> {
                stringify!($ty).into()
            }

            fn schema_ref() -> MetaSchemaRef {
                $schema
            }

            fn register(_registry: &mut Registry) {}

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(&self.0)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(std::iter::once(&self.0))
            }
        }

        impl ParseFromParameter for $ty {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                $parse(value).map(|()| $ty(value.to_string()))
            }
        }
    };
}

/// A build id from the path, checked (400 `INVALID_BUILD_ID`).
#[derive(Debug, Clone)]
pub struct BuildId(pub String);

impl BuildId {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_param!(
    BuildId,
    string_schema(
        "A build id: a ULID (26 characters, Crockford base 32).",
        ULID_PATTERN,
        (26, 26),
        examples::BUILD_ID,
    ),
    |value| buildwire_schemas::subjects::check_build_id(value).map_err(ParseError::custom)
);

/// A module name of `GET /client/{file}`: one of [`crate::client::MODULES`] (another is
/// that route's 404).
#[derive(Debug, Clone)]
pub struct ClientFile(pub String);

string_param!(
    ClientFile,
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some("A module of the browser client."),
        enum_items: crate::client::MODULES
            .iter()
            .map(|m| Value::from(m.name))
            .collect(),
        example: Some("buildwire.js".into()),
        ..MetaSchema::new("string")
    })),
    |_| Ok(())
);

/// The optional `Idempotency-Key` header, read from its raw bytes: poem-openapi's own
/// header parameters skip values that are not visible ASCII, which would turn a bad key
/// into no key (and a second build). Any present value must be 1-255 visible ASCII
/// characters (400 `INVALID_IDEMPOTENCY_KEY`), and there may be only one.
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl IdempotencyKey {
    fn read(request: &Request, name: &str) -> Result<IdempotencyKey, ApiError> {
        let mut values = request.headers().get_all(name).iter();
        let Some(value) = values.next() else {
            return Ok(IdempotencyKey(None));
        };
        if values.next().is_some() {
            return Err(ApiError::bad_request(
                ProblemCode::InvalidIdempotencyKey,
                "send one Idempotency-Key header, not several",
            ));
        }
        let key = std::str::from_utf8(value.as_bytes()).unwrap_or("\u{fffd}");
        validate::idempotency_key(key)?;
        Ok(IdempotencyKey(Some(key.to_string())))
    }
}

impl<'a> ApiExtractor<'a> for IdempotencyKey {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = false;
    type ParamType = Option<String>;
    type ParamRawType = String;

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Header)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(string_schema(
            "1-255 visible ASCII characters (`!` to `~`).",
            IDEMPOTENCY_KEY_PATTERN,
            (1, 255),
            "order-42",
        ))
    }

    fn param_raw_type(&self) -> Option<&Self::ParamRawType> {
        self.0.as_ref()
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self::read(request, param_opts.name)?)
    }
}

/// The body of `POST /v1/builds`, read strictly: not JSON is 400 `INVALID_JSON`; JSON
/// whose fields have the wrong type, or lack one, is 422 with the field's code
/// ([`validate::submission_json`]); then [`validate::submission`] checks the values.
#[derive(Debug, Clone)]
pub struct SubmitBody(pub SubmitBuild);

impl Payload for SubmitBody {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        <Json<Value> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        SubmitBuild::schema_ref()
    }

    fn register(registry: &mut Registry) {
        SubmitBuild::register(registry);
    }
}

impl ParsePayload for SubmitBody {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = <Vec<u8> as poem::FromRequest>::from_request(request, body).await?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|err| {
            ApiError::bad_request(
                ProblemCode::InvalidJson,
                format!("the body is not JSON: {err}"),
            )
        })?;
        validate::submission_json(&value)?;
        let submission: SubmitBuild = serde_json::from_value(value)
            .map_err(|err| ApiError::invalid(ProblemCode::InvalidBody, err.to_string()))?;
        Ok(SubmitBody(submission))
    }
}

impl_apirequest_for_payload!(SubmitBody);
