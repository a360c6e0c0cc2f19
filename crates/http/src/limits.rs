//! Request bodies past `[server] max_body_bytes`, answered so that every
//! client can read the answer: a 413 in the door's own error shape, after
//! draining what the client is still sending (a bounded amount, for a
//! bounded time), so the reply is not lost to a reset on HTTP/1.1 or to a
//! refused stream on HTTP/2. Also turns the framework's own plain-text
//! refusals (a body cut off at the limit mid-stream, a wrong method) into
//! [`ApiError`]s, so they too take the door's shape.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::header::{ALLOW, CONNECTION, CONTENT_LENGTH};
use axum::http::{HeaderValue, StatusCode, Version};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// The most of an oversized body that is read and thrown away before the
/// 413 goes out.
const DRAIN_MAX: usize = 16 * 1024 * 1024;
/// The longest the draining may take.
const DRAIN_FOR: Duration = Duration::from_secs(5);

/// Refuses a body whose declared length is past the limit before the
/// handler runs (draining it first). Bodies of unknown length are cut at
/// the limit by the extractors ([`axum::extract::DefaultBodyLimit`], set
/// beside this layer), and that refusal is adopted by [`adopt`].
pub async fn body_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.core.config().server.max_body_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let http1 = req.version() < Version::HTTP_2;
        let drainable = declared.is_some_and(|n| n <= DRAIN_MAX as u64);
        if drainable {
            let _ = tokio::time::timeout(DRAIN_FOR, axum::body::to_bytes(req.into_body(), DRAIN_MAX)).await;
        }
        let mut res = ApiError::PayloadTooLarge(limit).into_response();
        if http1 {
            // The connection is not reused: what is left of the body, if
            // anything, is not read.
            res.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        return res;
    }
    next.run(req).await
}

/// The refusal a plain framework response stands for, when it is one
/// (413 from a body cut off at the limit, 405 from the router), keeping
/// the framework's `Allow`.
pub fn adopt(res: &Response, limit: usize) -> Option<(ApiError, Option<HeaderValue>)> {
    if res.extensions().get::<ApiError>().is_some() {
        return None;
    }
    match res.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Some((ApiError::PayloadTooLarge(limit), None)),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = res.headers().get(ALLOW).cloned();
            let methods = allow
                .as_ref()
                .and_then(|a| a.to_str().ok())
                .unwrap_or("another method")
                .to_owned();
            Some((
                ApiError::MethodNotAllowed(format!("this path takes {methods}").into()),
                allow,
            ))
        }
        _ => None,
    }
}

/// [`adopt`] as a response: the refusal rendered as Tessera's JSON with
/// the framework's `Allow` kept.
pub fn adopted(res: Response, limit: usize) -> Response {
    match adopt(&res, limit) {
        None => res,
        Some((e, allow)) => {
            let mut out = e.into_response();
            if let Some(allow) = allow {
                out.headers_mut().insert(ALLOW, allow);
            }
            out
        }
    }
}
