//! `GET /metrics` (docs/metrics.md): logins, token checks, lockouts and
//! gateway upstream errors move the counters a Prometheus scrape reads.

use crate::harness::{Options, TestServer, ADMIN_PASSWORD};
use crate::upstream::{closed_port, Upstream};
use std::collections::HashMap;

/// One scrape: series (name and labels, as written) to value.
struct Scrape(HashMap<String, f64>);

impl Scrape {
    async fn of(server: &TestServer) -> Scrape {
        let res = server.client.get(server.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/plain; version=0.0.4");
        let text = res.text().await.unwrap();
        let mut series = HashMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let (name, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            let value: f64 = value.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert!(series.insert(name.to_owned(), value).is_none(), "{name} twice");
        }
        Scrape(series)
    }

    fn get(&self, series: &str) -> f64 {
        *self
            .0
            .get(series)
            .unwrap_or_else(|| panic!("no series {series} in {:?}", self.0.keys()))
    }
}

fn logins(door: &str, outcome: &str) -> String {
    format!("tessera_logins_total{{door=\"{door}\",outcome=\"{outcome}\"}}")
}

fn checks(outcome: &str) -> String {
    format!("tessera_token_checks_total{{outcome=\"{outcome}\"}}")
}

async fn oauth2_login(server: &TestServer, user: &str, password: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/oauth/token"))
        .basic_auth("simplivity", Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

async fn whoami(server: &TestServer, token: &str) -> reqwest::StatusCode {
    server
        .client
        .get(server.url("/v1/auth/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn logins_token_checks_and_lockouts_move_the_counters() {
    let server = TestServer::start_with(Options {
        toml: "[lockout]\nmax_failed_logins = 2\n".into(),
        ..Default::default()
    })
    .await;
    server.add_client("simplivity", None, &["password"], &[]).await;
    server
        .add_user(None, "alice", "Lagoon-Fennel-81", &[], false)
        .await;

    let before = Scrape::of(&server).await;
    for outcome in ["success", "invalid_credentials", "locked", "disabled", "error"] {
        assert_eq!(before.get(&logins("oauth2", outcome)), 0.0, "{outcome}");
    }
    assert_eq!(before.get(&checks("valid")), 0.0);
    assert_eq!(before.get("tessera_lockouts_total"), 0.0);

    // One good login, then two wrong passwords, the second of which locks
    // alice; her right password is then refused as locked.
    let res = oauth2_login(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        assert_eq!(oauth2_login(&server, "alice", "wrong").await.status(), 400);
    }
    assert_eq!(
        oauth2_login(&server, "alice", "Lagoon-Fennel-81").await.status(),
        400
    );
    // A login through another door is labelled with it.
    let res = server
        .client
        .get(server.url("/login"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // One valid token check and one of a token never issued.
    assert_eq!(whoami(&server, &token).await, 200);
    assert_eq!(
        whoami(&server, "tsa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await,
        401
    );

    let after = Scrape::of(&server).await;
    assert_eq!(after.get(&logins("oauth2", "success")), 1.0);
    assert_eq!(after.get(&logins("oauth2", "invalid_credentials")), 2.0);
    assert_eq!(after.get(&logins("oauth2", "locked")), 1.0);
    assert_eq!(after.get(&logins("oauth2", "error")), 0.0);
    assert_eq!(after.get(&logins("header-login", "invalid_credentials")), 1.0);
    assert_eq!(after.get("tessera_login_seconds_count"), 5.0);
    assert!(after.get("tessera_login_seconds_sum") > 0.0);
    assert_eq!(after.get("tessera_lockouts_total"), 1.0);
    assert_eq!(after.get(&checks("valid")), 1.0);
    assert_eq!(after.get(&checks("unknown")), 1.0);
    assert_eq!(after.get(&checks("revoked")), 0.0);
    assert_eq!(after.get("tessera_token_check_seconds_count"), 2.0);
    assert_eq!(after.get("tessera_token_check_seconds_bucket{le=\"+Inf\"}"), 2.0);
    assert!(
        after.get("tessera_node_cached_sessions") >= 1.0,
        "the admin's token was cached when issued"
    );
    assert_eq!(
        after.get("tessera_gateway_upstream_errors_total{kind=\"unreachable\"}"),
        0.0
    );
}

fn gateway_toml(upstream: &str) -> String {
    format!(
        "[gateway]\nupstream = \"{upstream}\"\ntimeout = \"1s\"\n\
         [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/**\"\nallow = [\"anonymous\"]\n"
    )
}

#[tokio::test]
async fn gateway_upstream_errors_are_counted_by_kind() {
    let port = closed_port().await;
    let server = TestServer::start_with(Options {
        toml: gateway_toml(&format!("http://127.0.0.1:{port}")),
        ..Default::default()
    })
    .await;
    let res = server.client.get(server.url("/api/x")).send().await.unwrap();
    assert_eq!(res.status(), 502);
    let scrape = Scrape::of(&server).await;
    assert_eq!(
        scrape.get("tessera_gateway_upstream_errors_total{kind=\"unreachable\"}"),
        1.0
    );
    assert_eq!(
        scrape.get("tessera_gateway_upstream_errors_total{kind=\"timeout\"}"),
        0.0
    );

    let upstream = Upstream::start().await;
    let server = TestServer::start_with(Options {
        toml: gateway_toml(&upstream.url()),
        ..Default::default()
    })
    .await;
    let res = server.client.get(server.url("/slow")).send().await.unwrap();
    assert_eq!(res.status(), 504);
    let scrape = Scrape::of(&server).await;
    assert_eq!(
        scrape.get("tessera_gateway_upstream_errors_total{kind=\"timeout\"}"),
        1.0
    );
    assert_eq!(
        scrape.get("tessera_gateway_upstream_errors_total{kind=\"unreachable\"}"),
        0.0
    );
}

/// A client that breaks its upload off is told so (400) and is not
/// counted, or logged, as an upstream failure.
#[tokio::test]
async fn a_client_breaking_off_its_upload_is_not_an_upstream_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = Upstream::start().await;
    let server = TestServer::start_with(Options {
        toml: format!(
            "{}[[gateway.rules]]\nmethods = [\"POST\"]\npath = \"/upload\"\nallow = [\"anonymous\"]\n",
            gateway_toml(&upstream.url())
        ),
        tls: false,
        ..Default::default()
    })
    .await;
    let addr = server.url("").trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n0123456789")
        .await
        .unwrap();
    // Ten bytes of a million, then the client's side closes.
    tcp.shutdown().await.unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_string(&mut answer),
    )
    .await
    .expect("an answer or a close within 10 s");
    // The read side is still open: the answer arrives.
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("broke off"), "{answer}");
    let scrape = Scrape::of(&server).await;
    assert_eq!(
        scrape.get("tessera_gateway_upstream_errors_total{kind=\"unreachable\"}"),
        0.0
    );
    assert_eq!(
        scrape.get("tessera_gateway_upstream_errors_total{kind=\"timeout\"}"),
        0.0
    );
}
