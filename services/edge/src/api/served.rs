//! Routes poem serves with its own handlers (`ws.rs`, `sse.rs`, `logs.rs`, `preview.rs`,
//! `client.rs`), documented here so the spec is the whole public surface.
//!
//! [`ServedElsewhere`] holds one operation per route; [`DocsOnly`] gives the document its
//! operations and schemas but no route, so its handlers are never called (the real
//! handlers answer, registered in `lib.rs`).

use std::collections::HashMap;
use std::marker::PhantomData;

use poem::http::Method;
use poem::{IntoResponse, Response};
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::registry::{
    MetaApi, MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef,
    Registry,
};
use poem_openapi::{ApiResponse, OpenApi, SecurityScheme};

use super::ApiTags;
use super::params::{BuildId, ClientFile};
use super::refusals::{
    ClientRefusals, LogRefusals, PreviewRefusals, PreviewRootRefusals, SseRefusals,
    WebSocketRefusals,
};
use crate::problem::{ApiError, Refused};

/// An API whose operations and schemas are documented but not routed.
pub struct DocsOnly<T>(pub T);

impl<T: OpenApi> OpenApi for DocsOnly<T> {
    fn meta() -> Vec<MetaApi> {
        T::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn add_routes(
        self,
        _route_table: &mut HashMap<String, HashMap<Method, poem::endpoint::BoxEndpoint<'static>>>,
    ) {
    }
}

/// The build token in `?token=` (what browsers send: `WebSocket` and `EventSource`
/// cannot set headers). A JWT from `POST /v1/builds` or `POST /v1/builds/{id}/token`,
/// valid for its build only.
#[derive(SecurityScheme)]
#[oai(
    rename = "BuildToken",
    ty = "api_key",
    key_name = "token",
    key_in = "query"
)]
pub struct BuildTokenQuery(pub ApiKey);

/// The build token as `Authorization: Bearer <build token>` (for non-browser clients).
#[derive(SecurityScheme)]
#[oai(rename = "BuildTokenBearer", ty = "bearer", bearer_format = "JWT")]
pub struct BuildTokenBearer(pub Bearer);

/// A stream's build token, either way.
#[derive(SecurityScheme)]
pub enum BuildTokenAuth {
    /// `?token=`.
    Query(BuildTokenQuery),
    /// `Authorization: Bearer`.
    Header(BuildTokenBearer),
}

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
        "NOT_FOUND",
        "this route is served by the edge's own handler",
    )
}

type Never<A, R> = Result<Served<A>, Refused<R>>;

