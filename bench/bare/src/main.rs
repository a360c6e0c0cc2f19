//! The bare baselines for bench/*.sh. As a server, one process on one port:
//!
//! * `GET /api/hosts`: a minimal upstream API answering a small fixed JSON
//!   body. It is the upstream of both the direct measurement and Tessera's
//!   gateway.
//! * `GET /v1/authz`: what a bare server does for forward auth: read
//!   `Authorization: Bearer <token>`, look the token up in an in-memory
//!   `HashMap<String, Identity>`, answer 200 with `X-Tessera-User` and
//!   `X-Tessera-Roles`, or 401.
//!
//! * `POST /oauth/token`: a bare in-memory token grant: read the form
//!   body, mint a token from a counter, insert it in a sharded in-memory
//!   map, answer the RFC 6749 JSON. The context for bench/grants.sh: what an
//!   HTTP grant costs with no client check, no store and no hashing.
//!
//! ```text
//! tessera-bare ADDR TOKENS_FILE
//! tessera-bare argon2 THREADS SECONDS MEMORY_KIB ITERATIONS PARALLELISM
//! ```
//! `argon2` is the raw baseline of bench/logins.sh: Argon2id verifications
//! per second on THREADS threads with the given parameters, with the same
//! crate, version and release profile as the server; each thread reuses
//! one memory area, so this is the hashing work alone (see
//! `argon2_baseline`). It prints
//! `mode=argon2 ok=N errors=0 seconds=S rate=R/s`.
//!
//! ADDR is `PORT` or `HOST:PORT` (host defaults to 127.0.0.1; port 0 picks
//! a free one). Once listening it prints `bare listening on http://HOST:PORT`.
//! TOKENS_FILE has one `TOKEN USER [ROLE,ROLE...]` a line, optionally
//! followed by ` | name: value` for each further header to answer with
//! (bench/authz.sh passes the rest of Tessera's own answer: domain, scope,
//! cache headers). It is read once,
//! after the port is bound, and may be a FIFO: bench/gateway.sh starts this
//! server before Tessera (whose upstream it is) and writes the token Tessera
//! mints into the FIFO afterwards. Until the file has been read, /v1/authz
//! answers 503. The map is never changed after that: a lookup is a
//! `OnceLock::get` (one atomic load) and a `HashMap::get`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

struct Identity {
    user: String,
    roles: String,
    /// The rest of what Tessera's answer carries for this token (its other
    /// identity headers and its cache headers), so that the yardstick's
    /// answer is the same bytes as Tessera's.
    more: Vec<(HeaderName, String)>,
}

type Tokens = Arc<OnceLock<HashMap<String, Identity>>>;

const HOSTS: &str =
    r#"{"hosts":[{"id":"h1","name":"esx-01","state":"ALIVE"},{"id":"h2","name":"esx-02","state":"ALIVE"}]}"#;

async fn hosts() -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        HOSTS,
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

async fn authz(State(tokens): State<Tokens>, headers: HeaderMap) -> Response {
    let Some(tokens) = tokens.get() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let Some(who) = bearer(&headers).and_then(|t| tokens.get(t)) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let mut res = StatusCode::OK.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&who.user) {
        h.insert("x-tessera-user", v);
    }
    if let Ok(v) = HeaderValue::from_str(&who.roles) {
        h.insert("x-tessera-roles", v);
    }
    for (name, value) in &who.more {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name.clone(), v);
        }
    }
    res
}

/// The bare grant's token map: 64 shards, each behind its own mutex.
struct Grants {
    next: AtomicU64,
    shards: Vec<Mutex<HashMap<String, u64>>>,
}

#[derive(Clone)]
struct App {
    tokens: Tokens,
    grants: Arc<Grants>,
}

impl axum::extract::FromRef<App> for Tokens {
    fn from_ref(app: &App) -> Tokens {
        app.tokens.clone()
    }
}

impl axum::extract::FromRef<App> for Arc<Grants> {
    fn from_ref(app: &App) -> Arc<Grants> {
        app.grants.clone()
    }
}

async fn grant(State(grants): State<Arc<Grants>>, body: String) -> Response {
    if !body.split('&').any(|kv| kv.starts_with("grant_type=")) {
        return (StatusCode::BAD_REQUEST, r#"{"error":"invalid_request"}"#).into_response();
    }
    let n = grants.next.fetch_add(1, Ordering::Relaxed);
    let token = format!("bare_{n:043}");
    if let Ok(mut shard) = grants.shards[(n % 64) as usize].lock() {
        shard.insert(token.clone(), n);
    }
    let json = format!(
        r#"{{"access_token":"{token}","token_type":"bearer","expires_in":7200,"scope":"read write"}}"#
    );
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        json,
    )
        .into_response()
}

