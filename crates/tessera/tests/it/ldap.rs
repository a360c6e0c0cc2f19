//! LDAP domains against a real OpenLDAP (SPEC §7, issue 12): both bind
//! styles through every door, roles from groups, escaping of hostile
//! names, lockout, the directory going down and coming back, and TLS
//! (ldaps:// and StartTLS under a generated CA). The directory is a
//! `slapd` each test starts on its own ports (`ldap_harness`).

use crate::harness::{backends, Options, TestServer, ADMIN_PASSWORD};
use crate::ldap_harness::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A public OAuth2 client for password and emergency grants (seed 000's).
const CLIENT: &str = "simplivity";

async fn setup(server: &TestServer) {
    server
        .add_client(CLIENT, None, &["password", "emergency"], &[])
        .await;
}

/// An oauth2 password grant in `realm` (seed 003's field).
async fn oauth2(server: &TestServer, realm: &str, user: &str, password: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/oauth/token"))
        .basic_auth(CLIENT, Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("realm", realm),
        ])
        .send()
        .await
        .unwrap()
}

async fn oauth2_token(server: &TestServer, realm: &str, user: &str, password: &str) -> String {
    let res = oauth2(server, realm, user, password).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{user}@{realm}: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn whoami(server: &TestServer, token: &str) -> Value {
    let res = server
        .client
        .get(server.url("/v1/auth/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The `(name, scope)` of each role in a whoami reply, sorted.
fn roles(whoami: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = whoami["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["scope"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

/// `corp`: DN template, added with the CLI, groups mapped with the CLI.
fn add_template_domain(server: &TestServer, slapd: &Slapd) {
    let out = server.cli(
        &[
            "domain",
            "add",
            "corp",
            "--ldap-url",
            &slapd.url(),
            "--user-dn-template",
            PEOPLE_TEMPLATE,
        ],
        None,
    );
    out.ok();
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("in clear"),
        "plain ldap:// is warned about: {}",
        out.stderr
    );
    server
        .cli(
            &[
                "domain",
                "map-group",
                "corp",
                "tessera-admins",
                "admin",
                "--system",
            ],
            None,
        )
        .ok();
    server
        .cli(&["domain", "map-group", "corp", "storage-ops", "_member_"], None)
        .ok();
    server
        .cli(&["domain", "map-group", "corp", "readers", "read_only"], None)
        .ok();
    let listed = server.cli(&["domain", "list-groups", "corp", "--json"], None);
    assert_eq!(listed.ok().json().as_array().unwrap().len(), 3);
}

/// `dir`: search then bind with a service account, added and mapped
/// through the admin API.
async fn add_search_domain(server: &TestServer, slapd: &Slapd, admin: &str) {
    let res = server
        .client
        .post(server.url("/v1/admin/domains"))
        .bearer_auth(admin)
        .json(&json!({
            "name": "dir",
            "description": "search then bind",
            "ldap": {
                "url": slapd.url(),
                "search_base": PEOPLE_BASE,
                "search_filter": PEOPLE_FILTER,
                "bind_dn": SEARCH_DN,
                "bind_password": SEARCH_PASSWORD,
                "group_base": "ou=groups,dc=example,dc=org",
            }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let warning = res.headers()["warning"].to_str().unwrap().to_owned();
    assert!(warning.contains("in clear"), "{warning}");
    let domain: Value = res.json().await.unwrap();
    assert_eq!(domain["source"], "ldap");
    for (group, role, system) in [
        ("TESSERA-ADMINS", "admin", true),
        ("storage-ops", "_member_", false),
        ("readers", "read_only", false),
    ] {
        let res = server
            .client
            .post(server.url("/v1/admin/domains/dir/group-mappings"))
            .bearer_auth(admin)
            .json(&json!({"group": group, "role": role, "system": system}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    let res = server
        .client
        .get(server.url("/v1/admin/domains/dir/group-mappings"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    let listed: Value = res.json().await.unwrap();
    assert_eq!(listed["mappings"].as_array().unwrap().len(), 3, "{listed}");
}

async fn admin_token(server: &TestServer) -> String {
    oauth2_token(server, "local", "admin", ADMIN_PASSWORD).await
}

#[tokio::test]
async fn ldap_users_log_in_through_every_door_with_both_bind_styles() {
    for backend in backends() {
        let slapd = Slapd::start(false);
        let server = TestServer::start_with(Options {
            backend,
            ..Default::default()
        })
        .await;
        setup(&server).await;
        let admin = admin_token(&server).await;
        add_template_domain(&server, &slapd);
        add_search_domain(&server, &slapd, &admin).await;
        // The search account's password is stored sealed, never as text.
        let listed = server.cli(&["domain", "list", "--json"], None);
        assert!(!listed.ok().stdout.contains(SEARCH_PASSWORD));

        let mut alice_ids = Vec::new();
        for domain in ["corp", "dir"] {
            let alice_roles = vec![pair("_member_", domain), pair("admin", "system")];
            // oauth2 with `realm`.
            let token = oauth2_token(&server, domain, "alice", ALICE_PASSWORD).await;
            let me = whoami(&server, &token).await;
            assert_eq!(me["name"], "alice", "{me}");
            assert_eq!(me["domain"], domain);
            assert_eq!(me["common_name"], "Alice Admin");
            assert_eq!(me["distinguished_name"], "uid=alice,ou=people,dc=example,dc=org");
            assert_eq!(roles(&me), alice_roles, "{domain}: {me}");
            let id = me["id"].as_str().unwrap().to_owned();
            assert_eq!(id.len(), 32);
            assert!(id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            alice_ids.push(id.clone());

            // header-login as user@domain.
            let res = server
                .client
                .get(server.url("/login"))
                .basic_auth(format!("alice@{domain}"), Some(ALICE_PASSWORD))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let token = res.headers()["x-sds-auth-token"].to_str().unwrap().to_owned();
            let me = whoami(&server, &token).await;
            assert_eq!(me["id"], id.as_str(), "the shadow user's id is stable");
            assert_eq!(roles(&me), alice_roles);

            // domain-login.
            let res = server
                .client
                .post(server.url("/sdn/v2.0/auth"))
                .json(&json!({"login": {"user": "alice", "password": ALICE_PASSWORD, "domain": domain}}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let token = res.headers()["x-auth-token"].to_str().unwrap().to_owned();
            let record: Value = res.json().await.unwrap();
            assert_eq!(record["record"]["userId"], id.as_str(), "{record}");
            assert_eq!(record["record"]["domainName"], domain);
            assert_eq!(roles(&whoami(&server, &token).await), alice_roles);

            // envelope-login: alice's groups map to admin; bob's do not.
            let envelope = |user: &'static str, password: &'static str| {
                server
                    .client
                    .post(server.url("/Spectre/api/rest/v1/Services/AuthenticationService/login"))
                    .json(&json!({"apiUserCredential": {"username": user, "domain": domain, "password": password}}))
                    .send()
            };
            let res = envelope("alice", ALICE_PASSWORD).await.unwrap();
            assert_eq!(res.status(), 200);
            let body: Value = res.json().await.unwrap();
            let jwt = body["accessToken"].as_str().unwrap().to_owned();
            assert_eq!(roles(&whoami(&server, &jwt).await), alice_roles);
            let res = envelope("bob", BOB_PASSWORD).await.unwrap();
            assert_eq!(res.status(), 403);
            let text = res.text().await.unwrap().to_lowercase();
            assert!(text.contains("admin"), "{text}");

            // bob: only what the readers group gives.
            let token = oauth2_token(&server, domain, "bob", BOB_PASSWORD).await;
            let me = whoami(&server, &token).await;
            assert_eq!(me["common_name"], "Bob Reader");
            assert_eq!(roles(&me), vec![pair("read_only", domain)], "{me}");
        }
        assert_ne!(alice_ids[0], alice_ids[1], "one shadow user per domain");

        // Mappings are re-evaluated at every login: unmapped, the role is
        // gone at the next one.
        server
            .cli(
                &[
                    "domain",
                    "unmap-group",
                    "corp",
                    "tessera-admins",
                    "admin",
                    "--system",
                ],
                None,
            )
            .ok();
        let token = oauth2_token(&server, "corp", "alice", ALICE_PASSWORD).await;
        assert_eq!(
            roles(&whoami(&server, &token).await),
            vec![pair("_member_", "corp")]
        );

        // Wrong password and unknown user: the same answer.
        for (user, password) in [
            ("alice", "wrong"),
            ("nobody", "wrong"),
            ("nobody", ALICE_PASSWORD),
        ] {
            for domain in ["corp", "dir"] {
                let res = oauth2(&server, domain, user, password).await;
                assert_eq!(res.status(), 400);
                let body: Value = res.json().await.unwrap();
                assert_eq!(
                    body,
                    json!({"error": "invalid_grant", "error_description": "Invalid credentials"}),
                    "{user}@{domain}"
                );
            }
        }
        // A password is never empty towards the directory (that would be
        // an anonymous bind, which slapd accepts).
        let res = oauth2(&server, "corp", "alice", "").await;
        assert_ne!(res.status(), 200);

        // What the directory owns cannot be changed here. The request is
        // well formed; the domain's state refuses it: 409 Conflict, not
        // 400 (which says "fix your request"), at every door to it.
        for domain in ["corp", "dir"] {
            let res = server
                .client
                .post(server.url("/v1/admin/users"))
                .bearer_auth(&admin)
                .json(&json!({"name": "carol", "domain": domain, "password": "Carol-Sings-Loud-9"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::CONFLICT, "user add in {domain}");
            let body: Value = res.json().await.unwrap();
            assert!(body["message"].as_str().unwrap().contains("directory"), "{body}");
        }
        let alice = oauth2_token(&server, "corp", "alice", ALICE_PASSWORD).await;
        let res = server
            .client
            .post(server.url("/v1/users/me/password"))
            .bearer_auth(&alice)
            .json(&json!({"current_password": ALICE_PASSWORD, "password": "Alice-Sings-Loud-9"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::CONFLICT,
            "password change of a directory user"
        );
        server.halt().await;
    }
}

#[tokio::test]
async fn names_with_filter_or_dn_metacharacters_match_nobody() {
    let slapd = Slapd::start(false);
    let server = TestServer::start().await;
    setup(&server).await;
    let admin = admin_token(&server).await;
    add_template_domain(&server, &slapd);
    add_search_domain(&server, &slapd, &admin).await;
    // Unescaped, each of these would find alice (or everyone) and bind
    // with her password.
    let hostile = [
        "a*)(uid=*",
        "alice)(uid=*",
        "alice)(|(uid=*",
        "a*",
        "*",
        "alice,ou=people,dc=example,dc=org",
        "alice\\2a",
    ];
    for domain in ["dir", "corp"] {
        for name in hostile {
            let res = oauth2(&server, domain, name, ALICE_PASSWORD).await;
            let status = res.status();
            let body: Value = res.json().await.unwrap();
            assert_eq!(status, 400, "{name}@{domain}: {body}");
            assert_eq!(body["error"], "invalid_grant", "{name}@{domain}: {body}");
        }
    }
    // None of them became a user.
    let users = server.cli(&["user", "list", "--json"], None);
    let users = users.ok().json();
    for u in users.as_array().unwrap() {
        let name = u["name"].as_str().unwrap();
        assert!(!hostile.contains(&name), "{name} has a shadow record");
    }
    // The real name still works.
    oauth2_token(&server, "dir", "alice", ALICE_PASSWORD).await;
}

#[tokio::test]
async fn ldap_users_are_locked_out_before_the_directory_is_asked() {
    let slapd = Slapd::start(false);
    let server = TestServer::start_with(Options {
        toml: "[lockout]\nmax_failed_logins = 3\nwindow = \"5m\"\nduration = \"1m\"\n".into(),
        ..Default::default()
    })
    .await;
    setup(&server).await;
    let admin = admin_token(&server).await;
    add_template_domain(&server, &slapd);
    add_search_domain(&server, &slapd, &admin).await;
    for domain in ["dir", "corp"] {
        // The template style keeps its shadow record from the first good login.
        oauth2_token(&server, domain, "bob", BOB_PASSWORD).await;
        for _ in 0..3 {
            assert_eq!(oauth2(&server, domain, "bob", "wrong").await.status(), 400);
        }
        // Locked: the right password is refused too, even with the
        // directory gone (it is not asked).
        assert_eq!(oauth2(&server, domain, "bob", BOB_PASSWORD).await.status(), 400);
    }
    let mut slapd = slapd;
    slapd.stop();
    for domain in ["dir", "corp"] {
        let res = oauth2(&server, domain, "bob", BOB_PASSWORD).await;
        // "dir" must search first, which needs the directory; "corp"
        // refuses before any directory work.
        let want = if domain == "corp" { 400 } else { 503 };
        assert_eq!(res.status(), want, "{domain}");
    }
    slapd.resume();
    server.clock.advance(Duration::from_secs(61));
    for domain in ["dir", "corp"] {
        oauth2_token(&server, domain, "bob", BOB_PASSWORD).await;
    }
}

#[tokio::test]
async fn directory_down_fails_fast_and_clearly_local_and_emergency_work_and_it_recovers() {
    let mut slapd = Slapd::start(false);
    let server = TestServer::start_with(Options {
        toml: "[ldap]\nconnect_timeout = \"1s\"\noperation_timeout = \"1s\"\n".into(),
        ..Default::default()
    })
    .await;
    setup(&server).await;
    server
        .add_user(None, "svtcli", "Quiet-Lantern-27", &[], true)
        .await;
    let admin = admin_token(&server).await;
    add_template_domain(&server, &slapd);
    add_search_domain(&server, &slapd, &admin).await;
    for domain in ["corp", "dir"] {
        oauth2_token(&server, domain, "alice", ALICE_PASSWORD).await;
    }

    slapd.stop();
    // More attempts than the lockout allows: an outage is no one's wrong password.
    for round in 0..6 {
        for domain in ["corp", "dir"] {
            let started = Instant::now();
            let res = oauth2(&server, domain, "alice", ALICE_PASSWORD).await;
            let took = started.elapsed();
            assert_eq!(
                res.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{domain} round {round}"
            );
            assert!(res.headers().contains_key("retry-after"));
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"], "temporarily_unavailable", "{body}");
            let text = body["error_description"].as_str().unwrap();
            assert!(
                text.contains("directory") && text.contains("unavailable"),
                "{text}"
            );
            assert!(took < Duration::from_secs(3), "{domain}: {took:?}");
        }
    }
    // The other doors say so too.
    let res = server
        .client
        .get(server.url("/login"))
        .basic_auth("alice@corp", Some(ALICE_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let res = server
        .client
        .post(server.url("/sdn/v2.0/auth"))
        .json(&json!({"login": {"user": "alice", "password": ALICE_PASSWORD, "domain": "dir"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("directory"));

    // Local admin and seed 000's emergency grant keep working.
    admin_token(&server).await;
    let res = server
        .client
        .post(server.url("/api/oauth/token"))
        .basic_auth(CLIENT, Some(""))
        .form(&[
            ("grant_type", "emergency"),
            ("username", "svtcli"),
            ("password", "Quiet-Lantern-27"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Counted in the metrics.
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("tessera_directory_unavailable_total "))
        .unwrap();
    let count: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(count >= 14, "{line}");

    // Back up: logins work again, without a restart, and nobody was locked out.
    slapd.resume();
    for domain in ["corp", "dir"] {
        let token = oauth2_token(&server, domain, "alice", ALICE_PASSWORD).await;
        assert_eq!(whoami(&server, &token).await["name"], "alice");
    }
}

#[tokio::test]
async fn ldaps_and_starttls_verify_the_directory_against_the_given_ca() {
    let slapd = Slapd::start(true);
    let server = TestServer::start().await;
    setup(&server).await;
    let ca = slapd.dir.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let add = |name: &str, url: &str, extra: &[&str]| {
        let mut args = vec![
            "domain",
            "add",
            name,
            "--ldap-url",
            url,
            "--user-dn-template",
            PEOPLE_TEMPLATE,
        ];
        args.extend_from_slice(extra);
        server.cli(&args, None)
    };
    let out = add("tls", &slapd.ldaps_url(), &["--ca-file", ca]);
    out.ok();
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let out = add("starttls", &slapd.url(), &["--starttls", "--ca-file", ca]);
    out.ok();
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    // Without the CA the directory's certificate is not trusted.
    add("untrusted", &slapd.ldaps_url(), &[]).ok();
    // Settings that make no sense are refused with a reason.
    add("both", &slapd.ldaps_url(), &["--starttls"]).fails_with("starttls");
    add("plainca", &slapd.url(), &["--ca-file", ca]).fails_with("tls");
    server
        .cli(
            &[
                "domain",
                "add",
                "half",
                "--ldap-url",
                &slapd.url(),
                "--search-base",
                BASE,
            ],
            None,
        )
        .fails_with("search-filter");

    for domain in ["tls", "starttls"] {
        let token = oauth2_token(&server, domain, "alice", ALICE_PASSWORD).await;
        assert_eq!(whoami(&server, &token).await["common_name"], "Alice Admin");
    }
    let res = oauth2(&server, "untrusted", "alice", ALICE_PASSWORD).await;
    assert_eq!(res.status(), 503);

    // `config check` warns about plain ldap:// domains of the store.
    add("plain", &slapd.url(), &[]).ok();
    let out = server.cli(&["config", "check"], None);
    out.ok();
    assert!(
        out.stderr.contains("\"plain\"") && out.stderr.contains("in clear"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("\"tls\""), "{}", out.stderr);
}
