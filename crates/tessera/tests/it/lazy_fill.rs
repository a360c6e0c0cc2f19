//! The session cache is filled lazily (issue 13): a restarted node is
//! ready holding no session and reads each from the store on its first
//! use; and a revocation racing those fills, on the same node or on
//! another node of the same store, never leaves the revoked token cached.

use crate::harness::{backends, Options, TestServer};
use futures_util::future::join_all;
use std::time::{Duration, Instant};

async fn client_token(client: &reqwest::Client, url: &str) -> String {
    let res = client
        .post(url)
        .basic_auth("robot", Some("robot-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn status(client: &reqwest::Client, url: &str, token: &str) -> u16 {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `tessera_node_cached_sessions` from `/metrics`.
async fn cached_sessions(server: &TestServer) -> f64 {
    let text = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("tessera_node_cached_sessions "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_is_ready_holding_no_session_and_fills_on_first_use() {
    let server = TestServer::start_with(Options {
        backend: backends()[0],
        ..Default::default()
    })
    .await;
    server
        .add_client("robot", Some("robot-secret"), &["client_credentials"], &[])
        .await;
    let token_url = server.url("/oauth/token");
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(client_token(&server.client, &token_url).await);
    }
    let server = server.halt().await.boot().await;
    let ready = server.client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(cached_sessions(&server).await, 0.0, "a restart loads no session");
    let whoami = server.url("/v1/auth/whoami");
    for t in &tokens[..5] {
        assert_eq!(status(&server.client, &whoami, t).await, 200);
    }
    assert_eq!(
        cached_sessions(&server).await,
        5.0,
        "only the sessions used are cached"
    );
    server.halt().await;
}

/// Per token: many concurrent checks on node B (whose cache does not hold
/// the token, so each may fill it) racing a logout, on B itself for even
/// tokens and on A for odd ones. Once the logout is answered (and, from
/// A, has reached B), every later check on B is refused, now and later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_racing_cache_fills_never_leaves_the_token_cached() {
    for backend in backends() {
        let a = TestServer::start_with(Options {
            backend,
            ..Default::default()
        })
        .await;
        a.add_client("robot", Some("robot-secret"), &["client_credentials"], &[])
            .await;
        let b = a.peer().await;
        let token_url = a.url("/oauth/token");
        for round in 0..24 {
            let token = client_token(&a.client, &token_url).await;
            let whoami_b = b.url("/v1/auth/whoami");
            let (via, logout) = if round % 2 == 0 {
                (&b.client, b.url("/v1/auth/logout"))
            } else {
                (&a.client, a.url("/v1/auth/logout"))
            };
            let checks = (0..48).map(|_| status(&b.client, &whoami_b, &token));
            let revoke = async {
                let res = via.post(&logout).bearer_auth(&token).send().await.unwrap();
                assert_eq!(res.status(), 200, "{backend:?} round {round}: logout");
            };
            let (answers, ()) = tokio::join!(join_all(checks), revoke);
            assert!(
                answers.iter().all(|s| *s == 200 || *s == 401),
                "{backend:?} round {round}: {answers:?}"
            );
            // From A, the revocation reaches B through the invalidation log.
            let start = Instant::now();
            while status(&b.client, &whoami_b, &token).await != 401 {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "{backend:?} round {round}: B still accepts the revoked token"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            for pause in [0, 50, 300] {
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let later = join_all((0..8).map(|_| status(&b.client, &whoami_b, &token))).await;
                assert!(
                    later.iter().all(|s| *s == 401),
                    "{backend:?} round {round}: a revoked token was answered {later:?} {pause} ms after it was refused"
                );
            }
        }
        b.stop().await;
        a.halt().await;
    }
}
