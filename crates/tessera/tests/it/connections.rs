//! Connection limits (issue 11): silent clients, idle keep-alive, clients
//! that stop reading, the connection cap and the open-file limit, each
//! against the real server over real sockets on 127.0.0.1. Every loop is
//! bounded in count and time.

use crate::harness::{run_cli, Options, TestServer};
use hyper::body::Body as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

/// A server whose `[server]` table also holds `limits` (TOML lines).
async fn server_with(tls: bool, limits: &str) -> TestServer {
    let server = TestServer::configure(&Options {
        tls,
        ..Default::default()
    })
    .await;
    let toml = std::fs::read_to_string(&server.config_path).unwrap();
    let toml = toml.replacen("[server]\n", &format!("[server]\n{limits}\n"), 1);
    std::fs::write(&server.config_path, toml).unwrap();
    server.boot().await
}

/// A TLS client trusting the server's self-signed certificate, offering `alpn`.
fn tls_connector(cert: &Path, alpn: &[&[u8]]) -> TlsConnector {
    let pem = std::fs::read(cert).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

fn localhost() -> rustls::pki_types::ServerName<'static> {
    rustls::pki_types::ServerName::try_from("localhost").unwrap()
}

/// Reads until the server closes the connection (end of stream or reset),
/// for at most `limit`: how long that took and what was read, or `None`
/// if it is still open.
async fn until_closed<S: AsyncRead + Unpin>(stream: &mut S, limit: Duration) -> Option<(Duration, Vec<u8>)> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    closed.ok().map(|()| (start.elapsed(), got))
}

/// One whole HTTP/1.1 response (head and `content-length` body) off `stream`.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..100 {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed mid-response: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text;
            }
        }
    }
    panic!("no whole response: {}", String::from_utf8_lossy(&got));
}

fn assert_closed_near(
    what: &str,
    closed: Option<(Duration, Vec<u8>)>,
    from: Duration,
    to: Duration,
) -> Duration {
    let (after, _) = closed.unwrap_or_else(|| panic!("{what}: still open"));
    assert!(
        after >= from && after <= to,
        "{what}: closed after {after:?}, expected between {from:?} and {to:?}"
    );
    after
}

