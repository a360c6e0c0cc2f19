//! The gateway (SPEC §4): every request no Tessera route answers is
//! checked (token, rules, scope, emergency allow-list) and forwarded to
//! `[gateway] upstream` over a pooled connection, bodies streamed both
//! ways, the caller's credentials removed and identity headers added.
//! An upstream that refuses gets 502, one that is too slow 504.
//!
//! `[gateway] timeout` bounds silence, not size: the upstream has that long
//! to answer after the last byte of the request body went out, and that
//! long between two chunks of its response body. A 1 GiB firmware upload
//! that keeps moving is never cut off; an upstream that stops is.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AUTH_TOKEN_HEADER, PROXY_TOKEN_HEADER, SDS_TOKEN, SDS_TOKEN_HEADER};
use crate::identity::{add_identity, optional_caller, unauthenticated};
use crate::upstream::{tls_failure, Upstream};
use crate::{AppState, ConnInfo};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tessera_core::metrics::UpstreamFailure;
use tessera_core::policy::{CanonicalPath, Decision};
use tessera_model::config::GatewayConfig;
use tokio::time::{Instant, Sleep};

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded. Typed names
/// throughout this file: a lookup by `&str` parses the name every time, and
/// these run twice on every proxied request.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The upstream and the pooled client that reaches it.
pub struct Gateway {
    upstream: Upstream,
    timeout: Duration,
}

impl Gateway {
    /// `Ok(None)` when no upstream is configured.
    ///
    /// Errors: the upstream URL or its CA file is unusable (see
    /// [`Upstream::new`]).
    pub fn new(config: &GatewayConfig) -> Result<Option<Gateway>, String> {
        Ok(Upstream::new(config)?.map(|upstream| Gateway {
            upstream,
            timeout: config.timeout,
        }))
    }
}

/// Removes hop-by-hop headers, including those `Connection` names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names they do carry
    // (cheap comparisons) instead of nine hashed lookups.
    static NAMES: [HeaderName; 9] = HOP_BY_HOP;
    if !headers.keys().any(|k| NAMES.contains(k)) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Appends `ip` as `Display` writes it; IPv4 (the usual case) without the
/// formatting machinery, which costs more than the rest of the header.
fn push_ip(out: &mut String, ip: std::net::IpAddr) {
    use std::fmt::Write;
    match ip {
        std::net::IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        std::net::IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// Removes what a client may not pass upstream: its credentials (any
/// token carrier, Basic included, and the token cookie) and any identity
/// header it made up.
pub fn strip_credentials(headers: &mut HeaderMap) {
    headers.remove(header::AUTHORIZATION);
    headers.remove(AUTH_TOKEN_HEADER);
    headers.remove(SDS_TOKEN_HEADER);
    headers.remove(PROXY_TOKEN_HEADER);
    if !headers.contains_key(header::COOKIE) {
        strip_forged(headers);
        return;
    }
    let cookies: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.split('=').next() != Some(SDS_TOKEN))
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if !cookies.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&cookies.join("; ")) {
            headers.insert(header::COOKIE, v);
        }
    }
    strip_forged(headers);
}

/// Removes every `X-Tessera-*` header a client made up.
fn strip_forged(headers: &mut HeaderMap) {
    let forged: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-tessera-"))
        .cloned()
        .collect();
    for name in forged {
        headers.remove(name);
    }
}

/// When a body chunk last moved, either way, in one forwarded exchange,
/// and whether the client's upload broke off.
#[derive(Clone)]
struct Progress {
    start: Instant,
    shared: Arc<ProgressState>,
}

#[derive(Default)]
struct ProgressState {
    /// Milliseconds after `start`.
    last_ms: AtomicU64,
    upload_failed: AtomicBool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            start: Instant::now(),
            shared: Arc::default(),
        }
    }

    fn moved(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.shared.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When the upstream's silence becomes a timeout.
    fn deadline(&self, timeout: Duration) -> Instant {
        self.start + Duration::from_millis(self.shared.last_ms.load(Ordering::Relaxed)) + timeout
    }

    fn upload_failed(&self) -> bool {
        self.shared.upload_failed.load(Ordering::Relaxed)
    }
}

