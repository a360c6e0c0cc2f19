//! One canonical request path (SPEC §4, issue 11): forward auth and the
//! gateway judge the path a servlet container would serve (`;parameters`
//! dropped, `..;` as `..`, empty and dot segments resolved), the gateway
//! sends the upstream exactly that path, and the forms servers read
//! differently (encoded dots, separators and `;`, double encoding, control
//! characters, `..` above the root) are refused and never reach it.

use crate::harness::{Options, TestServer};
use crate::upstream::Upstream;
use serde_json::Value;

/// The rules, and a catch-all so the echo upstream can show what
/// it received for any authenticated path.
const RULES: &str = "\
    [[gateway.rules]]\nmethods = [\"GET\"]\npath = \"/public/**\"\nallow = [\"anonymous\"]\n\
    [[gateway.rules]]\nmethods = [\"*\"]\npath = \"/api/admin/**\"\nallow = [\"role:admin\"]\n\
    [[gateway.rules]]\nmethods = [\"*\"]\npath = \"/api/**\"\nallow = [\"authenticated\"]\n";

/// Forms that have no canonical path; each is refused whoever asks.
const REFUSED: [&str; 12] = [
    "/public/%2e%2e/api/admin/x",
    "/public/.%2E/api/admin/x",
    "/public/x%2F..%2F..%2Fapi/admin/x",
    "/api/x%2fy",
    "/api/x%5Cy",
    "/api/admin%3Bx=1/secret",
    "/public/%252e%252e/api/admin/x",
    "/public/x%252fy",
    "/api/a%00b",
    "/api/a%0d%0aX-Injected:%201",
    "/api/caf%C0%AE",
    "/public/../../etc/passwd",
];

struct Setup {
    server: TestServer,
    upstream: Upstream,
    admin: String,
    bob: String,
    emergency: String,
}

async fn setup() -> Setup {
    let upstream = Upstream::start().await;
    let server = TestServer::start_with(Options {
        toml: format!("[gateway]\nupstream = \"{}\"\n{RULES}", upstream.url()),
        ..Default::default()
    })
    .await;
    server
        .add_user(None, "root", "Change-Me-Soon-8", &["admin"], false)
        .await;
    server.add_user(None, "bob", "Kettle-Harbor-51", &[], false).await;
    server
        .add_user(None, "svtcli", "Quiet-Lantern-27", &[], true)
        .await;
    server
        .add_client("simplivity", None, &["password", "emergency"], &[])
        .await;
    let grant = |grant: &'static str, user: &'static str, password: &'static str| {
        server.grant("/api/oauth/token", "simplivity", grant, user, password)
    };
    let admin = grant("password", "root", "Change-Me-Soon-8").await;
    let bob = grant("password", "bob", "Kettle-Harbor-51").await;
    let emergency = grant("emergency", "svtcli", "Quiet-Lantern-27").await;
    Setup {
        server,
        upstream,
        admin,
        bob,
        emergency,
    }
}

impl Setup {
    /// `/v1/authz` for a GET of `uri`: the status and the body.
    async fn authz(&self, header: &str, uri: &str, token: Option<&str>) -> (u16, String) {
        let mut req = self
            .server
            .client
            .get(self.server.url("/v1/authz"))
            .header(header, uri);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// A GET of `path` through the gateway, sent byte for byte as written
    /// (curl --path-as-is, no globbing; reqwest would resolve dots and
    /// backslashes itself): the status and the body.
    async fn through(&self, path: &str, token: Option<&str>) -> (u16, String) {
        assert!(!path.contains('\''));
        let auth = token
            .map(|t| format!(" -H 'Authorization: Bearer {t}'"))
            .unwrap_or_default();
        let out = self
            .server
            .sh(&format!(
                "curl -sgk --path-as-is -w ' %{{http_code}}'{auth} 'https://'$HOST'{path}'"
            ))
            .await;
        let (body, status) = out
            .stdout
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("{path}: {out:?}"));
        (status.parse().unwrap(), body.to_owned())
    }

    /// What the upstream saw of a GET of `path` the gateway let through.
    async fn arrives(&self, path: &str, token: Option<&str>) -> Value {
        let (status, body) = self.through(path, token).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }
}

