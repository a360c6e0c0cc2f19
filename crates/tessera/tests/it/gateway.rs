//! The gateway (SPEC §4) in front of a real upstream: seed 001's redirect
//! flows to `/tenant`, seed 000's emergency allow-list, identity headers,
//! credentials and forged headers stripped, 502/504, streamed bodies, and
//! forward auth (`/v1/authz`).

use crate::harness::{curl_header as header, curl_status as status, Options, TestServer, ADMIN_PASSWORD};
use crate::upstream::{closed_port, Upstream};
use serde_json::Value;
use std::time::{Duration, Instant};

fn gateway_toml(upstream: &str, extra: &str) -> String {
    format!(
        "[gateway]\nupstream = \"{upstream}\"\ntimeout = \"1s\"\n{extra}\n\
         [[gateway.rules]]\nmethods = [\"*\"]\npath = \"/api/**\"\nallow = [\"authenticated\"]\n\
         [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/tenant\"\nallow = [\"authenticated\"]\n\
         [[gateway.rules]]\nmethods = [\"*\"]\npath = \"/sdn/v2.0/**\"\nallow = [\"role:sdn-admin\", \"role:admin\"]\n\
         [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/public/**\"\nallow = [\"anonymous\"]\n\
         [[gateway.rules]]\nmethods = [\"*\"]\npath = \"/files/**\"\nallow = [\"authenticated\"]\n\
         [[gateway.rules]]\nmethods = [\"*\"]\npath = \"/upload\"\nallow = [\"authenticated\"]\n\
         [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/download\"\nallow = [\"authenticated\"]\n\
         [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/slow\"\nallow = [\"authenticated\"]\n\
         [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/stall\"\nallow = [\"authenticated\"]\n"
    )
}

async fn start(upstream: &str, extra: &str) -> TestServer {
    let server = TestServer::start_with(Options {
        toml: gateway_toml(upstream, extra),
        ..Default::default()
    })
    .await;
    server
        .add_user(None, "root", "Change-Me-Soon-8", &["admin"], false)
        .await;
    server.add_user(None, "bob", "Kettle-Harbor-51", &[], false).await;
    server
        .add_client("simplivity", None, &["password", "emergency"], &[])
        .await;
    server
        .add_user(None, "svtcli", "Quiet-Lantern-27", &[], true)
        .await;
    server
}

async fn token(server: &TestServer, grant: &str, user: &str, password: &str) -> String {
    server
        .grant("/api/oauth/token", "simplivity", grant, user, password)
        .await
}

const TENANT: &str = "<name>Provider Tenant</name>";

