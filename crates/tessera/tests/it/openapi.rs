//! `GET /openapi.json`: an OpenAPI 3.1 document that names every front
//! door's paths, that a real validator accepts, and whose every operation
//! the server really serves (no router 404 or 405 for any of them).

use crate::harness::{python_packages, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every path Tessera serves itself, each front door's included.
const PATHS: &[&str] = &[
    // the index (GET /), served while the gateway is off
    "/",
    // oauth2 (seeds 000 and 003)
    "/api/oauth/token",
    "/auth/oauth",
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/.well-known/oauth-authorization-server",
    "/.well-known/jwks.json",
    "/setup",
    // header-login (seed 001)
    "/login",
    "/logout",
    "/user/whoami",
    "/proxytoken",
    // domain-login (seed 002)
    "/sdn/v2.0/auth",
    "/v1/roles",
    // envelope-login (seed 004)
    "/Spectre/api/rest/v1/Services/AuthenticationService/login",
    "/Spectre/api/rest/v1/Services/AuthenticationService/logout",
    // Tessera's own
    "/v1/authz",
    "/v1/auth/whoami",
    "/v1/auth/logout",
    "/v1/users/me/password",
    "/v1/admin/users",
    "/v1/admin/users/{domain}/{name}",
    "/v1/admin/users/{domain}/{name}/unlock",
    "/v1/admin/users/{domain}/{name}/sessions",
    "/v1/admin/domains",
    "/v1/admin/domains/{name}",
    "/v1/admin/domains/{name}/group-mappings",
    "/v1/admin/roles",
    "/v1/admin/assignments",
    "/v1/admin/clients",
    "/v1/admin/clients/{id}",
    "/v1/admin/sessions",
    "/v1/admin/sessions/{id}",
    "/v1/admin/audit",
    "/metrics",
    "/healthz",
    "/readyz",
    "/openapi.json",
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn document(server: &TestServer) -> Value {
    let res = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    res.json().await.unwrap()
}

/// Each documented (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_names_every_door() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Tessera");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(doc["info"]["description"].as_str().unwrap().contains("gateway"));

    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = PATHS.iter().copied().collect();
    assert_eq!(
        documented, expected,
        "documented paths differ from the served ones"
    );

    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for name in [
        "bearer",
        "x_auth_token",
        "x_sds_auth_token",
        "x_sds_auth_token_cookie",
        "basic",
    ] {
        assert!(schemes.contains_key(name), "security scheme {name} missing");
    }
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();

    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let what = format!("{} {path}", method.to_uppercase());
        let op_tags = op["tags"].as_array().unwrap_or_else(|| panic!("{what}: no tags"));
        assert!(!op_tags.is_empty(), "{what}: no tags");
        for t in op_tags {
            assert!(tags.contains(t.as_str().unwrap()), "{what}: undeclared tag {t}");
        }
        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{what}: no responses"));
        assert!(!responses.is_empty(), "{what}: no responses");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{what}: no summary"
        );
        let id = op["operationId"].as_str().unwrap().to_owned();
        assert!(ids.insert(id.clone()), "{what}: operationId {id} is not unique");
        for requirement in op["security"].as_array().into_iter().flatten() {
            for name in requirement.as_object().unwrap().keys() {
                assert!(
                    schemes.contains_key(name),
                    "{what}: unknown security scheme {name}"
                );
            }
        }
    }
}

/// The router's own 404 (no route, no gateway) as opposed to a handler's.
async fn is_router_404(res: reqwest::Response) -> bool {
    if res.status() != StatusCode::NOT_FOUND {
        return false;
    }
    let body: Value = res.json().await.unwrap_or(Value::Null);
    body["error"] == "not_found"
        && body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no route for"))
}

