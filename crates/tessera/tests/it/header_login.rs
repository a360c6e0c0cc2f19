//! The header-login front door (seed 001): the seed's curl command lines,
//! the redirect procedure, the 100-token cap, logout and proxy tokens.
//! `<ViPR_VIP>` in the seed stands for scheme and host, so it becomes
//! `https://127.0.0.1`; step 2's missing closing quote is closed.

use crate::harness::{curl_header as header, curl_status as status, Options, TestServer};
use std::time::Duration;

const FAST_HASHES: &str = "[password]\nmemory_kib = 1024\niterations = 1\n";

async fn seed_001(options: Options) -> TestServer {
    let server = TestServer::start_with(options).await;
    server
        .add_user(None, "root", "Change-Me-Soon-8", &["admin"], false)
        .await;
    server
        .core()
        .role_grant(
            &tessera_core::Actor::Cli,
            "_member_",
            &tessera_core::admin::RoleTarget {
                user: "root".into(),
                domain: None,
                system: false,
            },
        )
        .await
        .unwrap();
    server
}

#[tokio::test]
async fn login_without_cookies_then_whoami_run_as_written() {
    let server = seed_001(Options::default()).await;
    let out = server
        .sh(r#"curl -L --location-trusted -k https://$HOST/login -u "root:Change-Me-Soon-8" -v"#)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let token = header(&out.stderr, "X-SDS-AUTH-TOKEN").expect("the token header");
    assert!(token.starts_with("tsa_"));
    assert!(
        out.stdout
            .starts_with(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("<loggedIn><user>root</user></loggedIn>"));
    assert!(header(&out.stderr, "content-type")
        .unwrap()
        .starts_with("application/xml"));

    let out = server
        .sh(&format!(r#"curl -k https://$HOST/user/whoami -H "Content-Type: application/xml" -H "X-SDS-AUTH-TOKEN: {token}""#))
        .await;
    let xml = out.stdout;
    for part in [
        "<user><common_name>root</common_name><distinguished_name>root</distinguished_name>",
        "<home_tenant_roles><home_tenant_role>_member_</home_tenant_role></home_tenant_roles>",
        "<subtenant_roles/>",
        "<tenant>urn:tessera:Domain:",
        "<vdc_roles><vdc_role>admin</vdc_role></vdc_roles></user>",
    ] {
        assert!(xml.contains(part), "{part} missing from {xml}");
    }
    // JSON when the client accepts only JSON.
    let res = server
        .client
        .get(server.url("/user/whoami"))
        .header("X-SDS-AUTH-TOKEN", &token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["vdc_roles"][0], "admin");
    assert_eq!(me["home_tenant_roles"][0], "_member_");
    assert!(me["tenant"].as_str().unwrap().starts_with("urn:tessera:Domain:"));
}

#[tokio::test]
async fn login_with_cookies_runs_as_written_and_the_cookie_is_enough() {
    let server = seed_001(Options::default()).await;
    let out = server
        .sh(r#"curl -L --location-trusted -k https://$HOST/login?using-cookies=true -u "root:Change-Me-Soon-8" -c cookiefile -v"#)
        .await;
    let cookie = header(&out.stderr, "set-cookie").expect("a cookie");
    for attr in [
        "X-SDS-AUTH-TOKEN=tsa_",
        "Path=/",
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
    ] {
        assert!(cookie.contains(attr), "{attr} missing from {cookie}");
    }
    let jar = std::fs::read_to_string(server.dir.path().join("cookiefile")).unwrap();
    assert!(jar.contains("X-SDS-AUTH-TOKEN"), "{jar}");
    let out = server
        .sh("curl -k https://$HOST/user/whoami -b cookiefile -v")
        .await;
    assert_eq!(status(&out.stderr), 200, "{}", out.stderr);
    assert!(out.stdout.contains("<common_name>root</common_name>"));
}

#[tokio::test]
async fn the_four_step_redirect_procedure_and_the_follow_redirects_cookie_flow() {
    let server = seed_001(Options {
        toml: "[gateway]\nunauthenticated = \"redirect\"\n".into(),
        ..Default::default()
    })
    .await;
    // 1. The protected resource without a token: 302 to the login.
    let out = server.sh(r#"curl -k "https://$HOST/user/whoami" -v"#).await;
    assert_eq!(status(&out.stderr), 302, "{}", out.stderr);
    let location = header(&out.stderr, "location").unwrap();
    assert_eq!(location, "/login?service=%2Fuser%2Fwhoami");
    // 2. The login location without credentials: 401 with the Basic challenge.
    let out = server
        .sh(&format!(r#"curl -k "https://$HOST{location}" -v"#))
        .await;
    assert_eq!(status(&out.stderr), 401);
    assert_eq!(
        header(&out.stderr, "www-authenticate").unwrap(),
        r#"Basic realm="Tessera""#
    );
    // 3. With credentials: 302 back to the resource, and the token.
    let out = server
        .sh(&format!(
            r#"curl -k "https://$HOST{location}" -v -u "root:Change-Me-Soon-8""#
        ))
        .await;
    assert_eq!(status(&out.stderr), 302);
    let back = header(&out.stderr, "location").unwrap();
    assert_eq!(back, "/user/whoami?auth-redirected");
    let token = header(&out.stderr, "X-SDS-AUTH-TOKEN").unwrap();
    // 4. The resource, with the token.
    let out = server
        .sh(&format!(
            r#"curl -k https://$HOST{back} -H "X-SDS-AUTH-TOKEN:{token}""#
        ))
        .await;
    assert!(
        out.stdout.contains("<common_name>root</common_name>"),
        "{}",
        out.stdout
    );

    // The cookie flow, following redirects: one command, final 200.
    let out = server.sh(r#"curl -k "https://$HOST/user/whoami?using-cookies=true" -u "root:Change-Me-Soon-8" -c cookie1 -b cookie1 -L -v"#).await;
    assert_eq!(status(&out.stderr), 200, "{}", out.stderr);
    assert!(out.stdout.contains("<common_name>root</common_name>"));

    // A service that is not on this server is refused: no open redirect.
    let out = server.sh(r#"curl -sk -o /dev/null -w '%{http_code}' "https://$HOST/login?service=https://evil.example/" -u "root:Change-Me-Soon-8""#).await;
    assert_eq!(out.stdout, "400");
}

#[tokio::test]
async fn the_101st_token_of_a_user_is_refused_while_others_still_log_in() {
    let server = seed_001(Options {
        toml: FAST_HASHES.into(),
        ..Default::default()
    })
    .await;
    server
        .add_user(None, "other", "Cinder-Maple-26", &[], false)
        .await;
    let login = |user: &'static str, pw: &'static str| {
        let server = &server;
        async move {
            server
                .client
                .get(server.url("/login"))
                .basic_auth(user, Some(pw))
                .send()
                .await
                .unwrap()
        }
    };
    for n in 0..100 {
        assert_eq!(login("root", "Change-Me-Soon-8").await.status(), 200, "login {n}");
    }
    server.clock.advance(Duration::from_secs(60));
    let res = login("root", "Change-Me-Soon-8").await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    // The first token frees up when its 2-hour idle timeout runs out.
    assert_eq!(retry, 7200 - 60);
    assert!(res.text().await.unwrap().contains("maximum number of tokens"));
    assert_eq!(
        login("other", "Cinder-Maple-26").await.status(),
        200,
        "other users are not affected"
    );
    // When the first tokens idle out, logins work again.
    server.clock.advance(Duration::from_secs(retry));
    assert_eq!(login("root", "Change-Me-Soon-8").await.status(), 200);
}

#[tokio::test]
async fn logout_force_ends_every_session_of_the_user_and_no_one_elses() {
    let server = seed_001(Options::default()).await;
    server
        .add_user(None, "other", "Cinder-Maple-26", &[], false)
        .await;
    let token = |user: &'static str, pw: &'static str| {
        let server = &server;
        async move {
            let res = server
                .client
                .get(server.url("/login"))
                .basic_auth(user, Some(pw))
                .send()
                .await
                .unwrap();
            res.headers()["x-sds-auth-token"].to_str().unwrap().to_owned()
        }
    };
    let (a, b, c) = (
        token("root", "Change-Me-Soon-8").await,
        token("root", "Change-Me-Soon-8").await,
        token("other", "Cinder-Maple-26").await,
    );
    let whoami = |t: String| {
        let server = &server;
        async move {
            server
                .client
                .get(server.url("/user/whoami"))
                .header("X-SDS-AUTH-TOKEN", t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Plain logout ends only the presented token.
    let res = server
        .client
        .get(server.url("/logout"))
        .header("X-SDS-AUTH-TOKEN", &a)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(whoami(a.clone()).await, 401);
    assert_eq!(whoami(b.clone()).await, 200);
    let d = token("root", "Change-Me-Soon-8").await;
    let res = server
        .client
        .get(server.url("/logout?force=true"))
        .header("X-SDS-AUTH-TOKEN", &b)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!((whoami(b).await.as_u16(), whoami(d).await.as_u16()), (401, 401));
    assert_eq!(whoami(c).await, 200, "another user's session survives");
}

#[tokio::test]
async fn a_proxy_token_outlives_8_hours_and_logout_until_proxytokens_true() {
    let server = seed_001(Options::default()).await;
    let res = server
        .client
        .get(server.url("/login"))
        .basic_auth("root", Some("Change-Me-Soon-8"))
        .send()
        .await
        .unwrap();
    let token = res.headers()["x-sds-auth-token"].to_str().unwrap().to_owned();
    let res = server
        .client
        .get(server.url("/proxytoken"))
        .header("X-SDS-AUTH-TOKEN", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let proxy = res.headers()["x-sds-auth-proxy-token"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(proxy.starts_with("tsp_"));
    let whoami = |t: &str| {
        let (server, t) = (&server, t.to_owned());
        async move {
            server
                .client
                .get(server.url("/user/whoami"))
                .header("X-SDS-AUTH-TOKEN", t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // A plain logout of the session that made it leaves it working.
    server
        .client
        .get(server.url("/logout"))
        .header("X-SDS-AUTH-TOKEN", &token)
        .send()
        .await
        .unwrap();
    server.clock.advance(Duration::from_secs(9 * 3600));
    assert_eq!(whoami(&token).await, 401);
    assert_eq!(whoami(&proxy).await, 200, "after 9 hours and a logout");
    // force=true alone spares it; with proxytokens=true it dies.
    let res = server
        .client
        .get(server.url("/login"))
        .basic_auth("root", Some("Change-Me-Soon-8"))
        .send()
        .await
        .unwrap();
    let fresh = res.headers()["x-sds-auth-token"].to_str().unwrap().to_owned();
    server
        .client
        .get(server.url("/logout?force=true"))
        .header("X-SDS-AUTH-TOKEN", &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(whoami(&proxy).await, 200);
    let res = server
        .client
        .get(server.url("/logout?force=true&proxytokens=true"))
        .header("X-SDS-AUTH-TOKEN", &proxy)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(whoami(&proxy).await, 401);
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_tokens_from_other_doors_work_here() {
    let server = seed_001(Options::default()).await;
    let res = server.client.get(server.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], r#"Basic realm="Tessera""#);
    let res = server
        .client
        .get(server.url("/login"))
        .basic_auth("root", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("<details>wrong user name or password</details>"));
    let res = server
        .client
        .get(server.url("/login"))
        .header("authorization", "Basic ***")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = server
        .client
        .get(server.url("/user/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // One identity, one session store: an oauth2 token works at this door.
    server.add_client("c", None, &["password"], &[]).await;
    let res = server
        .client
        .post(server.url("/oauth/token"))
        .basic_auth("c", Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", "root"),
            ("password", "Change-Me-Soon-8"),
        ])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    let oauth_token = body["access_token"].as_str().unwrap();
    let res = server
        .client
        .get(server.url("/user/whoami"))
        .header("X-SDS-AUTH-TOKEN", oauth_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = server
        .client
        .get(server.url("/user/whoami"))
        .bearer_auth(oauth_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Issue 15: a lockout stops passwords and session tokens, not proxy
/// tokens. Anyone who knows a script account's name can lock it with five
/// wrong passwords; that must not stop the script. A stolen proxy token
/// is revoked (`/logout?force=true&proxytokens=true`), not locked out;
/// a disabled account still refuses every token, proxy tokens included.
#[tokio::test]
async fn a_lockout_refuses_passwords_and_session_tokens_but_not_proxy_tokens() {
    let server = seed_001(Options {
        toml: format!(
            "{FAST_HASHES}[lockout]\nmax_failed_logins = 5\nwindow = \"5m\"\nduration = \"1m\"\n\
             [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/api/**\"\nallow = [\"authenticated\"]\n"
        ),
        ..Default::default()
    })
    .await;
    server
        .add_user(None, "backup-script", "Orbit-Pebble-93", &[], false)
        .await;
    let login = |password: &'static str| {
        let server = &server;
        async move {
            server
                .client
                .get(server.url("/login"))
                .basic_auth("backup-script", Some(password))
                .send()
                .await
                .unwrap()
        }
    };
    let res = login("Orbit-Pebble-93").await;
    assert_eq!(res.status(), 200);
    let session = res.headers()["x-sds-auth-token"].to_str().unwrap().to_owned();
    let res = server
        .client
        .get(server.url("/proxytoken"))
        .header("X-SDS-AUTH-TOKEN", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let proxy = res.headers()["x-sds-auth-proxy-token"]
        .to_str()
        .unwrap()
        .to_owned();
    // What a script does with its token: whoami at this door, and a
    // forward-auth check as nginx would ask it.
    let whoami = |t: &str| {
        let (server, t) = (&server, t.to_owned());
        async move {
            server
                .client
                .get(server.url("/user/whoami"))
                .header("X-SDS-AUTH-TOKEN", t)
                .header("Accept", "application/json")
                .send()
                .await
                .unwrap()
        }
    };
    let authz = |t: &str| {
        let (server, t) = (&server, t.to_owned());
        async move {
            server
                .client
                .get(server.url("/v1/authz"))
                .header("X-Original-Method", "GET")
                .header("X-Original-URI", "/api/backups")
                .header("X-SDS-AUTH-TOKEN", t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(whoami(&proxy).await.status(), 200);
    assert_eq!(authz(&proxy).await, 200);

    // Someone who knows only the name: five wrong passwords lock it.
    for _ in 0..5 {
        assert_eq!(login("not-the-password").await.status(), 401);
    }
    let (_, account) = server.core().user_named(None, "backup-script").await.unwrap();
    assert!(
        account.is_locked(tessera_model::Timestamp(server.clock.now_ms())),
        "five wrong passwords lock the account"
    );

    // The password is refused while the lock holds, and so is the session token ...
    assert_eq!(login("Orbit-Pebble-93").await.status(), 401);
    let res = whoami(&session).await;
    assert_eq!(res.status(), 401);
    let body = res.text().await.unwrap();
    assert!(body.contains("locked"), "{body}");
    assert_eq!(authz(&session).await, 401);
    // ... but the script's proxy token goes on working.
    let res = whoami(&proxy).await;
    assert_eq!(res.status(), 200, "the proxy token of a locked account");
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["common_name"], "backup-script");
    assert_eq!(authz(&proxy).await, 200, "forward auth with the proxy token");

    // After the lock, the session token works again (seed 004).
    server.clock.advance(Duration::from_secs(61));
    assert_eq!(whoami(&session).await.status(), 200);

    // A disabled account refuses everything, proxy tokens included.
    server
        .core()
        .user_set_enabled(&tessera_core::Actor::Cli, None, "backup-script", false)
        .await
        .unwrap();
    assert_eq!(whoami(&proxy).await.status(), 401);
    assert_eq!(authz(&proxy).await, 401);
}
