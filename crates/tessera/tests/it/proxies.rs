//! Forward auth (`GET /v1/authz`) behind the real proxies operators put in
//! front of an API: nginx with `auth_request` and Caddy with `forward_auth`
//! (the Debian packages `nginx-light` and `caddy`, which `.ci/run`
//! installs). Each test writes the proxy's configuration into a temporary
//! directory, runs the proxy in the foreground on a free 127.0.0.1 port,
//! and checks what a client gets and what the upstream API actually saw:
//! a valid token (in any carrier) reaches it with the identity headers,
//! no token is 401, a rule's refusal is 403, neither reaches it at all,
//! and identity or original-request headers forged by the client change
//! nothing.

use crate::harness::{Options, TestServer};
use axum::extract::{Request, State};
use axum::Json;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which proxy fronts the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nginx,
    Caddy,
}

impl Kind {
    fn binary(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Caddy => "caddy",
        }
    }
}

/// The rules the proxies enforce through `/v1/authz`.
const RULES: &str = "[gateway]\n\
     [[gateway.rules]]\nmethods = [\"*\"]\npath = \"/api/**\"\nallow = [\"authenticated\"]\n\
     [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/reports/**\"\nallow = [\"authenticated\"]\n\
     [[gateway.rules]]\nmethods = [\"*\"]\npath = \"/sdn/v2.0/**\"\nallow = [\"role:sdn-admin\", \"role:admin\"]\n\
     [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/public/**\"\nallow = [\"anonymous\"]\n";

/// The upstream API: plain HTTP on port 0, answering every request with
/// what reached it (as `upstream::Upstream` does) and keeping a record of
/// each, so a test can tell that a refused request never got there.
struct Recorder {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(seen): State<Arc<Mutex<Vec<Value>>>>, req: Request) -> Json<Value> {
    let mut headers = Map::new();
    for (k, v) in req.headers() {
        headers.insert(k.as_str().to_owned(), json!(v.to_str().unwrap_or("<bytes>")));
    }
    let (method, path, query) = (
        req.method().as_str().to_owned(),
        req.uri().path().to_owned(),
        req.uri().query().map(str::to_owned),
    );
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let what = json!({
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    seen.lock().unwrap().push(what.clone());
    Json(what)
}

impl Recorder {
    async fn start() -> Recorder {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new().fallback(record).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Recorder { addr, seen, task }
    }

    /// How many requests have reached the upstream so far.
    fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// A proxy running in the foreground as a child of the test; stopped (and
/// reaped) when dropped, its logs printed if the test is failing.
struct Proxy {
    kind: Kind,
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SIGTERM first: nginx's workers would outlive a master killed
        // outright (and keep its port). The child is not reaped yet, so
        // its pid is still its own.
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("sh")
                .args(["-c", "kill -TERM \"$1\"", "sh", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}

/// Where a proxy's binary is: on `PATH`, or in the sbin directories Debian
/// installs nginx into (not on every user's `PATH`). A missing proxy fails
/// the test: these tests are the proof that the forward-auth setups work.
fn binary(kind: Kind) -> PathBuf {
    let name = kind.binary();
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed, and the forward-auth tests need the real {name}: \
                 install it with `apt-get install nginx-light caddy` (.ci/run installs both)"
            )
        })
}

/// A port free right now on 127.0.0.1 (the proxy binds it next; a start
/// that loses the race is retried on another).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The nginx configuration: `auth_request` to Tessera, the identity it
/// answers passed on to the upstream, and whatever the client claimed in
/// those headers (or in the headers that name the original request)
/// replaced, never passed on.
fn nginx_conf(dir: &Path, port: u16, tessera: &str, upstream: &SocketAddr) -> String {
    let d = dir.display();
    // nginx started by root hands its workers to `nobody`, who cannot
    // enter the test's private temporary directory.
    let user = if std::fs::metadata(dir).is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0) {
        "user root;"
    } else {
        ""
    };
    format!(
        r#"{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /_authz {{
            internal;
            proxy_pass http://{tessera}/v1/authz;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-Uri "";
            proxy_set_header X-Forwarded-Method "";
        }}
        location / {{
            auth_request /_authz;
            auth_request_set $tessera_user $upstream_http_x_tessera_user;
            auth_request_set $tessera_domain $upstream_http_x_tessera_domain;
            auth_request_set $tessera_roles $upstream_http_x_tessera_roles;
            auth_request_set $tessera_scope $upstream_http_x_tessera_scope;
            proxy_set_header X-Tessera-User $tessera_user;
            proxy_set_header X-Tessera-Domain $tessera_domain;
            proxy_set_header X-Tessera-Roles $tessera_roles;
            proxy_set_header X-Tessera-Scope $tessera_scope;
            proxy_pass http://{upstream};
        }}
    }}
}}
"#
    )
}

