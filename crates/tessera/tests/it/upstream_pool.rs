//! The gateway's connections to its upstream (issue 13, `http::pool`),
//! seen from the upstream's side: a raw TCP server that counts the
//! connections it accepts. Requests reuse a connection whatever their
//! answer (a body, 204, HEAD); an upstream that closes idle connections is
//! never answered with a 502 for it; a download the client abandons does
//! not leave its rest in a connection the next request gets; an upload the
//! upstream answers before reading it gets that answer, and the next
//! request is served.

use crate::harness::{Options, TestServer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Size of `/p/big`'s body.
const BIG: usize = 8 << 20;

struct RawUpstream {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawUpstream {
    /// HTTP/1.1 keep-alive server. `close_after`: it closes a connection
    /// that long after each answer, without saying so (no `Connection:
    /// close`), as a server's keep-alive timeout does.
    async fn start(close_after: Option<Duration>) -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(tcp, close_after));
            }
        });
        RawUpstream { port, accepted, task }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Answers requests without bodies: `/p/early` 413 before any body,
/// `/p/empty` 204, `/p/big` `BIG` bytes
/// of `x`, anything else `hello` (HEAD: the head alone).
async fn serve(mut tcp: TcpStream, close_after: Option<Duration>) {
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let mut words = head.split_whitespace();
        let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let written = match path {
            // Refuses the upload at once and never reads it, the
            // connection left open (as a server that answers before the
            // body does).
            "/p/early" => {
                let _ = tcp
                    .write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n")
                    .await;
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
            "/p/empty" => tcp.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await,
            "/p/big" => {
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {BIG}\r\n\r\n");
                let mut r = tcp.write_all(head.as_bytes()).await;
                let chunk = vec![b'x'; 64 << 10];
                for _ in 0..BIG / chunk.len() {
                    if r.is_err() {
                        break;
                    }
                    r = tcp.write_all(&chunk).await;
                }
                r
            }
            _ if method == "HEAD" => {
                tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
                    .await
            }
            _ => {
                tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
                    .await
            }
        };
        if written.is_err() {
            return;
        }
        if let Some(after) = close_after {
            tokio::time::sleep(after).await;
            return;
        }
    }
}

async fn gateway(upstream: &RawUpstream) -> TestServer {
    TestServer::start_with(Options {
        toml: format!(
            "[gateway]\nupstream = \"http://127.0.0.1:{}\"\ntimeout = \"5s\"\n\
             [[gateway.rules]]\nmethods = [\"*\"]\npath = \"/p/**\"\nallow = [\"anonymous\"]\n",
            upstream.port
        ),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn one_connection_serves_request_after_request_whatever_the_answer() {
    let upstream = RawUpstream::start(None).await;
    let server = gateway(&upstream).await;
    for i in 0..30 {
        let res = match i % 3 {
            0 => server.client.get(server.url("/p/a")).send().await.unwrap(),
            1 => server.client.get(server.url("/p/empty")).send().await.unwrap(),
            _ => server.client.head(server.url("/p/a")).send().await.unwrap(),
        };
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        match i % 3 {
            0 => assert_eq!((status, body.as_str()), (200, "hello"), "request {i}"),
            1 => assert_eq!((status, body.as_str()), (204, ""), "request {i}"),
            _ => assert_eq!((status, body.as_str()), (200, ""), "request {i}"),
        }
    }
    assert_eq!(upstream.accepted(), 1, "30 requests one after another");

    // 16 at once, 10 rounds: no more connections than requests at once.
    for _ in 0..10 {
        let calls = (0..16).map(|_| {
            let c = server.client.clone();
            let url = server.url("/p/b");
            async move { c.get(url).send().await.unwrap().text().await.unwrap() }
        });
        for body in futures_util::future::join_all(calls).await {
            assert_eq!(body, "hello");
        }
    }
    let n = upstream.accepted();
    assert!((2..=16).contains(&n), "{n} connections for 16 requests at once");
}

#[tokio::test]
async fn connections_the_upstream_closed_while_idle_are_not_used() {
    let upstream = RawUpstream::start(Some(Duration::from_millis(5))).await;
    let server = gateway(&upstream).await;
    for i in 0..12 {
        let res = server.client.get(server.url("/p/a")).send().await.unwrap();
        assert_eq!(res.status(), 200, "request {i}");
        assert_eq!(res.text().await.unwrap(), "hello");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(upstream.accepted(), 12, "each request on a new connection");
}

#[tokio::test]
async fn an_abandoned_download_does_not_leave_its_rest_to_the_next_request() {
    let upstream = RawUpstream::start(None).await;
    let server = gateway(&upstream).await;
    for round in 0..3 {
        let mut res = server.client.get(server.url("/p/big")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let first = res.chunk().await.unwrap().unwrap();
        assert!(first.iter().all(|b| *b == b'x'));
        drop(res);
        let res = server.client.get(server.url("/p/a")).send().await.unwrap();
        assert_eq!(res.status(), 200, "round {round}");
        assert_eq!(res.text().await.unwrap(), "hello", "round {round}");
    }
    // The whole body through, then one more request on the same connection.
    let res = server.client.get(server.url("/p/big")).send().await.unwrap();
    assert_eq!(res.bytes().await.unwrap().len(), BIG);
    let before = upstream.accepted();
    let res = server.client.get(server.url("/p/a")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "hello");
    assert_eq!(
        upstream.accepted(),
        before,
        "a body read to its end leaves its connection reusable"
    );
}

#[tokio::test]
async fn an_answer_before_the_upload_ended_leaves_nothing_waiting() {
    let upstream = RawUpstream::start(None).await;
    let server = gateway(&upstream).await;
    let within = Duration::from_secs(10);
    for round in 0..2 {
        let res = tokio::time::timeout(
            within,
            server
                .client
                .post(server.url("/p/early"))
                .body(vec![b'u'; 4 << 20])
                .send(),
        )
        .await
        .expect("the early answer came in time");
        // The gateway may close the client's connection mid-upload; if an
        // answer arrives, it is the upstream's.
        if let Ok(res) = res {
            assert_eq!(res.status(), 413, "round {round}");
        }
        let res = tokio::time::timeout(within, server.client.get(server.url("/p/a")).send())
            .await
            .expect("the next request is not held up")
            .unwrap();
        assert_eq!(res.text().await.unwrap(), "hello", "round {round}");
    }
}
