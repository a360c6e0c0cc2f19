//! What one connection is doing, seen from three places at once: its socket
//! (bytes in, writes blocked), its response bodies (requests in flight,
//! responses waiting for the client) and its watchdog, which decides from
//! that state alone when the connection has outlived a limit. Everything is
//! a relaxed atomic written on state changes, so the request path pays a
//! few stores and no allocation.

use hyper::body::{Body, Bytes, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The `[server]` limits one connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From accept to the end of the first request head; for a later
    /// HTTP/1.1 request, from its first byte to the end of its head.
    pub header_read: Duration,
    /// No request in flight for this long: the connection is retired.
    pub keep_alive: Duration,
    /// A response the client takes no byte of for this long: closed.
    pub send: Duration,
}

/// What the watchdog should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing is due before this instant (milliseconds, as `ConnState::stamp`).
    WaitUntil(u64),
    /// Idle past `keep_alive`: shut down gracefully (HTTP/2 says GOAWAY).
    Retire,
    /// A limit was broken: drop the connection now, saying why.
    Close(&'static str),
}

/// The shared record of one connection. Times are milliseconds since
/// accept plus one, so that 0 can mean "not set".
#[derive(Debug)]
pub struct ConnState {
    accepted: Instant,
    /// Requests whose head has arrived (the service was called).
    requests: AtomicU64,
    /// Requests whose response has not been sent to the end (or dropped).
    in_flight: AtomicU32,
    http2: AtomicBool,
    /// When `in_flight` last fell to 0.
    idle_since: AtomicU64,
    /// First byte read while no request was in flight (the next HTTP/1.1
    /// request has begun); 0 if none since the connection went idle.
    idle_read_at: AtomicU64,
    /// Since when the socket has refused more bytes; 0 when it takes them.
    write_blocked_since: AtomicU64,
    /// Response bodies holding a frame hyper has not come back for (hyper
    /// polls a body only when the client can take more).
    waiting_bodies: AtomicU32,
    /// The last time hyper took a frame from (or was handed) a response body.
    body_progress: AtomicU64,
    evicted: AtomicBool,
    /// Woken when the connection must make room for a new one.
    pub evict: Notify,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl ConnState {
    pub fn new() -> Self {
        ConnState {
            accepted: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
            http2: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            idle_read_at: AtomicU64::new(0),
            write_blocked_since: AtomicU64::new(0),
            waiting_bodies: AtomicU32::new(0),
            body_progress: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    /// Now, in this connection's milliseconds (never 0).
    pub fn stamp(&self) -> u64 {
        millis(self.accepted.elapsed()).saturating_add(1)
    }

    /// The instant a `stamp` value stands for.
    pub fn instant(&self, stamp: u64) -> Instant {
        self.accepted + Duration::from_millis(stamp.saturating_sub(1))
    }

    pub fn accepted(&self) -> Instant {
        self.accepted
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }

    /// Nothing in flight: closing it loses no answer. `silent_only` also
    /// asks that it never sent a request (a silent client, or one still
    /// in its TLS handshake).
    pub fn evictable(&self, silent_only: bool) -> bool {
        !self.evicted.load(Relaxed)
            && self.in_flight.load(Relaxed) == 0
            && (!silent_only || self.requests.load(Relaxed) == 0)
    }

    /// Asks the connection to close at once (see `admission`).
    pub fn evict(&self) {
        if !self.evicted.swap(true, Relaxed) {
            self.evict.notify_one();
        }
    }

    /// The limits applied to this state at `now` (a `stamp`). `retiring`:
    /// a graceful shutdown has begun, so idleness no longer matters.
    pub fn verdict(&self, limits: &Limits, now: u64, retiring: bool) -> Verdict {
        let header_read = millis(limits.header_read);
        let keep_alive = millis(limits.keep_alive);
        let send = millis(limits.send);
        // Even with nothing due, look again before any limit could expire.
        let mut next = now.saturating_add(header_read.min(keep_alive).min(send));
        let mut due = |at: u64, why: &'static str| -> Option<Verdict> {
            if now >= at {
                return Some(Verdict::Close(why));
            }
            next = next.min(at);
            None
        };
        let blocked = self.write_blocked_since.load(Relaxed);
        if blocked != 0 {
            if let Some(v) = due(blocked.saturating_add(send), "the client stopped reading") {
                return v;
            }
        }
        if self.waiting_bodies.load(Relaxed) > 0 {
            let at = self.body_progress.load(Relaxed).saturating_add(send);
            if let Some(v) = due(at, "the client stopped taking the response") {
                return v;
            }
        }
        if self.requests.load(Relaxed) == 0 {
            if let Some(v) = due(1 + header_read, "no request within header_read_timeout") {
                return v;
            }
        } else if self.in_flight.load(Relaxed) == 0 && !retiring {
            if !self.http2.load(Relaxed) {
                let began = self.idle_read_at.load(Relaxed);
                if began != 0 {
                    let at = began.saturating_add(header_read);
                    if let Some(v) = due(at, "request head not finished within header_read_timeout") {
                        return v;
                    }
                }
            }
            let idle = self.idle_since.load(Relaxed).saturating_add(keep_alive);
            if now >= idle {
                return Verdict::Retire;
            }
            next = next.min(idle);
        }
        Verdict::WaitUntil(next)
    }
}

/// A request from the arrival of its head until its response is sent or
/// dropped; keeps `in_flight` and the idle clock.
#[derive(Debug)]
pub struct InFlight(Arc<ConnState>);

impl InFlight {
    pub fn start(state: &Arc<ConnState>, version: hyper::Version) -> InFlight {
        state.requests.fetch_add(1, Relaxed);
        state.in_flight.fetch_add(1, Relaxed);
        if version == hyper::Version::HTTP_2 {
            state.http2.store(true, Relaxed);
        }
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let state = &self.0;
        // Stamped before the count falls, so whoever sees 0 sees this time.
        state.idle_since.store(state.stamp(), Relaxed);
        state.idle_read_at.store(0, Relaxed);
        state.in_flight.fetch_sub(1, Relaxed);
    }
}

/// A response body that tells the watchdog when hyper stops coming back
/// for its next frame: between a frame and the next poll, the response is
/// waiting on the client (its socket or its HTTP/2 window), not on us.
#[derive(Debug)]
pub struct TrackedBody {
    inner: axum::body::Body,
    request: InFlight,
    waiting: bool,
}

impl TrackedBody {
    pub fn new(inner: axum::body::Body, request: InFlight) -> TrackedBody {
        let state = &request.0;
        state.body_progress.store(state.stamp(), Relaxed);
        state.waiting_bodies.fetch_add(1, Relaxed);
        TrackedBody {
            inner,
            request,
            waiting: true,
        }
    }

    fn taken(&mut self) {
        if self.waiting {
            self.waiting = false;
            self.request.0.waiting_bodies.fetch_sub(1, Relaxed);
        }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let state = &this.request.0;
        state.body_progress.store(state.stamp(), Relaxed);
        this.taken();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled {
            this.waiting = true;
            this.request.0.waiting_bodies.fetch_add(1, Relaxed);
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

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.taken();
    }
}

/// The accepted socket, noting when the client stops taking bytes and
/// when the next request begins. TLS, when on, runs over this.
#[derive(Debug)]
pub struct Watched {
    tcp: TcpStream,
    state: Arc<ConnState>,
}

impl Watched {
    pub fn new(tcp: TcpStream, state: Arc<ConnState>) -> Watched {
        Watched { tcp, state }
    }

    fn wrote<T>(&self, polled: &Poll<T>) {
        let blocked = &self.state.write_blocked_since;
        match polled {
            Poll::Pending => {
                if blocked.load(Relaxed) == 0 {
                    blocked.store(self.state.stamp(), Relaxed);
                }
            }
            Poll::Ready(_) => {
                if blocked.load(Relaxed) != 0 {
                    blocked.store(0, Relaxed);
                }
            }
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        let state = &self.state;
        if buf.filled().len() > before
            && state.in_flight.load(Relaxed) == 0
            && state.idle_read_at.load(Relaxed) == 0
        {
            state.idle_read_at.store(state.stamp(), Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.wrote(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        header_read: Duration::from_secs(10),
        keep_alive: Duration::from_secs(75),
        send: Duration::from_secs(30),
    };

    fn state() -> Arc<ConnState> {
        Arc::new(ConnState::new())
    }

    #[test]
    fn a_silent_connection_is_closed_header_read_timeout_after_accept() {
        let s = state();
        assert_eq!(s.verdict(&LIMITS, 1, false), Verdict::WaitUntil(10_001));
        assert_eq!(
            s.verdict(&LIMITS, 10_001, false),
            Verdict::Close("no request within header_read_timeout")
        );
        // Bytes do not restart the clock: only a whole request head counts.
        s.idle_read_at.store(9_000, Relaxed);
        assert!(matches!(s.verdict(&LIMITS, 10_001, false), Verdict::Close(_)));
    }

    #[test]
    fn an_idle_connection_retires_after_keep_alive_and_a_started_head_must_finish() {
        let s = state();
        drop(InFlight::start(&s, hyper::Version::HTTP_11));
        let idle = s.idle_since.load(Relaxed);
        assert_eq!(
            s.verdict(&LIMITS, idle + 20_000, false),
            Verdict::WaitUntil(idle + 30_000)
        );
        assert_eq!(s.verdict(&LIMITS, idle + 75_000, false), Verdict::Retire);
        assert_eq!(
            s.verdict(&LIMITS, idle + 75_000, true),
            Verdict::WaitUntil(idle + 85_000)
        );
        // The first byte of the next HTTP/1.1 request starts header_read_timeout.
        s.idle_read_at.store(idle + 5_000, Relaxed);
        assert!(matches!(
            s.verdict(&LIMITS, idle + 15_000, false),
            Verdict::Close(_)
        ));
        // HTTP/2 reads while idle are control frames: only keep-alive applies.
        s.http2.store(true, Relaxed);
        assert_eq!(
            s.verdict(&LIMITS, idle + 15_000, false),
            Verdict::WaitUntil(idle + 25_000)
        );
    }

    #[test]
    fn a_request_in_flight_is_never_idle_but_a_stalled_response_is_closed() {
        let s = state();
        let req = InFlight::start(&s, hyper::Version::HTTP_2);
        assert_eq!(s.verdict(&LIMITS, 500_000, false), Verdict::WaitUntil(510_000));
        let mut body = TrackedBody::new(axum::body::Body::empty(), req);
        let handed = s.body_progress.load(Relaxed);
        assert_eq!(
            s.verdict(&LIMITS, handed + 1, false),
            Verdict::WaitUntil(handed + 10_001)
        );
        assert!(matches!(
            s.verdict(&LIMITS, handed + 30_000, false),
            Verdict::Close(_)
        ));
        body.taken();
        assert_eq!(s.waiting_bodies.load(Relaxed), 0);
        s.write_blocked_since.store(handed + 100, Relaxed);
        assert!(matches!(
            s.verdict(&LIMITS, handed + 30_100, false),
            Verdict::Close(_)
        ));
        drop(body);
        assert_eq!(s.in_flight.load(Relaxed), 0);
    }

    #[test]
    fn eviction_prefers_connections_without_requests_and_happens_once() {
        let s = state();
        assert!(s.evictable(true));
        let req = InFlight::start(&s, hyper::Version::HTTP_11);
        assert!(!s.evictable(false), "a request in flight is never evicted");
        drop(req);
        assert!(!s.evictable(true) && s.evictable(false));
        s.evict();
        assert!(!s.evictable(false), "an evicted connection is not picked twice");
    }
}
