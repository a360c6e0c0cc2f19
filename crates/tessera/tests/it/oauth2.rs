//! The oauth2 front door (seeds 000 and 003): the seeds' own curl command
//! lines against the real server, then the token lifecycle rules.

use crate::harness::{Options, TestServer, ADMIN_PASSWORD};
use serde_json::Value;
use std::time::Duration;

pub(crate) const INVALID_CREDENTIALS: &str =
    r#"{"error":"invalid_grant","error_description":"Invalid credentials"}"#;

/// Seed 000's set-up: the public client `simplivity` and the emergency
/// account `svtcli`.
pub(crate) async fn seed_000(server: &TestServer) {
    server
        .add_client("simplivity", None, &["password", "emergency"], &[])
        .await;
    server
        .add_user(None, "svtcli", "Quiet-Lantern-27", &[], true)
        .await;
}

/// Seed 003's set-up: realm `marketingUsers` with `user1`, client
/// `my-client`/`my-secret`.
pub(crate) async fn seed_003(server: &TestServer) {
    server
        .core()
        .domain_add(&tessera_core::Actor::Cli, "marketingUsers", "")
        .await
        .unwrap();
    server
        .add_user(
            Some("marketingUsers"),
            "user1",
            "Walnut-Cascade-49",
            &["_member_"],
            false,
        )
        .await;
    server
        .add_client(
            "my-client",
            Some("my-secret"),
            &["password", "refresh_token"],
            &[],
        )
        .await;
}

pub(crate) fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub(crate) async fn token_form(
    server: &TestServer,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut req = server.client.post(server.url(path)).form(form);
    if let Some((u, p)) = basic {
        req = req.basic_auth(u, Some(p));
    }
    req.send().await.unwrap()
}

