//! A real upstream API for gateway tests: plain HTTP on port 0. It echoes
//! what reached it, serves seed 001's `/tenant`, streams big bodies both
//! ways, and can be made to hang (before its headers or mid-body). It
//! keeps the path of every request that reached it, as received.

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub struct Upstream {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the upstream saw of a request.
async fn echo(req: Request) -> Json<Value> {
    let mut headers = Map::new();
    for (k, v) in req.headers() {
        headers.insert(k.as_str().to_owned(), json!(v.to_str().unwrap_or("<bytes>")));
    }
    Json(json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "headers": headers,
    }))
}

async fn tenant() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/xml")],
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><tenant_info><name>Provider Tenant</name><link href="/tenants/urn:storageos:TenantOrg:d61d9fa1-9886-40ef-85d3-c40b6de2c72f:" rel="self"/><id>urn:storageos:TenantOrg:d61d9fa1-9886-40ef-85d3-c40b6de2c72f:</id></tenant_info>"#,
    )
}

/// Counts an uploaded body chunk by chunk, never holding it whole.
async fn upload(body: Body) -> Json<Value> {
    let mut stream = body.into_data_stream();
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        total += chunk.map(|c| c.len() as u64).unwrap_or(0);
    }
    Json(json!({ "bytes": total }))
}

/// Streams `size` bytes in 64 KiB chunks.
async fn download(Query(q): Query<std::collections::HashMap<String, u64>>) -> Body {
    let size = q.get("size").copied().unwrap_or(0);
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = size / chunk.len() as u64;
    Body::from_stream(futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    ))
}

/// Sends its headers and a first chunk, then nothing, forever.
async fn stall() -> Body {
    let first = futures_util::stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"partial")) });
    Body::from_stream(first.chain(futures_util::stream::pending()))
}

async fn hang() -> &'static str {
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    "too late"
}

/// The upstream's routes, recording every path into `record`.
fn app(record: Arc<Mutex<Vec<String>>>) -> Router {
    Router::new()
        .route("/tenant", get(tenant))
        .route("/upload", post(upload))
        .route("/download", get(download))
        .route("/slow", any(hang))
        .route("/stall", get(stall))
        .fallback(echo)
        .layer(axum::middleware::from_fn(
            move |req: Request, next: axum::middleware::Next| {
                record.lock().unwrap().push(req.uri().path().to_owned());
                next.run(req)
            },
        ))
}

impl Upstream {
    pub async fn start() -> Upstream {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = app(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Upstream { addr, seen, task }
    }

    /// The same API over HTTPS only, its certificate for `localhost`
    /// signed by a CA made for it: the upstream and the CA's PEM. The
    /// server name each TLS client asked for (SNI) is recorded in `seen`
    /// as `sni:NAME` (`sni:` without one).
    pub async fn start_tls() -> (Upstream, String) {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        use tower::ServiceExt;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Upstream Test CA");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![leaf.der().clone()], key)
                .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = app(seen.clone());
        let record = seen.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, app, record) = (acceptor.clone(), app.clone(), record.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let sni = tls.get_ref().1.server_name().unwrap_or("").to_owned();
                    record.lock().unwrap().push(format!("sni:{sni}"));
                    let service =
                        hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            app.clone().oneshot(req.map(Body::new))
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        (Upstream { addr, seen, task }, ca.pem())
    }

    /// The paths of the requests that reached it so far, as received.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A free port nothing listens on (for "upstream down").
pub async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}
