//! What a newcomer meets at the front door (issue 14): a ViPR script's
//! proxy token in `X-SDS-AUTH-PROXY-TOKEN`, and `GET /` naming the doors
//! and the operator's endpoints.

use crate::harness::{Options, TestServer};
use crate::upstream::Upstream;
use serde_json::Value;

async fn login(server: &TestServer) -> String {
    let res = server
        .client
        .get(server.url("/login"))
        .basic_auth("root", Some("Change-Me-Soon-8"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.headers()["x-sds-auth-token"].to_str().unwrap().to_owned()
}

async fn proxy_token(server: &TestServer) -> String {
    let token = login(server).await;
    let res = server
        .client
        .get(server.url("/proxytoken"))
        .header("X-SDS-AUTH-TOKEN", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.headers()["x-sds-auth-proxy-token"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_vipr_script_sends_its_proxy_token_in_the_proxy_token_header() {
    let upstream = Upstream::start().await;
    let server = TestServer::start_with(Options {
        toml: format!(
            "[gateway]\nupstream = \"{}\"\n[[gateway.rules]]\nmethods = [\"*\"]\npath = \"/api/**\"\nallow = [\"authenticated\"]\n",
            upstream.url()
        ),
        ..Default::default()
    })
    .await;
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
    let proxy = proxy_token(&server).await;
    // Seed 001's script: the proxy token where `GET /proxytoken` put it.
    let res = server
        .client
        .get(server.url("/user/whoami"))
        .header("Accept", "application/json")
        .header("X-SDS-AUTH-PROXY-TOKEN", &proxy)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["common_name"], "root", "{me}");
    // Through the gateway too, and the token does not travel upstream.
    let res = server
        .client
        .get(server.url("/api/things"))
        .header("X-SDS-AUTH-PROXY-TOKEN", &proxy)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["headers"]["x-tessera-user"], "root", "{seen}");
    assert!(seen["headers"].get("x-sds-auth-proxy-token").is_none(), "{seen}");
    // A dead token in that header is refused like in any other.
    let res = server
        .client
        .get(server.url("/user/whoami"))
        .header("X-SDS-AUTH-PROXY-TOKEN", "tsp_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_root_names_the_doors_and_the_operators_endpoints() {
    let server = TestServer::start().await;
    let res = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let index: Value = res.json().await.unwrap();
    assert_eq!(index["openapi"], "/openapi.json", "{index}");
    assert_eq!(index["health"], "/healthz", "{index}");
    assert_eq!(index["ready"], "/readyz", "{index}");
    assert_eq!(index["metrics"], "/metrics", "{index}");
    let doors = index["doors"].as_array().unwrap();
    let oauth2 = doors.iter().find(|d| d["name"] == "oauth2").unwrap();
    assert!(oauth2["paths"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "/oauth/token"));
    assert!(doors.iter().any(|d| d["name"] == "header-login"), "{index}");
    // A browser gets a page with links.
    let res = server
        .client
        .get(server.url("/"))
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"href="/openapi.json""#), "{page}");
    assert!(page.contains("/oauth/token"), "{page}");
    // And the OpenAPI document lists it.
    let doc: Value = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["paths"]["/"]["get"].is_object(),
        "GET / missing from /openapi.json"
    );
}

#[tokio::test]
async fn with_a_gateway_the_root_is_the_upstreams() {
    let upstream = Upstream::start().await;
    let server = TestServer::start_with(Options {
        toml: format!(
            "[gateway]\nupstream = \"{}\"\n[[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/\"\nallow = [\"anonymous\"]\n",
            upstream.url()
        ),
        ..Default::default()
    })
    .await;
    let res = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["path"], "/", "{seen}");
    assert_eq!(upstream.seen(), vec!["/".to_owned()]);
}

/// A method a path does not take is a 405 naming the methods it does take
/// in `Allow`, with a message saying so, at every kind of route: a door's
/// own (OAuth2 JSON, ViPR XML), the admin API and the operator endpoints.
#[tokio::test]
async fn a_wrong_method_is_a_405_with_allow_and_a_message_at_every_door() {
    let server = TestServer::start().await;
    for (path, allowed) in [
        ("/oauth/token", "POST"),
        ("/login", "GET"),
        ("/proxytoken", "GET"),
        ("/v1/admin/users", "GET"),
        ("/v1/auth/whoami", "GET"),
        ("/healthz", "GET"),
        ("/openapi.json", "GET"),
    ] {
        let res = server.client.delete(server.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 405, "DELETE {path}");
        let allow = res
            .headers()
            .get("allow")
            .unwrap_or_else(|| panic!("DELETE {path}: 405 without Allow"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            allow.split(',').any(|m| m.trim() == allowed),
            "DELETE {path}: Allow {allow:?} lacks {allowed}"
        );
        assert!(!allow.contains("DELETE"), "DELETE {path}: Allow {allow:?}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("Allow header lists the ones it takes"),
            "DELETE {path}: {body}"
        );
    }
}