pub(crate) async fn password_token(server: &TestServer, path: &str, user: &str, password: &str) -> Value {
    let res = token_form(
        server,
        path,
        &[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ],
        Some(("simplivity", "")),
    )
    .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

pub(crate) async fn whoami(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .client
        .get(server.url("/v1/auth/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn seed_000_emergency_and_password_grants_run_as_written() {
    let server = TestServer::start().await;
    seed_000(&server).await;
    // The seed's command line, host and password filled in.
    let out = server.sh(
        "curl -k https://simplivity@$HOST/api/oauth/token -d grant_type=emergency -d username=svtcli -d password=Quiet-Lantern-27",
    ).await;
    let body = json(&out.stdout);
    assert!(
        body["access_token"].as_str().unwrap().starts_with("tsa_"),
        "{body}"
    );
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86399);
    assert_eq!(body["scope"], "emergency");
    let now_ms = server.clock.now_ms();
    assert_eq!(body["updated_at"].as_i64().unwrap(), now_ms);

    let out = server.sh(&format!(
        "curl -k https://simplivity@$HOST/api/oauth/token -d grant_type=password -d username=admin -d password={ADMIN_PASSWORD}"
    )).await;
    let body = json(&out.stdout);
    assert_eq!(body["scope"], "read write", "seed 000's example reply");
    assert_eq!(body["expires_in"], 86399);

    // Wrong credentials: the seed's exact reply.
    let out = server.sh("curl -sk https://simplivity@$HOST/api/oauth/token -d grant_type=emergency -d username=svtcli -d password=wrong").await;
    assert_eq!(out.stdout, INVALID_CREDENTIALS);
    let out = server.sh("curl -sk -i https://simplivity@$HOST/api/oauth/token -d grant_type=password -d username=admin -d password=wrong").await;
    assert!(
        out.stdout.starts_with("HTTP/2 400") || out.stdout.starts_with("HTTP/1.1 400"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.to_lowercase().contains("cache-control: no-store"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn seed_003_login_realms_and_password_change_pipeline_run_as_written() {
    let server = TestServer::start().await;
    seed_003(&server).await;
    // The seed's request (its URL was cut off: it is /auth/oauth).
    let out = server.sh(
        "curl -ik -X POST https://$HOST/auth/oauth \\\n-d grant_type=password \\\n-d username=user1 \\\n-d password=Walnut-Cascade-49 \\\n-d scope=* \\\n-d client_secret=my-secret \\\n-d client_id=my-client \\\n-d realm=marketingUsers",
    ).await;
    let body_line = out.stdout.lines().last().unwrap();
    let body = json(body_line);
    assert!(body["access_token"].as_str().unwrap().starts_with("tsa_"));
    assert_eq!(body["expires_in"], 7200);
    assert!(
        body["refresh_token"].as_str().unwrap().starts_with("tsr_"),
        "a refresh token comes with it"
    );
    assert_eq!(body["scope"], "read write");

    // The realm list.
    let out = server
        .sh("curl -k -X GET --header 'Accept: application/json' https://$HOST/setup")
        .await;
    let realms: Vec<String> = json(&out.stdout)["realms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(realms, ["local", "marketingUsers"]);

    // The local admin: realm omitted, or given as "Local".
    server
        .add_client("client-id", Some("client-secret"), &["password"], &[])
        .await;
    for realm in ["", "-d realm=Local"] {
        let out = server.sh(&format!(
            "curl -sk -X POST https://$HOST/auth/oauth -d grant_type=password -d username=admin -d password={ADMIN_PASSWORD} -d client_id=client-id -d client_secret=client-secret {realm}"
        )).await;
        assert!(
            json(&out.stdout)["access_token"].is_string(),
            "{realm}: {}",
            out.stdout
        );
    }

    // The password-change script, with $1=server, $2=current, $3=new.
    let script = r#"
set -- "$HOST" "Opening-Night-Key-7" "a-brand-new-password"
TOKEN=$(curl -ik -X POST https://$1/auth/oauth \
-d grant_type=password -d username=admin -d password=$2 \
-d scope=* -d client_secret=client-secret -d client_id=client-id \
-d realm=local 2>&1  | grep access_token | awk -F: '{print $2}' \
| awk -F\" '{print $2}')
curl -v -X POST --header 'Content-Type: application/json' \
--header "Authorization: Bearer $TOKEN" \
https://$1/v1/users/me/password \
-d '{"password": "'"$3"'"}'
"#;
    let out = server.sh(script).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("< HTTP/2 200") || out.stderr.contains("< HTTP/1.1 200"),
        "{}",
        out.stderr
    );
    assert_eq!(json(&out.stdout)["message"], "password changed");
    let old = server.sh(&format!(
        "curl -sk https://$HOST/auth/oauth -d grant_type=password -d username=admin -d password={ADMIN_PASSWORD} -d client_id=client-id -d client_secret=client-secret"
    )).await;
    assert_eq!(old.stdout, INVALID_CREDENTIALS);
    let new = server.sh(
        "curl -sk https://$HOST/auth/oauth -d grant_type=password -d username=admin -d password=a-brand-new-password -d client_id=client-id -d client_secret=client-secret",
    ).await;
    assert!(json(&new.stdout)["access_token"].is_string(), "{}", new.stdout);
}

#[tokio::test]
async fn idle_tokens_die_after_ten_minutes_and_every_token_at_24_hours() {
    let server = TestServer::start().await;
    seed_000(&server).await;
    let idle = password_token(&server, "/api/oauth/token", "admin", ADMIN_PASSWORD).await;
    let busy = password_token(&server, "/api/oauth/token", "admin", ADMIN_PASSWORD).await;
    let (idle, busy) = (
        idle["access_token"].as_str().unwrap(),
        busy["access_token"].as_str().unwrap(),
    );
    // Used every 9 minutes, a token lives on; unused for 10, it dies.
    for _ in 0..2 {
        server.clock.advance(Duration::from_secs(9 * 60));
        assert_eq!(whoami(&server, busy).await.status(), 200);
    }
    let res = whoami(&server, idle).await;
    assert_eq!(res.status(), 401, "18 minutes unused");
    let challenge = res.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );

    // Continuous use does not stretch the absolute lifetime.
    let mut used_for = Duration::from_secs(18 * 60);
    while used_for + Duration::from_secs(9 * 60) < Duration::from_secs(86_399) {
        server.clock.advance(Duration::from_secs(9 * 60));
        used_for += Duration::from_secs(9 * 60);
        assert_eq!(whoami(&server, busy).await.status(), 200, "after {used_for:?}");
    }
    server.clock.advance(Duration::from_secs(86_399) - used_for);
    let res = whoami(&server, busy).await;
    assert_eq!(res.status(), 401, "at 24 h");
    assert!(res.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replay_revokes_the_family() {
    let server = TestServer::start().await;
    seed_003(&server).await;
    let login = [
        ("grant_type", "password"),
        ("username", "user1"),
        ("password", "Walnut-Cascade-49"),
        ("realm", "marketingUsers"),
        ("client_id", "my-client"),
        ("client_secret", "my-secret"),
    ];
    let first: Value = token_form(&server, "/auth/oauth", &login, None)
        .await
        .json()
        .await
        .unwrap();
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: String| {
        let server = &server;
        async move {
            token_form(
                server,
                "/auth/oauth",
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
                Some(("my-client", "my-secret")),
            )
            .await
        }
    };
    let res = refresh(r1.clone()).await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    let (a2, r2) = (
        second["access_token"].as_str().unwrap().to_owned(),
        second["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_ne!(r1, r2);
    assert_eq!(whoami(&server, &a2).await.status(), 200);

    // The used refresh token is refused, and presenting it revokes its family.
    let res = refresh(r1.clone()).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(
        whoami(&server, &a2).await.status(),
        401,
        "the new access token died with the family"
    );
    assert_eq!(refresh(r2).await.status(), 400, "the new refresh token died too");
    // The first access token belongs to the family as well.
    assert_eq!(
        whoami(&server, first["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );

    // Another client cannot use someone else's refresh token.
    server
        .add_client("other", Some("other-secret"), &["refresh_token"], &[])
        .await;
    let fresh: Value = token_form(&server, "/auth/oauth", &login, None)
        .await
        .json()
        .await
        .unwrap();
    let res = token_form(
        &server,
        "/auth/oauth",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", fresh["refresh_token"].as_str().unwrap()),
        ],
        Some(("other", "other-secret")),
    )
    .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_for_the_configured_time() {
    let server = TestServer::start_with(Options {
        toml: "[lockout]\nmax_failed_logins = 3\nduration = \"2m\"\n".into(),
        ..Default::default()
    })
    .await;
    seed_000(&server).await;
    let held = password_token(&server, "/api/oauth/token", "admin", ADMIN_PASSWORD).await;
    let held = held["access_token"].as_str().unwrap();
    let login = |pw: &'static str| {
        let server = &server;
        async move {
            token_form(
                server,
                "/api/oauth/token",
                &[
                    ("grant_type", "password"),
                    ("username", "admin"),
                    ("password", pw),
                ],
                Some(("simplivity", "")),
            )
            .await
        }
    };
    for _ in 0..3 {
        assert_eq!(login("wrong").await.text().await.unwrap(), INVALID_CREDENTIALS);
    }
    // Locked: the right password is refused, in the same words, and tokens held are refused.
    assert_eq!(
        login(ADMIN_PASSWORD).await.text().await.unwrap(),
        INVALID_CREDENTIALS
    );
    let res = whoami(&server, held).await;
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("locked"));
    server.clock.advance(Duration::from_secs(119));
    assert_eq!(login(ADMIN_PASSWORD).await.status(), 400, "still locked at 1:59");
    server.clock.advance(Duration::from_secs(1));
    assert_eq!(login(ADMIN_PASSWORD).await.status(), 200, "unlocked at 2:00");
    assert_eq!(
        whoami(&server, held).await.status(),
        200,
        "the earlier token works again"
    );

    let events = server
        .core()
        .audit_events(&tessera_core::admin::AuditFilter {
            kind: Some(tessera_model::AuditKind::Lockout),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "the lockout is audited");
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_look_the_same() {
    let server = TestServer::start().await;
    seed_000(&server).await;
    let mut answers = Vec::new();
    for user in ["admin", "nobody-by-this-name"] {
        let res = token_form(
            &server,
            "/api/oauth/token",
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", "wrong"),
            ],
            Some(("simplivity", "")),
        )
        .await;
        let status = res.status();
        let cache = res.headers().get("cache-control").cloned();
        answers.push((status, cache, res.text().await.unwrap()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].2, INVALID_CREDENTIALS);
}

#[tokio::test]
async fn the_emergency_grant_is_for_emergency_accounts_only() {
    let server = TestServer::start().await;
    seed_000(&server).await;
    let grant = |grant: &'static str, user: &'static str, pw: &'static str| {
        let server = &server;
        async move {
            token_form(
                server,
                "/api/oauth/token",
                &[("grant_type", grant), ("username", user), ("password", pw)],
                Some(("simplivity", "")),
            )
            .await
        }
    };
    let res = grant("emergency", "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        res.text().await.unwrap(),
        INVALID_CREDENTIALS,
        "admin is no emergency account"
    );
    let res = grant("password", "svtcli", "Quiet-Lantern-27").await;
    assert_eq!(
        res.text().await.unwrap(),
        INVALID_CREDENTIALS,
        "an emergency account cannot use the password grant"
    );
    let res = grant("emergency", "svtcli", "Quiet-Lantern-27").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "emergency");
    let me: Value = whoami(&server, body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["scope"], "emergency");
    assert_eq!(me["name"], "svtcli");
    // A client without the emergency grant may not use it.
    server.add_client("plain", None, &["password"], &[]).await;
    let res = token_form(
        &server,
        "/api/oauth/token",
        &[
            ("grant_type", "emergency"),
            ("username", "svtcli"),
            ("password", "Quiet-Lantern-27"),
        ],
        Some(("plain", "")),
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "unauthorized_client");
}

#[tokio::test]
async fn scopes_are_narrowed_by_roles() {
    let server = TestServer::start().await;
    seed_000(&server).await;
    server
        .add_user(None, "viewer", "Tundra-Violet-34", &["read_only"], false)
        .await;
    let ask = |scope: &'static str| {
        let server = &server;
        async move {
            token_form(
                server,
                "/oauth/token",
                &[
                    ("grant_type", "password"),
                    ("username", "viewer"),
                    ("password", "Tundra-Violet-34"),
                    ("scope", scope),
                ],
                Some(("simplivity", "")),
            )
            .await
        }
    };
    assert_eq!(ask("*").await.json::<Value>().await.unwrap()["scope"], "read");
    assert_eq!(ask("read").await.json::<Value>().await.unwrap()["scope"], "read");
    let res = ask("write").await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_scope");
    assert_eq!(
        ask("delete-everything").await.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );
}

#[tokio::test]
async fn client_credentials_give_a_client_its_own_token() {
    let server = TestServer::start().await;
    server
        .add_client(
            "robot",
            Some("robot-secret"),
            &["client_credentials"],
            &["read_only"],
        )
        .await;
    let res = token_form(
        &server,
        "/oauth/token",
        &[("grant_type", "client_credentials")],
        Some(("robot", "robot-secret")),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "read");
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token for client_credentials"
    );
    let me: Value = whoami(&server, body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["kind"].as_str(), me["name"].as_str()),
        (Some("client"), Some("robot"))
    );
    let res = token_form(
        &server,
        "/oauth/token",
        &[("grant_type", "client_credentials")],
        Some(("robot", "wrong")),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"tessera\"");
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_client");
}
