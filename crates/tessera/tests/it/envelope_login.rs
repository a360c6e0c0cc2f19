//! The envelope-login front door (seed 004): the seed's Python function,
//! the JWT verified against the JWKS by PyJWT, admin-only logins, lockout
//! over a live JWT, expiry and logout.

use crate::harness::{python_packages, Options, TestServer};
use serde_json::Value;
use std::time::Duration;

const BASE: &str = "/Spectre/api/rest/v1/Services/AuthenticationService";

/// The seed's function, as written (with the response read through
/// `.json()`), and a PyJWT check of what it returns.
const PYTHON: &str = r#"
import json, sys, requests, urllib3, jwt
urllib3.disable_warnings()

def login_with_OMIVV (omivvIP,username,domain, password):
    baseurl ="https://" + omivvIP + "/Spectre/api/rest/v1/Services/AuthenticationService/login"
    postBodyData={"apiUserCredential" : {"username":username,"domain" : domain,"password" : password}}
    jsonReponse = requests.post(baseurl, json=postBodyData, verify=False)
    if(jsonReponse.status_code == 200):
        bearerToken = jsonReponse.json()['accessToken']
        return bearerToken
    else:
        print("Login failed")

host, user, domain, password = sys.argv[1:5]
token = login_with_OMIVV(host, user, domain, password)
if token is None:
    sys.exit(3)
jwks = requests.get("https://" + host + "/.well-known/jwks.json", verify=False).json()
kid = jwt.get_unverified_header(token)["kid"]
key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid))
claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="tessera")
print(json.dumps({"token": token, "claims": claims}))
"#;

async fn seed_004(options: Options) -> TestServer {
    let server = TestServer::start_with(options).await;
    server
        .add_user(None, "omivv-admin", "omivv-password", &["admin"], false)
        .await;
    server
        .add_user(None, "reader", "Velvet-Compass-38", &["read_only"], false)
        .await;
    server
}

async fn python_login(server: &TestServer, user: &str, password: &str) -> crate::harness::CliOutput {
    let script = server.dir.path().join("omivv.py");
    std::fs::write(&script, PYTHON).unwrap();
    let deps = python_packages(
        "seed-004",
        "jwt, cryptography, requests",
        &["pyjwt[crypto]", "requests"],
    )
    .await;
    server
        .sh(&format!(
            "PYTHONPATH='{}' python3 {} $HOST {user} local {password}",
            deps.display(),
            script.display()
        ))
        .await
}

async fn logout(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .client
        .post(server.url(&format!("{BASE}/logout")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn whoami(server: &TestServer, token: &str) -> u16 {
    server
        .client
        .get(server.url("/v1/auth/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_seeds_python_gets_a_jwt_that_pyjwt_verifies_with_the_jwks() {
    let server = seed_004(Options::default()).await;
    let out = python_login(&server, "omivv-admin", "omivv-password").await;
    assert_eq!(out.code, 0, "stdout={} stderr={}", out.stdout, out.stderr);
    let result: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let claims = &result["claims"];
    assert_eq!(claims["iss"], "tessera");
    assert_eq!(claims["aud"], "tessera");
    assert_eq!(claims["domain"], "local");
    assert_eq!(claims["preferred_username"], "omivv-admin");
    assert!(claims["roles"].as_array().unwrap().iter().any(|r| r == "admin"));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600,
        "60 minutes"
    );
    let user = server.core().user_named(None, "omivv-admin").await.unwrap().1;
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
    // The JWT is a real session token at every door.
    let token = result["token"].as_str().unwrap();
    assert_eq!(whoami(&server, token).await, 200);

    // After a key rotation the old JWT still verifies (its key stays
    // published) and new ones carry the new key.
    let kid = server
        .core()
        .rotate_keys(&tessera_core::Actor::Cli)
        .await
        .unwrap();
    let jwks: Value = server
        .client
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let again = python_login(&server, "omivv-admin", "omivv-password").await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    let header = result["token"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let again: Value = serde_json::from_str(again.stdout.trim()).unwrap();
    let new_header = again["token"].as_str().unwrap().split('.').next().unwrap();
    assert_ne!(header, new_header);
    assert!(String::from_utf8_lossy(&base64url(new_header)).contains(&kid));
}

fn base64url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[tokio::test]
async fn only_administrator_profiles_may_log_in() {
    let server = seed_004(Options::default()).await;
    let out = python_login(&server, "reader", "Velvet-Compass-38").await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stdout.contains("Login failed"));
    let res = server
        .client
        .post(server.url(&format!("{BASE}/login")))
        .json(&serde_json::json!({"apiUserCredential": {"username": "reader", "domain": "local", "password": "Velvet-Compass-38"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("administrator profile"),
        "{body}"
    );
}

#[tokio::test]
async fn a_lockout_suspends_the_jwt_which_works_again_after_it_then_logout_ends_it() {
    let server = seed_004(Options {
        toml: "[lockout]\nmax_failed_logins = 3\nduration = \"1m\"\n".into(),
        ..Default::default()
    })
    .await;
    let out = python_login(&server, "omivv-admin", "omivv-password").await;
    let token = serde_json::from_str::<Value>(out.stdout.trim()).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        let res = server
            .client
            .post(server.url(&format!("{BASE}/login")))
            .json(&serde_json::json!({"apiUserCredential": {"username": "omivv-admin", "domain": "local", "password": "wrong"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(
        whoami(&server, &token).await,
        401,
        "locked: the earlier JWT is refused"
    );
    let res = logout(&server, &token).await;
    assert_eq!(res.status(), 401);
    assert!(res.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("locked"));
    server.clock.advance(Duration::from_secs(60));
    assert_eq!(
        whoami(&server, &token).await,
        200,
        "after the lockout the same JWT works again"
    );
    let res = logout(&server, &token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(whoami(&server, &token).await, 401, "logout ends it");
}

#[tokio::test]
async fn a_jwt_past_its_60_minutes_is_already_expired() {
    let server = seed_004(Options::default()).await;
    let out = python_login(&server, "omivv-admin", "omivv-password").await;
    let token = serde_json::from_str::<Value>(out.stdout.trim()).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    server.clock.advance(Duration::from_secs(59 * 60));
    assert_eq!(whoami(&server, &token).await, 200);
    server.clock.advance(Duration::from_secs(60));
    let res = logout(&server, &token).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        serde_json::json!({"message": "Token is already expired"})
    );
}