/// The Caddyfile: in one `route` (so the order is the one written, not
/// Caddy's default directive order), drop what the client claimed, ask
/// Tessera, then proxy with the identity Tessera answered. Two lines are
/// there for what the tests found:
/// - the client's `X-Original-URI`/`X-Original-Method` go, because Caddy
///   passes the client's headers on to `/v1/authz`, which prefers those
///   (nginx's) over the `X-Forwarded-*` that Caddy sets: left in, a client
///   without a token names an anonymous path there and gets any other;
/// - Caddy 2.6 (Debian's 2.6.2) `copy_headers` copies a header that the
///   auth answer lacks (no identity on an anonymous path) as its
///   unreplaced placeholder text, `{http.reverse_proxy.header.X-...}`;
///   the `header_regexp` matchers drop those (later Caddy skips them).
fn caddyfile(dir: &Path, port: u16, tessera: &str, upstream: &SocketAddr) -> String {
    let d = dir.display();
    format!(
        r#"{{
    admin off
    auto_https off
    storage file_system {{
        root {d}/storage
    }}
}}

http://127.0.0.1:{port} {{
    bind 127.0.0.1
    route {{
        request_header -X-Tessera-*
        request_header -X-Original-URI
        request_header -X-Original-Method
        forward_auth {tessera} {{
            uri /v1/authz
            copy_headers X-Tessera-User X-Tessera-Domain X-Tessera-Roles X-Tessera-Scope
        }}
        @no_user header_regexp X-Tessera-User ^.http\.reverse_proxy\.header\.
        request_header @no_user -X-Tessera-User
        @no_domain header_regexp X-Tessera-Domain ^.http\.reverse_proxy\.header\.
        request_header @no_domain -X-Tessera-Domain
        @no_roles header_regexp X-Tessera-Roles ^.http\.reverse_proxy\.header\.
        request_header @no_roles -X-Tessera-Roles
        @no_scope header_regexp X-Tessera-Scope ^.http\.reverse_proxy\.header\.
        request_header @no_scope -X-Tessera-Scope
        reverse_proxy {upstream}
    }}
}}
"#
    )
}