/// Raw Argon2id verifications per second on `threads` threads: each
/// thread recomputes the hash of the same password and salt into one
/// memory area allocated once (`hash_password_into_with_memory`) and
/// compares it with the expected hash. The hashing work alone: no
/// allocation (19 MiB a hash at the default parameters; the system
/// allocator would map and fault it in every time), no PHC parsing.
fn argon2_baseline(threads: usize, seconds: u64, m: u32, t: u32, p: u32) {
    let params = argon2::Params::new(m, t, p, Some(32)).unwrap_or_else(|e| {
        eprintln!("argon2 parameters: {e}");
        std::process::exit(2)
    });
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    const PASSWORD: &[u8] = b"Load-Harbor-Quill-3";
    const SALT: &[u8] = b"bench-salt-16byt";
    let mut expected = [0u8; 32];
    argon
        .hash_password_into(PASSWORD, SALT, &mut expected)
        .expect("hash");
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, count, argon) = (stop.clone(), count.clone(), argon.clone());
            let blocks = params.block_count();
            std::thread::spawn(move || {
                let mut memory = vec![argon2::Block::default(); blocks];
                while !stop.load(Ordering::Relaxed) {
                    let mut out = [0u8; 32];
                    argon
                        .hash_password_into_with_memory(PASSWORD, SALT, &mut out, &mut memory)
                        .expect("hash");
                    assert_eq!(out, expected, "argon2 gave another hash");
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
    println!(
        "mode=argon2 ok={n} errors=0 seconds={secs:.2} rate={:.1}/s",
        n as f64 / secs
    );
}

fn num<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage())
}

fn usage() -> ! {
    eprintln!("usage: tessera-bare ADDR TOKENS_FILE   (TOKENS_FILE: one `TOKEN USER [ROLES]` a line)");
    eprintln!("       tessera-bare argon2 THREADS SECONDS MEMORY_KIB ITERATIONS PARALLELISM");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("argon2") {
        argon2_baseline(
            num(&args, 2),
            num(&args, 3),
            num(&args, 4),
            num(&args, 5),
            num(&args, 6),
        );
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(serve(args));
}

async fn serve(args: Vec<String>) {
    let (Some(addr), Some(file)) = (args.get(1), args.get(2)) else {
        usage()
    };
    let addr = if addr.contains(':') {
        addr.clone()
    } else {
        format!("127.0.0.1:{addr}")
    };
    let tokens: Tokens = Arc::default();
    let grants = Arc::new(Grants {
        next: AtomicU64::new(0),
        shards: (0..64).map(|_| Mutex::new(HashMap::new())).collect(),
    });
    let app = Router::new()
        .route("/api/hosts", get(hosts))
        .route("/v1/authz", get(authz))
        .route("/oauth/token", axum::routing::post(grant))
        .with_state(App {
            tokens: tokens.clone(),
            grants,
        });
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap_or_else(|e| {
        eprintln!("binding {addr}: {e}");
        std::process::exit(1)
    });
    let local = listener.local_addr().expect("local address");
    println!("bare listening on http://{local}");
    let _ = std::io::stdout().flush();
    let file = file.clone();
    tokio::task::spawn_blocking(move || {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            eprintln!("reading {file}: {e}");
            std::process::exit(1)
        });
        let map: HashMap<String, Identity> = text
            .lines()
            .filter_map(|line| {
                // `TOKEN USER ROLES[ | name: value | name: value...]`
                let (head, tail) = line.split_once(" | ").unwrap_or((line, ""));
                let mut f = head.split_whitespace();
                let token = f.next()?.to_owned();
                let user = f.next()?.to_owned();
                let roles = f.next().unwrap_or("").to_owned();
                let more = tail
                    .split(" | ")
                    .filter_map(|h| {
                        let (name, value) = h.split_once(':')?;
                        Some((HeaderName::from_bytes(name.trim().as_bytes()).ok()?, value.trim().to_owned()))
                    })
                    .collect();
                Some((token, Identity { user, roles, more }))
            })
            .collect();
        eprintln!("bare: {} token(s) loaded", map.len());
        let _ = tokens.set(map);
    });
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await.expect("serve");
}
