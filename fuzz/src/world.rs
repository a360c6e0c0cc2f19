//! One Tessera for every iteration of a target: the configuration read by
//! the real loader, a core on a throwaway SQLite store with cheap Argon2,
//! the whole axum application, and a current-thread runtime to drive it.
//! Built once (`world()`), on first use.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
pub use tessera_core::admin::DEFAULT_DOMAIN;
use tessera_core::admin::{ClientSecretInput, NewClient, NewUser};
use tessera_core::authn::LoginKind;
use tessera_core::{Actor, Core, LoginRequest, ManualClock};
use tessera_http::doors::DoorsConfig;
use tessera_http::{AppState, ConnInfo};
use tessera_model::{Client, Timestamp};
use tower::ServiceExt;
use zeroize::Zeroizing;

pub const ADMIN_PASSWORD: &str = "Harbor-Lantern-Quartz-41";
pub const USER: &str = "fuzzer";
pub const USER_PASSWORD: &str = "Meadow-Copper-Violet-93";
pub const ADMIN_TOKEN: &str = "fuzz-bootstrap-admin-token-0123456789";
pub const SERVICE_TOKEN: &str = "fuzz-cluster-service-token-0123456789";
pub const PUBLIC_CLIENT: &str = "fuzz-public";
pub const CONFIDENTIAL_CLIENT: &str = "fuzz-confidential";
pub const CLIENT_SECRET: &str = "s3cr+t/v=l:x%y";

/// The configuration the fuzzed server runs with: every door on, cheap
/// Argon2, a bootstrap admin token and a service token, gateway rules
/// (the issue's `/public/**` and `/api/admin/**` among them) and an
/// upstream that refuses connections at once.
fn config_toml(dir: &std::path::Path) -> String {
    let data = dir.join("data");
    format!(
        r#"data_dir = {data:?}
[server]
listen = "127.0.0.1:0"
tls = "off"
[store]
url = {url:?}
[password]
memory_kib = 64
iterations = 1
parallelism = 1
[bootstrap]
admin_token = "{ADMIN_TOKEN}"
[ldap]
connect_timeout = "250ms"
operation_timeout = "250ms"
[cluster]
service_token = "{SERVICE_TOKEN}"
[gateway]
upstream = "http://127.0.0.1:1"
default = "authenticated"
connect_timeout = "1s"
timeout = "1s"
[[gateway.rules]]
methods = ["GET"]
path = "/public/**"
allow = ["anonymous"]
[[gateway.rules]]
methods = ["*"]
path = "/api/admin/**"
allow = ["role:admin"]
[[gateway.rules]]
methods = ["GET", "HEAD"]
path = "/api/hosts/{{id}}"
allow = ["scope:read"]
[[gateway.rules]]
methods = ["POST", "PUT", "DELETE"]
path = "/api/hosts/{{id}}/**"
allow = ["scope:write", "role:admin"]
"#,
        data = data.display().to_string(),
        url = format!("sqlite://{}", data.join("tessera.db").display()),
    )
}

/// A route of the application, from its OpenAPI document.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    /// The template (`/v1/admin/users/{domain}/{name}`).
    pub path: String,
    /// Whether the operation documents a request body.
    pub has_body: bool,
    /// The request body's media type, when it has one.
    pub media: Option<String>,
    /// The request body's schema.
    pub schema: Option<serde_json::Value>,
}

pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub core: Arc<Core>,
    pub doors: Arc<DoorsConfig>,
    pub app: Router,
    pub routes: Vec<Route>,
    /// Property names and enum values of every schema in the document,
    /// plus the form parameters the doors define: the words a body is
    /// built from.
    pub words: Vec<String>,
    /// The master key's text (data_dir/master.key), which no answer may
    /// carry.
    pub master_key: String,
    /// The application's OpenAPI document.
    pub document: serde_json::Value,
    /// The public client refresh tokens are minted for (re-added when
    /// the fuzzer removes it).
    public_client: Mutex<Client>,
    /// The last opaque, JWT and header-login tokens minted.
    minted: Mutex<[Option<String>; 3]>,
    _dir: tempfile::TempDir,
}

static WORLD: OnceLock<World> = OnceLock::new();

/// `TESSERA_FUZZ_TRACE=1`: every request and its status on stderr (to see
/// what a corpus reaches: `<target> -runs=0 fuzz/corpus/<target>`).
pub fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("TESSERA_FUZZ_TRACE").is_some())
}

/// The shared world, built on first use.
pub fn world() -> &'static World {
    WORLD.get_or_init(build)
}

