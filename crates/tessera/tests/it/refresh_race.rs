//! Refresh rotation under concurrency, on two nodes sharing one store
//! (SQLite and PostgreSQL): the token writes of many grants land together
//! in one batch (`tessera_store::batch`), and each grant must still get
//! its own, correct outcome.
//!
//! - One refresh token presented many times at once, on both nodes: one
//!   grant wins, every other is refused (`invalid_grant`), never two new
//!   token pairs for one presented token.
//! - Many logins rotating at once, on both nodes, round after round: every
//!   rotation succeeds, and every new pair is the one that works next (a
//!   batch that mixed rows up would hand a login another's token, or
//!   refuse it).

use crate::harness::{backends, Backend, Node, Options, TestServer, ADMIN_PASSWORD};
use futures_util::future::join_all;
use serde_json::Value;

/// A refresh_token grant at `base` (a node's URL) through the public client.
async fn refresh(client: &reqwest::Client, base: &str, token: &str) -> (u16, Value) {
    let res = client
        .post(format!("{base}/oauth/token"))
        .basic_auth("cli", Some(""))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A password login; its refresh token.
async fn login(server: &TestServer) -> String {
    let res = server
        .client
        .post(server.url("/oauth/token"))
        .basic_auth("cli", Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token: {body}"))
        .to_owned()
}

/// Two nodes on one store of `backend`, with the public client `cli`.
async fn two_nodes(backend: Backend) -> (TestServer, Node) {
    let a = TestServer::start_with(Options {
        backend,
        ..Default::default()
    })
    .await;
    a.add_client("cli", None, &["password", "refresh_token"], &[])
        .await;
    let b = a.peer().await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_token_presented_at_once_on_two_nodes_is_rotated_once() {
    for backend in backends() {
        let (a, b) = two_nodes(backend).await;
        let (base_a, base_b) = (a.url(""), b.url(""));
        for round in 0..3 {
            let token = login(&a).await;
            let tries = (0..24).map(|i| {
                let (client, base) = if i % 2 == 0 {
                    (&a.client, &base_a)
                } else {
                    (&b.client, &base_b)
                };
                refresh(client, base, &token)
            });
            let answers = join_all(tries).await;
            let won = answers.iter().filter(|(s, _)| *s == 200).count();
            assert_eq!(
                won, 1,
                "{backend:?} round {round}: {won} of 24 grants won: {answers:?}"
            );
            for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
                assert_eq!(*status, 400, "{backend:?}: {body}");
                assert_eq!(body["error"], "invalid_grant", "{backend:?}: {body}");
            }
        }
        b.stop().await;
        a.halt().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_logins_rotating_at_once_on_two_nodes_each_get_their_own_next_token() {
    const LOGINS: usize = 40;
    for backend in backends() {
        let (a, b) = two_nodes(backend).await;
        let (base_a, base_b) = (a.url(""), b.url(""));
        let mut tokens = Vec::new();
        for _ in 0..LOGINS {
            tokens.push(login(&a).await);
        }
        for round in 0..4 {
            let grants = tokens.iter().enumerate().map(|(i, token)| {
                let (client, base) = if (i + round) % 2 == 0 {
                    (&a.client, &base_a)
                } else {
                    (&b.client, &base_b)
                };
                refresh(client, base, token)
            });
            let answers = join_all(grants).await;
            let mut next = Vec::new();
            for (i, (status, body)) in answers.into_iter().enumerate() {
                assert_eq!(status, 200, "{backend:?} round {round}, login {i}: {body}");
                let access = body["access_token"].as_str().unwrap();
                // The new access token works, on the other node too.
                let other = if (i + round) % 2 == 0 {
                    (&b.client, &base_b)
                } else {
                    (&a.client, &base_a)
                };
                let whoami = other
                    .0
                    .get(format!("{}/v1/auth/whoami", other.1))
                    .bearer_auth(access)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(whoami.status(), 200, "{backend:?} round {round}, login {i}");
                next.push(body["refresh_token"].as_str().unwrap().to_owned());
            }
            // Every login moved on: the tokens just presented are spent.
            let (status, _) = refresh(&a.client, &base_a, &tokens[0]).await;
            assert_eq!(status, 400, "{backend:?}: a spent refresh token was accepted");
            tokens = next;
            // That replay ended login 0 (RFC 9700 §4.14.2); the others go on.
            tokens.remove(0);
            if tokens.is_empty() {
                break;
            }
        }
        b.stop().await;
        a.halt().await;
    }
}
