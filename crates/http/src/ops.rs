//! Operational endpoints: liveness, readiness, and the JSON 404.

use crate::AppState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz_get))
        .route("/readyz", get(readyz_get))
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

pub async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not_found", "message": format!("no route for {}", uri.path()) })),
    )
        .into_response()
}
