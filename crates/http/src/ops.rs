//! Operational endpoints: liveness, readiness, Prometheus metrics, and
//! the JSON 404.

use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz_get))
        .route("/readyz", get(readyz_get))
        .route("/metrics", get(metrics_get))
}

/// The process is up and serving.
async fn healthz_get() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// The process can do its job: the store answers.
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
