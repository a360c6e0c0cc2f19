//! Request bodies past `[server] max_body_bytes`, answered so that every
//! client can read the answer: a 413 in the door's own error shape, after
//! draining what the client is still sending (a bounded amount, for a
//! bounded time), so the reply is not lost to a reset on HTTP/1.1 or to a
//! refused stream on HTTP/2. Also turns the framework's own plain-text
//! refusals (a body cut off at the limit mid-stream, a wrong method) into
//! [`ApiError`]s, so they too take the door's shape.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::http::header::{ALLOW, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::http::{HeaderValue, StatusCode, Version};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service};

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
    match declared_length(&req) {
        Some(n) if n > limit as u64 => refuse(req, n, limit).await,
        _ => next.run(req).await,
    }
}

/// The body length a request declares (`Content-Length`), if any.
fn declared_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// The 413 for a request declaring `declared` bytes, past `limit`, after
/// draining what is drainable.
async fn refuse(req: Request, declared: u64, limit: usize) -> Response {
    let http1 = req.version() < Version::HTTP_2;
    if declared <= DRAIN_MAX as u64 {
        let _ = tokio::time::timeout(DRAIN_FOR, axum::body::to_bytes(req.into_body(), DRAIN_MAX)).await;
    }
    let mut res = ApiError::PayloadTooLarge(limit).into_response();
    if http1 {
        // The connection is not reused: what is left of the body, if
        // anything, is not read.
        res.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    res
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
            // The router sets `Allow` after this layer has seen the answer
            // (axum adds it as the route's future completes), so the message
            // points at the header rather than repeating it.
            let allow = res.headers().get(ALLOW).cloned();
            let message = match allow.as_ref().and_then(|a| a.to_str().ok()) {
                Some(methods) => format!("this path takes only {methods} (see the Allow header)"),
                None => {
                    "this path does not take this method; the Allow header lists the ones it takes".to_owned()
                }
            };
            Some((ApiError::MethodNotAllowed(message.into()), allow))
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

/// [`body_limit`] and [`DefaultBodyLimit`] as one tower layer for
/// Tessera's own routes: one service per route instead of two boxed
/// middlewares, and no future boxed for a request within the limit (the
/// common case: this wraps `/v1/authz`).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    limit: usize,
}

impl BodyLimitLayer {
    /// Bodies up to `limit` bytes.
    pub fn new(limit: usize) -> Self {
        BodyLimitLayer { limit }
    }
}

impl<S: Clone> Layer<S> for BodyLimitLayer {
    type Service = BodyLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyLimited {
            limited: DefaultBodyLimit::max(self.limit).layer(inner.clone()),
            plain: inner,
            limit: self.limit,
        }
    }
}

/// See [`BodyLimitLayer`]. A request that carries no body at all skips
/// the extractors' limit (one request extension fewer to insert: with it, a
/// body-less `/v1/authz` check grew its extension map once per request).
#[derive(Debug, Clone)]
pub struct BodyLimited<S> {
    limited: <DefaultBodyLimit as Layer<S>>::Service,
    plain: S,
    limit: usize,
}

/// Whether the request has no body by its framing: `Content-Length: 0`, or
/// HTTP/1.x with neither `Content-Length` nor `Transfer-Encoding` (RFC 9112
/// §6.3). An HTTP/2 request may send DATA without a length, so it never
/// counts as body-less here.
fn has_no_body(req: &Request) -> bool {
    let headers = req.headers();
    match headers.get(CONTENT_LENGTH) {
        Some(v) => v.as_bytes() == b"0",
        None => req.version() <= Version::HTTP_11 && !headers.contains_key(TRANSFER_ENCODING),
    }
}

type Refusal = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request> for BodyLimited<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, Refusal>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        match self.limited.poll_ready(cx) {
            Poll::Ready(Ok(())) => self.plain.poll_ready(cx),
            other => other,
        }
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if has_no_body(&req) {
            return Either::Left(self.plain.call(req));
        }
        match declared_length(&req) {
            Some(n) if n > self.limit as u64 => {
                let limit = self.limit;
                Either::Right(Box::pin(async move { Ok(refuse(req, n, limit).await) }))
            }
            _ => Either::Left(self.limited.call(req)),
        }
    }
}