impl Proxy {
    /// Starts `kind` in front of `upstream`, asking the Tessera at
    /// `tessera` (`127.0.0.1:PORT`, plain HTTP), and waits until it
    /// accepts connections.
    async fn start(kind: Kind, tessera: &str, upstream: &SocketAddr) -> Proxy {
        let bin = binary(kind);
        let mut last = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
            let mut cmd = Command::new(&bin);
            match kind {
                Kind::Nginx => {
                    let conf = dir.path().join("nginx.conf");
                    std::fs::write(&conf, nginx_conf(dir.path(), port, tessera, upstream)).unwrap();
                    cmd.arg("-p")
                        .arg(dir.path())
                        .arg("-e")
                        .arg(dir.path().join("error.log"))
                        .arg("-c")
                        .arg(&conf)
                        .args(["-g", "daemon off;"]);
                }
                Kind::Caddy => {
                    let conf = dir.path().join("Caddyfile");
                    std::fs::write(&conf, caddyfile(dir.path(), port, tessera, upstream)).unwrap();
                    cmd.args(["run", "--adapter", "caddyfile", "--config"])
                        .arg(&conf)
                        .env("HOME", dir.path())
                        .env("XDG_DATA_HOME", dir.path().join("data"))
                        .env("XDG_CONFIG_HOME", dir.path().join("config"));
                }
            }
            cmd.current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
            let mut proxy = Proxy {
                kind,
                child,
                port,
                dir,
            };
            match proxy.wait_ready().await {
                Ok(()) => return proxy,
                Err(why) => last = format!("{why}\n{}", proxy.logs()),
            }
        }
        panic!("{} did not start: {last}", kind.binary());
    }

    /// Polls until the proxy accepts a connection on its port, failing
    /// early if it exits and after 10 s at most.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("{} exited with {status}", self.kind.binary()));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                // Whatever answered, it must be ours: still running.
                return match self.child.try_wait().unwrap() {
                    None => Ok(()),
                    Some(status) => Err(format!("{} exited with {status}", self.kind.binary())),
                };
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not accept connections on 127.0.0.1:{} within 10 s",
                    self.kind.binary(),
                    self.port
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Everything the proxy logged, for failure messages.
    fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["stderr.log", "error.log", "access.log"] {
            if let Ok(text) = std::fs::read_to_string(self.dir.path().join(name)) {
                out.push_str(&format!("--- {} {name}\n{text}", self.kind.binary()));
            }
        }
        out
    }
}

/// Tessera over plain HTTP with the rules above, users `bob` (no roles)
/// and `root` (admin), and the public OAuth2 client that issues tokens.
async fn tessera() -> TestServer {
    let server = TestServer::start_with(Options {
        toml: RULES.into(),
        tls: false,
        ..Default::default()
    })
    .await;
    server
        .add_user(None, "root", "Change-Me-Soon-8", &["admin"], false)
        .await;
    server.add_user(None, "bob", "Kettle-Harbor-51", &[], false).await;
    server.add_client("simplivity", None, &["password"], &[]).await;
    server
}

async fn token(server: &TestServer, user: &str, password: &str) -> String {
    server
        .grant("/api/oauth/token", "simplivity", "password", user, password)
        .await
}

/// Tessera, the upstream, and `kind` in front of the upstream.
struct Setup {
    server: TestServer,
    upstream: Recorder,
    proxy: Proxy,
    client: reqwest::Client,
}

impl Setup {
    async fn start(kind: Kind) -> Setup {
        let upstream = Recorder::start().await;
        let server = tessera().await;
        let proxy = Proxy::start(kind, &server.host(), &upstream.addr).await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Setup {
            server,
            upstream,
            proxy,
            client,
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.proxy.url(path))
    }

    /// Sends `req` through the proxy; it must reach the upstream, which
    /// answers with what it saw.
    async fn reaches(&self, req: reqwest::RequestBuilder) -> Value {
        let before = self.upstream.hits();
        let res = req.send().await.unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "{:?}: {body}", self.proxy.kind);
        assert_eq!(self.upstream.hits(), before + 1, "{:?}: {body}", self.proxy.kind);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not the upstream's answer ({e}): {body}"))
    }

    /// Sends `req` through the proxy; it must be refused with `status`
    /// and never reach the upstream. Returns the refusal's headers.
    async fn refused(&self, req: reqwest::RequestBuilder, status: u16) -> reqwest::header::HeaderMap {
        let before = self.upstream.hits();
        let res = req.send().await.unwrap();
        let (got, headers) = (res.status(), res.headers().clone());
        let body = res.text().await.unwrap();
        assert_eq!(got, status, "{:?}: {body}", self.proxy.kind);
        assert_eq!(
            self.upstream.hits(),
            before,
            "{:?}: a refused request reached the upstream",
            self.proxy.kind
        );
        headers
    }
}

/// The identity header `name` as the upstream saw it.
fn seen<'a>(seen: &'a Value, name: &str) -> Option<&'a str> {
    seen["headers"].get(name).and_then(Value::as_str)
}