#[allow(clippy::expect_used)]
fn build() -> World {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("tessera.toml");
    std::fs::write(&config_path, config_toml(dir.path())).expect("writing the configuration");
    let settings =
        tessera::config::load(Some(&config_path), &Default::default()).expect("the fuzz configuration loads");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let clock = ManualClock::new(Timestamp(1_750_000_000_000));
    let core = rt
        .block_on(tessera::runtime::open_core(&settings, Arc::new(clock)))
        .expect("core");
    let public_client = rt.block_on(async {
        core.bootstrap(Some(Zeroizing::new(ADMIN_PASSWORD.into())))
            .await
            .expect("bootstrap");
        add_user(&core).await;
        add_client(&core, CONFIDENTIAL_CLIENT, Some(CLIENT_SECRET))
            .await
            .expect("client");
        add_client(&core, PUBLIC_CLIENT, None).await.expect("client")
    });
    let doors = settings.doors.clone();
    let app = tessera_http::app(AppState::new(core.clone(), doors.clone()).expect("app state"));
    let document = rt.block_on(async {
        let res = app
            .clone()
            .oneshot(
                Request::get("/openapi.json")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(res.status(), StatusCode::OK, "GET /openapi.json");
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        serde_json::from_slice::<serde_json::Value>(&bytes).expect("the document is JSON")
    });
    if let Some(path) = std::env::var_os("TESSERA_FUZZ_OPENAPI") {
        let _ = std::fs::write(path, document.to_string());
    }
    let routes = routes_of(&document);
    assert!(routes.len() > 20, "only {} routes in /openapi.json", routes.len());
    let words = words_of(&document);
    World {
        rt,
        core,
        doors,
        app,
        routes,
        words,
        master_key: std::env::var("TESSERA_MASTER_KEY")
            .or_else(|_| std::fs::read_to_string(settings.config.data_dir.join("master.key")))
            .expect("the master key")
            .trim()
            .to_owned(),
        document,
        public_client: Mutex::new(public_client),
        minted: Mutex::default(),
        _dir: dir,
    }
}

async fn add_client(core: &Core, id: &str, secret: Option<&str>) -> Option<Client> {
    let secret = match secret {
        Some(s) => ClientSecretInput::Given(Zeroizing::new(s.into())),
        None => ClientSecretInput::Public,
    };
    core.client_add(
        &Actor::Cli,
        NewClient {
            id: id.into(),
            secret,
            grants: vec![],
            policy: None,
            roles: vec![],
        },
    )
    .await
    .ok()
    .map(|c| c.client)
}

async fn add_user(core: &Core) {
    let _ = core
        .user_add(
            &Actor::Cli,
            NewUser {
                name: USER.into(),
                password: Some(Zeroizing::new(USER_PASSWORD.into())),
                system_roles: vec!["_member_".into()],
                ..NewUser::default()
            },
        )
        .await;
}

fn routes_of(doc: &serde_json::Value) -> Vec<Route> {
    let mut out = Vec::new();
    let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else { continue };
        for (method, op) in item {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            let content = op
                .get("requestBody")
                .and_then(|b| b.get("content"))
                .and_then(|c| c.as_object());
            let first = content.and_then(|c| c.iter().next());
            out.push(Route {
                method,
                path: path.clone(),
                has_body: content.is_some(),
                media: first.map(|(media, _)| media.clone()),
                schema: first.and_then(|(_, m)| m.get("schema").cloned()),
            });
        }
    }
    out
}

fn words_of(doc: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(props) = map.get("properties").and_then(|p| p.as_object()) {
                    out.extend(props.keys().cloned());
                }
                if let Some(values) = map.get("enum").and_then(|e| e.as_array()) {
                    out.extend(values.iter().filter_map(|v| v.as_str().map(str::to_owned)));
                }
                if let Some(name) = map.get("name").and_then(|n| n.as_str()) {
                    // Parameters (query, path, header names).
                    out.insert(name.to_owned());
                }
                map.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(doc, &mut out);
    // The doors' form parameters and grant types (RFC 6749, seed 000).
    out.extend(
        [
            "grant_type",
            "username",
            "password",
            "scope",
            "client_id",
            "client_secret",
            "refresh_token",
            "token",
            "token_type_hint",
            "access_token",
            "emergency",
            "client_credentials",
            "using-cookies",
            "force",
            "all",
            "true",
            "false",
            DEFAULT_DOMAIN,
            "admin",
            "read_only",
            "_member_",
            "read",
            "write",
            ADMIN_PASSWORD,
            USER,
            USER_PASSWORD,
            PUBLIC_CLIENT,
            CONFIDENTIAL_CLIENT,
            CLIENT_SECRET,
            // Request targets for X-Original-URI and friends.
            "/public/x",
            "/public/..;/api/admin/x",
            "/api/admin;x=1/secret",
            "/api/hosts/1",
            "/api/hosts/1/power",
            "/api/backups?limit=10",
            "GET",
            "DELETE",
            "application/json",
            "application/xml",
            "application/x-www-form-urlencoded",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ]
        .map(str::to_owned),
    );
    out.into_iter().collect()
}

/// Which token a fuzzed request presents.
#[derive(Debug, Clone, Copy)]
pub enum Minted {
    /// An opaque token from a fresh password login (oauth2 policy).
    Opaque,
    /// A JWT from a fresh login under the envelope-login policy.
    Jwt,
    /// The refresh token of a fresh oauth2 login by the public client.
    Refresh,
    /// A header-login token.
    HeaderLogin,
}

