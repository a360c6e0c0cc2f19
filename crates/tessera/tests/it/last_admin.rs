//! Issue 15: the last enabled administrator cannot be disabled, stripped
//! of the system `admin` role, or lose its domain through the admin API
//! (409 saying what to do) or the CLI (unless `--force`); `tessera user
//! enable` always works. Concurrent requests on two server processes
//! cannot leave nobody, on SQLite and on PostgreSQL.

use crate::harness::{backends, Backend, Options, TestServer, ADMIN_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

const BOOTSTRAP: &str = "bootstrap-admin-token-for-last-admin";

fn options(backend: Backend) -> Options {
    Options {
        backend,
        toml: format!(
            "[bootstrap]\nadmin_token = \"{BOOTSTRAP}\"\n[password]\nmemory_kib = 1024\niterations = 1\n"
        ),
        ..Default::default()
    }
}

/// One admin API call on `base` (a node's URL) with bearer `token`: the
/// status and the JSON body (`null` when none).
async fn call(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, format!("{base}{path}")).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

struct Api<'a> {
    server: &'a TestServer,
    token: String,
}

impl Api<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        call(
            &self.server.client,
            &self.server.url(""),
            &self.token,
            method,
            path,
            body,
        )
        .await
    }

    async fn disable(&self, domain: &str, user: &str) -> (u16, Value) {
        self.call(
            Method::PATCH,
            &format!("/v1/admin/users/{domain}/{user}"),
            Some(json!({"enabled": false})),
        )
        .await
    }

    async fn strip(&self, domain: &str, user: &str) -> (u16, Value) {
        self.call(
            Method::DELETE,
            &format!("/v1/admin/assignments?role=admin&user={user}&domain={domain}&system=true"),
            None,
        )
        .await
    }
}

/// A 409 whose message names `who` and says what to do (give someone
/// else the admin role first).
fn last_admin_refusal((status, body): (u16, Value), who: &str) {
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "conflict", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(who) && message.contains("the admin role first"),
        "{message}"
    );
}

