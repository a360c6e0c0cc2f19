//! Guarantees that cut across the front doors (SPEC §2–§3): every 401
//! carries a challenge, every response that carries a credential is kept
//! out of caches, a logout ends the whole login, a login has an absolute
//! end that rotation never stretches, and `expires_in` and its kin are
//! computed from the policy and one reading of the clock.
//!
//! The table-driven tests collect every failing case and report them all
//! at once, so that one run shows the whole extent of a fault.

use crate::harness::{Options, TestServer, ADMIN_PASSWORD};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessera_core::ManualClock;

const ENVELOPE: &str = "/Spectre/api/rest/v1/Services/AuthenticationService";
const FAST_HASHES: &str = "[password]\nmemory_kib = 1024\niterations = 1\n";
/// The challenge of the header-login door (seed 001: `basic realm="ViPR"`).
const BASIC: &str = "Basic realm=";
/// The challenge everywhere else (RFC 6750).
const BEARER: &str = "Bearer";

/// Fails with every collected failure listed, or passes when there is none.
fn report(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} failure(s):\n  - {}",
        failures.len(),
        failures.join("\n  - ")
    );
}

async fn start() -> TestServer {
    TestServer::start_with(Options {
        toml: FAST_HASHES.into(),
        ..Default::default()
    })
    .await
}

