//! The oauth2 door's other endpoints and its error wire: RFC 6749 errors
//! for malformed requests, RFC 7009 revocation, RFC 7662 introspection,
//! RFC 8414 metadata, the own-password change, and the audit trail.

use crate::harness::{TestServer, ADMIN_PASSWORD};
use crate::oauth2::{password_token, seed_000, seed_003, token_form, whoami};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn malformed_requests_get_rfc_6749_errors_that_say_what_to_fix() {
    let server = TestServer::start().await;
    seed_000(&server).await;
    let post = |body: &'static str, ctype: &'static str| {
        let server = &server;
        async move {
            let res = server
                .client
                .post(server.url("/oauth/token"))
                .basic_auth("simplivity", Some(""))
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let form = "application/x-www-form-urlencoded";
    let (s, b) = post("grant_type=implicit", form).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (s, b) = post("username=admin", form).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert!(b["error_description"].as_str().unwrap().contains("grant_type"));
    let (_, b) = post("grant_type=password&username=admin", form).await;
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("password parameter"),
        "{b}"
    );
    let (_, b) = post("grant_type=password&grant_type=password", form).await;
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("more than once"),
        "{b}"
    );
    let (s, b) = post(r#"{"grant_type":"password"}"#, "application/json").await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert!(b["error_description"]
        .as_str()
        .unwrap()
        .contains("x-www-form-urlencoded"));
    let (_, b) = post(
        "grant_type=password&username=admin&password=x&realm=nowhere",
        form,
    )
    .await;
    assert!(
        b["error_description"].as_str().unwrap().contains("nowhere"),
        "{b}"
    );

    // No client at all, an unknown one, and two methods at once.
    let res = server
        .client
        .post(server.url("/oauth/token"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_client");
    let res = token_form(
        &server,
        "/oauth/token",
        &[("grant_type", "password")],
        Some(("ghost", "x")),
    )
    .await;
    assert_eq!(res.status(), 401);
    let res = token_form(
        &server,
        "/oauth/token",
        &[("grant_type", "password"), ("client_secret", "x")],
        Some(("simplivity", "")),
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_request");
    // A huge body is refused with a 4xx, not a crash.
    let res = server
        .client
        .post(server.url("/oauth/token"))
        .header("content-type", form)
        .body(vec![b'a'; 1 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

/// RFC 6749 §5.2: a request whose client cannot be established is
/// `invalid_client` (401, Basic challenge) whatever else is wrong with it;
/// a client that authenticated with Basic and sends `client_secret` as
/// well used two methods, `invalid_request` (400).
#[tokio::test]
async fn a_client_that_cannot_be_established_is_invalid_client() {
    let server = TestServer::start().await;
    seed_000(&server).await;
    server
        .add_client("rs", Some("rs-secret"), &["client_credentials"], &[])
        .await;
    let refused = |res: reqwest::Response, why: &'static str| async move {
        assert_eq!(res.status(), 401, "{why}");
        assert_eq!(
            res.headers()["www-authenticate"],
            "Basic realm=\"tessera\"",
            "{why}"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{why}: {body}");
        body["error_description"].as_str().unwrap().to_owned()
    };
    for path in ["/oauth/token", "/oauth/revoke", "/oauth/introspect"] {
        let form = [("grant_type", "client_credentials"), ("token", "tsa_x")];
        // Wrong Basic credentials and a client_secret: the client is not
        // established, so two methods are not the first thing wrong.
        let with_secret = [form[0], form[1], ("client_secret", "rs-secret")];
        refused(
            token_form(&server, path, &with_secret, Some(("rs", "wrong"))).await,
            "wrong Basic secret and a form secret",
        )
        .await;
        // client_id naming another client than Basic.
        let other = [form[0], form[1], ("client_id", "simplivity")];
        let why = refused(
            token_form(&server, path, &other, Some(("rs", "rs-secret"))).await,
            "client_id of another client",
        )
        .await;
        assert!(why.contains("another client"), "{why}");
        // An id no client can have (RFC 8265) is an unknown client, with
        // the reason.
        let bad = [form[0], form[1], ("client_id", "r\ns")];
        let why = refused(
            token_form(&server, path, &bad, None).await,
            "an id RFC 8265 refuses",
        )
        .await;
        assert!(why.contains("U+000A"), "{why}");
    }
    // The same client in Basic and in client_id (in any spelling of its
    // id) is one method, and fine.
    for id in ["rs", "RS"] {
        let res = token_form(
            &server,
            "/oauth/token",
            &[("grant_type", "client_credentials"), ("client_id", id)],
            Some(("rs", "rs-secret")),
        )
        .await;
        assert_eq!(res.status(), 200, "{id}");
    }
    // Right Basic credentials and a client_secret: two methods.
    let res = token_form(
        &server,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", "rs-secret"),
        ],
        Some(("rs", "rs-secret")),
    )
    .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(
        body["error_description"].as_str().unwrap().contains("not both"),
        "{body}"
    );

    // RFC 6749 §3.2: a parameter an endpoint does not define is ignored,
    // given twice or not; one it defines, given twice, is refused.
    for (path, body, want) in [
        ("/oauth/introspect", "token=tsa_x&scope=a&scope=b", 200),
        ("/oauth/introspect", "token=tsa_x&token=tsa_y", 400),
        (
            "/oauth/token",
            "grant_type=client_credentials&token=a&token=b",
            200,
        ),
        (
            "/oauth/token",
            "grant_type=client_credentials&scope=read&scope=read",
            400,
        ),
    ] {
        let res = server
            .client
            .post(server.url(path))
            .basic_auth("rs", Some("rs-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), want, "{path} {body}");
    }

    // An empty token is a missing one, as the document's minLength says.
    for path in ["/oauth/revoke", "/oauth/introspect"] {
        let res = token_form(&server, path, &[("token", "")], Some(("rs", "rs-secret"))).await;
        assert_eq!(res.status(), 400, "{path}");
        let body: Value = res.json().await.unwrap();
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("token parameter"),
            "{body}"
        );
    }
    // An administrator's bearer token authorizes introspection; a
    // client_id sent along is not used, but must be well-formed.
    let admin = password_token(&server, "/oauth/token", "admin", ADMIN_PASSWORD).await;
    let admin = admin["access_token"].as_str().unwrap();
    let introspect = |client_id: String| {
        let server = &server;
        async move {
            server
                .client
                .post(server.url("/oauth/introspect"))
                .bearer_auth(admin)
                .form(&[("token", "tsa_x"), ("client_id", client_id.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(introspect("anyone".into()).await.status(), 200);
    assert_eq!(introspect(String::new()).await.status(), 200, "empty is absent");
    let res = introspect("c".repeat(129)).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("128"));
}

#[tokio::test]
async fn revocation_introspection_and_metadata_follow_their_rfcs() {
    let server = TestServer::start().await;
    seed_003(&server).await;
    server
        .add_client("rs", Some("rs-secret"), &["client_credentials"], &[])
        .await;
    let login = [
        ("grant_type", "password"),
        ("username", "user1"),
        ("password", "Walnut-Cascade-49"),
        ("realm", "marketingUsers"),
        ("client_id", "my-client"),
        ("client_secret", "my-secret"),
    ];
    let tokens: Value = token_form(&server, "/auth/oauth", &login, None)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let introspect = |token: String, who: (&'static str, &'static str)| {
        let server = &server;
        async move {
            token_form(server, "/oauth/introspect", &[("token", &token)], Some(who))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let info = introspect(access.to_owned(), ("rs", "rs-secret")).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["username"], "user1");
    assert_eq!(info["domain"], "marketingUsers");
    assert_eq!(info["client_id"], "my-client");
    assert_eq!(info["scope"], "read write");
    assert!(info["exp"].as_i64().unwrap() > info["iat"].as_i64().unwrap());
    let refresh_info = introspect(
        tokens["refresh_token"].as_str().unwrap().to_owned(),
        ("rs", "rs-secret"),
    )
    .await;
    assert_eq!(refresh_info["token_type"], "refresh_token");
    assert_eq!(
        introspect("tsa_notatoken".into(), ("rs", "rs-secret")).await["active"],
        false
    );

    // Only the owning client may revoke; revoking the refresh token ends the family.
    let res = token_form(
        &server,
        "/oauth/revoke",
        &[("token", tokens["refresh_token"].as_str().unwrap())],
        Some(("rs", "rs-secret")),
    )
    .await;
    assert_eq!(res.status(), 400);
    let res = token_form(
        &server,
        "/oauth/revoke",
        &[("token", tokens["refresh_token"].as_str().unwrap())],
        Some(("my-client", "my-secret")),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        introspect(access.to_owned(), ("rs", "rs-secret")).await["active"],
        false
    );
    let res = token_form(
        &server,
        "/oauth/revoke",
        &[("token", "tsa_unknown")],
        Some(("my-client", "my-secret")),
    )
    .await;
    assert_eq!(res.status(), 200, "RFC 7009: unknown tokens are not an error");

    let meta: Value = server
        .client
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], server.url(""));
    assert_eq!(meta["token_endpoint"], server.url("/oauth/token"));
    assert!(meta["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g == "emergency"));
}

#[tokio::test]
async fn a_password_change_needs_a_recent_login_or_the_current_password() {
    let server = TestServer::start().await;
    seed_000(&server).await;
    let tokens = password_token(&server, "/oauth/token", "admin", ADMIN_PASSWORD).await;
    let token = tokens["access_token"].as_str().unwrap();
    let other = password_token(&server, "/oauth/token", "admin", ADMIN_PASSWORD).await;
    server.clock.advance(Duration::from_secs(301));
    let change = |body: &'static str| {
        let server = &server;
        async move {
            server
                .client
                .post(server.url("/v1/users/me/password"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let res = change(r#"{"password":"next-password"}"#).await;
    assert_eq!(res.status(), 403, "a 5-minute-old login is not enough on its own");
    assert!(res.text().await.unwrap().contains("current_password"));
    let res = change(r#"{"password":"next-password","current_password":"wrong"}"#).await;
    assert_eq!(res.status(), 403);
    let res = change(r#"{"password":"next-password","current_password":"Opening-Night-Key-7"}"#).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        whoami(&server, token).await.status(),
        200,
        "the session that changed it lives on"
    );
    assert_eq!(
        whoami(&server, other["access_token"].as_str().unwrap())
            .await
            .status(),
        401,
        "other sessions end"
    );
    let res = change(r#"{"pasword":"typo"}"#).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("pasword"));
    let res = server
        .client
        .post(server.url("/v1/users/me/password"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // RFC 6750 §3.1: a request with no credentials gets the bare challenge.
    let challenge = res.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
}

#[tokio::test]
async fn no_password_or_token_reaches_the_audit_trail() {
    let server = TestServer::start().await;
    seed_000(&server).await;
    let tokens = password_token(&server, "/api/oauth/token", "admin", ADMIN_PASSWORD).await;
    let res = token_form(
        &server,
        "/api/oauth/token",
        &[
            ("grant_type", "emergency"),
            ("username", "svtcli"),
            ("password", "Quiet-Lantern-27"),
        ],
        Some(("simplivity", "")),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = token_form(
        &server,
        "/api/oauth/token",
        &[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "wrong-but-secret-guess"),
        ],
        Some(("simplivity", "")),
    )
    .await;
    assert_eq!(res.status(), 400);
    let events = server
        .core()
        .audit_events(&tessera_core::admin::AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let dump = serde_json::to_string(&events).unwrap();
    for secret in [
        ADMIN_PASSWORD,
        "Quiet-Lantern-27",
        tokens["access_token"].as_str().unwrap(),
    ] {
        assert!(!dump.contains(secret), "audit trail leaks {secret}");
    }
    assert!(events
        .iter()
        .any(|e| e.event.kind == tessera_model::AuditKind::LoginSucceeded));
    assert!(events
        .iter()
        .any(|e| e.event.kind == tessera_model::AuditKind::LoginFailed));
}
