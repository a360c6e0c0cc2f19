//! The gateway's connections to its upstream: HTTP/1.1 (over TLS for an
//! `https://` upstream) kept open between requests, each driven by the task
//! of the request that holds it.
//!
//! hyper-util's pooled client runs every connection as a task of its own:
//! a request is handed to it through a channel and the answer comes back
//! through another, so each request wakes a second task, often on the other
//! core, and pays for a pool keyed by a hashed scheme and authority. Here a
//! request takes an idle connection (last in, first out), polls it itself
//! while it waits for the answer, and its response body keeps polling it
//! until the body ends; the connection then goes back. A connection whose
//! body was not read to its end is closed, never reused. One task, no
//! channel between tasks, no hashing.
//!
//! An idle connection the upstream closed is found when it is taken (its
//! connection future has ended, or it does not want a request): it is
//! dropped and the next one taken. A request that a reused connection
//! gives back unsent (closed as it was handed over) is sent once more, on a
//! new connection; one that was written is never sent again. A sweeper
//! task drops connections idle for longer than `idle_timeout`.

use axum::body::Body;
use axum::http::{Request, Response, Uri};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::net::TcpStream;
use tower::ServiceExt;

/// Why a request did not get an answer: connecting, the TLS handshake, or
/// the connection failing while the request or answer was on it.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

type Io = MaybeHttpsStream<TokioIo<TcpStream>>;

/// Idle connections kept at most; more are closed when their request ends.
const MAX_IDLE: usize = 512;

/// One connection: the handle that sends a request, the future that does
/// the connection's work, and the sweep in which it last went idle.
/// About 1.8 KB (hyper's buffers, rustls' state): always boxed, so that
/// taking it from the idle list, into a request's future, into the
/// response body and back moves a pointer, not the connection.
struct Conn {
    send: SendRequest<Body>,
    /// `None` once the connection future has ended (closed, or failed):
    /// dropped then, so that a request queued on it comes back unsent.
    conn: Option<Connection<Io, Body>>,
    idle_since: u64,
}

impl Conn {
    /// Does the connection's pending work (writing the request and its
    /// body, reading the answer into the response body); wakes `cx` when
    /// there is more.
    fn drive(&mut self, cx: &mut Context<'_>) {
        let Some(conn) = &mut self.conn else { return };
        if let Poll::Ready(r) = Pin::new(conn).poll(cx) {
            self.conn = None;
            if let Err(e) = r {
                tracing::debug!(error = %e, "upstream connection ended");
            }
        }
    }

    /// Whether the connection can take a request now (after `drive`):
    /// open, and hyper's dispatcher idle both ways (the last request's
    /// body all written, the last answer all read).
    fn reusable(&self) -> bool {
        self.conn.is_some() && self.send.is_ready()
    }
}

/// The idle connections to one upstream and the way to open more.
pub struct Pool {
    connector: HttpsConnector<HttpConnector>,
    /// `scheme://authority`: what the connector dials.
    origin: Uri,
    #[expect(
        clippy::vec_box,
        reason = "a connection moves between this list, a request's future and its response body: boxed, each move is a pointer"
    )]
    idle: Mutex<Vec<Box<Conn>>>,
    /// Sweeps so far; a connection idle since two sweeps ago goes.
    sweeps: AtomicU64,
    idle_timeout: Duration,
    sweeper: Once,
}

impl Pool {
    /// A pool dialing `origin` (`scheme://authority`) with `connector`;
    /// connections idle for `idle_timeout` (at most 1.5 times that) close.
    pub fn new(connector: HttpsConnector<HttpConnector>, origin: Uri, idle_timeout: Duration) -> Pool {
        Pool {
            connector,
            origin,
            idle: Mutex::new(Vec::new()),
            sweeps: AtomicU64::new(0),
            idle_timeout,
            sweeper: Once::new(),
        }
    }

