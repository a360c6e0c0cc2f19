//! The gateway in front of an API that serves HTTPS only (issue 14): the
//! upstream's certificate verified against `[gateway] upstream_ca_file`
//! (or the system's roots), SNI from the upstream's host name, and a
//! certificate it cannot trust answered with a clear 502 and a log line,
//! never a hang.

use crate::harness::{Options, TestServer};
use crate::upstream::Upstream;
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn toml(upstream: &Upstream, ca_file: Option<&std::path::Path>) -> String {
    let ca = ca_file
        .map(|p| format!("upstream_ca_file = {:?}\n", p.display().to_string()))
        .unwrap_or_default();
    format!(
        "[gateway]\nupstream = \"https://localhost:{port}\"\n{ca}timeout = \"5s\"\n\
         [[gateway.rules]]\nmethods = [\"*\"]\npath = \"/api/**\"\nallow = [\"authenticated\"]\n\
         [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/public/**\"\nallow = [\"anonymous\"]\n",
        port = upstream.addr.port()
    )
}

#[tokio::test]
async fn an_https_upstream_answers_through_the_gateway_verified_by_its_ca_file() {
    let (upstream, ca_pem) = Upstream::start_tls().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("upstream-ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let server = TestServer::start_with(Options {
        toml: toml(&upstream, Some(&ca)),
        ..Default::default()
    })
    .await;
    server.add_client("cli", None, &["password"], &[]).await;
    server.add_user(None, "bob", "Kettle-Harbor-51", &[], false).await;
    let token = server
        .grant("/oauth/token", "cli", "password", "bob", "Kettle-Harbor-51")
        .await;
    let res = server
        .client
        .post(server.url("/api/hosts?page=2"))
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["method"], "POST", "{seen}");
    assert_eq!(seen["path"], "/api/hosts", "{seen}");
    assert_eq!(seen["query"], "page=2", "{seen}");
    assert_eq!(seen["headers"]["x-tessera-user"], "bob", "{seen}");
    assert_eq!(
        seen["headers"]["host"],
        format!("localhost:{}", upstream.addr.port()),
        "{seen}"
    );
    assert!(seen["headers"].get("authorization").is_none(), "{seen}");
    // The TLS client named the host it wanted (SNI), and the connection
    // is reused for the next request.
    let res = server.client.get(server.url("/public/x")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let seen = upstream.seen();
    assert_eq!(seen[0], "sni:localhost", "{seen:?}");
    assert_eq!(
        seen.iter().filter(|s| s.starts_with("sni:")).count(),
        1,
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_a_clear_502_not_a_hang() {
    let (upstream, _) = Upstream::start_tls().await;
    let (_other, other_ca) = Upstream::start_tls().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("other-ca.pem");
    std::fs::write(&ca, other_ca).unwrap();
    let server = TestServer::start_with(Options {
        toml: toml(&upstream, Some(&ca)),
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let res = server.client.get(server.url("/public/x")).send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "bad_gateway", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("certificate"), "{message}");
    assert!(message.contains("upstream_ca_file"), "{message}");
    assert!(
        upstream.seen().iter().all(|s| s.starts_with("sni:")),
        "a request got through"
    );
}

#[tokio::test]
async fn without_a_ca_file_the_system_roots_decide_and_the_refusal_is_logged() {
    // The test CA is in no system store: `tessera serve` must refuse the
    // upstream, say so in its log, and answer 502.
    let (upstream, _) = Upstream::start_tls().await;
    let server = TestServer::start_with(Options {
        toml: toml(&upstream, None),
        tls: false,
        ..Default::default()
    })
    .await;
    let log = server.dir.path().join("serve.log");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.arg("--config")
        .arg(&server.config_path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(server.dir.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true);
    for var in tessera::config::NAMED_ENV {
        cmd.env_remove(var);
    }
    let mut child = cmd.spawn().unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(90), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("tessera listening on ") {
                return url.trim().trim_end_matches('/').to_owned();
            }
        }
        panic!("tessera serve ended without listening");
    })
    .await
    .unwrap();
    let res = reqwest::Client::new()
        .get(format!("{base}/public/x"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let message = res.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("not trusted"), "{message}");
    // The log line is written by the logging thread, maybe a moment after
    // the answer: wait for it (at most 5 s) before stopping the server.
    let wanted = |logged: &str| {
        logged.contains("upstream TLS failed")
            && logged.contains(&format!("localhost:{}", upstream.addr.port()))
    };
    let mut logged = String::new();
    for _ in 0..100 {
        logged = std::fs::read_to_string(&log).unwrap();
        if wanted(&logged) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    assert!(wanted(&logged), "{logged}");
}