/// A header-login token for `admin`.
async fn sds_token(server: &TestServer) -> String {
    let res = server
        .client
        .get(server.url("/login"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "header login");
    res.headers()["x-sds-auth-token"].to_str().unwrap().to_owned()
}

async fn domain_login(server: &TestServer, user: &str, password: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/sdn/v2.0/auth"))
        .json(&json!({"login": {"user": user, "password": password}}))
        .send()
        .await
        .unwrap()
}

async fn envelope_login(server: &TestServer, user: &str, password: &str) -> reqwest::Response {
    server
        .client
        .post(server.url(&format!("{ENVELOPE}/login")))
        .json(&json!({"apiUserCredential": {"username": user, "domain": "local", "password": password}}))
        .send()
        .await
        .unwrap()
}

/// A password grant for `admin` at `path` through public client `client`;
/// the 200's body.
async fn password_grant(server: &TestServer, path: &str, client: &str) -> Value {
    let res = server
        .client
        .post(server.url(path))
        .basic_auth(client, Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "password grant at {path}");
    res.json().await.unwrap()
}

async fn refresh(server: &TestServer, client: &str, refresh_token: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/oauth/token"))
        .basic_auth(client, Some(""))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
        .send()
        .await
        .unwrap()
}

/// `access_token` and `refresh_token` of a token reply.
fn pair(body: &Value) -> (String, String) {
    let get = |k: &str| {
        body[k]
            .as_str()
            .unwrap_or_else(|| panic!("no {k} in {body}"))
            .to_owned()
    };
    (get("access_token"), get("refresh_token"))
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

/// Expects a refresh to be refused with 400 `invalid_grant`; else notes a failure.
async fn expect_refused_refresh(what: &str, res: reqwest::Response, failures: &mut Vec<String>) {
    let status = res.status().as_u16();
    let body = res.text().await.unwrap_or_default();
    let error = serde_json::from_str::<Value>(&body)
        .ok()
        .map(|v| v["error"].clone());
    if status != 400 || error != Some(json!("invalid_grant")) {
        failures.push(format!(
            "{what}: the refresh should be refused with 400 invalid_grant, got {status} {body}"
        ));
    }
}

/// Expects an access token to be refused (401 at `/v1/auth/whoami`); else notes a failure.
async fn expect_dead(server: &TestServer, what: &str, token: &str, failures: &mut Vec<String>) {
    let status = whoami(server, token).await;
    if status != 401 {
        failures.push(format!(
            "{what}: the access token should be refused (401), got {status}"
        ));
    }
}

/// RFC 9110 §11.6.1: a 401 always says how to authenticate. The
/// header-login door (seed 001) challenges with Basic, everything else
/// with Bearer (RFC 6750 §3).
#[tokio::test]
async fn every_401_carries_a_www_authenticate_challenge() {
    let server = start().await;
    // Wrong passwords go to an account of their own, so admin never locks.
    server
        .add_user(None, "target", "Pepper-Glacier-57", &["admin"], false)
        .await;
    // Dead tokens: issued, then ended.
    let sds_dead = sds_token(&server).await;
    let res = server
        .client
        .get(server.url("/logout"))
        .header("X-SDS-AUTH-TOKEN", &sds_dead)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = domain_login(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let sdn_dead = res.headers()["x-auth-token"].to_str().unwrap().to_owned();
    let res = server
        .client
        .delete(server.url("/sdn/v2.0/auth"))
        .header("X-Auth-Token", &sdn_dead)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = envelope_login(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let jwt_dead = res.json::<Value>().await.unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = server
        .client
        .post(server.url(&format!("{ENVELOPE}/logout")))
        .bearer_auth(&jwt_dead)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Shaped like an access token, issued by no one.
    let random = format!("tsa_{}", "A".repeat(43));

    let c = &server.client;
    let url = |p: &str| server.url(p);
    let cases: Vec<(&str, &str, reqwest::RequestBuilder)> =
        vec![
        // Already right today; kept as regressions.
        ("GET /login without credentials", BASIC, c.get(url("/login"))),
        (
            "GET /login with a wrong password",
            BASIC,
            c.get(url("/login")).basic_auth("target", Some("wrong")),
        ),
        ("GET /v1/auth/whoami without a token", BEARER, c.get(url("/v1/auth/whoami"))),
        // The header-login door's token endpoints.
        ("GET /user/whoami without a token", BASIC, c.get(url("/user/whoami"))),
        (
            "GET /user/whoami with a logged-out token",
            BASIC,
            c.get(url("/user/whoami")).header("X-SDS-AUTH-TOKEN", &sds_dead),
        ),
        ("GET /logout without a token", BASIC, c.get(url("/logout"))),
        ("GET /proxytoken without a token", BASIC, c.get(url("/proxytoken"))),
        // Domain-login (seed 002).
        (
            "POST /sdn/v2.0/auth with a wrong password",
            BEARER,
            c.post(url("/sdn/v2.0/auth"))
                .json(&json!({"login": {"user": "target", "password": "wrong"}})),
        ),
        (
            "DELETE /sdn/v2.0/auth with a revoked token",
            BEARER,
            c.delete(url("/sdn/v2.0/auth")).header("X-Auth-Token", &sdn_dead),
        ),
        (
            "DELETE /sdn/v2.0/auth with a random well-formed token",
            BEARER,
            c.delete(url("/sdn/v2.0/auth")).header("X-Auth-Token", &random),
        ),
        ("GET /v1/roles without a token", BEARER, c.get(url("/v1/roles"))),
        // Envelope-login (seed 004).
        (
            "POST .../AuthenticationService/login with a wrong password",
            BEARER,
            c.post(url(&format!("{ENVELOPE}/login"))).json(
                &json!({"apiUserCredential": {"username": "target", "domain": "local", "password": "wrong"}}),
            ),
        ),
        (
            "POST .../AuthenticationService/logout with a logged-out JWT",
            BEARER,
            c.post(url(&format!("{ENVELOPE}/logout"))).bearer_auth(&jwt_dead),
        ),
    ];

    let mut failures = Vec::new();
    for (what, scheme, request) in cases {
        let res = request.send().await.unwrap();
        let status = res.status().as_u16();
        if status != 401 {
            failures.push(format!("{what}: expected 401, got {status}"));
            continue;
        }
        match res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("<not text>").to_owned())
        {
            None => failures.push(format!("{what}: 401 without WWW-Authenticate")),
            Some(v) if !v.starts_with(scheme) => failures.push(format!(
                "{what}: WWW-Authenticate {v:?} should start with {scheme:?}"
            )),
            Some(_) => {}
        }
    }
    report("every 401 carries a WWW-Authenticate challenge", &failures);
}

/// RFC 6749 §5.1 for every door: a response carrying a token says
/// `Cache-Control: no-store` and `Pragma: no-cache`.
#[tokio::test]
async fn every_response_carrying_a_credential_is_not_stored() {
    let server = start().await;
    server.add_client("app", None, &["password"], &[]).await;
    let session = sds_token(&server).await;

    let c = &server.client;
    let url = |p: &str| server.url(p);
    let basic = |p: &str| c.get(url(p)).basic_auth("admin", Some(ADMIN_PASSWORD));
    let cases: Vec<(&str, u16, reqwest::RequestBuilder)> = vec![
        ("GET /login (Basic)", 200, basic("/login")),
        ("GET /login?using-cookies=true", 200, basic("/login?using-cookies=true")),
        ("GET /login?service=/x", 302, basic("/login?service=/x")),
        (
            "GET /proxytoken",
            200,
            c.get(url("/proxytoken")).header("X-SDS-AUTH-TOKEN", &session),
        ),
        (
            "POST /sdn/v2.0/auth",
            200,
            c.post(url("/sdn/v2.0/auth"))
                .json(&json!({"login": {"user": "admin", "password": ADMIN_PASSWORD}})),
        ),
        (
            "POST .../AuthenticationService/login",
            200,
            c.post(url(&format!("{ENVELOPE}/login"))).json(
                &json!({"apiUserCredential": {"username": "admin", "domain": "local", "password": ADMIN_PASSWORD}}),
            ),
        ),
        // Already right today; kept as a regression.
        (
            "POST /oauth/token (password grant)",
            200,
            c.post(url("/oauth/token")).basic_auth("app", Some("")).form(&[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
            ]),
        ),
    ];

    let mut failures = Vec::new();
    for (what, want, request) in cases {
        let res = request.send().await.unwrap();
        let status = res.status().as_u16();
        if status != want {
            failures.push(format!("{what}: expected {want}, got {status}"));
            continue;
        }
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap_or("<not text>").to_owned())
        };
        let cache_control = header("cache-control");
        let no_store = cache_control
            .as_deref()
            .is_some_and(|v| v.split(',').any(|d| d.trim().eq_ignore_ascii_case("no-store")));
        if !no_store {
            failures.push(format!(
                "{what}: Cache-Control should be no-store, is {cache_control:?}"
            ));
        }
        let pragma = header("pragma");
        if !pragma
            .as_deref()
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("no-cache"))
        {
            failures.push(format!("{what}: Pragma should be no-cache, is {pragma:?}"));
        }
    }
    report("every response carrying a credential is not stored", &failures);
}