fn never<A, R>() -> Never<A, R> {
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
             1 KiB. Close codes: 1000 build finished, 1001 server going away, 1008 \
             unsupported message, 1009 message too big, 1011 history unavailable, 1013 slow \
             consumer; reasons that matter end with `resume after <seq>`.",
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
                 heartbeat` comments when idle; the stream ends after the terminal event \
                 (`complete`, `failed`, `cancelled`).",
            )
            .body(
                "text/event-stream",
                text(
                    "retry: 2000\n\n: connected lastSeq=12 recovered=true\n\nid: 13\ndata: \
                     {\"seq\":13,\"buildId\":\"01JF3KX0W8R4Y6T2N5M7P9Q1ZB\",\"type\":\"complete\",\
                     \"timestamp\":\"2026-11-20T10:15:13.000Z\",\"requestId\":\"req-7f3a\",\
                     \"previewUrl\":\"https://buildwire.example.com/preview/01JF3KX0W8R4Y6T2N5M7P9Q1ZB/\",\
                     \"message\":\"Your app is ready!\"}\n\n",
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

/// One operation per route served elsewhere (see the module docs).
pub struct ServedElsewhere;

#[OpenApi]
impl ServedElsewhere {
    /// Watch a build over WebSocket.
    ///
    /// Every event of the build after `after`, then live ones, each exactly once and in
    /// order; after a drop, reconnect with `after` set to the last `seq` seen. A cursor
    /// whose history is gone gets `recovered: false` and a `snapshot`. Refusals come
    /// before the upgrade, as problem+json.
    #[oai(
        path = "/ws/builds/:id",
        method = "get",
        tag = "ApiTags::Streams",
        operation_id = "watchBuildWebSocket"
    )]
    async fn websocket(
        &self,
        _auth: BuildTokenAuth,
        /// The build.
        id: Path<BuildId>,
        /// Resume after this `seq` (0: from the start; at most 2^53 - 1).
        #[oai(
            default,
            validator(minimum(value = "0"), maximum(value = "9007199254740991"))
        )]
        after: Query<u64>,
    ) -> Never<WebSocketAnswers, WebSocketRefusals> {
        let _ = (id, after);
        never()
    }

    /// Watch a build over Server-Sent Events.
    ///
    /// The fallback when WebSocket fails: the same events as `GET /ws/builds/{id}`, with
    /// the same resume rules (`Last-Event-ID` or `after`).
    #[oai(
        path = "/events/:id",
        method = "get",
        tag = "ApiTags::Streams",
        operation_id = "watchBuildEvents"
    )]
    async fn events(
        &self,
        _auth: BuildTokenAuth,
        /// The build.
        id: Path<BuildId>,
        /// Resume after this `seq` when there is no `Last-Event-ID` (at most 2^53 - 1).
        #[oai(
            default,
            validator(minimum(value = "0"), maximum(value = "9007199254740991"))
        )]
        after: Query<u64>,
        /// `1` when the client falls back to SSE after a failed WebSocket handshake
        /// (counted in `/metrics`).
        fallback: Query<Option<String>>,
        /// The last `seq` the client has (`EventSource` sends it when it reconnects).
        #[oai(name = "Last-Event-ID", validator(pattern = r"^\s*[0-9]+\s*$"))]
        last_event_id: Header<Option<String>>,
    ) -> Never<SseAnswers, SseRefusals> {
        let _ = (id, after, fallback, last_event_id);
        never()
    }

    /// A build's full log.
    ///
    /// Behind the signed link that `buildLogUrl` carries (valid 15 minutes; the API and
    /// the streams sign a fresh one each time they hand it out): the signature is the
    /// authorization, so a browser can follow the link.
    #[oai(
        path = "/v1/builds/:id/logs/build",
        method = "get",
        tag = "ApiTags::Files",
        operation_id = "getBuildLog"
    )]
    async fn build_log(
        &self,
        /// The build.
        id: Path<BuildId>,
        /// When the link expires (Unix seconds).
        expires: Query<i64>,
        /// The signing key's id.
        kid: Query<String>,
        /// The signature.
        sig: Query<String>,
    ) -> Never<LogAnswers, LogRefusals> {
        let _ = (id, expires, kid, sig);
        never()
    }

    /// A build's preview.
    ///
    /// Redirects to the preview's root (`/preview/{id}/`).
    #[oai(
        path = "/preview/:id",
        method = "get",
        tag = "ApiTags::Files",
        operation_id = "getPreviewRoot"
    )]
    async fn preview_root(
        &self,
        /// The build.
        id: Path<BuildId>,
    ) -> Never<PreviewRootAnswers, PreviewRootRefusals> {
        let _ = id;
        never()
    }

    /// A file of a build's preview.
    ///
    /// The built app (deploy target `local`), served by any edge node from the
    /// `artifacts` bucket, without authentication. `path` may contain `/`.
    #[oai(
        path = "/preview/:id/:path",
        method = "get",
        tag = "ApiTags::Files",
        operation_id = "getPreviewFile"
    )]
    async fn preview_file(
        &self,
        /// The build.
        id: Path<BuildId>,
        /// The file inside the built app (`index.html` when empty or ending in `/`).
        #[oai(example = "example_path")]
        path: Path<String>,
    ) -> Never<PreviewFileAnswers, PreviewRefusals> {
        let _ = (id, path);
        never()
    }

    /// A module of the browser client.
    ///
    /// `buildwire.js` (`watchBuild`), `progress.js` (the progress fold) and `react.js`
    /// (`useBuildProgress`), compiled into the binary so every node serves the version that
    /// matches its wire contract.
    #[oai(
        path = "/client/:file",
        method = "get",
        tag = "ApiTags::Files",
        operation_id = "getClientModule"
    )]
    async fn client_module(
        &self,
        /// The module.
        file: Path<ClientFile>,
    ) -> Never<ClientAnswers, ClientRefusals> {
        let _ = file;
        never()
    }
}

fn example_path() -> String {
    "assets/index.js".into()
}
