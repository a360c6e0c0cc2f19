//! Operational endpoints: liveness, readiness, Prometheus metrics, and
//! the JSON 404.

use crate::error::{finish, ApiError, ErrorBody};
use crate::identity::AdminCaller;
use crate::{AppState, ConnInfo};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz_get))
        .routes(routes!(readyz_get))
        .routes(routes!(metrics_get))
}

/// `GET /healthz`.
#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// The process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    summary = "Liveness: the process is up and serving",
    responses((status = 200, description = "Up", body = Health)),
)]
async fn healthz_get() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `GET /readyz`: the store answers (200) or not (503).
#[derive(Serialize, utoipa::ToSchema)]
struct Readiness {
    /// `ready` or `unavailable`.
    #[schema(example = "ready")]
    status: &'static str,
    /// The store backend (`sqlite`, `postgres`), when ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'static str>,
    /// Why not, when unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// How long a probe should wait before asking again after a 503.
const READY_RETRY: Duration = Duration::from_secs(1);

/// The process can do its job: the store answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    summary = "Readiness: the store answers",
    responses(
        (status = 200, description = "Ready; `store` names the backend", body = Readiness),
        (status = 503, description = "The store is unreachable; `Retry-After` says when to ask again", body = Readiness,
            headers(("Retry-After" = u64, description = "Seconds"))),
    ),
)]
async fn readyz_get(State(state): State<AppState>) -> Response {
    match state.core.ready().await {
        Ok(backend) => Json(Readiness {
            status: "ready",
            store: Some(backend),
            reason: None,
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: store unreachable");
            // A probe's body, not a refusal's; status and `Retry-After`
            // come from the shared refusal code all the same.
            let body = Json(Readiness {
                status: "unavailable",
                store: None,
                reason: Some("store unreachable"),
            });
            let unavailable = ApiError::Unavailable {
                message: "store unreachable".into(),
                retry_after: READY_RETRY,
            };
            finish(body.into_response(), unavailable, None)
        }
    }
}

/// This node's metrics in the Prometheus text format (docs/metrics.md),
/// for scrapers on this host or presenting an administrator's token (a
/// proxy token suits a scraper: it never expires). The login and lockout
/// counters would otherwise tell anyone which accounts exist.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    summary = "This node's metrics, Prometheus text format",
    description = "Open to scrapers on this host (loopback); from elsewhere it needs an \
        administrator's token (a proxy token suits a scraper) or the bootstrap admin token.",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String,
            content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "Not from this host, and no valid token", body = ErrorBody),
        (status = 403, description = "The token's holder is not a system administrator", body = ErrorBody),
        (status = 500, description = "The metrics could not be encoded", body = ErrorBody),
    ),
    security((), ("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn metrics_get(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (mut parts, _) = request.into_parts();
    let local = parts
        .extensions
        .get::<ConnInfo>()
        .is_some_and(|c| c.remote.ip().is_loopback());
    if !local {
        AdminCaller::from_request_parts(&mut parts, &state).await?;
    }
    let text = state.core.metrics_text()?;
    Ok((
        [(header::CONTENT_TYPE, tessera_core::metrics::CONTENT_TYPE)],
        text,
    )
        .into_response())
}