#[tokio::test]
async fn every_documented_operation_is_served_and_nothing_else_on_its_paths() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let ops = operations(&doc);
    assert!(ops.len() >= PATHS.len());
    for (method, path, _) in &ops {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "placeholder" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = server
            .client
            .request(method.clone(), server.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {concrete}");
        if method == Method::HEAD {
            // No body to tell whose 404 it is: none is expected at all.
            assert_ne!(status, StatusCode::NOT_FOUND, "{method} {concrete}");
        } else {
            assert!(
                !is_router_404(res).await,
                "{method} {concrete}: the router has no such route"
            );
        }
    }
    // The other way round: a method a path does not document is refused
    // there (405), so the document lists all that each path serves. GET
    // routes answer HEAD too (axum); forward auth answers every method.
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path == "/v1/authz" {
            continue;
        }
        let concrete = path.replace("{", "").replace("}", "");
        for method in METHODS {
            if item.get(method).is_some() || (method == "head" && item.get("get").is_some()) {
                continue;
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = server
                .client
                .request(m.clone(), server.url(&concrete))
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{m} {concrete} is served but not documented"
            );
        }
    }
}

#[tokio::test]
async fn a_door_switched_off_leaves_the_document_too() {
    let server = TestServer::start_with(crate::harness::Options {
        toml: "[doors.envelope_login]\nenabled = false\n[doors.header_login]\nenabled = false\n".into(),
        ..Default::default()
    })
    .await;
    let doc = document(&server).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(!paths.keys().any(|p| p.starts_with("/Spectre/")));
    assert!(!paths.contains_key("/login") && !paths.contains_key("/user/whoami"));
    assert!(paths.contains_key("/oauth/token") && paths.contains_key("/sdn/v2.0/auth"));
}

/// The password lengths the document states are this server's
/// `[password]` ones, and the server holds to them.
#[tokio::test]
async fn the_document_states_the_configured_password_lengths() {
    let server = TestServer::start_with(crate::harness::Options {
        toml: "[bootstrap]\nadmin_token = \"bootstrap-token-for-openapi-tests\"\n\
               [password]\nmin_length = 12\nmax_length = 40\n"
            .into(),
        ..Default::default()
    })
    .await;
    let doc = document(&server).await;
    let schema = &doc["components"]["schemas"]["NewPassword"];
    assert_eq!(schema["minLength"], 12, "{schema}");
    assert_eq!(schema["maxLength"], 40, "{schema}");
    let token = "bootstrap-token-for-openapi-tests";
    for (password, status) in [
        ("Quartz-Em-9", 400),
        ("Quartz-Ember-Lantern-Violet-Harbor-Canyon-9", 400),
        ("Quartz-Ember-Lantern-9", 201),
    ] {
        let res = server
            .client
            .post(server.url("/v1/admin/users"))
            .bearer_auth(token)
            .json(&serde_json::json!({"name": "lena", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status().as_u16(),
            status,
            "{password}: {}",
            res.text().await.unwrap()
        );
    }
}

#[tokio::test]
async fn openapi_spec_validator_accepts_the_document() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let file = server.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = tokio::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             from openapi_spec_validator.validation import OpenAPIV31SpecValidator\n\
             validate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\n\
             print('valid')",
        ])
        .arg(&file)
        .env(
            "PYTHONPATH",
            python_packages("openapi", "openapi_spec_validator", &["openapi-spec-validator"]).await,
        )
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "valid",
        "openapi-spec-validator refuses the document: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The schema a parameter of `method path` names, through a `$ref`.
fn parameter_schema(doc: &Value, method: &str, path: &str, name: &str) -> Value {
    let params = doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path}: no parameters"));
    let p = params
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path}: no parameter {name}"));
    resolve(doc, &p["schema"])
}

fn resolve(doc: &Value, schema: &Value) -> Value {
    match schema["$ref"].as_str() {
        Some(r) => doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")].clone(),
        None => schema.clone(),
    }
}