#[tokio::test]
async fn the_last_administrator_cannot_be_disabled_stripped_or_lose_its_domain() {
    let server = TestServer::start_with(options(Backend::Sqlite)).await;
    server.add_client("cli", None, &["password"], &[]).await;
    let admin = Api {
        server: &server,
        token: server
            .grant("/oauth/token", "cli", "password", "admin", ADMIN_PASSWORD)
            .await,
    };
    let boot = Api {
        server: &server,
        token: BOOTSTRAP.into(),
    };

    // The only administrator, disabling itself or dropping its role: 409.
    last_admin_refusal(
        admin.disable("local", "admin").await,
        "user \"admin\" of domain \"local\" is the last enabled administrator",
    );
    last_admin_refusal(admin.strip("local", "admin").await, "\"admin\"");
    // The bootstrap token is held to it as well.
    last_admin_refusal(boot.disable("local", "admin").await, "\"admin\"");
    // A merge patch that also sets a password is refused whole: the
    // password is not changed either.
    last_admin_refusal(
        boot.call(
            Method::PATCH,
            "/v1/admin/users/local/admin",
            Some(json!({"enabled": false, "password": "copper-lantern-orbit-5"})),
        )
        .await,
        "\"admin\"",
    );
    server
        .grant("/oauth/token", "cli", "password", "admin", ADMIN_PASSWORD)
        .await;
    // Nothing changed: the administrator still administers.
    assert_eq!(admin.call(Method::GET, "/v1/admin/users", None).await.0, 200);

    // An emergency account holding the role is no administrator (it may
    // use only the emergency grant): still refused.
    let (status, body) = admin
        .call(
            Method::POST,
            "/v1/admin/users",
            Some(
                json!({"name": "break-glass", "roles": ["admin"], "emergency": true,
                        "password": "quiet-harbour-lamp-9"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    last_admin_refusal(admin.disable("local", "admin").await, "\"admin\"");

    // Other users and other roles come and go as before.
    server
        .add_user(None, "bob", "violet-meadow-stone-2", &["read_only"], false)
        .await;
    assert_eq!(admin.disable("local", "bob").await.0, 204);
    let (status, body) = admin
        .call(
            Method::DELETE,
            "/v1/admin/assignments?role=read_only&user=bob&system=true",
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");

    // A second administrator, in another domain: now the first may go ...
    assert_eq!(
        admin
            .call(Method::POST, "/v1/admin/domains", Some(json!({"name": "ops"})))
            .await
            .0,
        201
    );
    let (status, body) = admin
        .call(
            Method::POST,
            "/v1/admin/users",
            Some(json!({"name": "olga", "domain": "ops", "roles": ["admin"],
                        "password": "amber-canyon-falcon-3"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(admin.disable("local", "admin").await.0, 204);
    // ... and then not olga, her role, nor her domain.
    last_admin_refusal(
        boot.disable("ops", "olga").await,
        "user \"olga\" of domain \"ops\" is the last enabled administrator",
    );
    last_admin_refusal(boot.strip("ops", "olga").await, "\"olga\"");
    last_admin_refusal(
        boot.call(
            Method::PATCH,
            "/v1/admin/domains/ops",
            Some(json!({"enabled": false})),
        )
        .await,
        "domain \"ops\" holds the last enabled administrator",
    );

    // Enabling is never refused; with admin back, olga's role may go.
    let (status, body) = boot
        .call(
            Method::PATCH,
            "/v1/admin/users/local/admin",
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(boot.strip("ops", "olga").await.0, 204);
    last_admin_refusal(boot.strip("local", "admin").await, "\"admin\"");
}

#[tokio::test]
async fn the_cli_refuses_the_last_administrator_unless_forced_and_enable_always_works() {
    let server = TestServer::start_with(options(Backend::Sqlite)).await;
    server.add_client("cli", None, &["password"], &[]).await;
    let t = &server;
    t.cli(&["user", "disable", "admin"], None)
        .fails_with("user \"admin\" of domain \"local\" is the last enabled administrator")
        .fails_with("--force");
    t.cli(&["role", "revoke", "admin", "--user", "admin", "--system"], None)
        .fails_with("last enabled administrator")
        .fails_with("--force");
    // Deliberately, on the host: done, and nobody can administer.
    t.cli(&["user", "disable", "admin", "--force"], None).ok();
    let login = |user: &'static str, password: &'static str| async move {
        t.client
            .post(t.url("/oauth/token"))
            .basic_auth("cli", Some(""))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        login("admin", ADMIN_PASSWORD).await,
        400,
        "a disabled administrator"
    );
    // The way back always works.
    t.cli(&["user", "enable", "admin"], None).ok();
    assert_eq!(login("admin", ADMIN_PASSWORD).await, 200);
    t.cli(
        &[
            "role", "revoke", "admin", "--user", "admin", "--system", "--force",
        ],
        None,
    )
    .ok();
    t.cli(&["role", "grant", "admin", "--user", "admin", "--system"], None)
        .ok();

    // A domain holding every administrator: refused, unless --force.
    t.cli(&["domain", "add", "ops"], None).ok();
    t.cli(
        &[
            "user",
            "add",
            "olga",
            "--domain",
            "ops",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("amber-canyon-falcon-3\n"),
    )
    .ok();
    t.cli(&["user", "disable", "admin"], None).ok();
    t.cli(&["domain", "disable", "ops"], None)
        .fails_with("domain \"ops\" holds the last enabled administrator")
        .fails_with("--force");
    t.cli(&["domain", "disable", "ops", "--force"], None).ok();
    t.cli(&["user", "enable", "admin"], None).ok();

    // Every override is in the audit trail, saying so.
    let events = t.cli(&["audit", "--kind", "admin_change", "--json"], None);
    let text = events.ok().stdout.clone();
    assert_eq!(
        text.matches("last-administrator guard overridden").count(),
        3,
        "{text}"
    );
}

/// Two administrators, and two `tessera serve` processes on one store
/// taking them away at the same time, many times over: each round leaves
/// at least one, whichever node each request reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_disables_and_strips_on_two_processes_leave_an_administrator() {
    for backend in backends() {
        let a = TestServer::start_with(options(backend)).await;
        a.add_user(None, "second", "wooden-lantern-river-4", &["admin"], false)
            .await;
        let b = a.process_peer().await;
        let nodes = [(a.client.clone(), a.url("")), (b.client.clone(), b.url(""))];
        let mut refusals = 0;
        for round in 0..16 {
            for user in ["admin", "second"] {
                let (status, body) = call(
                    &nodes[0].0,
                    &nodes[0].1,
                    BOOTSTRAP,
                    Method::PATCH,
                    &format!("/v1/admin/users/local/{user}"),
                    Some(json!({"enabled": true})),
                )
                .await;
                assert_eq!(status, 204, "{backend:?}: {body}");
                let (status, body) = call(
                    &nodes[0].0,
                    &nodes[0].1,
                    BOOTSTRAP,
                    Method::POST,
                    "/v1/admin/assignments",
                    Some(json!({"role": "admin", "user": user, "system": true})),
                )
                .await;
                assert!(status == 201 || status == 409, "{backend:?}: {status} {body}");
            }
            // Four requests at once, two through each process: disable
            // or strip each administrator.
            let mut calls = Vec::new();
            for (i, user) in ["admin", "second", "second", "admin"].into_iter().enumerate() {
                let (client, base) = nodes[i % 2].clone();
                let strip = (i + round) % 3 == 0;
                calls.push(tokio::spawn(async move {
                    let (method, path, body) = if strip {
                        (
                            Method::DELETE,
                            format!("/v1/admin/assignments?role=admin&user={user}&system=true"),
                            None,
                        )
                    } else {
                        (
                            Method::PATCH,
                            format!("/v1/admin/users/local/{user}"),
                            Some(json!({"enabled": false})),
                        )
                    };
                    call(&client, &base, BOOTSTRAP, method, &path, body).await
                }));
            }
            for c in calls {
                let (status, body) = c.await.unwrap();
                // 404: the other request for the same user stripped the role first.
                assert!(
                    [204, 404, 409].contains(&status),
                    "{backend:?}, round {round}: {status} {body}"
                );
                refusals += usize::from(status == 409);
            }
            let (status, users) = call(
                &nodes[1].0,
                &nodes[1].1,
                BOOTSTRAP,
                Method::GET,
                "/v1/admin/users",
                None,
            )
            .await;
            assert_eq!(status, 200);
            let admins: Vec<&str> = users["users"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|u| {
                    u["enabled"] == true
                        && u["roles"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|r| r["name"] == "admin" && r["scope"] == "system")
                })
                .map(|u| u["name"].as_str().unwrap())
                .collect();
            assert!(
                !admins.is_empty(),
                "{backend:?}, round {round}: no enabled administrator left: {users}"
            );
        }
        assert!(
            refusals >= 16,
            "{backend:?}: every round refused something ({refusals})"
        );
        b.stop().await;
        a.halt().await;
    }
}
