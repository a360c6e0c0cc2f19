//! One connection from accept to close: the TLS handshake, HTTP/1.1 or
//! HTTP/2 (by ALPN, or by sniffing on plain TCP), and a watchdog that holds
//! the whole of it to the `[server]` limits (see `tracking`). The first
//! limit runs from accept, so neither the handshake nor hyper's protocol
//! sniff (which has no timer of its own) can hold a socket open.

use super::admission::Admitted;
use super::plain_http;
use super::tracking::{ConnState, InFlight, Limits, TrackedBody, Verdict, Watched};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tessera_http::ConnInfo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

/// How long connections in flight get to finish after shutdown starts.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle connection told to close gracefully (HTTP/2: GOAWAY,
/// then a PING the client must answer) gets before it is dropped.
const RETIRE_GRACE: Duration = Duration::from_secs(5);
/// HTTP/2 streams open at once on one connection (RFC 9113 §6.5.2 asks
/// for at least 100; hyper's default is 200).
const MAX_CONCURRENT_STREAMS: u32 = 100;

/// What every connection of one listener shares.
pub struct Shared {
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub router: Router,
    pub limits: Limits,
    /// Sniffs HTTP/1.1 or HTTP/2 (plain TCP, or TLS without ALPN).
    auto: auto::Builder<TokioExecutor>,
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

impl Shared {
    pub fn new(tls: Option<tokio_rustls::TlsAcceptor>, router: Router, limits: Limits) -> Shared {
        let mut auto = auto::Builder::new(TokioExecutor::new());
        // The watchdog times request heads from accept and from the first
        // byte of each later one; hyper's own timer would also run while a
        // connection idles, cutting keep-alive short.
        auto.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(None::<Duration>)
            .keep_alive(true)
            .half_close(false);
        auto.http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20))
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .max_pending_accept_reset_streams(Some(20))
            .max_local_error_reset_streams(Some(1024));
        Shared {
            tls,
            router,
            limits,
            http1: auto.clone().http1_only(),
            http2: auto.clone().http2_only(),
            auto,
        }
    }
}

/// Serves one accepted connection; its permit is given back when it ends.
pub async fn run(
    tcp: TcpStream,
    remote: SocketAddr,
    admitted: Admitted,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let state = admitted.state.clone();
    let Some(acceptor) = &shared.tls else {
        let info = ConnInfo { remote, tls: false };
        serve(
            TokioIo::new(Watched::new(tcp, state.clone())),
            &shared.auto,
            &shared,
            &state,
            info,
            &mut shutdown,
        )
        .await;
        return;
    };
    let deadline = state.accepted() + shared.limits.header_read;
    // Plain HTTP on the TLS port is answered in words (see `plain_http`).
    let first = tokio::select! {
        first = tokio::time::timeout_at(deadline, plain_http::first_byte(&tcp)) => match first {
            Ok(Some(byte)) => byte,
            Ok(None) => return,
            Err(_) => {
                tracing::debug!(%remote, "TLS handshake not begun within header_read_timeout");
                return;
            }
        },
        () = state.evict.notified() => return,
        _ = shutdown.changed() => return,
    };
    if plain_http::is_plain_http(first) {
        tracing::debug!(%remote, "plain HTTP on the TLS port: answered 400");
        tokio::select! {
            () = plain_http::answer(tcp, deadline, shared.limits.send) => {}
            () = state.evict.notified() => {}
            _ = shutdown.changed() => {}
        }
        return;
    }
    let io = Watched::new(tcp, state.clone());
    let stream = tokio::select! {
        handshake = tokio::time::timeout_at(deadline, acceptor.accept(io)) => match handshake {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%remote, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, "TLS handshake not finished within header_read_timeout");
                return;
            }
        },
        () = state.evict.notified() => return,
        _ = shutdown.changed() => return,
    };
    let builder = match stream.get_ref().1.alpn_protocol() {
        Some(b"h2") => &shared.http2,
        Some(b"http/1.1") => &shared.http1,
        _ => &shared.auto,
    };
    let info = ConnInfo { remote, tls: true };
    serve(
        TokioIo::new(stream),
        builder,
        &shared,
        &state,
        info,
        &mut shutdown,
    )
    .await;
    drop(admitted);
}

async fn serve<I>(
    io: TokioIo<I>,
    builder: &auto::Builder<TokioExecutor>,
    shared: &Shared,
    state: &Arc<ConnState>,
    info: ConnInfo,
    shutdown: &mut watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let remote = info.remote;
    let router = shared.router.clone();
    let requests = state.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(info);
        let request = InFlight::start(&requests, req.version());
        let answer = router.clone().oneshot(req.map(axum::body::Body::new));
        async move {
            let response = answer.await?;
            Ok::<_, Infallible>(response.map(|body| TrackedBody::new(body, request)))
        }
    });
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let limits = shared.limits;
    let first = match state.verdict(&limits, state.stamp(), false) {
        Verdict::WaitUntil(at) => state.instant(at),
        _ => Instant::now(),
    };
    let watchdog = tokio::time::sleep_until(first);
    tokio::pin!(watchdog);
    let evicted = state.evict.notified();
    tokio::pin!(evicted);
    // Set once a graceful shutdown has begun: past it, the connection is dropped.
    let mut hard_stop: Option<Instant> = None;
    let mut retiring = false;
    let mut shutting_down = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            () = &mut evicted => {
                tracing::debug!(%remote, "closed to make room for a new connection");
                return;
            }
            _ = shutdown.changed(), if !shutting_down => {
                shutting_down = true;
                retiring = true;
                conn.as_mut().graceful_shutdown();
                let stop = Instant::now() + DRAIN_TIMEOUT;
                let stop = hard_stop.map_or(stop, |t| t.min(stop));
                hard_stop = Some(stop);
                if stop < watchdog.deadline() {
                    watchdog.as_mut().reset(stop);
                }
            }
            () = &mut watchdog => {
                let now = Instant::now();
                if hard_stop.is_some_and(|t| now >= t) {
                    tracing::debug!(%remote, "closed: still open after a graceful shutdown");
                    return;
                }
                let mut next = match state.verdict(&limits, state.stamp(), retiring) {
                    Verdict::WaitUntil(at) => state.instant(at),
                    Verdict::Close(why) => {
                        tracing::debug!(%remote, requests = state.requests(), "closed: {why}");
                        return;
                    }
                    Verdict::Retire => {
                        tracing::trace!(%remote, "closing an idle connection");
                        retiring = true;
                        conn.as_mut().graceful_shutdown();
                        let stop = now + RETIRE_GRACE;
                        hard_stop = Some(hard_stop.map_or(stop, |t| t.min(stop)));
                        stop
                    }
                };
                if let Some(stop) = hard_stop {
                    next = next.min(stop);
                }
                // A clock that reads the same twice must not spin.
                watchdog.as_mut().reset(next.max(now + Duration::from_millis(1)));
            }
        }
    }
}