#[tokio::test]
async fn seed_001_redirect_procedure_reaches_the_tenant_through_the_gateway() {
    let upstream = Upstream::start().await;
    let server = start(&upstream.url(), "unauthenticated = \"redirect\"").await;
    // 1. The tenant without a token: 302 to the login.
    let out = server.sh(r#"curl -k "https://$HOST/tenant" -v"#).await;
    assert_eq!(status(&out.stderr), 302, "{}", out.stderr);
    let location = header(&out.stderr, "location").unwrap();
    assert_eq!(location, "/login?service=%2Ftenant");
    // 2. Without credentials: 401 and the challenge.
    let out = server
        .sh(&format!(r#"curl -k "https://$HOST{location}" -v"#))
        .await;
    assert_eq!(status(&out.stderr), 401);
    assert!(header(&out.stderr, "www-authenticate")
        .unwrap()
        .starts_with("Basic realm="));
    // 3. With credentials: back to the tenant, with the token.
    let out = server
        .sh(&format!(
            r#"curl -k "https://$HOST{location}" -v -u "root:Change-Me-Soon-8""#
        ))
        .await;
    assert_eq!(status(&out.stderr), 302);
    let back = header(&out.stderr, "location").unwrap();
    let token = header(&out.stderr, "X-SDS-AUTH-TOKEN").unwrap();
    assert_eq!(back, "/tenant?auth-redirected");
    // 4. The tenant, with the token header.
    let out = server
        .sh(&format!(
            r#"curl -k https://$HOST{back} -H "X-SDS-AUTH-TOKEN:{token}""#
        ))
        .await;
    assert!(out.stdout.contains(TENANT), "{}", out.stdout);
    // The cookie flow, following redirects, in one command.
    let out = server.sh(r#"curl -k "https://$HOST/tenant?using-cookies=true" -u "root:Change-Me-Soon-8" -c cookie1 -b cookie1 -L -v"#).await;
    assert_eq!(status(&out.stderr), 200, "{}", out.stderr);
    assert!(out.stdout.contains(TENANT));
    // And the seed's login-with-cookies, then the tenant with the cookie file.
    server.sh(r#"curl -L --location-trusted -k https://$HOST/login?using-cookies=true -u "root:Change-Me-Soon-8" -c cookiefile -v"#).await;
    let out = server.sh("curl -k https://$HOST/tenant -b cookiefile -v").await;
    assert!(out.stdout.contains(TENANT), "{}", out.stderr);
}

#[tokio::test]
async fn emergency_tokens_reach_only_the_allow_list() {
    let upstream = Upstream::start().await;
    let server = start(&upstream.url(), "").await;
    let emergency = token(&server, "emergency", "svtcli", "Quiet-Lantern-27").await;
    let call = |method: reqwest::Method, path: &'static str| {
        let (server, t) = (&server, emergency.clone());
        async move {
            server
                .client
                .request(method, server.url(path))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
        }
    };
    let res = call(reqwest::Method::GET, "/api/hosts").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["path"], "/api/hosts");
    let res = call(reqwest::Method::POST, "/api/backups/7/restore").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["method"], "POST");
    assert_eq!(call(reqwest::Method::DELETE, "/api/hosts/1").await.status(), 403);
    let res = call(reqwest::Method::GET, "/api/hosts?sort=name").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("\\\"sort\\\""));
    // An ordinary token is not bound by the allow-list.
    let admin = token(&server, "password", "root", "Change-Me-Soon-8").await;
    let res = server
        .client
        .delete(server.url("/api/hosts/1"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn identity_headers_are_added_and_forged_ones_and_credentials_never_reach_the_upstream() {
    let upstream = Upstream::start().await;
    let server = start(&upstream.url(), "").await;
    let bob = token(&server, "password", "bob", "Kettle-Harbor-51").await;
    let res = server
        .client
        .get(server.url("/api/things?x=1"))
        .bearer_auth(&bob)
        .header("X-Tessera-User", "root")
        .header("X-Tessera-Roles", "admin")
        .header("Cookie", "theme=dark; X-SDS-AUTH-TOKEN=forged")
        .header("Connection", "keep-alive, x-hop")
        .header("X-Hop", "private")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen: Value = res.json().await.unwrap();
    let h = &seen["headers"];
    assert_eq!(h["x-tessera-user"], "bob");
    assert_eq!(h["x-tessera-domain"], "local");
    assert_eq!(h["x-tessera-roles"], "");
    assert_eq!(h["x-tessera-scope"], "read write");
    assert_eq!(h["cookie"], "theme=dark");
    assert!(
        h.get("authorization").is_none(),
        "the token must not reach the upstream"
    );
    assert!(
        h.get("x-hop").is_none(),
        "headers named by Connection are hop-by-hop"
    );
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(seen["query"], "x=1");
    // Anonymous paths: no identity at all reaches the upstream, forged or not.
    let res = server
        .client
        .get(server.url("/public/info"))
        .header("X-Tessera-User", "root")
        .send()
        .await
        .unwrap();
    let seen: Value = res.json().await.unwrap();
    assert!(seen["headers"].get("x-tessera-user").is_none());
    // Tokens from every carrier work (seed 002's X-Auth-Token, seed 001's header).
    for carrier in ["x-auth-token", "x-sds-auth-token"] {
        let res = server
            .client
            .get(server.url("/api/things"))
            .header(carrier, &bob)
            .send()
            .await
            .unwrap();
        let seen: Value = res.json().await.unwrap();
        assert_eq!(seen["headers"]["x-tessera-user"], "bob", "{carrier}");
        assert!(seen["headers"].get(carrier).is_none());
    }
    // Rules by role: bob lacks sdn-admin and admin.
    let res = server
        .client
        .get(server.url("/sdn/v2.0/systems"))
        .header("x-auth-token", &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("role sdn-admin"));
    // Paths no rule covers are denied by default.
    let res = server
        .client
        .get(server.url("/nowhere"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // No token: 401 with a Bearer challenge.
    let res = server.client.get(server.url("/api/things")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
}

#[tokio::test]
async fn an_upstream_that_is_down_gets_502_and_one_that_hangs_504() {
    let port = closed_port().await;
    let server = start(&format!("http://127.0.0.1:{port}"), "").await;
    let t = token(&server, "password", "bob", "Kettle-Harbor-51").await;
    let res = server
        .client
        .get(server.url("/api/x"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert!(res.text().await.unwrap().contains("did not answer"));

    let upstream = Upstream::start().await;
    let server = start(&upstream.url(), "").await;
    let t = token(&server, "password", "bob", "Kettle-Harbor-51").await;
    let started = Instant::now();
    let res = server
        .client
        .get(server.url("/slow"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "504 came after {:?}",
        started.elapsed()
    );
    assert!(res.text().await.unwrap().contains("within 1s"));
    // The gateway itself is fine afterwards.
    assert_eq!(
        server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// The peak resident memory (`VmHWM`) of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// The real `tessera serve` process, measured from outside: a 1 GiB
/// upload and a 1 GiB download through its gateway leave its peak memory
/// where a few small requests put it.
#[tokio::test]
async fn a_1_gib_body_streams_both_ways_in_constant_memory() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tessera.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ntls = \"off\"\n[gateway]\nupstream = \"{}\"\n\
             [[gateway.rules]]\nmethods = [\"POST\"]\npath = \"/upload\"\nallow = [\"anonymous\"]\n\
             [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/download\"\nallow = [\"anonymous\"]\n",
            upstream.url()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let (child, url, _out) = crate::foundation::spawn_serve_with(
        dir.path(),
        &[
            ("TESSERA_CONFIG", &config),
            ("TESSERA_ADMIN_PASSWORD", "not-used-here"),
        ],
    );
    let pid = child.id();
    let client = reqwest::Client::new();
    const GIB: u64 = 1 << 30;
    const CHUNK: usize = 1 << 20;
    // Warm up: pools, connections, buffers of the first few exchanges.
    for _ in 0..3 {
        let res = client
            .get(format!("{url}/download?size={}", 4 * CHUNK))
            .send()
            .await
            .unwrap();
        assert_eq!(res.bytes().await.unwrap().len(), 4 * CHUNK);
    }
    let before = peak_rss(pid);
    let chunk = bytes::Bytes::from(vec![b'y'; CHUNK]);
    let stream = futures_util::stream::iter(
        (0..GIB / CHUNK as u64).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let res = client
        .post(format!("{url}/upload"))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "a body far over max_body_bytes passes the gateway"
    );
    assert_eq!(res.json::<Value>().await.unwrap()["bytes"], GIB);
    let mut res = client
        .get(format!("{url}/download?size={GIB}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut received: u64 = 0;
    while let Some(chunk) = res.chunk().await.unwrap() {
        received += chunk.len() as u64;
    }
    assert_eq!(received, GIB);
    let grown = peak_rss(pid).saturating_sub(before);
    crate::foundation::terminate(child);
    assert!(
        grown < 32 << 20,
        "2 GiB through the gateway raised the server's peak memory by {} MiB",
        grown >> 20
    );
}

/// `[gateway] timeout` (1 s here) bounds the upstream's silence, not the
/// exchange: an upload that keeps moving for longer passes, and an upstream
/// that stops mid-body has the response cut off.
#[tokio::test]
async fn the_upstream_timeout_bounds_silence_not_length() {
    let upstream = Upstream::start().await;
    let server = start(&upstream.url(), "").await;
    let t = token(&server, "password", "bob", "Kettle-Harbor-51").await;
    // Eight chunks, 300 ms apart: 2.4 s in all, never 1 s of silence.
    let chunks = futures_util::stream::unfold(0u32, |i| async move {
        if i == 8 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some((
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"0123456789")),
            i + 1,
        ))
    });
    let started = Instant::now();
    let res = server
        .client
        .post(server.url("/upload"))
        .bearer_auth(&t)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a slow but steady upload is not a timeout");
    assert_eq!(res.json::<Value>().await.unwrap()["bytes"], 80);
    assert!(started.elapsed() > Duration::from_secs(2));

    let started = Instant::now();
    let mut res = server
        .client
        .get(server.url("/stall"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the headers came in time");
    let mut received = Vec::new();
    let ended = loop {
        match res.chunk().await {
            Ok(Some(c)) => received.extend_from_slice(&c),
            Ok(None) => break "the body ended as if complete",
            Err(_) => break "cut off",
        }
    };
    assert_eq!(ended, "cut off", "a stalled body must not look complete");
    assert_eq!(received, b"partial");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cut off after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_expired_seed_004_jwt_is_already_expired_at_the_gateway() {
    let upstream = Upstream::start().await;
    let server = start(&upstream.url(), "").await;
    let res = server
        .client
        .post(server.url("/Spectre/api/rest/v1/Services/AuthenticationService/login"))
        .json(&serde_json::json!({"apiUserCredential": {"username": "root", "domain": "local", "password": "Change-Me-Soon-8"}}))
        .send()
        .await
        .unwrap();
    let jwt = res.json::<Value>().await.unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        server
            .client
            .get(server.url("/api/hosts"))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.clock.advance(Duration::from_secs(3601));
    let res = server
        .client
        .get(server.url("/api/hosts"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["message"],
        "Token is already expired"
    );
}

#[tokio::test]
async fn forward_auth_answers_for_the_original_request() {
    let upstream = Upstream::start().await;
    let server = start(&upstream.url(), "").await;
    let bob = token(&server, "password", "bob", "Kettle-Harbor-51").await;
    let emergency = token(&server, "emergency", "svtcli", "Quiet-Lantern-27").await;
    let check = |method: &'static str, uri: &'static str, t: Option<String>, nginx: bool| {
        let server = &server;
        async move {
            let (m, u) = if nginx {
                ("X-Original-Method", "X-Original-URI")
            } else {
                ("X-Forwarded-Method", "X-Forwarded-Uri")
            };
            let mut req = server
                .client
                .get(server.url("/v1/authz"))
                .header(m, method)
                .header(u, uri);
            if let Some(t) = t {
                req = req.bearer_auth(t);
            }
            req.send().await.unwrap()
        }
    };
    let res = check("GET", "/api/hosts", Some(bob.clone()), true).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-tessera-user"], "bob");
    assert_eq!(res.headers()["x-tessera-scope"], "read write");
    assert_eq!(check("GET", "/api/hosts", None, false).await.status(), 401);
    assert_eq!(check("GET", "/public/x", None, false).await.status(), 200);
    assert_eq!(
        check("DELETE", "/sdn/v2.0/x", Some(bob.clone()), false)
            .await
            .status(),
        403
    );
    assert_eq!(
        check("GET", "/api/hosts?sort=name", Some(emergency.clone()), true)
            .await
            .status(),
        403
    );
    assert_eq!(
        check("POST", "/api/backups/1/restore", Some(emergency), true)
            .await
            .status(),
        200
    );
    // The admin password is a credential, never a token.
    assert_eq!(
        check("GET", "/api/hosts", Some(ADMIN_PASSWORD.into()), true)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn paths_that_could_mean_another_path_never_pass() {
    let upstream = Upstream::start().await;
    let server = start(&upstream.url(), "").await;
    // curl --path-as-is sends the dots as written (reqwest would resolve them).
    let get = |path: &'static str| {
        let server = &server;
        async move {
            server
                .sh(&format!(
                    "curl -sk --path-as-is -w ' %{{http_code}}' https://$HOST{path}"
                ))
                .await
                .stdout
        }
    };
    // Encoded dots and slashes have no canonical form: refused.
    for path in ["/public/%2e%2e/api/things", "/public/x%2F..%2F..%2Fapi/things"] {
        let out = get(path).await;
        assert!(out.ends_with(" 400"), "{path}: {out}");
        assert!(out.contains("refused"), "{path}: {out}");
    }
    // Plain dot segments are resolved, as the upstream would, and the
    // resolved path is what is judged and forwarded (tests/it/paths.rs).
    assert!(get("/public/../api/things").await.ends_with(" 401"));
    let out = get("/public/./x").await;
    assert!(
        out.ends_with(" 200") && out.contains(r#""path":"/public/x""#),
        "{out}"
    );
    assert_eq!(upstream.seen(), ["/public/x"]);
    // Forward auth: the same paths, and a second family of headers naming
    // another request (a client adding X-Original-URI through Caddy).
    let authz = |pairs: Vec<(&'static str, &'static str)>| {
        let server = &server;
        async move {
            let mut req = server.client.get(server.url("/v1/authz"));
            for (k, v) in pairs {
                req = req.header(k, v);
            }
            req.send().await.unwrap().status()
        }
    };
    assert_eq!(
        authz(vec![("X-Original-URI", "/public/%2e%2e/api/things")]).await,
        403
    );
    assert_eq!(authz(vec![("X-Forwarded-Uri", "/public/info")]).await, 200);
    let spoofed = vec![
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/api/things"),
        ("X-Original-URI", "/public/info"),
    ];
    assert_eq!(authz(spoofed).await, 403);
}
