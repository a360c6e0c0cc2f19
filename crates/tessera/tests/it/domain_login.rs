//! The domain-login front door (seed 002): the JSON login and its
//! `record`, `X-Auth-Token`, DELETE, the role list, the service and
//! bootstrap admin tokens.

use crate::harness::{Options, TestServer};
use serde_json::Value;
use std::time::Duration;

async fn seed_002(options: Options) -> TestServer {
    let server = TestServer::start_with(options).await;
    let core = server.core();
    let cli = tessera_core::Actor::Cli;
    core.domain_add(&cli, "sdn", "SDN controllers").await.unwrap();
    core.role_add(&cli, "sdn-user", "").await.unwrap();
    core.role_add(&cli, "sdn-admin", "").await.unwrap();
    core.user_add(
        &cli,
        tessera_core::admin::NewUser {
            domain: Some("sdn".into()),
            name: "sdn".into(),
            password: Some("Skyline-Harbor-9".to_owned().into()),
            domain_roles: vec!["sdn-user".into(), "sdn-admin".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    server
}

const LOGIN: &str = r#"curl -sk -i -H 'Content-Type:application/json' -d '{"login":{"user":"sdn","password":"Skyline-Harbor-9","domain":"sdn"}}' https://$HOST/sdn/v2.0/auth"#;

/// Header and body of a `curl -i` reply.
fn split(out: &str) -> (String, Value) {
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((out, ""));
    (
        head.to_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_login_returns_the_seeds_record_and_the_token_works_in_x_auth_token() {
    let server = seed_002(Options::default()).await;
    let out = server.sh(LOGIN).await;
    let (head, body) = split(&out.stdout);
    let record = &body["record"];
    let token = record["token"].as_str().expect("a token").to_owned();
    assert!(
        head.contains(&format!("x-auth-token: {}", token.to_lowercase())),
        "{head}"
    );
    let user = server.core().user_named(Some("sdn"), "sdn").await.unwrap();
    assert_eq!(record["domainId"], user.0.id.as_str());
    assert_eq!(record["domainName"], "sdn");
    assert_eq!(record["userId"], user.1.id.as_str());
    assert_eq!(record["userName"], "sdn");
    assert_eq!(record["roles"], serde_json::json!(["sdn-admin", "sdn-user"]));
    assert_eq!(
        record["expiration"].as_i64().unwrap(),
        server.clock.now_ms() + 3_600_000,
        "one hour by default"
    );
    let date = record["expirationDate"].as_str().unwrap();
    assert_eq!(date.len(), "2013-08-30 19-49-19 -0700".len(), "{date}");
    // The fields come in the seed's order.
    let order = [
        "domainId",
        "domainName",
        "expiration",
        "expirationDate",
        "token",
        "userId",
        "userName",
        "roles",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|k| out.stdout.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", out.stdout);

    let out = server
        .sh(&format!(
            r#"curl -sk -H "X-Auth-Token:{token}" https://$HOST/v1/auth/whoami"#
        ))
        .await;
    let me: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (me["name"].as_str(), me["domain"].as_str()),
        (Some("sdn"), Some("sdn"))
    );

    // DELETE ends it.
    let out = server.sh(&format!(r#"curl -sk -o /dev/null -w '%{{http_code}}' -X DELETE -H "X-Auth-Token:{token}" https://$HOST/sdn/v2.0/auth"#)).await;
    assert_eq!(out.stdout, "204");
    let out = server.sh(&format!(r#"curl -sk -o /dev/null -w '%{{http_code}}' -H "X-Auth-Token:{token}" https://$HOST/v1/auth/whoami"#)).await;
    assert_eq!(out.stdout, "401");

    // Wrong password and malformed bodies say what is wrong.
    let res = server
        .client
        .post(server.url("/sdn/v2.0/auth"))
        .json(&serde_json::json!({"login":{"user":"sdn","password":"x","domain":"sdn"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], 401);
    let res = server
        .client
        .post(server.url("/sdn/v2.0/auth"))
        .body(r#"{"login":{"usr":"sdn"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("usr"));
}

#[tokio::test]
async fn the_doors_policy_sets_the_expiration() {
    let server = seed_002(Options {
        toml: "[policies.domain-login]\nmax_lifetime = \"15m\"\n".into(),
        ..Default::default()
    })
    .await;
    let (_, body) = split(&server.sh(LOGIN).await.stdout);
    assert_eq!(
        body["record"]["expiration"].as_i64().unwrap(),
        server.clock.now_ms() + 15 * 60_000
    );
    let token = body["record"]["token"].as_str().unwrap().to_owned();
    server.clock.advance(Duration::from_secs(15 * 60));
    let res = server
        .client
        .get(server.url("/v1/auth/whoami"))
        .header("X-Auth-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_role_list_is_for_administrators_and_the_bootstrap_admin_token() {
    let server = seed_002(Options {
        toml: "[bootstrap]\nadmin_token = \"bootstrap-admin-token-0123456789\"\n".into(),
        ..Default::default()
    })
    .await;
    let (_, body) = split(&server.sh(LOGIN).await.stdout);
    let sdn_token = body["record"]["token"].as_str().unwrap().to_owned();
    let res = server
        .client
        .get(server.url("/v1/roles"))
        .header("X-Auth-Token", &sdn_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "sdn-admin is not Tessera's admin");
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        403,
        "Keystone's error shape"
    );
    let res = server
        .client
        .get(server.url("/v1/roles"))
        .header("X-Auth-Token", "bootstrap-admin-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let roles: Value = res.json().await.unwrap();
    let member = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "_member_")
        .unwrap();
    assert_eq!(member["description"], "Default role for project membership");
    assert_eq!(member["enabled"], "True");
    assert_eq!(member["id"].as_str().unwrap().len(), 32);
    let sdn_admin = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "sdn-admin")
        .unwrap();
    assert!(
        sdn_admin.get("description").is_none(),
        "an empty description is left out, as in the seed"
    );
    let used = server
        .core()
        .audit_events(&tessera_core::admin::AuditFilter {
            kind: Some(tessera_model::AuditKind::AdminTokenUsed),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].event.detail, "GET /v1/roles");
    // The admin token is for the admin API only.
    let res = server
        .client
        .get(server.url("/v1/auth/whoami"))
        .header("X-Auth-Token", "bootstrap-admin-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_service_token_is_accepted_and_every_node_must_share_it() {
    let token = "cluster-service-token-abcdefghij";
    let server = seed_002(Options {
        toml: format!("[cluster]\nservice_token = \"{token}\"\n"),
        ..Default::default()
    })
    .await;
    let res = server
        .client
        .get(server.url("/v1/auth/whoami"))
        .header("X-Auth-Token", token)
        .send()
        .await
        .unwrap();
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["kind"], "service");
    // A node with another service token refuses to start, saying why.
    let text = std::fs::read_to_string(&server.config_path)
        .unwrap()
        .replace(token, "a-different-service-token-xyz");
    std::fs::write(&server.config_path, text).unwrap();
    let settings = tessera::config::load(Some(&server.config_path), &Default::default()).unwrap();
    let err = tessera::runtime::open_core(&settings, std::sync::Arc::new(server.clock.clone()))
        .await
        .err()
        .expect("a node with another service token must not start");
    assert!(format!("{err:#}").contains("service token"), "{err:#}");
}
