//! SPEC §6, a node and its store: a refused token is remembered in a
//! bounded negative cache (so a flood of bad tokens costs one store
//! lookup per distinct token), every store operation is bounded (a store
//! whose packets are dropped gives 503 with `Retry-After`, never a hang),
//! and a node that cannot read the invalidation log for longer than
//! `[cluster] max_staleness` refuses every token check with 503 until it
//! hears again.

use crate::harness::{backends, Backend, Options, TestServer, ADMIN_PASSWORD};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_store::testing::postgres_test_url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// No single request of these tests may take longer: a hang fails the
/// test instead of stalling it.
const REQUEST_LIMIT: Duration = Duration::from_secs(20);

/// The counters these tests read, from one scrape of `GET /metrics`
/// (open to loopback without a token).
async fn scrape(server: &TestServer) -> HashMap<String, f64> {
    let res = server
        .client
        .get(server.url("/metrics"))
        .timeout(REQUEST_LIMIT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn series(scrape: &HashMap<String, f64>, name: &str) -> f64 {
    *scrape
        .get(name)
        .unwrap_or_else(|| panic!("no series {name} in /metrics: {:?}", scrape.keys()))
}

const LOOKUPS: &str = "tessera_token_store_lookups_total";
const CACHED_REFUSALS: &str = "tessera_token_refusals_cached_total";

fn checks(outcome: &str) -> String {
    format!("tessera_token_checks_total{{outcome=\"{outcome}\"}}")
}

/// A well-formed opaque access token no server ever issued:
/// `tsa_` + 32 random bytes in base64url (crates/core/src/token.rs).
fn random_token() -> String {
    format!("tsa_{}", URL_SAFE_NO_PAD.encode(tessera_core::random::bytes32()))
}

async fn whoami(client: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    client
        .get(url)
        .bearer_auth(token)
        .timeout(REQUEST_LIMIT)
        .send()
        .await
        .unwrap()
}

async fn login(server: &TestServer) -> String {
    server
        .grant("/oauth/token", "cli", "password", "admin", ADMIN_PASSWORD)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_tokens_cost_one_store_lookup_each() {
    const TOTAL: usize = 10_000;
    const WORKERS: usize = 32;
    /// Each worker checks the valid token after this many refused ones.
    const VALID_EVERY: usize = 25;
    for backend in backends() {
        let server = TestServer::start_with(Options {
            backend,
            ..Default::default()
        })
        .await;
        server.add_client("cli", None, &["password"], &[]).await;
        let url = server.url("/v1/auth/whoami");

        // Expired: issued now, checked after the clock moved past the
        // policy's lifetime (the /oauth/token door: 2 h).
        let expired = login(&server).await;
        assert_eq!(whoami(&server.client, &url, &expired).await.status(), 200);
        // Revoked: logged in, then out.
        let revoked = login(&server).await;
        let res = server
            .client
            .post(server.url("/v1/auth/logout"))
            .bearer_auth(&revoked)
            .timeout(REQUEST_LIMIT)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{backend:?}: logout");
        server.clock.advance(Duration::from_secs(3 * 3600));
        // Valid: issued after the clock moved.
        let valid = login(&server).await;
        assert_eq!(whoami(&server.client, &url, &valid).await.status(), 200);

        let mut refused: Vec<String> = (0..8).map(|_| random_token()).collect();
        refused.push(revoked);
        refused.push(expired);
        let distinct = refused.len();
        assert_eq!(distinct, 10);

        let before = scrape(&server).await;
        let started = Instant::now();
        let refused = Arc::new(refused);
        let mut workers = Vec::new();
        for w in 0..WORKERS {
            let (client, url, valid, refused) =
                (server.client.clone(), url.clone(), valid.clone(), refused.clone());
            // Worker w makes checks w, w + WORKERS, ... of the TOTAL, each
            // of token (check number % distinct): every token is first
            // checked by several workers at once.
            workers.push(tokio::spawn(async move {
                let mut valid_checks = 0usize;
                for (n, i) in (w..TOTAL).step_by(WORKERS).enumerate() {
                    let token = &refused[i % refused.len()];
                    let status = whoami(&client, &url, token).await.status();
                    assert_eq!(status, 401, "check {i} of refused token {}", i % refused.len());
                    if n % VALID_EVERY == VALID_EVERY - 1 {
                        let status = whoami(&client, &url, &valid).await.status();
                        assert_eq!(status, 200, "the valid token, after check {i}");
                        valid_checks += 1;
                    }
                }
                valid_checks
            }));
        }
        let mut valid_checks = 0;
        for w in workers {
            valid_checks += w.await.unwrap();
        }
        let took = started.elapsed();
        assert_eq!(whoami(&server.client, &url, &valid).await.status(), 200);
        let after = scrape(&server).await;

        let delta = |name: &str| series(&after, name) - series(&before, name);
        let lookups = delta(LOOKUPS);
        let cached = delta(CACHED_REFUSALS);
        let (unknown, revoked_n, expired_n) = (
            delta(&checks("unknown")),
            delta(&checks("revoked")),
            delta(&checks("expired")),
        );
        eprintln!(
            "{backend:?}: {TOTAL} refused + {valid_checks} valid checks in {took:?}; \
             store lookups +{lookups}, cached refusals +{cached}; \
             outcomes unknown +{unknown} revoked +{revoked_n} expired +{expired_n}, \
             valid +{}",
            delta(&checks("valid"))
        );
        // Every refused check was counted as what it is.
        assert_eq!(unknown, (TOTAL * 8 / distinct) as f64, "{backend:?}");
        assert_eq!(revoked_n, (TOTAL / distinct) as f64, "{backend:?}");
        assert_eq!(expired_n, (TOTAL / distinct) as f64, "{backend:?}");
        assert_eq!(delta(&checks("valid")), (valid_checks + 1) as f64, "{backend:?}");
        // At most one store lookup per distinct refused token (the valid
        // one is cached since its login), even though the first checks of
        // each token arrive together from several workers ...
        assert!(
            lookups <= distinct as f64,
            "{backend:?}: {lookups} store lookups for {distinct} distinct refused tokens \
             (concurrent first checks of one token each went to the store)"
        );
        // ... and every other refused check was answered without the
        // store: from the negative cache, or (the expired token, which
        // this node still holds as a session) from the session cache, or
        // by sharing the first check's store read (at most one waiter per
        // worker and token).
        assert!(
            cached + lookups + (WORKERS * distinct) as f64 >= (TOTAL - TOTAL / distinct) as f64,
            "{backend:?}: only {cached} refusals from the negative cache and {lookups} lookups"
        );
        assert!(cached + lookups <= TOTAL as f64, "{backend:?}");
        server.halt().await;
    }
}

/// A TCP proxy to PostgreSQL that can drop everything on the floor: in
/// black-hole mode no byte crosses in either direction on existing
/// connections (they stay open; nothing is refused or reset), and new
/// connections are accepted but never forwarded. Whatever was held back
/// crosses once the proxy is restored, as a network that comes back
/// delivers what TCP kept retransmitting.
struct BlackHoleProxy {
    addr: SocketAddr,
    open: watch::Sender<bool>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl BlackHoleProxy {
    async fn start(upstream: String) -> BlackHoleProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (open, is_open) = watch::channel(true);
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = {
            let tasks = tasks.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    let (upstream, is_open, spawned) = (upstream.clone(), is_open.clone(), tasks.clone());
                    let conn = tokio::spawn(async move {
                        // A connection made while the hole is open waits,
                        // unanswered, until it closes.
                        wait_open(&is_open).await;
                        let Ok(server) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        let up = tokio::spawn(pump(cr, sw, is_open.clone()));
                        let down = tokio::spawn(pump(sr, cw, is_open));
                        spawned
                            .lock()
                            .unwrap()
                            .extend([up.abort_handle(), down.abort_handle()]);
                    });
                    tasks.lock().unwrap().push(conn.abort_handle());
                }
            })
        };
        tasks.lock().unwrap().push(accept.abort_handle());
        BlackHoleProxy { addr, open, tasks }
    }

    fn black_hole(&self) {
        self.open.send_replace(false);
    }

    fn restore(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for BlackHoleProxy {
    fn drop(&mut self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

async fn wait_open(is_open: &watch::Receiver<bool>) {
    let mut is_open = is_open.clone();
    let _ = is_open.wait_for(|open| *open).await;
}

/// Copies `from` to `to`, holding whatever it read while the hole is open.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, is_open: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf).await.unwrap_or(0);
        wait_open(&is_open).await;
        if n == 0 {
            let _ = to.shutdown().await;
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A PostgreSQL URL's parts: scheme, `user@` (or nothing), `host:port`,
/// and the rest (database, and the `options=-c search_path=...` that
/// selects the test's schema).
fn url_parts(url: &str) -> (&str, &str, String, &str) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let hostport = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    };
    (scheme, userinfo, hostport, tail)
}

/// `url` with its `host:port` replaced by `addr`, all else kept.
fn through(url: &str, addr: SocketAddr) -> String {
    let (scheme, userinfo, _, tail) = url_parts(url);
    format!("{scheme}://{userinfo}{addr}{tail}")
}

/// A log line captured from the server (this test binary's tracing).
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Captures the freshness watch's log lines, when this test is the first
/// to install a global subscriber in this process.
fn capture_staleness_log() -> Option<LogBuffer> {
    // Under .ci/log-secrets.sh the test log must be the first subscriber.
    crate::log_capture::init();
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("tessera_core::staleness=info"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .ok()
        .map(|()| buffer)
}

/// A response's status, `Retry-After` and body, and how long it took.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
    took: Duration,
}

async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let res = req
        .timeout(REQUEST_LIMIT)
        .send()
        .await
        .unwrap_or_else(|e| panic!("no answer after {:?}: {e}", started.elapsed()));
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    Answer {
        status,
        retry_after,
        body,
        took: started.elapsed(),
    }
}

/// Polls `req()` every 100 ms until it answers `want`, for at most
/// `limit`; returns the first such answer, when it came (from `since`),
/// and the (status, ms) answered before it.
async fn poll_until(
    since: Instant,
    limit: Duration,
    want: u16,
    what: &str,
    mut req: impl FnMut() -> reqwest::RequestBuilder,
) -> (Answer, Duration, Vec<(u16, u128)>) {
    let mut seen = Vec::new();
    loop {
        let a = answer(req()).await;
        let at = since.elapsed();
        if a.status == want {
            return (a, at, seen);
        }
        seen.push((a.status, at.as_millis()));
        assert!(
            at < limit,
            "{what}: no {want} within {limit:?}; (status, ms) seen: {seen:?}; last body {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_cut_off_from_postgresql_refuses_after_max_staleness() {
    let Some(_) = postgres_test_url() else {
        eprintln!("TESSERA_TEST_POSTGRES unset: skipped");
        return;
    };
    let log = capture_staleness_log();
    let max_staleness = Duration::from_secs(3);
    let mut server = TestServer::configure(&Options {
        backend: Backend::Postgres,
        ..Default::default()
    })
    .await;
    // The same schema through the proxy, with short bounds on the store
    // (the harness writes `[store]` last: these keys land in it).
    let schema_url = server.store_url.clone();
    let proxy = BlackHoleProxy::start(url_parts(&schema_url).2).await;
    let proxied = through(&schema_url, proxy.addr);
    assert!(proxied.contains("search_path"), "{proxied}");
    let config = std::fs::read_to_string(&server.config_path).unwrap();
    let config = config.replace(&format!("{schema_url:?}"), &format!("{proxied:?}"))
        + &format!(
            "acquire_timeout = \"1s\"\noperation_timeout = \"1s\"\n\
             [cluster]\nmax_staleness = \"{}s\"\n",
            max_staleness.as_secs()
        );
    assert!(config.contains(&proxied), "{config}");
    std::fs::write(&server.config_path, config).unwrap();
    server.store_url = proxied;
    let server = server.boot().await;
    server.add_client("cli", None, &["password"], &[]).await;

    let whoami_url = server.url("/v1/auth/whoami");
    let token = login(&server).await;
    let check = || server.client.get(&whoami_url).bearer_auth(&token);
    let ready = || server.client.get(server.url("/readyz"));
    assert_eq!(answer(check()).await.status, 200);
    assert_eq!(answer(ready()).await.status, 200);
    // Let the follower read the log through the proxy (every second).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(answer(check()).await.status, 200);

    proxy.black_hole();
    let cut = Instant::now();

    // (a) Readiness: 503 with Retry-After, promptly.
    let a = answer(ready()).await;
    eprintln!(
        "readyz after the cut: {} Retry-After {:?} in {:?}: {}",
        a.status, a.retry_after, a.took, a.body
    );
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(a.retry_after.is_some(), "/readyz 503 without Retry-After");
    assert!(a.took < Duration::from_secs(3), "/readyz took {:?}", a.took);

    // (b) A login needs the store: 503 with Retry-After, promptly.
    let b = answer(
        server
            .client
            .post(server.url("/oauth/token"))
            .basic_auth("cli", Some(""))
            .form(&[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
            ]),
    )
    .await;
    eprintln!(
        "login after the cut: {} Retry-After {:?} in {:?}: {}",
        b.status, b.retry_after, b.took, b.body
    );
    assert_eq!(b.status, 503, "{}", b.body);
    assert!(b.retry_after.is_some(), "login 503 without Retry-After");
    assert!(b.took < Duration::from_secs(3), "login took {:?}", b.took);

    // (c) The cached token: refused with 503 once the node is stale.
    let (c, at, before_stale) = poll_until(
        cut,
        max_staleness + Duration::from_secs(1),
        503,
        "token check",
        check,
    )
    .await;
    eprintln!(
        "token check turned 503 at {at:?} after the cut (Retry-After {:?}, {:?}; \
         before: (status, ms) {before_stale:?}): {}",
        c.retry_after, c.took, c.body
    );
    assert!(c.retry_after.is_some(), "stale 503 without Retry-After");
    assert!(
        c.body.contains("not heard from the store"),
        "the 503 should say the node is stale: {}",
        c.body
    );
    // Stale, /readyz agrees (and still answers promptly).
    let a2 = answer(ready()).await;
    assert_eq!(a2.status, 503, "{}", a2.body);
    assert!(a2.retry_after.is_some());
    assert!(a2.took < Duration::from_secs(3), "/readyz took {:?}", a2.took);
    if let Some(log) = &log {
        let text = log.text();
        eprintln!("captured log:\n{text}");
        assert!(
            text.contains("max_staleness"),
            "the log should say the node is stale: {text:?}"
        );
    }

    // The network comes back: the node hears again and trusts its cache.
    proxy.restore();
    let back = Instant::now();
    let (_, token_back, _) =
        poll_until(back, Duration::from_secs(5), 200, "token after restore", check).await;
    let (_, ready_back, _) =
        poll_until(back, Duration::from_secs(5), 200, "/readyz after restore", ready).await;
    eprintln!("after restore: token 200 at {token_back:?}, /readyz 200 at {ready_back:?}");
    // And the store works again for logins.
    let again = login(&server).await;
    assert_eq!(
        answer(server.client.get(&whoami_url).bearer_auth(&again))
            .await
            .status,
        200
    );
    if let Some(log) = &log {
        let text = log.text();
        assert!(text.contains("heard from the store again"), "{text:?}");
    }
    server.halt().await;
    drop(proxy);
}
