//! Routes poem serves with its own handlers (`ws.rs`, `sse.rs`, `logs.rs`, `preview.rs`,
//! `client.rs`), documented here so the spec is the whole public surface.
//!
//! [`ServedElsewhere`] holds one operation per route; [`DocsOnly`] gives the document its
//! operations and schemas but no route, so its handlers are never called (the real
//! handlers answer, registered in `lib.rs`).

use std::collections::HashMap;

use poem::http::Method;
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::registry::{MetaApi, Registry};
use poem_openapi::{OpenApi, SecurityScheme};

use super::ApiTags;
use super::answers::{
    ClientAnswers, LogAnswers, Never, PreviewFileAnswers, PreviewRootAnswers, SseAnswers,
    WebSocketAnswers, never,
};
use super::params::{BuildId, ClientFile};
use super::refusals::{
    ClientRefusals, LogRefusals, PreviewRefusals, PreviewRootRefusals, SseRefusals,
    WebSocketRefusals,
};

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