#[tokio::test]
async fn silent_clients_are_closed_header_read_timeout_after_accept_with_or_without_tls() {
    let limits = "header_read_timeout = \"1s\"";
    let plain = server_with(false, limits).await;
    let tls = server_with(true, limits).await;
    let (plain_addr, tls_addr) = (plain.host(), tls.host());
    let window = |what: &'static str, closed| {
        assert_closed_near(
            what,
            closed,
            Duration::from_millis(800),
            Duration::from_millis(2500),
        )
    };

    let silent_tcp = async {
        let mut s = TcpStream::connect(&plain_addr).await.unwrap();
        until_closed(&mut s, Duration::from_secs(5)).await
    };
    // A head trickled a byte every 200 ms: bytes do not restart the clock.
    let trickle = async {
        let start = Instant::now();
        let mut s = TcpStream::connect(&plain_addr).await.unwrap();
        let head =
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        for byte in head.iter().take(25) {
            if s.write_all(&[*byte]).await.is_err() {
                break;
            }
            if until_closed(&mut s, Duration::from_millis(200)).await.is_some() {
                return Some((start.elapsed(), Vec::new()));
            }
        }
        None
    };
    let silent_tcp_on_tls_port = async {
        let mut s = TcpStream::connect(&tls_addr).await.unwrap();
        until_closed(&mut s, Duration::from_secs(5)).await
    };
    let silent_after_handshake = |alpn: &'static [&'static [u8]]| {
        let addr = tls_addr.clone();
        let connector = tls_connector(&tls.cert_path(), alpn);
        async move {
            let start = Instant::now();
            let tcp = TcpStream::connect(&addr).await.unwrap();
            let mut stream = connector.connect(localhost(), tcp).await.unwrap();
            until_closed(&mut stream, Duration::from_secs(5))
                .await
                .map(|(_, got)| (start.elapsed(), got))
        }
    };
    let (a, b, c, d, e, f) = tokio::join!(
        silent_tcp,
        trickle,
        silent_tcp_on_tls_port,
        silent_after_handshake(&[b"h2"]),
        silent_after_handshake(&[b"http/1.1"]),
        // No ALPN: hyper-util sniffs the protocol, the case it has no timer for.
        silent_after_handshake(&[]),
    );
    let measured = [
        window("plain TCP, silent", a),
        window("plain TCP, head trickled", b),
        window("TLS port, no handshake", c),
        window("TLS done (h2), silent", d),
        window("TLS done (http/1.1), silent", e),
        window("TLS done (no ALPN), silent", f),
    ];
    eprintln!("silent connections closed after {measured:?} (header_read_timeout = 1s)");

    // Answered clients are untouched by all this.
    assert_eq!(
        tls.client.get(tls.url("/healthz")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn idle_connections_are_kept_for_keep_alive_timeout_and_a_late_head_must_finish() {
    let server = server_with(true, "header_read_timeout = \"1s\"\nkeep_alive_timeout = \"2s\"").await;
    let plain = server_with(false, "header_read_timeout = \"1s\"\nkeep_alive_timeout = \"2s\"").await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

    // HTTP/1.1: idle longer than header_read_timeout, still served.
    let mut s = TcpStream::connect(plain.host()).await.unwrap();
    s.write_all(request).await.unwrap();
    assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.write_all(request).await.unwrap();
    assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
    let idle_h1 = assert_closed_near(
        "HTTP/1.1 idle",
        until_closed(&mut s, Duration::from_secs(6)).await,
        Duration::from_millis(1800),
        Duration::from_millis(3500),
    );

    // HTTP/1.1: the next head, once begun, has header_read_timeout.
    let mut s = TcpStream::connect(plain.host()).await.unwrap();
    s.write_all(request).await.unwrap();
    assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
    s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let late_head = assert_closed_near(
        "HTTP/1.1 unfinished second head",
        until_closed(&mut s, Duration::from_secs(6)).await,
        Duration::from_millis(800),
        Duration::from_millis(1800),
    );

    // HTTP/2 (ALPN): GOAWAY once idle for keep_alive_timeout.
    let connector = tls_connector(&server.cert_path(), &[b"h2"]);
    let tcp = TcpStream::connect(server.host()).await.unwrap();
    let stream = connector.connect(localhost(), tcp).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake::<_, String>(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(format!("https://{}/healthz", server.host()))
        .body(String::new())
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    drop(res);
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(8), conn)
        .await
        .expect("the server must end an idle HTTP/2 connection")
        .unwrap()
        .ok();
    let idle_h2 = start.elapsed();
    assert!(
        idle_h2 >= Duration::from_millis(1800) && idle_h2 <= Duration::from_millis(4000),
        "HTTP/2 idle closed after {idle_h2:?}"
    );
    eprintln!(
        "keep_alive_timeout = 2s: HTTP/1.1 idle closed after {idle_h1:?}, HTTP/2 after {idle_h2:?}; \
         an unfinished later head after {late_head:?} (header_read_timeout = 1s)"
    );
}

#[tokio::test]
async fn clients_that_stop_reading_are_closed_after_send_timeout() {
    let limits = "send_timeout = \"1s\"";
    let plain = server_with(false, limits).await;
    let tls = server_with(true, limits).await;

    // HTTP/1.1: pipelined requests for ~36 MB, a tiny receive buffer, no reads.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(plain.host().parse().unwrap()).await.unwrap();
    const PIPELINED: usize = 400;
    let one = b"GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n";
    s.write_all(&one.repeat(PIPELINED)).await.unwrap();
    // Closing with requests unread makes the server's kernel send a reset,
    // which shows here without reading.
    let start = Instant::now();
    let mut reset_after = None;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if s.take_error().unwrap().is_some() {
            reset_after = Some(start.elapsed());
            break;
        }
    }
    let (drained, got) = until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("the server must close a connection whose client does not read");
    let answered = String::from_utf8_lossy(&got).matches("HTTP/1.1 200").count();
    assert!(
        answered < PIPELINED / 4,
        "{answered} of {PIPELINED} responses were sent to a client that did not read"
    );

    // HTTP/2: the client's stream window stays shut, so no DATA can be sent.
    let connector = tls_connector(&tls.cert_path(), &[b"h2"]);
    let tcp = TcpStream::connect(tls.host()).await.unwrap();
    let stream = connector.connect(localhost(), tcp).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(0)
        .handshake::<_, String>(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(format!("https://{}/openapi.json", tls.host()))
        .body(String::new())
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let start = Instant::now();
    let mut body = res.into_body();
    let ended = tokio::time::timeout(Duration::from_secs(6), async {
        for _ in 0..1000 {
            match std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Ok(()),
            }
        }
        Ok(())
    })
    .await
    .expect("the server must end a stream the client never opens its window for");
    assert!(ended.is_err(), "the body cannot have been sent whole");
    let h2_after = start.elapsed();
    assert!(
        h2_after >= Duration::from_millis(800) && h2_after <= Duration::from_millis(3000),
        "HTTP/2 stalled stream ended after {h2_after:?}"
    );
    eprintln!(
        "send_timeout = 1s: HTTP/1.1 non-reader reset after {reset_after:?}, {answered} of {PIPELINED} \
         responses read (drained in {drained:?}); HTTP/2 shut window ended after {h2_after:?}"
    );

    // Both servers still serve.
    for server in [&plain, &tls] {
        let res = server.client.get(server.url("/healthz")).send().await;
        assert_eq!(res.map(|r| r.status()).unwrap(), 200);
    }
}

#[tokio::test]
async fn the_connection_cap_makes_room_from_silent_connections_and_refuses_cleanly_when_all_are_busy() {
    let server = server_with(
        false,
        "max_connections = 50\nheader_read_timeout = \"30s\"\nrequest_timeout = \"30s\"",
    )
    .await;
    let addr = server.host();
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    };

    // 60 silent connections against a cap of 50: the 10 oldest make room.
    let mut silent = Vec::new();
    for _ in 0..60 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    let states =
        futures_util::future::join_all(silent.iter_mut().map(|s| until_closed(s, Duration::from_secs(1))))
            .await;
    let closed: Vec<usize> = (0..states.len()).filter(|i| states[*i].is_some()).collect();
    assert_eq!(
        closed,
        (0..10).collect::<Vec<_>>(),
        "the oldest silent ones go first"
    );
    let start = Instant::now();
    let res = fresh().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let healthz_at_cap = start.elapsed();
    drop(silent);

    // 50 connections each with a request in flight (a body that never comes).
    let mut busy = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            b"POST /oauth/token HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=",
        )
        .await
        .unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A newcomer is turned away at once with a 503, and its socket closed.
    let start = Instant::now();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (_, got) = until_closed(&mut s, Duration::from_secs(2))
        .await
        .expect("a refused connection is closed, not held");
    let refused_in = start.elapsed();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.to_ascii_lowercase().contains("retry-after: 1"), "{text}");
    assert!(
        refused_in < Duration::from_secs(1),
        "refused after {refused_in:?}"
    );
    // None of the busy ones was touched.
    let states = futures_util::future::join_all(
        busy.iter_mut()
            .map(|s| until_closed(s, Duration::from_millis(200))),
    )
    .await;
    assert!(
        states.iter().all(Option::is_none),
        "busy connections are never evicted"
    );

    // Once they go, the server serves again.
    drop(busy);
    let start = Instant::now();
    let mut served = false;
    for _ in 0..40 {
        if let Ok(res) = fresh().get(server.url("/healthz")).send().await {
            if res.status() == 200 {
                served = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the server must serve again once connections free up");
    eprintln!(
        "max_connections = 50: 60 silent -> 10 oldest closed, /healthz at the cap in {healthz_at_cap:?}; \
         all busy -> 503 in {refused_in:?}; serving again {:?} after they left",
        start.elapsed()
    );
}

/// What the attack below keeps open.
#[allow(dead_code)]
enum Held {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_256_descriptor_limit_silent_connections_never_starve_healthz() {
    const LIMIT: usize = 256;
    const SILENT: usize = 400;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("bash");
    cmd.args([
        "-c",
        &format!("ulimit -n {LIMIT} && exec \"$0\" serve --listen 127.0.0.1:0"),
        env!("CARGO_BIN_EXE_tessera"),
    ])
    .current_dir(dir.path())
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    for var in tessera::config::NAMED_ENV {
        cmd.env_remove(var);
    }
    cmd.env_remove("RUST_LOG");
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("tessera listening on ")
        .unwrap_or_else(|| panic!("unexpected: {line}"))
        .to_owned();
    let addr = url.trim_start_matches("https://").to_owned();
    // The log, read as it comes so that the server never blocks on it.
    let log = Arc::new(Mutex::new(String::new()));
    let mut err = child.stderr.take().unwrap();
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_owned();
    assert!(
        nofile.split_whitespace().nth(3) == Some(&LIMIT.to_string()),
        "{nofile}"
    );

    let cert = dir.path().join("tessera-data/tls/self-signed.crt");
    let pem = std::fs::read(&cert).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let connector = tls_connector(&cert, &[b"h2", b"http/1.1"]);

    // The attack: more silent connections than the server has descriptors,
    // opened over a few seconds, one in three finishing a TLS handshake
    // first, all kept open by this test.
    let started = Instant::now();
    let attack_addr = addr.clone();
    let attack = tokio::spawn(async move {
        let mut held = Vec::new();
        let mut handshakes_refused = 0;
        for i in 0..SILENT {
            let Ok(tcp) = TcpStream::connect(&attack_addr).await else {
                continue;
            };
            if i % 3 == 0 {
                match connector.connect(localhost(), tcp).await {
                    Ok(tls) => held.push(Held::Tls(Box::new(tls))),
                    Err(_) => handshakes_refused += 1,
                }
            } else {
                held.push(Held::Tcp(tcp));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (held, handshakes_refused)
    });

    // Meanwhile, and for 3 s after, /healthz from a fresh connection every 200 ms.
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    let mut most_fds = 0;
    let mut attack_done: Option<Instant> = None;
    let mut attack = Some(attack);
    let mut outcome = None;
    for _ in 0..300 {
        let start = Instant::now();
        match tokio::time::timeout(
            Duration::from_secs(2),
            client.get(format!("{url}/healthz")).send(),
        )
        .await
        {
            Ok(Ok(res)) if res.status() == 200 => latencies.push(start.elapsed()),
            Ok(Ok(res)) => failures.push(format!("status {}", res.status())),
            Ok(Err(e)) => failures.push(format!("{e:?}")),
            Err(_) => failures.push("no answer within 2 s".into()),
        }
        if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            most_fds = most_fds.max(fds.count());
        }
        if attack.as_ref().is_some_and(|a| a.is_finished()) {
            outcome = Some(attack.take().unwrap().await.unwrap());
            attack_done = Some(Instant::now());
        }
        if attack_done.is_some_and(|t| t.elapsed() >= Duration::from_secs(3)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (held, handshakes_refused) = outcome.expect("the attack finished");
    let elapsed = started.elapsed();
    let accept_errors = log.lock().unwrap().matches("accept failed").count();
    let cap_line = log
        .lock()
        .unwrap()
        .lines()
        .find(|l| l.contains("max_connections lowered"))
        .map(str::to_owned);
    latencies.sort();
    eprintln!(
        "ulimit -n {LIMIT}: {} silent connections held ({handshakes_refused} TLS handshakes cut short) over {elapsed:?}; \
         {} /healthz probes, {} failed, latency median {:?} max {:?}; server descriptors at most {most_fds}; \
         {accept_errors} accept-error log lines; {}",
        held.len(),
        latencies.len() + failures.len(),
        failures.len(),
        latencies.get(latencies.len() / 2),
        latencies.last(),
        cap_line.as_deref().unwrap_or("(no cap line)"),
    );
    assert!(
        failures.is_empty(),
        "/healthz failed under the attack: {failures:?}"
    );
    assert!(latencies.len() >= 10, "too few probes: {}", latencies.len());
    assert!(
        held.len() > LIMIT,
        "the attack must hold more sockets than the limit"
    );
    assert!(
        accept_errors as u64 <= elapsed.as_secs() + 1,
        "{accept_errors} accept-error lines in {elapsed:?}"
    );
    assert!(cap_line.is_some(), "the lowered cap is logged");

    drop(held);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(
        status.success(),
        "serve should exit cleanly on SIGTERM, got {status}"
    );
}

#[test]
fn connection_limits_are_checked_when_the_configuration_loads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    for (line, key) in [
        ("max_connections = 0", "server.max_connections"),
        ("header_read_timeout = \"0s\"", "server.header_read_timeout"),
        ("keep_alive_timeout = \"2h\"", "server.keep_alive_timeout"),
        ("send_timeout = \"0s\"", "server.send_timeout"),
    ] {
        std::fs::write(&file, format!("[server]\n{line}\n")).unwrap();
        run_cli(&file, dir.path(), &["config", "check"], None).fails_with(key);
    }
    std::fs::write(&file, "").unwrap();
    let out = run_cli(&file, dir.path(), &["config", "check"], None);
    out.ok();
    for default in [
        "header_read_timeout = \"10s\"",
        "keep_alive_timeout = \"75s\"",
        "send_timeout = \"30s\"",
        "max_connections = 4096",
    ] {
        assert!(out.stdout.contains(default), "{default}: {}", out.stdout);
    }
}
