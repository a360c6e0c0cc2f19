//! The listener: accepts TCP under a connection cap, speaks TLS (rustls)
//! when configured (answering plain HTTP sent to the TLS port with a
//! readable 400, `plain_http`), serves HTTP/1.1 and HTTP/2 with hyper, and
//! shuts down gracefully. Every connection is held to the `[server]` limits
//! from the moment it is accepted (`connection`, `tracking`); the cap keeps
//! clear of the open-file limit (`admission`).

mod admission;
mod connection;
mod plain_http;
mod tracking;

use admission::{Admission, Every};
use anyhow::{Context, Result};
use connection::{Shared, DRAIN_TIMEOUT};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::Core;
use tessera_http::doors::DoorsConfig;
use tessera_http::AppState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinHandle;
use tracking::Limits;

/// After a failed `accept` for want of descriptors or memory, wait this
/// long before the next (the connection stays in the kernel's backlog).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);
/// Refused connections that may linger at once to read the client's bytes
/// (so that closing does not reset the 503 away); more are closed at once.
const REFUSALS_LINGERING: usize = 64;
/// What a refused plain-HTTP client reads.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 21\r\nretry-after: 1\r\nconnection: close\r\n\r\ntoo many connections\n";

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
///
/// Errors: before anything is bound, every role or policy the
/// configuration names that the store lacks, in one message (see
/// [`tessera_core::references`]); then binding and TLS errors.
pub async fn start(
    core: Arc<Core>,
    doors: Arc<DoorsConfig>,
    listener: Option<TcpListener>,
) -> Result<RunningServer> {
    let report = core
        .check_references(&doors.roles_named())
        .await
        .context("reading the roles and clients the configuration names")?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    if !report.problems.is_empty() {
        anyhow::bail!("invalid configuration:\n  - {}", report.problems.join("\n  - "));
    }
    let config = core.config_shared();
    let listener = match listener {
        Some(l) => l,
        None => TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("listening on {}", config.server.listen))?,
    };
    let addr = listener.local_addr()?;
    let tls = crate::tls::server_config(&config)?;
    let state = AppState::new(core.clone(), doors.clone()).map_err(anyhow::Error::msg)?;
    let router = tessera_http::app(state);
    let background = tessera_core::background::start(core.clone()).await;
    let (tx, rx) = oneshot::channel::<()>();
    let is_tls = tls.is_some();
    let server = &config.server;
    let limits = Limits {
        header_read: server.header_read_timeout,
        keep_alive: server.keep_alive_timeout,
        send: server.send_timeout,
    };
    let open_files = admission::open_file_limit();
    let cap = admission::connection_cap(
        server.max_connections,
        open_files,
        !config.gateway.upstream.is_empty(),
    );
    if cap < server.max_connections as usize {
        tracing::warn!(
            max_connections = cap,
            configured = server.max_connections,
            open_files,
            "server.max_connections lowered to stay within the open-file limit"
        );
    } else {
        tracing::debug!(max_connections = cap, open_files, "connection cap");
    }
    let shared = Arc::new(Shared::new(
        tls.map(tokio_rustls::TlsAcceptor::from),
        router,
        limits,
    ));
    let task = tokio::spawn(accept_loop(listener, shared, Admission::new(cap), async move {
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
    shared: Arc<Shared>,
    mut admission: Admission,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let (stop, stopping) = watch::channel(false);
    let lingering = Arc::new(Semaphore::new(REFUSALS_LINGERING));
    let mut accept_errors = Every::second();
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    if let Some(n) = accept_errors.hit() {
                        tracing::warn!(error = %e, errors = n, "accept failed ({n} times since the last report)");
                    }
                    // Out of file descriptors and the like: back off, keep serving.
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::Interrupted
                    ) {
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(admitted) = admission.admit().await else {
            refuse(tcp, shared.tls.is_none(), &lingering);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection::run(
            tcp,
            remote,
            admitted,
            shared.clone(),
            stopping.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    // Each connection drops itself DRAIN_TIMEOUT after the signal.
    if !admission.drain(DRAIN_TIMEOUT + Duration::from_secs(1)).await {
        tracing::warn!("some connections were still open after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}

/// Turns a connection away without holding its descriptor: a plain-HTTP
/// client reads a 503; then, if few are lingering, its bytes are read for
/// a moment so that closing sends FIN rather than a reset.
fn refuse(tcp: TcpStream, plain_http: bool, lingering: &Arc<Semaphore>) {
    if plain_http {
        let _ = tcp.try_write(REFUSAL);
    }
    let Ok(permit) = lingering.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut tcp = tcp;
        let _ = tcp.shutdown().await;
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            for _ in 0..16 {
                match tcp.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    });
}