#[tokio::test]
async fn forward_auth_judges_the_path_a_servlet_container_would_serve() {
    let s = setup().await;
    let (admin, bob) = (Some(s.admin.as_str()), Some(s.bob.as_str()));
    // The bypass: `..;` is `..` to the API, so this is an admin path.
    let dotdot = "/public/..;/api/admin/x";
    assert_eq!(s.authz("X-Original-URI", dotdot, None).await.0, 401);
    assert_eq!(s.authz("X-Forwarded-Uri", dotdot, None).await.0, 401);
    assert_eq!(s.authz("X-Original-URI", dotdot, bob).await.0, 403);
    assert_eq!(s.authz("X-Original-URI", dotdot, admin).await.0, 200);
    // `;x=1` is dropped: judged as /api/admin/secret, which needs the role.
    let param = "/api/admin;x=1/secret";
    assert_eq!(s.authz("X-Original-URI", param, None).await.0, 401);
    let (status, body) = s.authz("X-Original-URI", param, bob).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("/api/admin/secret") && body.contains("role admin"),
        "{body}"
    );
    assert_eq!(s.authz("X-Original-URI", param, admin).await.0, 200);
    // Normalizing takes nothing away from a public path.
    for public in [
        "/public/x;v=1",
        "/public//x",
        "/public/a/../b",
        "/public/a/./b?q=%2e%2e",
    ] {
        assert_eq!(s.authz("X-Original-URI", public, None).await.0, 200, "{public}");
    }
    // Forms with no canonical path: 403 (what nginx acts on), even for
    // the administrator, naming the refusal.
    for raw in REFUSED.iter().copied().chain(["/public\\..\\api\\admin\\x"]) {
        for token in [None, admin] {
            let (status, body) = s.authz("X-Original-URI", raw, token).await;
            assert_eq!(status, 403, "{raw}: {body}");
            assert!(body.contains("is refused"), "{raw}: {body}");
        }
    }
    assert!(s.upstream.seen().is_empty(), "forward auth forwards nothing");
}

#[tokio::test]
async fn the_gateway_forwards_exactly_the_path_it_judged() {
    let s = setup().await;
    let (admin, bob) = (Some(s.admin.as_str()), Some(s.bob.as_str()));
    let cases = [
        // (as sent, token, as the upstream must receive it, its query)
        ("/api/a;x=1/b", bob, "/api/a/b", None),
        ("/api/admin;x=1/secret", admin, "/api/admin/secret", None),
        ("/public/..;/api/admin/x", admin, "/api/admin/x", None),
        ("/api//a/./b/../c/", bob, "/api/a/c/", None),
        ("/api/%68osts%20x", bob, "/api/hosts%20x", None),
        ("/api/caf%c3%a9", bob, "/api/caf%C3%A9", None),
        ("/api/a{b}", bob, "/api/a%7Bb%7D", None),
        ("/public/a;jsessionid=1/b", None, "/public/a/b", None),
        // The query goes as sent, whatever it holds.
        (
            "/api/a;x/b?p=%2e%2e;&q=/..;/",
            bob,
            "/api/a/b",
            Some("p=%2e%2e;&q=/..;/"),
        ),
        ("/api/hosts", bob, "/api/hosts", None),
    ];
    for (sent, token, received, query) in cases {
        let seen = s.arrives(sent, token).await;
        assert_eq!(seen["path"], received, "{sent}");
        assert_eq!(seen["query"].as_str(), query, "{sent}");
    }
    // The emergency allow-list judges the same path the upstream gets.
    let emergency = Some(s.emergency.as_str());
    assert_eq!(s.arrives("/api/hosts;x=1", emergency).await["path"], "/api/hosts");
    assert_eq!(
        s.arrives("/api/hosts/1/..", emergency).await["path"],
        "/api/hosts/"
    );
    let (status, _) = s.through("/api/hosts/..;/secrets", emergency).await;
    assert_eq!(status, 403);
    // What the rules refuse for the canonical path never gets there.
    assert_eq!(s.through("/public/..;/api/admin/x", None).await.0, 401);
    assert_eq!(s.through("/public/..;/api/admin/x", bob).await.0, 403);
    assert_eq!(s.through("/api/admin;x=1/secret", bob).await.0, 403);
    let before = s.upstream.seen();
    // Nor does any form without a canonical path: 400, whoever asks.
    for raw in REFUSED.iter().copied().chain(["/api/a\\..\\admin\\x"]) {
        let (status, body) = s.through(raw, admin).await;
        assert_eq!(status, 400, "{raw}: {body}");
        assert!(body.contains("is refused"), "{raw}: {body}");
    }
    assert_eq!(s.upstream.seen(), before, "a refused path reached the upstream");
    let mut expected: Vec<&str> = cases.iter().map(|c| c.2).collect();
    expected.extend(["/api/hosts", "/api/hosts/"]);
    assert_eq!(s.upstream.seen(), expected);
}
