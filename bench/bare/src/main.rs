//! The bare baseline for bench/gateway.sh, one process on one port:
//!
//! * `GET /api/hosts`: a minimal upstream API answering a small fixed JSON
//!   body. It is the upstream of both the direct measurement and Tessera's
//!   gateway.
//! * `GET /v1/authz`: what a bare server does for forward auth: read
//!   `Authorization: Bearer <token>`, look the token up in an in-memory
//!   `HashMap<String, Identity>`, answer 200 with `X-Tessera-User` and
//!   `X-Tessera-Roles`, or 401.
//!
//! ```text
//! tessera-bare ADDR TOKENS_FILE
//! ```
//! ADDR is `PORT` or `HOST:PORT` (host defaults to 127.0.0.1; port 0 picks
//! a free one). Once listening it prints `bare listening on http://HOST:PORT`.
//! TOKENS_FILE has one `TOKEN USER [ROLE,ROLE...]` a line. It is read once,
//! after the port is bound, and may be a FIFO: bench/gateway.sh starts this
//! server before Tessera (whose upstream it is) and writes the token Tessera
//! mints into the FIFO afterwards. Until the file has been read, /v1/authz
//! answers 503. The map is never changed after that: a lookup is a
//! `OnceLock::get` (one atomic load) and a `HashMap::get`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, OnceLock};

struct Identity {
    user: String,
    roles: String,
}

type Tokens = Arc<OnceLock<HashMap<String, Identity>>>;

const HOSTS: &str = r#"{"hosts":[{"id":"h1","name":"esx-01","state":"ALIVE"},{"id":"h2","name":"esx-02","state":"ALIVE"}]}"#;

async fn hosts() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], HOSTS).into_response()
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
    res
}

fn usage() -> ! {
    eprintln!("usage: tessera-bare ADDR TOKENS_FILE   (TOKENS_FILE: one `TOKEN USER [ROLES]` a line)");
    std::process::exit(2)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(addr), Some(file)) = (args.get(1), args.get(2)) else { usage() };
    let addr = if addr.contains(':') { addr.clone() } else { format!("127.0.0.1:{addr}") };
    let tokens: Tokens = Arc::default();
    let app = Router::new()
        .route("/api/hosts", get(hosts))
        .route("/v1/authz", get(authz))
        .with_state(tokens.clone());
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
                let mut f = line.split_whitespace();
                let token = f.next()?.to_owned();
                let user = f.next()?.to_owned();
                let roles = f.next().unwrap_or("").to_owned();
                Some((token, Identity { user, roles }))
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
