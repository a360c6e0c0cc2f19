//! The listener: accepts TCP, speaks TLS (rustls) when configured, serves
//! HTTP/1.1 and HTTP/2 with hyper, and shuts down gracefully. Slow clients
//! are bounded by a TLS handshake timeout and a header read timeout.

use anyhow::{Context, Result};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::Core;
use tessera_http::doors::DoorsConfig;
use tessera_http::{AppState, ConnInfo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connections in flight get to finish after shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A server running in the background (used by `serve` and by tests).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub tls: bool,
    pub core: Arc<Core>,
    /// The `[doors]` tables it serves with.
    pub doors: Arc<DoorsConfig>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<()>>,
    background: tessera_core::background::Background,
}

impl RunningServer {
    /// `https://127.0.0.1:PORT` (or `http://...`).
    pub fn base_url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// Stops accepting, lets requests in flight finish, writes the last
    /// idle clocks, and waits.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let served = self.task.await.context("server task")?;
        self.background.stop().await;
        served
    }
}

/// Binds `[server] listen` (or `listener`, when given) and starts serving
/// the application on `core`, its doors configured by `doors`.
pub async fn start(
    core: Arc<Core>,
    doors: Arc<DoorsConfig>,
    listener: Option<TcpListener>,
) -> Result<RunningServer> {
    let config = core.config_shared();
    let listener = match listener {
        Some(l) => l,
        None => TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("listening on {}", config.server.listen))?,
    };
    let addr = listener.local_addr()?;
    let tls = crate::tls::server_config(&config)?;
    let router = tessera_http::app(AppState::new(core.clone(), doors.clone()));
    let background = tessera_core::background::start(core.clone()).await;
    let (tx, rx) = oneshot::channel::<()>();
    let header_timeout = config.server.header_read_timeout;
    let is_tls = tls.is_some();
    let task = tokio::spawn(accept_loop(listener, tls, router, header_timeout, async move {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        tls: is_tls,
        core,
        doors,
        shutdown: Some(tx),
        task,
        background,
    })
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let watcher = graceful.watcher();
        match acceptor.clone() {
            Some(acceptor) => {
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, remote, true, router, header_timeout, watcher).await
                        }
                        Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                    }
                });
            }
            None => {
                tokio::spawn(async move {
                    serve_connection(tcp, remote, false, router, header_timeout, watcher).await;
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}

async fn serve_connection<I>(
    io: I,
    remote: SocketAddr,
    tls: bool,
    router: Router,
    header_timeout: Duration,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let info = ConnInfo { remote, tls };
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(info);
        router.clone().oneshot(req.map(axum::body::Body::new))
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}
