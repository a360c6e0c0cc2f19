//! Tessera's HTTP surface. `app` assembles the router: each front door
//! under `doors/`, plus Tessera's own endpoints. Doors translate their wire
//! shape to core calls and the core's answers back; nothing here touches
//! the store.

pub mod account;
pub mod admin;
pub mod auth;
pub mod authz;
pub mod deadline;
pub mod doors;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod identity;
pub mod index;
pub mod limits;
pub mod openapi;
pub mod ops;
pub mod pool;
pub mod upstream;

use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::http::HeaderValue;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tessera_core::Core;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Facts about the connection a request arrived on, set by the listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    /// Whether the connection is TLS (cookies get `Secure`).
    pub tls: bool,
}

/// The state every handler shares: one `Arc`, so the copy each handler
/// takes (axum clones the state into every call) is one atomic increment,
/// not one per field on a cache line both cores fight over.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] points at.
pub struct Shared {
    pub core: Arc<Core>,
    /// The `[doors]` tables: the core never sees them.
    pub doors: Arc<doors::DoorsConfig>,
    /// The upstream, when the gateway is on.
    pub gateway: Option<Arc<gateway::Gateway>>,
    /// `/openapi.json`, set once `app` has collected every route (state,
    /// not a request extension: an extension layer would touch every
    /// request for the sake of one route).
    pub openapi: OnceLock<openapi::Published>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Errors: the gateway's upstream cannot be set up (its URL, or the CA
    /// file of an HTTPS upstream), in words naming the setting.
    pub fn new(core: Arc<Core>, doors: Arc<doors::DoorsConfig>) -> Result<Self, String> {
        let gateway = gateway::Gateway::new(&core.config().gateway)?.map(Arc::new);
        Ok(AppState(Arc::new(Shared {
            core,
            doors,
            gateway,
            openapi: OnceLock::new(),
        })))
    }
}

/// The whole HTTP application. Every module registers its routes with
/// their OpenAPI description (`utoipa_axum::routes!`), so the document at
/// `/openapi.json` lists exactly the routes this configuration serves.
pub fn app(state: AppState) -> Router {
    let server = &state.core.config().server;
    let limit = server.max_body_bytes;
    let timeout: Duration = server.request_timeout;
    let router =
        OpenApiRouter::with_openapi(openapi::ApiDoc::openapi()).routes(routes!(openapi::openapi_get));
    // `/` is the upstream's when the gateway is on.
    let router = match state.gateway {
        None => router.routes(routes!(index::index_get)),
        Some(_) => router,
    };
    let router = router
        .merge(ops::routes())
        .merge(account::routes())
        .merge(auth::routes())
        .merge(authz::routes())
        .merge(admin::routes())
        // One layer (two would box every request twice).
        .layer(limits::BodyLimitLayer::new(limit))
        // Each door limits bodies inside its own dialect (doors::mount).
        .merge(doors::routes(&state));
    let (router, document) = router.split_for_parts();
    // Tessera's own endpoints read small bodies and answer quickly; the
    // gateway (the fallback) streams bodies of any size and has its own
    // upstream timeout, so the limits wrap only the own routes.
    let _ = state
        .openapi
        .set(openapi::finish(document, &state.core.config().password));
    // Every answer of Tessera's own routes may carry a credential or say
    // something about one: none may be cached (RFC 6749 §5.1, RFC 9111),
    // unless a route says otherwise (the JWKS). One layer, so no handler
    // can forget it.
    // Both as one layer of plain tower services: no boxed middleware on
    // every request. The timeout is outermost, as before.
    let own = router.layer(
        tower::ServiceBuilder::new()
            .layer(deadline::DeadlineLayer::new(timeout))
            .map_response(move |res| no_store(res, limit)),
    );
    Router::new()
        .merge(own)
        .fallback(gateway::proxy)
        .with_state(state)
}

/// `Cache-Control: no-store` and `Pragma: no-cache` unless the route chose
/// its own caching.
/// Also gives the framework's own plain refusals (413, 405) Tessera's JSON.
fn no_store(res: axum::response::Response, limit: usize) -> axum::response::Response {
    let mut res = limits::adopted(res, limit);
    let headers = res.headers_mut();
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    }
    res
}
