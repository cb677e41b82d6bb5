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
    ClientAnswers, DeployLogAnswers, LogAnswers, Never, PreviewFileAnswers, PreviewRootAnswers,
    SourceZipAnswers, SseAnswers, WebSocketAnswers, never,
};
use super::params::{BuildId, ClientFile};
use super::refusals::{
    ClientRefusals, DeployLogRefusals, LogRefusals, PreviewRefusals, PreviewRootRefusals,
    SourceZipRefusals, SseRefusals, WebSocketRefusals,
};
use crate::auth::ServiceKey;

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

/// Who may download a build's tree: the main app or the build's browser.
#[derive(SecurityScheme)]
pub enum SourceAuth {
    /// `Authorization: Bearer <service key>`.
    ServiceKey(ServiceKey),
    /// The build token, `?token=`.
    Query(BuildTokenQuery),
    /// The build token, `Authorization: Bearer`.
    Header(BuildTokenBearer),
}

/// Writes [`ServedElsewhere`], one operation per entry: its doc, path, tag, operation id,
/// parameters and answers, each said once; the body (never run) is generated. `signed`
/// stands for a signed log link's parameters (`id`, `expires`, `kid`, `sig`).
macro_rules! served_elsewhere {
    (@munch [$($done:tt)*]) => {
        served_elsewhere!(@emit $($done)*);
    };
    (@munch [$($done:tt)*]
        $(#[doc = $doc:tt])* $name:ident $route:tt signed -> $answers:ty; $($rest:tt)*
    ) => {
        served_elsewhere!(@munch [$($done)* $(#[doc = $doc])* $name $route (
            /// The build.
            id: Path<BuildId>,
            /// When the link expires (Unix seconds).
            expires: Query<i64>,
            /// The signing key's id.
            kid: Query<String>,
            /// The signature.
            sig: Query<String>,
        ) -> $answers;] $($rest)*);
    };
    (@munch [$($done:tt)*]
        $(#[doc = $doc:tt])* $name:ident $route:tt $params:tt -> $answers:ty; $($rest:tt)*
    ) => {
        served_elsewhere!(
            @munch [$($done)* $(#[doc = $doc])* $name $route $params -> $answers;] $($rest)*
        );
    };
    (@emit $(
        $(#[doc = $doc:tt])*
        $name:ident($path:tt, $tag:tt, $op:tt)
        ($($(#[$($attr:tt)*])* $param:ident: $ty:ty),* $(,)?) -> $answers:ty;
    )*) => {
        /// One operation per route served elsewhere (see the module docs).
        pub struct ServedElsewhere;

        #[OpenApi]
        impl ServedElsewhere {
            $(
                $(#[doc = $doc])*
                #[oai(path = $path, method = "get", tag = $tag, operation_id = $op)]
                async fn $name(&self, $($(#[$($attr)*])* $param: $ty),*) -> $answers {
                    let _ = ($($param,)*);
                    never()
                }
            )*
        }
    };
    ($($entries:tt)*) => {
        served_elsewhere!(@munch [] $($entries)*);
    };
}

served_elsewhere! {
    /// Watch a build over WebSocket.
    ///
    /// Every event of the build after `after`, then live ones, each exactly once and in
    /// order; after a drop, reconnect with `after` set to the last `seq` seen. A cursor
    /// whose history is gone gets `recovered: false` and a `snapshot`. Refusals come
    /// before the upgrade, as problem+json.
    websocket("/ws/builds/:id", "ApiTags::Streams", "watchBuildWebSocket")(
        _auth: BuildTokenAuth,
        /// The build.
        id: Path<BuildId>,
        /// Resume after this `seq` (0: from the start; at most 2^53 - 1).
        #[oai(default, validator(minimum(value = "0"), maximum(value = "9007199254740991")))]
        after: Query<u64>,
    ) -> Never<WebSocketAnswers, WebSocketRefusals>;

    /// Watch a build over Server-Sent Events.
    ///
    /// The fallback when WebSocket fails: the same events as `GET /ws/builds/{id}`, with
    /// the same resume rules (`Last-Event-ID` or `after`).
    events("/events/:id", "ApiTags::Streams", "watchBuildEvents")(
        _auth: BuildTokenAuth,
        /// The build.
        id: Path<BuildId>,
        /// Resume after this `seq` when there is no `Last-Event-ID` (at most 2^53 - 1).
        #[oai(default, validator(minimum(value = "0"), maximum(value = "9007199254740991")))]
        after: Query<u64>,
        /// `1` when the client falls back to SSE after a failed WebSocket handshake
        /// (counted in `/metrics`).
        fallback: Query<Option<String>>,
        /// The last `seq` the client has (`EventSource` sends it when it reconnects).
        #[oai(name = "Last-Event-ID", validator(pattern = r"^\s*[0-9]+\s*$"))]
        last_event_id: Header<Option<String>>,
    ) -> Never<SseAnswers, SseRefusals>;

    /// A build's full log.
    ///
    /// Behind the signed link that `buildLogUrl` carries (valid 15 minutes; the API and
    /// the streams sign a fresh one each time they hand it out): the signature is the
    /// authorization, so a browser can follow the link.
    build_log("/v1/builds/:id/logs/build", "ApiTags::Files", "getBuildLog")
        signed -> Never<LogAnswers, LogRefusals>;

    /// A build's deploy log.
    ///
    /// Behind the signed link that `deployLogUrl` carries in `deploy_*` events (valid 15
    /// minutes; history and the streams sign a fresh one each time they hand an event
    /// out): the signature is the authorization, as for the build log.
    deploy_log("/v1/builds/:id/logs/deploy", "ApiTags::Files", "getDeployLog")
        signed -> Never<DeployLogAnswers, DeployLogRefusals>;

    /// Download a build's files.
    ///
    /// The project's file tree as this build left it (what it built and deployed), as a
    /// ZIP streamed from the `sources` bucket: every entry under one folder, no path from
    /// outside the tree. For the main app (service key) or the build's browser (its build
    /// token). A build that has not saved its files yet answers 409 `SOURCE_NOT_SAVED`.
    source_zip("/v1/builds/:id/source.zip", "ApiTags::Files", "getBuildSource")(
        _auth: SourceAuth,
        /// The build.
        id: Path<BuildId>,
    ) -> Never<SourceZipAnswers, SourceZipRefusals>;

    /// A build's preview.
    ///
    /// Redirects to the preview's root (`/preview/{id}/`).
    preview_root("/preview/:id", "ApiTags::Files", "getPreviewRoot")(
        /// The build.
        id: Path<BuildId>,
    ) -> Never<PreviewRootAnswers, PreviewRootRefusals>;

    /// A file of a build's preview.
    ///
    /// The built app (deploy target `local`), served by any edge node from the
    /// `artifacts` bucket, without authentication. `path` may contain `/`.
    preview_file("/preview/:id/:path", "ApiTags::Files", "getPreviewFile")(
        /// The build.
        id: Path<BuildId>,
        /// The file inside the built app (`index.html` when empty or ending in `/`).
        #[oai(example = "example_path")]
        path: Path<String>,
    ) -> Never<PreviewFileAnswers, PreviewRefusals>;

    /// A module of the browser client.
    ///
    /// `buildwire.js` (`watchBuild`), `progress.js` (the progress fold) and `react.js`
    /// (`useBuildProgress`), compiled into the binary so every node serves the version that
    /// matches its wire contract.
    client_module("/client/:file", "ApiTags::Files", "getClientModule")(
        /// The module.
        file: Path<ClientFile>,
    ) -> Never<ClientAnswers, ClientRefusals>;
}

fn example_path() -> String {
    "assets/index.js".into()
}