async fn a_valid_token_reaches_the_upstream_with_the_identity(kind: Kind) {
    let s = Setup::start(kind).await;
    let bob = token(&s.server, "bob", "Kettle-Harbor-51").await;
    let root = token(&s.server, "root", "Change-Me-Soon-8").await;

    let got = s.reaches(s.get("/api/things?x=1").bearer_auth(&bob)).await;
    assert_eq!(got["path"], "/api/things");
    assert_eq!(got["query"], "x=1");
    assert_eq!(seen(&got, "x-tessera-user"), Some("bob"), "{kind:?}: {got}");
    assert_eq!(seen(&got, "x-tessera-domain"), Some("local"), "{kind:?}: {got}");
    assert_eq!(
        seen(&got, "x-tessera-scope"),
        Some("read write"),
        "{kind:?}: {got}"
    );

    let got = s.reaches(s.get("/api/things").bearer_auth(&root)).await;
    assert_eq!(seen(&got, "x-tessera-user"), Some("root"), "{kind:?}: {got}");
    assert_eq!(seen(&got, "x-tessera-roles"), Some("admin"), "{kind:?}: {got}");

    // The method and body reach the upstream; only the check went without.
    let got = s
        .reaches(
            s.client
                .post(s.proxy.url("/api/things"))
                .bearer_auth(&bob)
                .body("{\"name\":\"x\"}"),
        )
        .await;
    assert_eq!(got["method"], "POST");
    assert_eq!(got["body"], "{\"name\":\"x\"}");
    assert_eq!(seen(&got, "x-tessera-user"), Some("bob"), "{kind:?}: {got}");

    // Every token carrier works through the proxy: seed 002's X-Auth-Token,
    // seed 001's X-SDS-AUTH-TOKEN header and its cookie.
    let carriers = [
        ("x-auth-token", bob.clone()),
        ("x-sds-auth-token", bob.clone()),
        ("cookie", format!("theme=dark; X-SDS-AUTH-TOKEN={bob}")),
    ];
    for (name, value) in carriers {
        let got = s.reaches(s.get("/api/things").header(name, value)).await;
        assert_eq!(
            seen(&got, "x-tessera-user"),
            Some("bob"),
            "{kind:?} {name}: {got}"
        );
    }

    // Anonymous paths pass without a token, with no identity.
    let got = s.reaches(s.get("/public/info")).await;
    assert_eq!(seen(&got, "x-tessera-user"), None, "{kind:?}: {got}");
}

