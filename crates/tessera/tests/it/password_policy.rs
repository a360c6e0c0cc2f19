//! `[password]` policy (issue 15): every path that sets a password (the
//! admin API, the self-service change, `tessera user add` and `user
//! passwd`, the first admin) refuses a short, common or own-name password
//! with a 400 (or one `error:` line) saying what to change; a hash stored
//! before keeps working at login.

use crate::harness::{Options, TestServer, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const FAST_HASHES: &str = "[password]\nmemory_kib = 1024\niterations = 1\n";
/// A password every check accepts for carolanne.
const GOOD: &str = "Lantern-Orchard-58";

/// Refused passwords for a user called `carolanne`, and what the refusal
/// says.
const WEAK: [(&str, &str); 5] = [
    ("x", "password must be at least 8 characters"),
    (" ", "password must be at least 8 characters"),
    (
        "password",
        "password is among the most common passwords; choose another",
    ),
    ("CarolAnne", "password must not be the user name"),
    ("my-CAROLANNE-is-long", "password must not contain the user name"),
];

async fn server(extra: &str) -> TestServer {
    let server = TestServer::start_with(Options {
        toml: format!("{FAST_HASHES}{extra}"),
        ..Default::default()
    })
    .await;
    server.add_client("cli", None, &["password"], &[]).await;
    server
}

async fn call(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let res = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The status of a password grant for `user`.
async fn login_status(server: &TestServer, user: &str, password: &str) -> StatusCode {
    server
        .client
        .post(server.url("/oauth/token"))
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
}

#[tokio::test]
async fn the_admin_api_refuses_weak_passwords_saying_what_to_change() {
    let server = server("").await;
    let admin = server
        .grant("/oauth/token", "cli", "password", "admin", ADMIN_PASSWORD)
        .await;
    for (weak, why) in WEAK {
        let (status, body) = call(
            &server,
            &admin,
            Method::POST,
            "/v1/admin/users",
            json!({"name": "carolanne", "password": weak}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{weak:?}: {body}");
        assert_eq!(body["message"], why, "{weak:?}: {body}");
    }
    let (status, body) = call(
        &server,
        &admin,
        Method::POST,
        "/v1/admin/users",
        json!({"name": "carolanne", "password": GOOD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // An administrator's reset is held to the same policy, and a refused
    // one changes nothing.
    for (weak, why) in WEAK {
        let (status, body) = call(
            &server,
            &admin,
            Method::PATCH,
            "/v1/admin/users/local/carolanne",
            json!({"password": weak}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{weak:?}: {body}");
        assert_eq!(body["message"], why, "{weak:?}: {body}");
    }
    assert_eq!(login_status(&server, "carolanne", GOOD).await, StatusCode::OK);
    let (status, body) = call(
        &server,
        &admin,
        Method::PATCH,
        "/v1/admin/users/local/carolanne",
        json!({"password": "Second-Orchard-77"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        login_status(&server, "carolanne", "Second-Orchard-77").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_self_service_change_refuses_weak_passwords() {
    let server = server("").await;
    server.add_user(None, "carolanne", GOOD, &[], false).await;
    let token = server
        .grant("/oauth/token", "cli", "password", "carolanne", GOOD)
        .await;
    for (weak, why) in WEAK {
        let (status, body) = call(
            &server,
            &token,
            Method::POST,
            "/v1/users/me/password",
            json!({"password": weak, "current_password": GOOD}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{weak:?}: {body}");
        assert_eq!(body["message"], why, "{weak:?}: {body}");
    }
    assert_eq!(login_status(&server, "carolanne", GOOD).await, StatusCode::OK);
    let (status, body) = call(
        &server,
        &token,
        Method::POST,
        "/v1/users/me/password",
        json!({"password": "Second-Orchard-77", "current_password": GOOD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        login_status(&server, "carolanne", "Second-Orchard-77").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn tessera_user_add_and_passwd_refuse_weak_passwords_from_stdin() {
    let server = TestServer::configure(&Options {
        toml: FAST_HASHES.into(),
        ..Default::default()
    })
    .await;
    server.cli(&["init"], None).ok();
    for (weak, why) in WEAK {
        let out = server.cli(
            &["user", "add", "carolanne", "--password-stdin"],
            Some(&format!("{weak}\n")),
        );
        out.fails_with(why);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    }
    server
        .cli(
            &["user", "add", "carolanne", "--password-stdin"],
            Some(&format!("{GOOD}\n")),
        )
        .ok();
    server
        .cli(
            &["user", "passwd", "carolanne", "--password-stdin"],
            Some("password\n"),
        )
        .fails_with("among the most common passwords");
    server
        .cli(
            &["user", "passwd", "carolanne", "--password-stdin"],
            Some("Second-Orchard-77\n"),
        )
        .ok();
}

#[tokio::test]
async fn a_weak_password_stored_before_the_policy_still_logs_in() {
    let relaxed = "[password]\nmemory_kib = 1024\niterations = 1\nmin_length = 1\nrefuse_common = false\n";
    let server = TestServer::start_with(Options {
        toml: relaxed.into(),
        ..Default::default()
    })
    .await;
    server.add_client("cli", None, &["password"], &[]).await;
    server.add_user(None, "dave", "pw", &[], false).await;
    let server = server.halt().await;
    let text = std::fs::read_to_string(&server.config_path).unwrap();
    std::fs::write(&server.config_path, text.replace(relaxed, FAST_HASHES)).unwrap();
    let server = server.boot().await;
    assert_eq!(login_status(&server, "dave", "pw").await, StatusCode::OK);
    // The next change must comply.
    let token = server
        .grant("/oauth/token", "cli", "password", "dave", "pw")
        .await;
    let (status, body) = call(
        &server,
        &token,
        Method::POST,
        "/v1/users/me/password",
        json!({"password": "pw2", "current_password": "pw"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["message"], "password must be at least 8 characters");
}

#[test]
fn a_weak_first_admin_password_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\n{FAST_HASHES}",
            dir.path().join("data").display().to_string()
        ),
    )
    .unwrap();
    let init = |password: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["--config", file.to_str().unwrap(), "init"])
            .env("TESSERA_ADMIN_PASSWORD", password)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    for (weak, why) in [
        ("admin", "password must be at least 8 characters"),
        ("Admin-2024!", "password must not contain the user name"),
        ("12345678", "among the most common passwords"),
    ] {
        let out = init(weak);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{weak:?} accepted: {stderr}");
        assert!(
            stderr.contains("TESSERA_ADMIN_PASSWORD cannot be the first admin's password")
                && stderr.contains(why),
            "{weak:?}: {stderr}"
        );
    }
    // Nothing was set up: a good password still becomes the first admin's.
    let out = init(GOOD);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("initialised a new store"), "{stderr}");
}