/// The request body on its way up: every chunk counts as progress.
struct Upload {
    inner: Body,
    progress: Progress,
}

impl HttpBody for Upload {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => self.progress.moved(),
            Poll::Ready(Some(Err(_))) => self.progress.shared.upload_failed.store(true, Ordering::Relaxed),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body on its way down: fails (and so ends the response to
/// the client early) when nothing moves for `timeout`.
struct Download {
    inner: crate::pool::Pooled,
    progress: Progress,
    timeout: Duration,
    /// Armed only while the upstream keeps the gateway waiting.
    timer: Option<Pin<Box<Sleep>>>,
    core: Arc<tessera_core::Core>,
}

impl HttpBody for Download {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.progress.moved();
                this.timer = None;
                return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
            }
            Poll::Pending => {}
        }
        loop {
            let deadline = this.progress.deadline(this.timeout);
            let timer = this
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.deadline() < deadline {
                timer.as_mut().reset(deadline);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if this.progress.deadline(this.timeout) <= Instant::now() {
                tracing::warn!(timeout = ?this.timeout, "upstream stopped sending its response body");
                this.core.metrics().upstream_failed(UpstreamFailure::Timeout);
                return Poll::Ready(Some(Err("the upstream stopped sending its response".into())));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The upstream's response head, or `None` when it stayed silent for
/// `timeout` after the request (body included) last moved.
async fn answer(
    gw: &Gateway,
    request: Request,
    progress: &Progress,
) -> Option<Result<hyper::Response<crate::pool::Pooled>, crate::pool::Error>> {
    let response = gw.upstream.pool.request(request);
    tokio::pin!(response);
    let timer = tokio::time::sleep(gw.timeout);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            biased;
            r = &mut response => return Some(r),
            () = &mut timer => {
                let deadline = progress.deadline(gw.timeout);
                if deadline <= Instant::now() {
                    return None;
                }
                timer.as_mut().reset(deadline);
            }
        }
    }
}

/// The fallback of the router: everything that is not Tessera's own.
pub async fn proxy(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let Some(gw) = state.gateway.clone() else {
        return Err(ApiError::NoRoute(req.uri().path().to_owned()));
    };
    let (mut parts, body) = req.into_parts();
    // A store fault is a 503 whatever the configuration: `unauthenticated`
    // redirects only a missing or dead token.
    let who = optional_caller(&state, &parts.headers)
        .await
        .map_err(|e| unauthenticated(&state, &parts.uri, e.into()))?;
    // One canonical path, judged here and sent upstream: whatever the
    // upstream serves is what the rules allowed (`;` parameters, empty and
    // dot segments already resolved as a servlet container would).
    let path = CanonicalPath::parse(parts.uri.path())
        .map_err(|refused| ApiError::bad_request(refused.to_string()))?;
    match state
        .core
        .rules()
        .decide(parts.method.as_str(), &path, parts.uri.query(), who.as_ref())
    {
        Decision::Allow => {}
        Decision::Unauthenticated => {
            return Err(unauthenticated(&state, &parts.uri, ApiError::missing_token()))
        }
        Decision::Forbidden(why) => return Err(ApiError::Forbidden(why.into())),
        Decision::BadRequest(why) => return Err(ApiError::bad_request(why)),
    }
    // The query goes as sent: the rules read only the emergency paging
    // names in it, and compare those decoded.
    let target = gw
        .upstream
        .target_for(&parts.uri, &path)
        .ok_or_else(|| ApiError::bad_request("the request path cannot be forwarded"))?;
    let conn = parts.extensions.get::<ConnInfo>().copied();
    let original_host = parts.headers.get(header::HOST).cloned();
    let headers = &mut parts.headers;
    strip_hop_by_hop(headers);
    strip_credentials(headers);
    if let Some(who) = &who {
        add_identity(headers, who);
    }
    if let Some(conn) = conn {
        let mut forwarded_for = String::with_capacity(48);
        if let Some(prior) = headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            forwarded_for.push_str(prior);
            forwarded_for.push_str(", ");
        }
        push_ip(&mut forwarded_for, conn.remote.ip());
        if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
            headers.insert(X_FORWARDED_FOR, v);
        }
        headers.insert(
            X_FORWARDED_PROTO,
            HeaderValue::from_static(if conn.tls { "https" } else { "http" }),
        );
    }
    if let Some(host) = original_host {
        headers.insert(X_FORWARDED_HOST, host);
    }
    headers.insert(header::HOST, gw.upstream.host.clone());
    parts.uri = target;
    parts.version = axum::http::Version::HTTP_11;
    let progress = Progress::new();
    let body = if body.is_end_stream() {
        body
    } else {
        Body::new(Upload {
            inner: body,
            progress: progress.clone(),
        })
    };
    let upstream = Request::from_parts(parts, body);
    Ok(match answer(&gw, upstream, &progress).await {
        Some(Ok(res)) => {
            let (mut parts, body) = res.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            let body = if body.is_end_stream() {
                body.finish().await;
                Body::empty()
            } else {
                Body::new(Download {
                    inner: body,
                    progress,
                    timeout: gw.timeout,
                    timer: None,
                    core: state.core.clone(),
                })
            };
            Response::from_parts(parts, body)
        }
        // The client broke its upload off (disconnected, or sent a body
        // shorter than it announced): not the upstream's fault, and the
        // client will most likely not read this answer.
        Some(Err(e)) if progress.upload_failed() => {
            tracing::debug!(error = %e, "the client's upload broke off");
            return Err(ApiError::bad_request(
                "the request body broke off before its end; send it again whole",
            ));
        }
        Some(Err(e)) => {
            state.core.metrics().upstream_failed(UpstreamFailure::Unreachable);
            // A certificate the gateway cannot trust is no passing fault:
            // say so, so the operator fixes the CA rather than waits.
            let message = match tls_failure(&*e) {
                Some(why) => {
                    tracing::error!(error = ?e, upstream = %gw.upstream.origin, "upstream TLS failed: {why}");
                    why.into()
                }
                None => {
                    tracing::warn!(error = %e, upstream = %gw.upstream.origin, "upstream unreachable");
                    "the API behind this gateway did not answer (connection refused or reset); retry later"
                        .into()
                }
            };
            upstream_error(StatusCode::BAD_GATEWAY, "bad_gateway", message)
        }
        None => {
            tracing::warn!(upstream = %gw.upstream.origin, timeout = ?gw.timeout, "upstream timed out");
            state.core.metrics().upstream_failed(UpstreamFailure::Timeout);
            upstream_error(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway_timeout",
                format!(
                    "the API behind this gateway did not answer within {}",
                    tessera_model::duration::format(gw.timeout)
                )
                .into(),
            )
        }
    })
}

