//! The admin API (`/v1/admin/`): everything the CLI can do, for system
//! administrators and the bootstrap admin token.

use crate::harness::{Options, TestServer, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const BOOTSTRAP: &str = "bootstrap-admin-token-for-tests";

async fn server() -> TestServer {
    let server = TestServer::start_with(Options {
        toml: format!(
            "[bootstrap]\nadmin_token = \"{BOOTSTRAP}\"\n[password]\nmemory_kib = 1024\niterations = 1\n"
        ),
        ..Default::default()
    })
    .await;
    server.add_client("cli", None, &["password"], &[]).await;
    server
}

async fn login(server: &TestServer, user: &str, password: &str) -> String {
    server
        .grant("/oauth/token", "cli", "password", user, password)
        .await
}

struct Api<'a> {
    server: &'a TestServer,
    token: String,
}

impl Api<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .server
            .client
            .request(method, self.server.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn only_system_administrators_and_the_bootstrap_token_get_in() {
    let server = server().await;
    server.add_user(None, "bob", "Kettle-Harbor-51", &[], false).await;
    let bob = Api {
        server: &server,
        token: login(&server, "bob", "Kettle-Harbor-51").await,
    };
    assert_eq!(bob.call(Method::GET, "/v1/admin/users", None).await.0, 403);
    let res = server
        .client
        .get(server.url("/v1/admin/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let admin = Api {
        server: &server,
        token: login(&server, "admin", ADMIN_PASSWORD).await,
    };
    assert_eq!(admin.call(Method::GET, "/v1/admin/users", None).await.0, 200);
    let boot = Api {
        server: &server,
        token: BOOTSTRAP.into(),
    };
    let (status, users) = boot.call(Method::GET, "/v1/admin/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(users["users"].as_array().unwrap().len(), 2);
    // Every use of the bootstrap token is audited.
    let (_, events) = admin
        .call(Method::GET, "/v1/admin/audit?kind=admin_token_used", None)
        .await;
    assert_eq!(events["events"][0]["detail"], "GET /v1/admin/users");
}

/// Seed 000: an emergency token reaches only the emergency operations,
/// even when its account holds the system `admin` role.
#[tokio::test]
async fn an_emergency_token_never_reaches_the_admin_api() {
    let server = server().await;
    server
        .add_client("break-glass-cli", None, &["emergency"], &[])
        .await;
    server
        .add_user(None, "svtcli", "Quiet-Lantern-Orbit-27", &["admin"], true)
        .await;
    let emergency = Api {
        server: &server,
        token: server
            .grant(
                "/oauth/token",
                "break-glass-cli",
                "emergency",
                "svtcli",
                "Quiet-Lantern-Orbit-27",
            )
            .await,
    };
    for (method, path, body) in [
        (Method::GET, "/v1/admin/users", None),
        (
            Method::POST,
            "/v1/admin/users",
            Some(json!({"name": "mallory", "roles": ["admin"], "password": "Copper-Violet-Canyon-8"})),
        ),
    ] {
        let (status, body) = emergency.call(method, path, body).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body["message"].as_str().unwrap_or("").contains("emergency"),
            "{body}"
        );
    }
    let boot = Api {
        server: &server,
        token: BOOTSTRAP.into(),
    };
    let (_, users) = boot.call(Method::GET, "/v1/admin/users", None).await;
    assert!(!users.to_string().contains("mallory"), "{users}");
}

#[tokio::test]
async fn users_domains_roles_and_assignments() {
    let server = server().await;
    let admin = Api {
        server: &server,
        token: login(&server, "admin", ADMIN_PASSWORD).await,
    };
    let (status, d) = admin
        .call(
            Method::POST,
            "/v1/admin/domains",
            Some(json!({"name": "sdn", "description": "SDN"})),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(
        admin
            .call(Method::POST, "/v1/admin/domains", Some(json!({"name": "SDN"})))
            .await
            .0,
        409
    );
    let (status, r) = admin
        .call(
            Method::POST,
            "/v1/admin/roles",
            Some(json!({"name": "sdn-admin"})),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    let (status, created) = admin
        .call(
            Method::POST,
            "/v1/admin/users",
            Some(json!({"name": "sdn", "domain": "sdn", "domain_roles": ["sdn-admin"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let password = created["generated_password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 20);
    let (_, page) = admin.call(Method::GET, "/v1/admin/users?domain=sdn", None).await;
    assert_eq!(
        page["users"][0]["roles"][0],
        json!({"name": "sdn-admin", "scope": "sdn"})
    );
    let (_, first) = admin.call(Method::GET, "/v1/admin/users?limit=1", None).await;
    assert_eq!(
        (
            first["users"].as_array().unwrap().len(),
            first["next_offset"].as_u64()
        ),
        (1, Some(1))
    );

    // Grant and revoke a system role.
    let grant = json!({"role": "read_only", "user": "sdn", "domain": "sdn", "system": true});
    assert_eq!(
        admin
            .call(Method::POST, "/v1/admin/assignments", Some(grant.clone()))
            .await
            .0,
        201
    );
    assert_eq!(
        admin
            .call(Method::POST, "/v1/admin/assignments", Some(grant))
            .await
            .0,
        409
    );
    let (status, _) = admin
        .call(
            Method::DELETE,
            "/v1/admin/assignments?role=read_only&user=sdn&domain=sdn&system=true",
            None,
        )
        .await;
    assert_eq!(status, 204);

    // Disable the user: its token is refused; enable and reset the password.
    server.add_client("sdn-cli", None, &["password"], &[]).await;
    let token = {
        let res = server
            .client
            .post(server.url("/oauth/token"))
            .basic_auth("cli", Some(""))
            .form(&[
                ("grant_type", "password"),
                ("username", "sdn"),
                ("password", &password),
                ("realm", "sdn"),
            ])
            .send()
            .await
            .unwrap();
        res.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let whoami = |t: String| {
        let server = &server;
        async move {
            server
                .client
                .get(server.url("/v1/auth/whoami"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(whoami(token.clone()).await, 200);
    assert_eq!(
        admin
            .call(
                Method::PATCH,
                "/v1/admin/users/sdn/sdn",
                Some(json!({"enabled": false}))
            )
            .await
            .0,
        204
    );
    assert_eq!(whoami(token.clone()).await, 401);
    let (status, _) = admin
        .call(
            Method::PATCH,
            "/v1/admin/users/sdn/sdn",
            Some(json!({"enabled": true, "password": "fresh-password"})),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        admin
            .call(Method::POST, "/v1/admin/users/sdn/sdn/unlock", None)
            .await
            .0,
        204
    );
    assert_eq!(
        admin
            .call(
                Method::PATCH,
                "/v1/admin/domains/sdn",
                Some(json!({"enabled": false}))
            )
            .await
            .0,
        200
    );
    let (_, domains) = admin.call(Method::GET, "/v1/admin/domains", None).await;
    assert_eq!(domains["domains"][1]["enabled"], false);

    // Bad input names what to fix.
    let (status, err) = admin
        .call(
            Method::POST,
            "/v1/admin/users",
            Some(json!({"name": "x", "rolez": []})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().contains("rolez"), "{err}");
    let (status, err) = admin
        .call(
            Method::PATCH,
            "/v1/admin/users/local/ghost",
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, 404, "{err}");
    let (status, _) = admin.call(Method::GET, "/v1/admin/users?colour=blue", None).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn clients_sessions_and_the_audit_trail() {
    let server = server().await;
    let admin = Api {
        server: &server,
        token: login(&server, "admin", ADMIN_PASSWORD).await,
    };
    let (status, c) = admin
        .call(
            Method::POST,
            "/v1/admin/clients",
            Some(json!({"id": "robot", "grants": ["client_credentials"], "roles": ["read_only"]})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let secret = c["generated_secret"].as_str().unwrap().to_owned();
    let res = server
        .client
        .post(server.url("/oauth/token"))
        .basic_auth("robot", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, clients) = admin.call(Method::GET, "/v1/admin/clients", None).await;
    assert!(clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "robot"));
    assert!(!clients.to_string().contains(&secret));

    // Sessions: list one user's, revoke one, revoke all.
    server.add_user(None, "bob", "Kettle-Harbor-51", &[], false).await;
    let (t1, t2) = (
        login(&server, "bob", "Kettle-Harbor-51").await,
        login(&server, "bob", "Kettle-Harbor-51").await,
    );
    let (_, list) = admin.call(Method::GET, "/v1/admin/sessions?user=bob", None).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(!list.to_string().contains(&t1), "listings never show tokens");
    let id = sessions[0]["id"].as_str().unwrap();
    assert_eq!(
        admin
            .call(Method::DELETE, &format!("/v1/admin/sessions/{id}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        admin
            .call(Method::DELETE, &format!("/v1/admin/sessions/{id}"), None)
            .await
            .0,
        404
    );
    let (status, n) = admin
        .call(Method::DELETE, "/v1/admin/users/local/bob/sessions", None)
        .await;
    assert_eq!((status, n["revoked"].as_u64()), (StatusCode::OK, Some(1)));
    for t in [t1, t2] {
        let res = server
            .client
            .get(server.url("/v1/auth/whoami"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let (_, page) = admin.call(Method::GET, "/v1/admin/sessions?limit=1", None).await;
    assert!(page["next_after"].is_string());

    // The audit trail: by user, by kind, by time, paged.
    let (_, bob_events) = admin.call(Method::GET, "/v1/admin/audit?user=bob", None).await;
    let kinds: Vec<&str> = bob_events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"login_succeeded") && kinds.contains(&"token_revoked"),
        "{kinds:?}"
    );
    let (_, logins) = admin
        .call(Method::GET, "/v1/admin/audit?kind=login_succeeded&limit=2", None)
        .await;
    assert_eq!(logins["events"].as_array().unwrap().len(), 2);
    let before = logins["next_before"].as_i64().unwrap();
    let (_, older) = admin
        .call(
            Method::GET,
            &format!("/v1/admin/audit?kind=login_succeeded&before={before}"),
            None,
        )
        .await;
    assert!(older["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["id"].as_i64().unwrap() < before));
    let future = server.clock.now_ms() + 1000;
    let (_, none) = admin
        .call(Method::GET, &format!("/v1/admin/audit?since={future}"), None)
        .await;
    assert!(none["events"].as_array().unwrap().is_empty());
    let (status, err) = admin
        .call(Method::GET, "/v1/admin/audit?kind=everything", None)
        .await;
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().contains("login_failed"));
    assert_eq!(
        admin
            .call(Method::GET, "/v1/admin/audit?since=yesterday", None)
            .await
            .0,
        400
    );
    assert_eq!(
        admin
            .call(Method::DELETE, "/v1/admin/clients/robot", None)
            .await
            .0,
        204
    );
}

#[tokio::test]
async fn metrics_need_an_administrator_unless_scraped_from_this_host() {
    use tower::ServiceExt;
    let server = server().await;
    let app = tessera_http::app(
        tessera_http::AppState::new(server.core().clone(), server.doors().clone()).unwrap(),
    );
    let from = |ip: [u8; 4], token: Option<&str>| {
        let mut req = axum::http::Request::get("/metrics");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut req = req.body(axum::body::Body::empty()).unwrap();
        req.extensions_mut().insert(tessera_http::ConnInfo {
            remote: std::net::SocketAddr::from((ip, 40000)),
            tls: true,
        });
        app.clone().oneshot(req)
    };
    assert_eq!(from([127, 0, 0, 1], None).await.unwrap().status(), 200);
    assert_eq!(from([10, 1, 2, 3], None).await.unwrap().status(), 401);
    server.add_user(None, "bob", "Kettle-Harbor-51", &[], false).await;
    let bob = login(&server, "bob", "Kettle-Harbor-51").await;
    assert_eq!(from([10, 1, 2, 3], Some(&bob)).await.unwrap().status(), 403);
    let admin = login(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(from([10, 1, 2, 3], Some(&admin)).await.unwrap().status(), 200);
}