impl World {
    /// Runs one request through the application.
    pub fn call(&self, mut req: Request<Body>, tls: bool) -> axum::response::Response {
        req.extensions_mut().insert(ConnInfo {
            remote: SocketAddr::from(([127, 0, 0, 1], 40000)),
            tls,
        });
        let trace = trace().then(|| format!("{} {}", req.method(), req.uri()));
        let res = self.rt.block_on(async {
            let res = self.app.clone().oneshot(req).await;
            match res {
                Ok(r) => r,
                Err(never) => match never {},
            }
        });
        if let Some(line) = trace {
            eprintln!("TRACE {} {line}", res.status().as_u16());
        }
        res
    }

    /// Collects a response body (bounded: the fuzzed answers are small).
    pub fn body(&self, res: axum::response::Response) -> (axum::http::response::Parts, Vec<u8>) {
        let (parts, body) = res.into_parts();
        let bytes = self
            .rt
            .block_on(axum::body::to_bytes(body, 16 << 20))
            .map(|b| b.to_vec())
            .unwrap_or_default();
        (parts, bytes)
    }

    /// A live token of `kind` for the fuzz user: the one minted last while
    /// it still checks, else a new one. Refresh tokens are minted every
    /// time (each is good for one rotation).
    pub fn token(&self, kind: Minted) -> Option<String> {
        let slot = match kind {
            Minted::Opaque => 0,
            Minted::Jwt => 1,
            Minted::HeaderLogin => 2,
            Minted::Refresh => return self.mint(kind),
        };
        let cached = self.minted.lock().ok().and_then(|m| m[slot].clone());
        if let Some(t) = cached {
            if self.rt.block_on(self.core.check(&t, false)).is_ok() {
                return Some(t);
            }
        }
        let fresh = self.mint(kind)?;
        if let Ok(mut m) = self.minted.lock() {
            m[slot] = Some(fresh.clone());
        }
        Some(fresh)
    }

    /// A token minted now for the fuzz user (an earlier iteration may have
    /// revoked, disabled, locked or re-passworded it: repaired first when
    /// the login fails). `None` when even the repair fails (the fuzzer
    /// may have disabled the default domain).
    pub fn mint(&self, kind: Minted) -> Option<String> {
        self.rt.block_on(async {
            for attempt in 0..2 {
                if attempt > 0 {
                    self.repair_user().await;
                }
                if let Some(t) = self.login(kind).await {
                    return Some(t);
                }
            }
            None
        })
    }

    async fn login(&self, kind: Minted) -> Option<String> {
        let client = match kind {
            Minted::Refresh => self.public_client.lock().ok().map(|c| c.clone()),
            _ => None,
        };
        let policy = match kind {
            Minted::Opaque | Minted::Refresh => self.doors.oauth2.policy.as_str(),
            Minted::Jwt => self.doors.envelope_login.policy.as_str(),
            Minted::HeaderLogin => self.doors.header_login.policy.as_str(),
        };
        let logged = self
            .core
            .login(LoginRequest {
                door: "fuzz",
                domain: None,
                username: USER,
                password: Zeroizing::new(USER_PASSWORD.into()),
                kind: LoginKind::Password,
                policy,
                require_role: None,
                scope: None,
                client: client.as_ref(),
                detail: String::new(),
            })
            .await
            .ok()?;
        let token = match kind {
            Minted::Refresh => logged.issued.refresh?.token,
            _ => logged.issued.access.token,
        };
        Some(token.to_string())
    }

    /// An opaque token of the bootstrap `admin` user (password login).
    pub fn mint_admin(&self) -> Option<String> {
        self.rt.block_on(async {
            let logged = self
                .core
                .login(LoginRequest {
                    door: "fuzz",
                    domain: None,
                    username: "admin",
                    password: Zeroizing::new(ADMIN_PASSWORD.into()),
                    kind: LoginKind::Password,
                    policy: self.doors.oauth2.policy.as_str(),
                    require_role: None,
                    scope: None,
                    client: None,
                    detail: String::new(),
                })
                .await
                .ok()?;
            Some(logged.issued.access.token.to_string())
        })
    }

    async fn repair_user(&self) {
        let core = &self.core;
        let _ = core.domain_set_enabled(&Actor::Cli, DEFAULT_DOMAIN, true).await;
        if let Some(c) = add_client(core, PUBLIC_CLIENT, None).await {
            if let Ok(mut slot) = self.public_client.lock() {
                *slot = c;
            }
        }
        add_user(core).await;
        let _ = core.user_set_enabled(&Actor::Cli, None, USER, true).await;
        let _ = core.user_unlock(&Actor::Cli, None, USER).await;
        let _ = core
            .user_passwd(&Actor::Cli, None, USER, Zeroizing::new(USER_PASSWORD.into()))
            .await;
    }
}