/// The gateway's own answer when the upstream fails it (502, 504), in
/// Tessera's JSON shape. Not an [`ApiError`]: the request was fine and
/// the caller authorised, the API behind the gateway is what failed.
fn upstream_error(status: StatusCode, error: &'static str, message: Cow<'static, str>) -> Response {
    (status, Json(ErrorBody { error, message })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "127.0.0.1",
            "10.0.100.9",
            "255.255.255.255",
            "0.0.0.0",
            "::1",
            "fe80::1",
        ] {
            let mut out = String::new();
            push_ip(&mut out, ip.parse().unwrap());
            assert_eq!(out, ip);
        }
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("keep-alive, x-private"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-kept", HeaderValue::from_static("2"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn credentials_and_forged_identity_go_other_cookies_stay() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer tsa_x"));
        h.insert("x-auth-token", HeaderValue::from_static("t"));
        h.insert("x-sds-auth-token", HeaderValue::from_static("t"));
        h.insert("x-sds-auth-proxy-token", HeaderValue::from_static("t"));
        h.insert(
            "cookie",
            HeaderValue::from_static("theme=dark; X-SDS-AUTH-TOKEN=tsa_y; lang=en"),
        );
        h.insert("x-tessera-user", HeaderValue::from_static("root"));
        h.insert("X-Tessera-Roles", HeaderValue::from_static("admin"));
        strip_credentials(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h["cookie"], "theme=dark; lang=en");
    }
}
