//! The documented answers of the routes poem serves with its own handlers: [`Doc`]s per
//! route ([`Answers`]), and [`Served`], the answer type that turns them into the spec's
//! responses without ever being produced.

use std::marker::PhantomData;

use buildwire_schemas::api::ProblemCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};

use crate::problem::{ApiError, Refused};

/// One documented answer of a route served elsewhere.
pub struct Doc {
    status: u16,
    description: &'static str,
    content: Option<(&'static str, MetaSchema)>,
    headers: Vec<MetaHeader>,
}

impl Doc {
    fn new(status: u16, description: &'static str) -> Doc {
        Doc {
            status,
            description,
            content: None,
            headers: Vec::new(),
        }
    }

    fn body(mut self, content_type: &'static str, schema: MetaSchema) -> Doc {
        self.content = Some((content_type, schema));
        self
    }

    fn header(mut self, name: &str, description: &str, required: bool, example: &str) -> Doc {
        self.headers.push(MetaHeader {
            name: name.into(),
            description: Some(description.into()),
            required,
            deprecated: false,
            schema: MetaSchemaRef::Inline(Box::new(MetaSchema {
                example: Some(example.into()),
                ..MetaSchema::new("string")
            })),
        });
        self
    }
}

fn text(example: &str) -> MetaSchema {
    MetaSchema {
        example: Some(example.into()),
        ..MetaSchema::new("string")
    }
}

/// The successful answers of one route served elsewhere.
pub trait Answers: Send {
    /// Each answer.
    fn answers() -> Vec<Doc>;
}

/// The answer type of an operation served elsewhere: its meta is `A`'s; it is never
/// produced (the route's own handler answers).
pub struct Served<A>(PhantomData<fn() -> A>);

impl<A> IntoResponse for Served<A> {
    fn into_response(self) -> Response {
        poem::error::ResponseError::as_response(&not_routed())
    }
}

impl<A: Answers> ApiResponse for Served<A> {
    fn meta() -> MetaResponses {
        let responses = A::answers()
            .into_iter()
            .map(|doc| MetaResponse {
                description: doc.description,
                status: Some(doc.status),
                status_range: None,
                content: doc
                    .content
                    .into_iter()
                    .map(|(content_type, schema)| MetaMediaType {
                        content_type,
                        schema: MetaSchemaRef::Inline(Box::new(schema)),
                    })
                    .collect(),
                headers: doc.headers,
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(_registry: &mut Registry) {}
}

fn not_routed() -> ApiError {
    ApiError::new(
        poem::http::StatusCode::NOT_FOUND,
        ProblemCode::NotFound,
        "this route is served by the edge's own handler",
    )
}

/// What an operation served elsewhere returns.
pub type Never<A, R> = Result<Served<A>, Refused<R>>;

/// The never-produced answer of an operation served elsewhere.
pub fn never<A, R>() -> Never<A, R> {
    Err(not_routed().into())
}

/// `GET /ws/builds/{id}`.
pub struct WebSocketAnswers;
impl Answers for WebSocketAnswers {
    fn answers() -> Vec<Doc> {
        vec![Doc::new(
            101,
            "Switching to WebSocket. The server sends `connected` (`lastSeq`, `recovered`), \
             then one text frame per event (an `Event`), and `heartbeat` after 15-30 s of \
             silence. The client may send `{\"type\":\"resume\",\"after\":N}` (answered like a \
             new connection) and `{\"type\":\"ping\"}` (answered with `heartbeat`), at most \
             1 KiB; a `resume` is answered with a fresh `connected`, then every event after \
             N once, or `recovered: false` and a `snapshot`. The server ends the stream with \
             a close frame whose reason is a `Disconnect` as JSON (`{\"code\":1013,\
             \"reason\":\"slow_consumer\",\"resumeAfter\":42}`): 1000 `build_finished`, \
             1001 `going_away`, 1002 `protocol_error`, 1007 `invalid_utf8`, 1008 \
             `unsupported_message`, 1009 `message_too_big`, 1011 `history_unavailable`, \
             1013 `slow_consumer`; reconnect with `after=resumeAfter` unless the build \
             finished.",
        )]
    }
}

/// `GET /events/{id}`.
pub struct SseAnswers;
impl Answers for SseAnswers {
    fn answers() -> Vec<Doc> {
        vec![
            Doc::new(
                200,
                "Server-Sent Events: `retry: 2000`, a comment `: connected lastSeq=N \
                 recovered=B`, then `id: <seq>` and `data: <Event JSON>` per event, `: \
                 heartbeat` comments when idle; the stream ends with a comment `: disconnect \
                 <Disconnect JSON>` (as the WebSocket close reason), after the terminal event \
                 (`complete`, `failed`, `cancelled`), or earlier with `resumeAfter` to \
                 reconnect from.",
            )
            .body(
                "text/event-stream",
                text(
                    "retry: 2000\n\n: connected lastSeq=12 recovered=true\n\nid: 13\ndata: \
                     {\"seq\":13,\"buildId\":\"01JF3KX0W8R4Y6T2N5M7P9Q1ZB\",\"type\":\"complete\",\
                     \"timestamp\":\"2026-11-20T10:15:13.000Z\",\"requestId\":\"req-7f3a\",\
                     \"previewUrl\":\"https://buildwire.example.com/preview/01JF3KX0W8R4Y6T2N5M7P9Q1ZB/\",\
                     \"message\":\"Your app is ready!\"}\n\n\
                     : disconnect {\"code\":1000,\"reason\":\"build_finished\"}\n\n",
                ),
            ),
            Doc::new(
                204,
                "The build ended and the client has every event: `EventSource` stops \
                 reconnecting.",
            ),
        ]
    }
}

/// `GET /v1/builds/{id}/logs/build`.
pub struct LogAnswers;
impl Answers for LogAnswers {
    fn answers() -> Vec<Doc> {
        vec![
            Doc::new(200, "The full build log (npm install and npm run build).")
                .body(
                    "text/plain; charset=utf-8",
                    text("> app@0.0.0 build\n> vite build\n✓ built in 1.2s\n"),
                )
                .header(
                    "Content-Encoding",
                    "`gzip` for logs stored compressed (over 1 MiB).",
                    false,
                    "gzip",
                ),
        ]
    }
}

/// `GET /v1/builds/{id}/logs/deploy`.
pub struct DeployLogAnswers;
impl Answers for DeployLogAnswers {
    fn answers() -> Vec<Doc> {
        vec![
            Doc::new(
                200,
                "The full deploy log (the deploy target's stages, as `deploy_log` events \
                 streamed them).",
            )
            .body(
                "text/plain; charset=utf-8",
                text("Initializing build environment\nUploading 12 files\nSuccess: deployed\n"),
            )
            .header(
                "Content-Encoding",
                "`gzip` for logs stored compressed (over 1 MiB).",
                false,
                "gzip",
            ),
        ]
    }
}

/// `GET /v1/builds/{id}/source.zip`.
pub struct SourceZipAnswers;
impl Answers for SourceZipAnswers {
    fn answers() -> Vec<Doc> {
        vec![
            Doc::new(
                200,
                "A ZIP archive (deflate) of the project's files as the build left them, \
                 every entry under one folder named like the file, streamed (no \
                 `Content-Length`).",
            )
            .body(
                "application/zip",
                MetaSchema {
                    example: Some("PK\u{3}\u{4}...".into()),
                    ..MetaSchema::new_with_format("string", "binary")
                },
            )
            .header(
                "Content-Disposition",
                "`attachment` with the file name: `<projectId>-<buildId>.zip` (characters \
                 outside `A-Z a-z 0-9 . _ -` as `-`), or `build-<buildId>.zip` without a \
                 project.",
                true,
                "attachment; filename=\"project-7-01JF3KX0W8R4Y6T2N5M7P9Q1ZB.zip\"",
            ),
        ]
    }
}

/// `GET /preview/{id}`.
pub struct PreviewRootAnswers;
impl Answers for PreviewRootAnswers {
    fn answers() -> Vec<Doc> {
        vec![
            Doc::new(
                301,
                "To `/preview/{id}/`, so the app's relative URLs resolve.",
            )
            .header(
                "Location",
                "The preview's root.",
                true,
                "/preview/01JF3KX0W8R4Y6T2N5M7P9Q1ZB/",
            ),
        ]
    }
}

/// `GET /preview/{id}/{path}`.
pub struct PreviewFileAnswers;
impl Answers for PreviewFileAnswers {
    fn answers() -> Vec<Doc> {
        vec![
            Doc::new(
                200,
                "The file, with its type by extension (`index.html` for a path ending in `/`).",
            )
            .body(
                "*/*",
                MetaSchema {
                    example: Some("<!doctype html><html>...</html>".into()),
                    ..MetaSchema::new_with_format("string", "binary")
                },
            ),
        ]
    }
}

/// `GET /client/{file}`.
pub struct ClientAnswers;
impl Answers for ClientAnswers {
    fn answers() -> Vec<Doc> {
        vec![
            Doc::new(200, "The ES module, as `clients/web` has it.").body(
                "text/javascript; charset=utf-8",
                text("export function watchBuild({ baseUrl, buildId, token }) { ... }"),
            ),
        ]
    }
}