    /// Sends `request` (origin-form URI, `Host` set) and waits for the
    /// answer's head. The [`Pooled`] body owns the connection until it is
    /// read to its end.
    ///
    /// Errors: connecting, TLS, or the connection failing before the head
    /// arrived.
    pub async fn request(self: &Arc<Self>, mut request: Request<Body>) -> Result<Response<Pooled>, Error> {
        self.start_sweeper();
        let mut retried = false;
        loop {
            let idle = if retried {
                None
            } else {
                std::future::poll_fn(|cx| Poll::Ready(self.checkout(cx))).await
            };
            let (mut conn, reused) = match idle {
                Some(c) => (c, true),
                // Boxed: the connecting future (TLS handshake state
                // included) would otherwise be part of every request's
                // future, though only a request that finds no idle
                // connection runs it.
                None => (Box::pin(self.connect()).await?, false),
            };
            let mut sent = std::pin::pin!(conn.send.try_send_request(request));
            let answer = std::future::poll_fn(|cx| {
                conn.drive(cx);
                sent.as_mut().poll(cx)
            })
            .await;
            match answer {
                Ok(res) => {
                    let pool = self.clone();
                    return Ok(res.map(|inner| Pooled {
                        inner,
                        conn: Some(conn),
                        pool,
                    }));
                }
                Err(mut e) => match e.take_message() {
                    // Closed under us before the request went out: it is
                    // safe to send again, on a new connection.
                    Some(unsent) if reused && !retried => {
                        request = unsent;
                        retried = true;
                    }
                    _ => return Err(e.into_error().into()),
                },
            }
        }
    }

    /// The most recently idled connection that still works; the dead ones
    /// met on the way are dropped.
    fn checkout(&self, cx: &mut Context<'_>) -> Option<Box<Conn>> {
        loop {
            let mut conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            conn.drive(cx);
            if conn.reusable() {
                return Some(conn);
            }
        }
    }

    async fn connect(&self) -> Result<Box<Conn>, Error> {
        let io = self.connector.clone().oneshot(self.origin.clone()).await?;
        let (send, conn) = http1::Builder::new().handshake(io).await?;
        Ok(Box::new(Conn {
            send,
            conn: Some(conn),
            idle_since: 0,
        }))
    }

    /// Takes `conn` back when it can serve another request now; otherwise
    /// drops it (closed). An answer can end before the request's body
    /// was all sent (an early 401 or 413): nobody would drive the rest of
    /// that upload from the idle list.
    fn put_back(&self, mut conn: Box<Conn>, cx: &mut Context<'_>) {
        conn.drive(cx);
        if !conn.reusable() {
            return;
        }
        conn.idle_since = self.sweeps.load(Ordering::Relaxed);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Every `idle_timeout / 2`: closes what has been idle for two sweeps
    /// and what the upstream closed. Ends with the pool.
    fn start_sweeper(self: &Arc<Self>) {
        self.sweeper.call_once(|| {
            let pool: Weak<Pool> = Arc::downgrade(self);
            let every = (self.idle_timeout / 2).max(Duration::from_millis(10));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(pool) = pool.upgrade() else { return };
                    pool.sweep();
                }
            });
        });
    }

    fn sweep(&self) {
        let now = self.sweeps.fetch_add(1, Ordering::Relaxed) + 1;
        let mut cx = Context::from_waker(Waker::noop());
        // Polled outside the lock: requests keep taking and returning
        // connections meanwhile.
        let mut swept = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        swept.retain_mut(|c| {
            c.drive(&mut cx);
            c.conn.is_some() && now - c.idle_since < 2
        });
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let room = MAX_IDLE.saturating_sub(idle.len());
        swept.truncate(room);
        // The older ones first: taking is last in, first out.
        idle.splice(0..0, swept);
    }
}

/// The upstream's response body, driving the connection it comes on. It
/// holds the connection until the body ends; dropped before that, it
/// closes it.
pub struct Pooled {
    inner: Incoming,
    conn: Option<Box<Conn>>,
    pool: Arc<Pool>,
}

impl Pooled {
    fn release(&mut self, cx: &mut Context<'_>) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(conn, cx);
        }
    }

    /// For an answer with no body (`is_end_stream` at once): gives the
    /// connection back now (a body nobody polls would close it).
    pub async fn finish(mut self) {
        std::future::poll_fn(|cx| {
            self.release(cx);
            Poll::Ready(())
        })
        .await
    }
}

impl HttpBody for Pooled {
    type Data = axum::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Some(conn) = &mut this.conn {
            conn.drive(cx);
        }
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        match &frame {
            Poll::Ready(None) => this.release(cx),
            // Trailers are always the last frame, and hyper's server does
            // not poll for the end after them.
            Poll::Ready(Some(Ok(f))) if f.is_trailers() || this.inner.is_end_stream() => this.release(cx),
            Poll::Ready(Some(Err(_))) => this.conn = None,
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