async fn no_token_is_401_and_a_refusal_403_and_neither_reaches_the_upstream(kind: Kind) {
    let s = Setup::start(kind).await;
    let bob = token(&s.server, "bob", "Kettle-Harbor-51").await;
    let root = token(&s.server, "root", "Change-Me-Soon-8").await;

    let headers = s.refused(s.get("/api/things"), 401).await;
    let challenge = headers.get("www-authenticate").map(|v| v.to_str().unwrap());
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "{kind:?}: the proxy passes Tessera's challenge on: {headers:?}"
    );
    s.refused(s.get("/api/things").bearer_auth("tsa_not-a-real-token"), 401)
        .await;
    s.refused(s.get("/api/things").header("cookie", "X-SDS-AUTH-TOKEN="), 401)
        .await;

    // Rules by role: bob lacks sdn-admin and admin; root has admin.
    s.refused(s.get("/sdn/v2.0/systems").bearer_auth(&bob), 403).await;
    s.reaches(s.get("/sdn/v2.0/systems").bearer_auth(&root)).await;
    // Rules by method: the proxy passes the original method, not the
    // check's own GET.
    s.reaches(s.get("/reports/1").bearer_auth(&bob)).await;
    s.refused(s.client.delete(s.proxy.url("/reports/1")).bearer_auth(&bob), 403)
        .await;
    // Paths no rule covers are denied by default.
    s.refused(s.get("/nowhere").bearer_auth(&bob), 403).await;
    // A token that was good and is revoked no longer passes.
    let res = s
        .server
        .client
        .post(s.server.url("/oauth/revoke"))
        .basic_auth("simplivity", Some(""))
        .form(&[("token", bob.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    s.refused(s.get("/api/things").bearer_auth(&bob), 401).await;
}

async fn headers_forged_by_the_client_change_nothing(kind: Kind) {
    let s = Setup::start(kind).await;
    let bob = token(&s.server, "bob", "Kettle-Harbor-51").await;
    let forge = |req: reqwest::RequestBuilder| {
        req.header("X-Tessera-User", "root")
            .header("X-Tessera-Domain", "forged")
            .header("X-Tessera-Roles", "admin")
            .header("X-Tessera-Scope", "read write admin")
    };

    // With a token: the upstream sees the token's user, not the claim.
    let got = s.reaches(forge(s.get("/api/things").bearer_auth(&bob))).await;
    assert_eq!(seen(&got, "x-tessera-user"), Some("bob"), "{kind:?}: {got}");
    assert_eq!(seen(&got, "x-tessera-domain"), Some("local"), "{kind:?}: {got}");
    assert_eq!(
        seen(&got, "x-tessera-scope"),
        Some("read write"),
        "{kind:?}: {got}"
    );
    assert_ne!(seen(&got, "x-tessera-roles"), Some("admin"), "{kind:?}: {got}");

    // On an anonymous path: no identity at all, forged or not.
    let got = s.reaches(forge(s.get("/public/info"))).await;
    // Caddy drops every X-Tessera-* header; nginx can only replace the
    // ones it names.
    if kind == Kind::Caddy {
        let got = s
            .reaches(s.get("/public/info").header("X-Tessera-Admin", "yes"))
            .await;
        assert_eq!(seen(&got, "x-tessera-admin"), None, "{got}");
    }
    for name in [
        "x-tessera-user",
        "x-tessera-domain",
        "x-tessera-roles",
        "x-tessera-scope",
    ] {
        assert_eq!(
            seen(&got, name),
            None,
            "{kind:?}: {name} reached the upstream: {got}"
        );
    }

    // Without a token: the forged identity does not get one in.
    s.refused(forge(s.get("/api/things")), 401).await;
    s.refused(forge(s.get("/sdn/v2.0/systems").bearer_auth(&bob)), 403)
        .await;

    // Nor does naming another original request than the real one, in
    // either proxy's words.
    let claims = [
        ("X-Original-URI", "/public/info"),
        ("X-Original-Method", "GET"),
        ("X-Forwarded-Uri", "/public/info"),
        ("X-Forwarded-Method", "GET"),
    ];
    let claim = |req: reqwest::RequestBuilder| {
        claims
            .iter()
            .fold(req, |req, (name, value)| req.header(*name, *value))
    };
    s.refused(claim(s.get("/api/things")), 401).await;
    s.refused(
        claim(s.client.delete(s.proxy.url("/reports/1")).bearer_auth(&bob)),
        403,
    )
    .await;
}

#[tokio::test]
async fn nginx_auth_request_passes_a_valid_token_with_the_identity() {
    a_valid_token_reaches_the_upstream_with_the_identity(Kind::Nginx).await;
}

#[tokio::test]
async fn nginx_auth_request_refuses_without_reaching_the_upstream() {
    no_token_is_401_and_a_refusal_403_and_neither_reaches_the_upstream(Kind::Nginx).await;
}

#[tokio::test]
async fn nginx_auth_request_ignores_forged_headers() {
    headers_forged_by_the_client_change_nothing(Kind::Nginx).await;
}

#[tokio::test]
async fn caddy_forward_auth_passes_a_valid_token_with_the_identity() {
    a_valid_token_reaches_the_upstream_with_the_identity(Kind::Caddy).await;
}

#[tokio::test]
async fn caddy_forward_auth_refuses_without_reaching_the_upstream() {
    no_token_is_401_and_a_refusal_403_and_neither_reaches_the_upstream(Kind::Caddy).await;
}

#[tokio::test]
async fn caddy_forward_auth_ignores_forged_headers() {
    headers_forged_by_the_client_change_nothing(Kind::Caddy).await;
}