/// SPEC §2: "a logout ends the whole login, not only the token presented":
/// the refresh family and every access token minted from the one
/// password authentication, at whichever door the logout comes in.
#[tokio::test]
async fn a_logout_ends_the_whole_login() {
    let server = start().await;
    server
        .add_client("app", None, &["password", "refresh_token"], &[])
        .await;
    let mut failures = Vec::new();

    // POST /v1/auth/logout with the access token, then the refresh token.
    let (access, refresh_token) = pair(&password_grant(&server, "/oauth/token", "app").await);
    let res = server
        .client
        .post(server.url("/v1/auth/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "POST /v1/auth/logout");
    expect_dead(&server, "POST /v1/auth/logout", &access, &mut failures).await;
    expect_refused_refresh(
        "POST /v1/auth/logout, then the login's refresh token",
        refresh(&server, "app", &refresh_token).await,
        &mut failures,
    )
    .await;

    // The same after a rotation: the logout of the first access token
    // ends the rotated access and refresh tokens too.
    let (first, refresh_token) = pair(&password_grant(&server, "/oauth/token", "app").await);
    let res = refresh(&server, "app", &refresh_token).await;
    assert_eq!(res.status(), 200, "rotation");
    let (rotated, refresh_token) = pair(&res.json().await.unwrap());
    let res = server
        .client
        .post(server.url("/v1/auth/logout"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "POST /v1/auth/logout");
    expect_dead(
        &server,
        "POST /v1/auth/logout of the first token, then the rotated access token",
        &rotated,
        &mut failures,
    )
    .await;
    expect_refused_refresh(
        "POST /v1/auth/logout of the first token, then the rotated refresh token",
        refresh(&server, "app", &refresh_token).await,
        &mut failures,
    )
    .await;

    // GET /logout (header-login) with the oauth2 access token in X-SDS-AUTH-TOKEN.
    let (access, refresh_token) = pair(&password_grant(&server, "/oauth/token", "app").await);
    let res = server
        .client
        .get(server.url("/logout"))
        .header("X-SDS-AUTH-TOKEN", &access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "GET /logout");
    expect_dead(&server, "GET /logout", &access, &mut failures).await;
    expect_refused_refresh(
        "GET /logout, then the login's refresh token",
        refresh(&server, "app", &refresh_token).await,
        &mut failures,
    )
    .await;

    // GET /logout?force=true: every access token of the login (and of the user) dies.
    let (first, refresh_token) = pair(&password_grant(&server, "/oauth/token", "app").await);
    let res = refresh(&server, "app", &refresh_token).await;
    assert_eq!(res.status(), 200, "rotation");
    let (rotated, refresh_token) = pair(&res.json().await.unwrap());
    let res = server
        .client
        .get(server.url("/logout?force=true"))
        .header("X-SDS-AUTH-TOKEN", &rotated)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "GET /logout?force=true");
    expect_dead(
        &server,
        "GET /logout?force=true, the first access token",
        &first,
        &mut failures,
    )
    .await;
    expect_dead(
        &server,
        "GET /logout?force=true, the rotated access token",
        &rotated,
        &mut failures,
    )
    .await;
    expect_refused_refresh(
        "GET /logout?force=true, then the login's refresh token",
        refresh(&server, "app", &refresh_token).await,
        &mut failures,
    )
    .await;

    report("a logout ends the whole login", &failures);
}

/// SPEC §2: a login "ends at the latest `refresh_lifetime` after that
/// authentication (rotation never extends it; no access token outlives
/// it)". Policy `short`: access 3 s, login 6 s; the server's clock is the
/// harness's `ManualClock`, moved 1.5 s before each refresh.
#[tokio::test]
async fn a_login_ends_at_its_refresh_lifetime_however_often_it_rotates() {
    let server = TestServer::start_with(Options {
        toml: format!("{FAST_HASHES}[policies.short]\nmax_lifetime = \"3s\"\nrefresh_lifetime = \"6s\"\n"),
        ..Default::default()
    })
    .await;
    server
        .core()
        .client_add(
            &tessera_core::Actor::Cli,
            tessera_core::admin::NewClient {
                id: "short-lived".into(),
                secret: tessera_core::admin::ClientSecretInput::Public,
                grants: vec!["password".into(), "refresh_token".into()],
                policy: Some("short".into()),
                roles: vec![],
            },
        )
        .await
        .unwrap();
    const LOGIN_ENDS_MS: u64 = 6_000;
    const STEP_MS: u64 = 1_500;
    let mut failures = Vec::new();

    let login = password_grant(&server, "/oauth/token", "short-lived").await;
    let (access, mut refresh_token) = pair(&login);
    let mut accesses = vec![("the password login's access token".to_owned(), access)];
    let mut t_ms = 0;
    // Rotations at 1.5 s, 3 s and 4.5 s: within the login, each succeeds,
    // and the access token it gives expires by the login's end.
    while t_ms + STEP_MS < LOGIN_ENDS_MS {
        server.clock.advance(Duration::from_millis(STEP_MS));
        t_ms += STEP_MS;
        let t = t_ms as f64 / 1000.0;
        let res = refresh(&server, "short-lived", &refresh_token).await;
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        if status != 200 {
            failures.push(format!(
                "rotation at t={t}s, inside the 6 s login: expected 200, got {status} {body}"
            ));
            break;
        }
        let body: Value = serde_json::from_str(&body).unwrap();
        let expires_in = body["expires_in"].as_u64().unwrap();
        let left = (LOGIN_ENDS_MS - t_ms) as f64 / 1000.0;
        if expires_in as f64 > left {
            failures.push(format!(
                "rotation at t={t}s: expires_in {expires_in} reaches past the login's end ({left}s left)"
            ));
        }
        let (access, next) = pair(&body);
        accesses.push((format!("the access token of the rotation at t={t}s"), access));
        refresh_token = next;
    }
    // t = 6 s: the login has ended.
    server.clock.advance(Duration::from_millis(LOGIN_ENDS_MS - t_ms));
    for (what, token) in &accesses {
        expect_dead(
            &server,
            &format!("at t=6s (the login's end), {what}"),
            token,
            &mut failures,
        )
        .await;
    }
    expect_refused_refresh(
        "a refresh at t=6s, the login's end",
        refresh(&server, "short-lived", &refresh_token).await,
        &mut failures,
    )
    .await;
    report("a login ends at its refresh lifetime", &failures);
}

/// Moves a `ManualClock` on its own, as the wall clock moves under a real
/// server (ten times as fast, so that every request spans some of it):
/// any answer computed from two readings of the clock shows it.
struct Ticking {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticking {
    fn start(clock: ManualClock) -> Ticking {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                clock.advance(Duration::from_millis(1));
                std::thread::sleep(Duration::from_micros(100));
            }
        });
        Ticking {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Lifetimes on the wire are the policy's, exactly: computed at issue
/// from one reading of the clock, never from a second reading taken when
/// the reply is written. The clock runs on its own here (see `Ticking`).
///
/// Expected values (crates/model/src/config.rs, `TokenPolicy::builtins`):
/// policy `oauth2` (`/auth/oauth`) has `max_lifetime` 2 h, so 7200;
/// policy `oauth2-api` (`/api/oauth/token`) has `max_lifetime` 24 h - 1 s
/// (86 399 s) precisely so that it answers seed 000's `expires_in: 86399`;
/// `domain-login` and `envelope-login` are 1 h (3600 s).
#[tokio::test]
async fn lifetimes_on_the_wire_are_the_policys_exactly() {
    let server = start().await;
    server.add_client("simplivity", None, &["password"], &[]).await;
    let _ticking = Ticking::start(server.clock.clone());
    let mut failures = Vec::new();

    for (path, want) in [("/auth/oauth", 7200), ("/api/oauth/token", 86_399)] {
        let mut seen = Vec::new();
        for _ in 0..20 {
            let body = password_grant(&server, path, "simplivity").await;
            seen.push(body["expires_in"].as_u64());
        }
        if seen.iter().any(|e| *e != Some(want)) {
            failures.push(format!(
                "{path}: expires_in should be {want} every time; twenty password grants answered {seen:?}"
            ));
        }
    }

    // Domain-login: `record.expiration` is the issue time plus one hour.
    // With the clock running, "now" is the session's own `created_at`
    // (which must lie within the request).
    let before = server.clock.now_ms();
    let res = domain_login(&server, "admin", ADMIN_PASSWORD).await;
    let after = server.clock.now_ms();
    assert_eq!(res.status(), 200);
    let record = res.json::<Value>().await.unwrap()["record"].clone();
    let expiration = record["expiration"].as_i64().unwrap();
    let me: Value = server
        .client
        .get(server.url("/v1/auth/whoami"))
        .header("X-Auth-Token", record["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = me["session"]["created_at"].as_i64().unwrap();
    if !(before..=after).contains(&created) {
        failures.push(format!(
            "domain-login: the session's created_at {created} lies outside the request ({before}..={after})"
        ));
    }
    if expiration - created != 3_600_000 {
        failures.push(format!(
            "domain-login: record.expiration - issue time should be 3600000 ms, is {}",
            expiration - created
        ));
    }
    if me["session"]["expires_at"].as_i64() != Some(expiration) {
        failures.push(format!(
            "domain-login: record.expiration {expiration} differs from the session's expires_at {}",
            me["session"]["expires_at"]
        ));
    }

    // Envelope-login: the JWT's exp - iat is the policy's 3600 s.
    let before = server.clock.now_ms() / 1000;
    let res = envelope_login(&server, "admin", ADMIN_PASSWORD).await;
    let after = server.clock.now_ms() / 1000;
    assert_eq!(res.status(), 200);
    let jwt = res.json::<Value>().await.unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims: Value = {
        use base64::Engine;
        let payload = jwt.split('.').nth(1).unwrap();
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&raw).unwrap()
    };
    let (exp, iat) = (claims["exp"].as_i64().unwrap(), claims["iat"].as_i64().unwrap());
    if exp - iat != 3600 {
        failures.push(format!(
            "envelope-login: exp - iat should be 3600, is {}",
            exp - iat
        ));
    }
    if !(before..=after).contains(&iat) {
        failures.push(format!(
            "envelope-login: iat {iat} lies outside the request ({before}..={after})"
        ));
    }
    report("lifetimes on the wire are the policy's exactly", &failures);
}