/// Issue 11: schemathesis found rules the server enforced that the
/// document did not state, and a body the document allowed that the
/// server refused. Each is checked here both ways: the document says it,
/// and the server does what the document says.
#[tokio::test]
async fn the_document_states_the_rules_the_server_enforces() {
    const ADMIN_TOKEN: &str = "bootstrap-admin-token-for-openapi";
    let server = TestServer::start_with(crate::harness::Options {
        toml: format!("[bootstrap]\nadmin_token = \"{ADMIN_TOKEN}\"\n"),
        ..Default::default()
    })
    .await;
    let doc = document(&server).await;
    let call = |method: Method, path: &str, body: Option<&str>| {
        let mut req = server
            .client
            .request(method, server.url(path))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_owned());
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            (status, res.text().await.unwrap())
        }
    };

    // `limit`: 1 to 1000, said and enforced (it was clamped in silence).
    let limit = parameter_schema(&doc, "get", "/v1/admin/users", "limit");
    assert_eq!(
        (limit["minimum"].as_u64(), limit["maximum"].as_u64()),
        (Some(1), Some(1000))
    );
    for (query, want) in [("0", 400), ("1001", 400), ("1000", 200), ("99999999999", 400)] {
        for path in [
            "/v1/admin/users",
            "/v1/admin/sessions",
            "/v1/admin/audit",
            "/v1/admin/clients",
        ] {
            let (status, body) = call(Method::GET, &format!("{path}?limit={query}"), None).await;
            assert_eq!(status.as_u16(), want, "{path}?limit={query}: {body}");
        }
    }

    // Ids: a session id is 32 lowercase hex characters.
    let id = parameter_schema(&doc, "delete", "/v1/admin/sessions/{id}", "id");
    assert_eq!(id["pattern"], "^[0-9a-f]{32}$");
    let (status, _) = call(Method::DELETE, "/v1/admin/sessions/not-an-id", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Times: milliseconds or RFC 3339, anything else refused.
    let since = parameter_schema(&doc, "get", "/v1/admin/audit", "since");
    assert_eq!(since["anyOf"][1]["format"], "date-time", "{since}");
    for (query, want) in [
        ("1767225600000", 200),
        ("2026-11-23T12:00:00Z", 200),
        ("yesterday", 400),
    ] {
        let (status, body) = call(Method::GET, &format!("/v1/admin/audit?since={query}"), None).await;
        assert_eq!(status.as_u16(), want, "since={query}: {body}");
    }
    // Any text is a filter by `user` (an id, a label, or a name).
    let (status, body) = call(Method::GET, "/v1/admin/audit?user=%07", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Names: not empty, the RFC 8265 pattern, said and enforced.
    let user_name = &doc["components"]["schemas"]["UserName"];
    assert_eq!(user_name["minLength"], 1);
    assert!(user_name["pattern"].is_string());
    let (status, _) = call(Method::POST, "/v1/admin/users", Some(r#"{"name":""}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        Method::POST,
        "/v1/admin/users",
        Some(r#"{"name":"ann","password":""}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A body the document says is an object is refused as an array, which
    // serde would otherwise read field by field.
    let (status, body) = call(Method::POST, "/v1/admin/users", Some(r#"["ann"]"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = call(Method::POST, "/v1/admin/users", Some(r#"{"name":"ann"}"#)).await;
    assert_eq!(status, StatusCode::CREATED);
    // A merge patch that changes nothing is no error.
    let (status, _) = call(Method::PATCH, "/v1/admin/users/local/ann", Some("{}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // A well-formed request refused for what it names is not a 400.
    let (status, body) = call(
        Method::PATCH,
        "/v1/admin/domains/local",
        Some(r#"{"enabled":false}"#),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = call(
        Method::POST,
        "/v1/admin/clients",
        Some(r#"{"id":"c1","policy":"nope"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A public client with a secret, or with client_credentials: the
    // document's two shapes of a client exclude both.
    let create = &doc["components"]["schemas"]["ClientCreate"]["oneOf"];
    assert_eq!(create.as_array().map(Vec::len), Some(2), "{create}");
    for bad in [
        r#"{"id":"c2","public":true,"secret":"s"}"#,
        r#"{"id":"c2","public":true,"grants":["client_credentials"]}"#,
    ] {
        let (status, _) = call(Method::POST, "/v1/admin/clients", Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // `null` as the logout body: the document allows it, so does the server.
    server.add_user(None, "ann2", "Silver-Rook-11", &[], false).await;
    server.add_client("pub", None, &["password"], &[]).await;
    let token = server
        .grant("/oauth/token", "pub", "password", "ann2", "Silver-Rook-11")
        .await;
    let body =
        &doc["paths"]["/v1/auth/logout"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["oneOf"][0]["type"], "null", "{body}");
    let res = server
        .client
        .post(server.url("/v1/auth/logout"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// Whether the document takes each of `values` as a `schema` (a component
/// name), by `jsonschema` (Draft 2020-12, formats as annotations, Python's
/// `re` for patterns, as schemathesis reads them).
async fn document_takes(doc: &Value, schema: &str, values: &[Value]) -> Vec<bool> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from jsonschema import Draft202012Validator\n\
             doc, name, values = json.load(sys.stdin)\n\
             v = Draft202012Validator({'$ref': '#/components/schemas/' + name, 'components': doc['components']})\n\
             print(json.dumps([v.is_valid(x) for x in values]))",
        ])
        .env(
            "PYTHONPATH",
            python_packages("openapi", "openapi_spec_validator, jsonschema", &["openapi-spec-validator"]).await,
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(&serde_json::json!([doc, schema, values])).unwrap();
    child.stdin.take().unwrap().write_all(&input).await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Issue 11, continued: the LDAP domain settings, the login bodies, the
/// redirect target of `GET /login` and the oauth2 forms are stated in the
/// document as the server enforces them; bodies that are not objects are
/// refused; a request that does not fit what it names is a 404 or 409
/// that says so, not a 400.
#[tokio::test]
async fn the_document_states_the_ldap_login_and_form_rules() {
    use serde_json::json;
    const ADMIN_TOKEN: &str = "bootstrap-admin-token-for-openapi-2";
    let server = TestServer::start_with(crate::harness::Options {
        toml: format!("[bootstrap]\nadmin_token = \"{ADMIN_TOKEN}\"\n"),
        ..Default::default()
    })
    .await;
    let doc = document(&server).await;
    let call = |method: Method, path: String, body: Option<String>| {
        let mut req = server
            .client
            .request(method, server.url(&path))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            (status, res.text().await.unwrap())
        }
    };

    // LDAP domains: one shape per way to find the user and per kind of
    // connection, and the server takes exactly the bodies the document
    // does (creating one reaches no directory).
    let shapes = doc["components"]["schemas"]["LdapCreate"]["oneOf"]
        .as_array()
        .unwrap();
    assert_eq!(shapes.len(), 9);
    let template = "uid={user},ou=people,dc=example,dc=org";
    let filter = "(&(objectClass=person)(uid={user}))";
    let ldap_bodies = [
        json!({"url": "ldap://127.0.0.1:389", "user_dn_template": template}),
        json!({"url": " LDAPS://dir.example.org/ ", "search_base": "dc=example", "search_filter": filter}),
        json!({"url": "ldap://dir", "starttls": true, "search_base": "dc=x", "search_filter": filter,
               "bind_dn": "cn=s,dc=x", "bind_password": "pw", "ca_pem": null, "group_base": " "}),
        json!({"url": "ldap://[::1]:636", "user_dn_template": " ", "search_base": "dc=x", "search_filter": filter,
               "bind_password": ""}),
        json!({"url": ""}),
        json!({"url": "ldap://|*", "user_dn_template": template}),
        json!({"url": "ldap://dir:0389", "user_dn_template": template}),
        json!({"url": "ldap://dir/dc=example", "user_dn_template": template}),
        json!({"url": "ldaps://dir", "starttls": true, "user_dn_template": template}),
        json!({"url": "ldap://dir", "user_dn_template": template, "search_base": "dc=x"}),
        json!({"url": "ldap://dir", "search_base": "dc=x", "search_filter": filter, "bind_dn": "cn=s"}),
        json!({"url": "ldap://dir", "user_dn_template": "uid=someone"}),
        json!({"url": "ldap://dir", "user_dn_template": "uid={user}\t"}),
        json!({"url": "ldap://dir", "user_dn_template": template, "ca_pem": "not used"}),
        json!({"url": "ldap://dir", "user_dn_template": template, "port": 389}),
    ];
    let bodies: Vec<Value> = ldap_bodies
        .iter()
        .enumerate()
        .map(|(i, ldap)| json!({"name": format!("dir{i}"), "ldap": ldap}))
        .collect();
    let takes = document_takes(&doc, "DomainCreate", &bodies).await;
    for (body, takes) in bodies.iter().zip(takes) {
        let (status, text) = call(Method::POST, "/v1/admin/domains".into(), Some(body.to_string())).await;
        let want = if takes {
            StatusCode::CREATED
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(status, want, "{body}: {text}");
    }
    // What no pattern states has a format and words; the server parses.
    let search = &shapes[3]["properties"]["search_filter"];
    assert_eq!(search["format"], "ldap-search-filter", "{search}");
    assert!(search["description"].as_str().unwrap().contains("RFC 4515"));
    let broken = json!({"name": "broken", "ldap": {"url": "ldap://dir", "search_base": "dc=x",
                        "search_filter": "(uid={user}"}});
    let (status, text) = call(Method::POST, "/v1/admin/domains".into(), Some(broken.to_string())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("not a valid LDAP filter"), "{text}");
    // A CA file is read as a login will read it: base64 that is not a
    // certificate is refused now, not at every login to the domain.
    let pem = &shapes[0]["properties"]["ca_pem"];
    assert!(pem.to_string().contains("pem-certificates"), "{pem}");
    let not_a_certificate = "-----BEGIN CERTIFICATE-----\nAAECAwQ=\n-----END CERTIFICATE-----\n";
    let body = json!({"name": "badca", "ldap": {"url": "ldaps://dir", "user_dn_template": template,
                      "ca_pem": not_a_certificate}});
    let (status, text) = call(Method::POST, "/v1/admin/domains".into(), Some(body.to_string())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("trust anchor"), "{text}");
    let ca = rcgen::generate_simple_self_signed(vec!["dir".to_owned()]).unwrap();
    let body = json!({"name": "goodca", "ldap": {"url": "ldaps://dir", "user_dn_template": template,
                      "ca_pem": ca.cert.pem()}});
    let (status, text) = call(Method::POST, "/v1/admin/domains".into(), Some(body.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");

    // Group mappings belong to LDAP domains: a local domain has none (404)
    // and cannot get one (409, in words that are not "already exists").
    let (status, text) = call(Method::GET, "/v1/admin/domains/local/group-mappings".into(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert!(text.contains("local domain"), "{text}");
    let mapping = r#"{"group":"ops","role":"admin"}"#.to_owned();
    let (status, text) = call(
        Method::POST,
        "/v1/admin/domains/local/group-mappings".into(),
        Some(mapping.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(
        text.contains("local domain") && !text.contains("already exists"),
        "{text}"
    );
    let (status, _) = call(
        Method::DELETE,
        "/v1/admin/domains/local/group-mappings?group=ops&role=admin".into(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        Method::POST,
        "/v1/admin/domains/dir0/group-mappings".into(),
        Some(mapping.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, text) = call(
        Method::POST,
        "/v1/admin/domains/dir0/group-mappings".into(),
        Some(mapping),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(text.contains("already exists"), "{text}");
    let (status, text) = call(
        Method::POST,
        "/v1/admin/domains/dir0/group-mappings".into(),
        Some(r#"{"group":" ","role":"admin"}"#.into()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");

    // A body the document says is an object is refused otherwise, nested
    // ones included: serde would read an array field by field.
    for (path, body) in [
        ("/v1/admin/roles", r#"["auditors"]"#),
        (
            "/v1/admin/domains",
            r#"{"name":"d","ldap":["ldap://dir","uid={user}"]}"#,
        ),
        ("/sdn/v2.0/auth", r#"{"login":["jane","pw"]}"#),
        ("/sdn/v2.0/auth", r#"[{"user":"jane","password":"pw"}]"#),
        (
            "/Spectre/api/rest/v1/Services/AuthenticationService/login",
            r#"{"apiUserCredential":["jane","local","pw"]}"#,
        ),
    ] {
        let (status, text) = call(Method::POST, path.into(), Some(body.into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {text}");
        assert!(
            text.contains("object") || text.contains("sequence"),
            "{path} {body}: {text}"
        );
    }

    // The login bodies name their user and domain schemas: what the
    // document refuses the server refuses (400, or 401 for a name no
    // account has); what it takes is never a 400.
    for (schema, path, wrap) in [
        ("DomainLogin", "/sdn/v2.0/auth", "login"),
        (
            "CredentialEnvelope",
            "/Spectre/api/rest/v1/Services/AuthenticationService/login",
            "apiUserCredential",
        ),
    ] {
        let user = if wrap == "login" { "user" } else { "username" };
        let bodies: Vec<Value> = [
            json!({user: "", "password": "pw"}),
            json!({user: "jane\u{7}", "password": "pw"}),
            json!({user: " jane", "password": "pw"}),
            json!({user: "u".repeat(129), "password": "pw"}),
            json!({user: "jane", "password": "pw", "domain": "no such"}),
            json!({user: "jane", "password": "pw"}),
            json!({user: "jane doe", "password": "pw", "domain": ""}),
            json!({user: "jane", "password": "pw", "domain": null}),
            json!({user: "jane", "password": "pw", "domain": "nowhere"}),
        ]
        .into_iter()
        .map(|c| json!({wrap: c}))
        .collect();
        let takes = document_takes(&doc, schema, &bodies).await;
        for (body, takes) in bodies.iter().zip(takes) {
            let (status, text) = call(Method::POST, path.into(), Some(body.to_string())).await;
            if takes {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {body}: {text}");
            } else {
                assert!(
                    [StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED].contains(&status),
                    "{path} {body}: {status} {text}"
                );
            }
        }
    }

    // GET /login's service: a path on this server, as the pattern says.
    let service = parameter_schema(&doc, "get", "/login", "service");
    assert!(service["pattern"].is_string(), "{service}");
    server
        .add_user(None, "redirected", "Quartz-Meadow-58", &[], false)
        .await;
    let values = [
        "/",
        "/tenant?x=1",
        "/é",
        "",
        "//evil.example/",
        "/a\\b",
        "https://evil.example/",
        "tenant",
    ];
    let as_strings: Vec<Value> = values.iter().map(|v| json!(v)).collect();
    let takes = document_takes(&doc, "ServicePath", &as_strings).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    for (value, takes) in values.iter().zip(takes) {
        let res = no_redirects
            .get(server.url("/login"))
            .query(&[("service", value)])
            .basic_auth("redirected", Some("Quartz-Meadow-58"))
            .send()
            .await
            .unwrap();
        let want = if takes {
            StatusCode::FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(res.status(), want, "service={value:?}");
        if takes {
            let location = res.headers()["location"].to_str().unwrap();
            assert!(location.ends_with("auth-redirected"), "{location}");
        }
    }
    // An absolute URL of this very server is taken too, as the
    // description says (no pattern can name the request's Host).
    assert!(service["description"].as_str().unwrap().contains("Host"));
    let res = no_redirects
        .get(server.url("/login"))
        .query(&[("service", server.url("/tenant"))])
        .basic_auth("redirected", Some("Quartz-Meadow-58"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/tenant?auth-redirected");

    // The oauth2 forms: one shape per grant; revocation and
    // introspection need a token that is not empty.
    let grants: BTreeSet<&str> = doc["components"]["schemas"]["TokenForm"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["properties"]["grant_type"]["enum"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        grants,
        BTreeSet::from(["password", "emergency", "refresh_token", "client_credentials"])
    );
    let param = &doc["components"]["schemas"]["TokenParam"];
    assert_eq!(param["properties"]["token"]["minLength"], 1, "{param}");
    assert!(param["properties"]["token_type_hint"].is_object(), "{param}");
}
