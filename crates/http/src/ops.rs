//! Operational endpoints: liveness, readiness, Prometheus metrics, and
//! the JSON 404.

use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz_get))
        .routes(routes!(readyz_get))
        .routes(routes!(metrics_get))
}

/// The process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    summary = "Liveness: the process is up and serving",
    responses((status = 200, description = "Up", body = crate::schema::Health)),
)]
async fn healthz_get() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// The process can do its job: the store answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    summary = "Readiness: the store answers",
    responses(
        (status = 200, description = "Ready; `store` names the backend", body = crate::schema::Readiness),
        (status = 503, description = "The store is unreachable", body = crate::schema::Readiness),
    ),
)]
async fn readyz_get(State(state): State<AppState>) -> Response {
    match state.core.store.ping().await {
        Ok(()) => {
            Json(json!({ "status": "ready", "store": state.core.store.backend().as_str() })).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: store unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "reason": "store unreachable" })),
            )
                .into_response()
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
        (status = 401, description = "Not from this host, and no valid token", body = crate::schema::ApiError),
        (status = 403, description = "The token's holder is not a system administrator", body = crate::schema::ApiError),
        (status = 500, description = "The metrics could not be encoded", body = crate::schema::ApiError),
    ),
    security((), ("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn metrics_get(
    State(state): State<AppState>,
    conn: Option<axum::Extension<crate::ConnInfo>>,
    method: axum::http::Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let local = conn.is_some_and(|c| c.remote.ip().is_loopback());
    if !local {
        if let Err(refusal) = crate::admin::admin_caller(&state, &method, &uri, &headers).await {
            return refusal;
        }
    }
    match state.core.metrics_text() {
        Ok(text) => (
            [(header::CONTENT_TYPE, tessera_core::metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(e) => crate::error::api_error(e),
    }
}

pub async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not_found", "message": format!("no route for {}", uri.path()) })),
    )
        .into_response()
}
