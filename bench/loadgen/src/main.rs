//! A small, fast HTTP/1.1 load generator for Tessera's grant benchmarks,
//! plus the raw Argon2id baseline they are compared with.
//!
//! ```text
//! tessera-loadgen argon2   THREADS SECONDS MEMORY_KIB ITERATIONS PARALLELISM
//! tessera-loadgen password ADDR CONNS SECONDS CLIENT SECRET USER PASSWORD
//! tessera-loadgen refresh  ADDR CONNS SECONDS CLIENT SECRET USER PASSWORD
//! tessera-loadgen client-credentials ADDR CONNS SECONDS CLIENT SECRET
//! tessera-loadgen get      ADDR CONNS SECONDS PATH [HEADER:VALUE]...
//! ```
//! Each prints one line: `mode=... ok=N errors=N seconds=S rate=R/s`.

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Sender = http1::SendRequest<Full<Bytes>>;

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    errors: AtomicU64,
}

fn usage() -> ! {
    eprintln!("usage: see the doc comment of bench/loadgen/src/main.rs");
    std::process::exit(2)
}

fn arg(args: &[String], i: usize) -> &str {
    args.get(i).map(String::as_str).unwrap_or_else(|| usage())
}

fn num<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    arg(args, i).parse().unwrap_or_else(|_| usage())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match arg(&args, 1) {
        "argon2" => argon2_baseline(num(&args, 2), num(&args, 3), num(&args, 4), num(&args, 5), num(&args, 6)),
        _ => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
            rt.block_on(http_mode(args));
        }
    }
}

/// Raw Argon2id verifications per second on `threads` threads, with the
/// server's parameters: the ceiling for password logins.
fn argon2_baseline(threads: usize, seconds: u64, m: u32, t: u32, p: u32) {
    use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
    let params = argon2::Params::new(m, t, p, None).expect("params");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"bench-salt-16byt").expect("salt");
    let phc = argon.hash_password(b"bench-password", &salt).expect("hash").to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, count, argon, phc) = (stop.clone(), count.clone(), argon.clone(), phc.clone());
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&phc).expect("phc");
                while !stop.load(Ordering::Relaxed) {
                    argon.verify_password(b"bench-password", &parsed).expect("verify");
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("thread");
    }
    let secs = start.elapsed().as_secs_f64();
    let n = count.load(Ordering::Relaxed);
    println!("mode=argon2 ok={n} errors=0 seconds={secs:.2} rate={:.1}/s", n as f64 / secs);
}

async fn connect(addr: &str) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn send(sender: &mut Sender, req: Request<Full<Bytes>>) -> Option<(u16, Bytes)> {
    sender.ready().await.ok()?;
    let res = sender.send_request(req).await.ok()?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.ok()?.to_bytes();
    Some((status, body))
}

fn form(addr: &str, path: &str, basic: Option<(&str, &str)>, body: String) -> Request<Full<Bytes>> {
    let mut b = Request::post(path)
        .header("host", addr)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((u, p)) = basic {
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        b = b.header("authorization", format!("Basic {enc}"));
    }
    b.body(Full::new(Bytes::from(body))).expect("request")
}

fn field(body: &Bytes, name: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

async fn http_mode(args: Vec<String>) {
    let mode = arg(&args, 1).to_owned();
    let addr = arg(&args, 2).to_owned();
    let conns: usize = num(&args, 3);
    let seconds: u64 = num(&args, 4);
    let rest: Vec<String> = args[5..].to_vec();
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let ready = Arc::new(tokio::sync::Barrier::new(conns + 1));
    for _ in 0..conns {
        let (mode, addr, rest, counters, stop, ready) =
            (mode.clone(), addr.clone(), rest.clone(), counters.clone(), stop.clone(), ready.clone());
        tasks.push(tokio::spawn(async move { worker(&mode, &addr, &rest, counters, stop, ready).await }));
    }
    ready.wait().await;
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    let ok = counters.ok.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    println!("mode={mode} ok={ok} errors={errors} seconds={secs:.2} rate={:.1}/s", ok as f64 / secs);
}

async fn worker(
    mode: &str,
    addr: &str,
    rest: &[String],
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    ready: Arc<tokio::sync::Barrier>,
) {
    let mut sender = connect(addr).await;
    let client = rest.first().cloned().unwrap_or_default();
    let secret = rest.get(1).cloned().unwrap_or_default();
    let login_body = || {
        format!(
            "grant_type=password&username={}&password={}",
            rest.get(2).map(String::as_str).unwrap_or(""),
            rest.get(3).map(String::as_str).unwrap_or("")
        )
    };
    // Refresh workers first log in once, outside the timed window.
    let mut refresh = None;
    if mode == "refresh" {
        let req = form(addr, "/oauth/token", Some((&client, &secret)), login_body());
        let (status, body) = send(&mut sender, req).await.expect("login");
        assert_eq!(status, 200, "initial login failed: {}", String::from_utf8_lossy(&body));
        refresh = field(&body, "refresh_token");
    }
    ready.wait().await;
    while !stop.load(Ordering::Relaxed) {
        let req = match mode {
            "password" => form(addr, "/oauth/token", Some((&client, &secret)), login_body()),
            "refresh" => {
                let token = refresh.clone().unwrap_or_default();
                form(addr, "/oauth/token", Some((&client, &secret)), format!("grant_type=refresh_token&refresh_token={token}"))
            }
            "client-credentials" => form(addr, "/oauth/token", Some((&client, &secret)), "grant_type=client_credentials".into()),
            "get" => {
                let mut b = Request::get(rest[0].as_str()).header("host", addr);
                for h in &rest[1..] {
                    if let Some((k, v)) = h.split_once(':') {
                        b = b.header(k.trim(), v.trim());
                    }
                }
                b.body(Full::new(Bytes::new())).expect("request")
            }
            _ => usage(),
        };
        match send(&mut sender, req).await {
            Some((200, body)) => {
                counters.ok.fetch_add(1, Ordering::Relaxed);
                if mode == "refresh" {
                    refresh = field(&body, "refresh_token");
                }
            }
            Some(_) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                sender = connect(addr).await;
            }
        }
    }
}
