//! Every form of the CLI, on every backend, with its bad-input errors.

use crate::harness::{backends, Options, TestServer};
use serde_json::Value;

pub(crate) fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn domain_commands() {
    for backend in backends() {
        let t = initialised(backend).await;
        t.cli(
            &["domain", "add", "sdn", "--description", "SDN controllers"],
            None,
        )
        .ok();
        t.cli(&["domain", "add", "SDN"], None)
            .fails_with("already exists");
        t.cli(&["domain", "add", "bad name"], None)
            .fails_with("letters, digits");
        let list = t.cli(&["domain", "list", "--json"], None).ok().json();
        assert_eq!(names(&list), ["local", "sdn"], "{backend:?}");
        t.cli(&["domain", "disable", "Sdn"], None).ok();
        let list = t.cli(&["domain", "list", "--json"], None).ok().json();
        assert_eq!(list[1]["enabled"], false);
        t.cli(&["domain", "enable", "sdn"], None).ok();
        t.cli(&["domain", "disable", "local"], None)
            .fails_with("cannot be disabled");
        t.cli(&["domain", "disable", "nope"], None)
            .fails_with("not found");
        let table = t.cli(&["domain", "list"], None).ok().stdout.clone();
        assert!(table.starts_with("NAME"), "{table}");
        assert!(table.contains("SDN controllers"));
    }
}

#[tokio::test]
async fn role_commands() {
    for backend in backends() {
        let t = initialised(backend).await;
        t.cli(
            &["role", "add", "sdn-admin", "--description", "SDN administrator"],
            None,
        )
        .ok();
        t.cli(&["role", "add", "sdn-admin"], None)
            .fails_with("already exists");
        t.cli(&["role", "add", "no spaces"], None)
            .fails_with("letters, digits");
        let list = t.cli(&["role", "list", "--json"], None).ok().json();
        assert_eq!(
            names(&list),
            ["_member_", "admin", "read_only", "sdn-admin"],
            "{backend:?}"
        );
        let member = &list[0];
        assert_eq!(member["description"], "Default role for project membership");
        assert_eq!(member["id"].as_str().unwrap().len(), 32);

        t.cli(
            &["user", "add", "ops", "--password-stdin"],
            Some("Ember-Quartz-15\n"),
        )
        .ok();
        t.cli(&["role", "grant", "sdn-admin", "--user", "ops"], None).ok();
        t.cli(&["role", "grant", "sdn-admin", "--user", "ops"], None)
            .fails_with("already exists");
        t.cli(&["role", "grant", "admin", "--user", "ops", "--system"], None)
            .ok();
        let users = t.cli(&["user", "list", "--json"], None).ok().json();
        let ops = users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == "ops")
            .unwrap();
        let roles: Vec<(String, String)> = ops["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().into(),
                    r["scope"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            roles,
            [
                ("admin".into(), "system".into()),
                ("sdn-admin".into(), "local".into())
            ],
            "{backend:?}"
        );
        t.cli(&["role", "revoke", "admin", "--user", "ops", "--system"], None)
            .ok();
        t.cli(&["role", "revoke", "admin", "--user", "ops", "--system"], None)
            .fails_with("not found");
        t.cli(&["role", "grant", "nope", "--user", "ops"], None)
            .fails_with("role \"nope\" not found");
        t.cli(&["role", "grant", "admin", "--user", "ghost"], None)
            .fails_with("user \"ghost\"");
        t.cli(&["role", "grant", "admin"], None).fails_with("--user");
    }
}

#[tokio::test]
async fn user_commands() {
    for backend in backends() {
        let t = initialised(backend).await;
        t.cli(&["domain", "add", "sdn"], None).ok();
        t.cli(&["role", "add", "sdn-admin"], None).ok();
        t.cli(
            &[
                "user",
                "add",
                "sdn",
                "--domain",
                "sdn",
                "--password-stdin",
                "--role",
                "sdn-admin",
                "--domain-role",
                "_member_",
                "--common-name",
                "SDN user",
            ],
            Some("Skyline-Harbor-9\n"),
        )
        .ok();
        // A generated password is printed once, alone on stdout.
        let generated = t.cli(&["user", "add", "gen"], None).ok().stdout.trim().to_owned();
        assert_eq!(generated.len(), 20, "{generated}");
        t.cli(
            &["user", "add", "svtcli", "--emergency", "--password-stdin"],
            Some("Quiet-Lantern-27"),
        )
        .ok();

        // Bad input: one clear line, nothing written.
        t.cli(
            &["user", "add", "sdn", "--domain", "SDN", "--password-stdin"],
            Some("Bramble-Socket-73"),
        )
        .fails_with("already exists");
        t.cli(&["user", "add", "empty", "--password-stdin"], Some("\n"))
            .fails_with("empty");
        t.cli(&["user", "add", "lost", "--domain", "nope"], None)
            .fails_with("domain \"nope\" not found");
        t.cli(
            &["user", "add", "half", "--role", "sdn-admin", "--role", "nope"],
            None,
        )
        .fails_with("role \"nope\"");
        t.cli(
            &["user", "add", "a:b", "--password-stdin"],
            Some("Ember-Quartz-15"),
        )
        .fails_with("':'");
        let bad_flag = t.cli(&["user", "add", "x", "--rol", "admin"], None);
        assert_eq!(bad_flag.code, 2, "clap usage errors exit 2: {}", bad_flag.stderr);
        let all = t.cli(&["user", "list", "--json"], None).ok().json();
        assert_eq!(names(&all), ["admin", "gen", "svtcli", "sdn"], "{backend:?}");

        let sdn = t
            .cli(&["user", "list", "--domain", "sdn", "--json"], None)
            .ok()
            .json();
        assert_eq!(names(&sdn), ["sdn"]);
        assert_eq!(sdn[0]["common_name"], "SDN user");
        assert_eq!(sdn[0]["domain"], "sdn");
        assert!(
            sdn[0].get("password_hash").is_none(),
            "listings never show hashes"
        );
        let svtcli = all
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == "svtcli")
            .unwrap();
        assert_eq!(svtcli["emergency"], true);

        // passwd replaces the hash with one of the new password.
        let store = tessera_store::Store::connect(&t.store_url, 1).await.unwrap();
        let domain = store.find_domain_by_name("sdn").await.unwrap().unwrap();
        let before = store
            .find_user_by_name(&domain.id, "sdn")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap();
        assert!(before.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{before}");
        t.cli(
            &["user", "passwd", "sdn", "--domain", "sdn", "--password-stdin"],
            Some("Autumn-Ledger-88\n"),
        )
        .ok();
        let after = store
            .find_user_by_name(&domain.id, "sdn")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap();
        assert_ne!(before, after);
        let hasher = tessera_core::PasswordHasher::new(&Default::default(), 1).unwrap();
        assert!(hasher
            .verify("Autumn-Ledger-88".to_owned().into(), Some(after))
            .await
            .unwrap());
        assert_eq!(
            t.cli(&["user", "passwd", "sdn", "--domain", "sdn"], None).code,
            2,
            "--password-stdin is required"
        );
        t.cli(&["user", "passwd", "ghost", "--password-stdin"], Some("x"))
            .fails_with("not found");

        t.cli(&["user", "disable", "sdn", "--domain", "sdn"], None).ok();
        let sdn = t
            .cli(&["user", "list", "--domain", "sdn", "--json"], None)
            .ok()
            .json();
        assert_eq!(sdn[0]["enabled"], false);
        assert!(t
            .cli(&["user", "list", "--domain", "sdn"], None)
            .ok()
            .stdout
            .contains("disabled"));
        t.cli(&["user", "enable", "sdn", "--domain", "sdn"], None).ok();
        t.cli(&["user", "unlock", "sdn", "--domain", "sdn"], None).ok();
        t.cli(&["user", "unlock", "nobody"], None).fails_with("not found");
        store.close().await;
    }
}

#[tokio::test]
async fn client_commands() {
    for backend in backends() {
        let t = initialised(backend).await;
        t.cli(
            &[
                "client",
                "add",
                "my-client",
                "--secret-stdin",
                "--grant",
                "password",
                "--grant",
                "refresh_token",
            ],
            Some("my-secret\n"),
        )
        .ok();
        t.cli(
            &[
                "client",
                "add",
                "simplivity",
                "--public",
                "--grant",
                "password",
                "--grant",
                "emergency",
            ],
            None,
        )
        .ok();
        let secret = t
            .cli(
                &[
                    "client",
                    "add",
                    "robot",
                    "--grant",
                    "client_credentials",
                    "--role",
                    "read_only",
                ],
                None,
            )
            .ok()
            .stdout
            .clone();
        assert_eq!(
            secret.trim().len(),
            43,
            "a generated secret is 32 random bytes, base64url"
        );

        t.cli(&["client", "add", "my-client", "--public"], None)
            .fails_with("already exists");
        t.cli(&["client", "add", "x", "--grant", "implicit"], None)
            .fails_with("grant \"implicit\"");
        t.cli(
            &["client", "add", "x", "--public", "--grant", "client_credentials"],
            None,
        )
        .fails_with("public client");
        t.cli(&["client", "add", "x", "--policy", "nope"], None)
            .fails_with("policy \"nope\"");
        t.cli(&["client", "add", "x", "--role", "nope"], None)
            .fails_with("role \"nope\"");
        t.cli(&["client", "add", "x", "--secret-stdin"], Some(""))
            .fails_with("empty");
        assert_eq!(
            t.cli(&["client", "add", "x", "--public", "--secret-stdin"], None)
                .code,
            2
        );

        let list = t.cli(&["client", "list", "--json"], None).ok().json();
        let ids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["my-client", "robot", "simplivity"], "{backend:?}");
        assert_eq!(list[1]["roles"][0], "read_only");
        assert_eq!(list[2]["public"], true);
        assert!(
            !t.cli(&["client", "list", "--json"], None).stdout.contains("hmac"),
            "no secret hashes in listings"
        );
        t.cli(&["client", "remove", "robot"], None).ok();
        t.cli(&["client", "remove", "robot"], None)
            .fails_with("not found");
        assert!(t
            .cli(&["client", "list"], None)
            .ok()
            .stdout
            .contains("simplivity"));
    }
}

#[tokio::test]
async fn commands_refuse_a_store_set_up_with_another_master_key() {
    let t = TestServer::configure(&Options::default()).await;
    t.cli(&["init"], None).ok();
    std::fs::write(
        t.data_dir().join("master.key"),
        "a-different-master-key-of-enough-length",
    )
    .unwrap();
    t.cli(&["user", "list"], None).fails_with("master key");
}

#[tokio::test]
async fn token_and_keys_commands() {
    for backend in backends() {
        let t = initialised(backend).await;
        t.cli(
            &["user", "add", "script", "--password-stdin"],
            Some("Ember-Quartz-15"),
        )
        .ok();
        let token = t
            .cli(&["token", "issue", "--proxy", "--user", "script"], None)
            .ok()
            .stdout
            .trim()
            .to_owned();
        assert!(token.starts_with("tsp_"), "{token}");
        t.cli(&["token", "issue", "--user", "script"], None)
            .fails_with("--proxy");
        t.cli(&["token", "issue", "--proxy", "--user", "ghost"], None)
            .fails_with("not found");
        let list = t
            .cli(&["token", "list", "--user", "script", "--json"], None)
            .ok()
            .json();
        let sessions = list.as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{backend:?}");
        assert_eq!(sessions[0]["kind"], "proxy");
        assert_eq!(sessions[0]["user"], "script");
        assert!(sessions[0]["expires_at"].is_null(), "proxy tokens never expire");
        let listing = t.cli(&["token", "list", "--json"], None).ok().stdout.clone();
        assert!(
            !listing.contains(&token) && !listing.contains("hash"),
            "listings never show tokens"
        );
        let id = sessions[0]["id"].as_str().unwrap().to_owned();
        t.cli(&["token", "revoke", &id], None).ok();
        t.cli(&["token", "revoke", &id], None)
            .fails_with("no live session");
        t.cli(&["token", "revoke", "not-an-id"], None)
            .fails_with("32 lowercase hex");
        assert!(t
            .cli(&["token", "list", "--json"], None)
            .ok()
            .json()
            .as_array()
            .unwrap()
            .is_empty());
        let kid = t.cli(&["keys", "rotate"], None).ok().stdout.trim().to_owned();
        assert_eq!(kid.len(), 43, "an RFC 7638 thumbprint: {kid}");
    }
}

#[tokio::test]
async fn audit_command() {
    for backend in backends() {
        let t = initialised(backend).await;
        t.cli(
            &["user", "add", "carol", "--password-stdin"],
            Some("Ember-Quartz-15"),
        )
        .ok();
        t.cli(&["user", "disable", "carol"], None).ok();
        let events = t.cli(&["audit", "--user", "carol", "--json"], None).ok().json();
        let details: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["detail"].as_str().unwrap())
            .collect();
        assert_eq!(details, ["user disabled", "user \"carol\" added"], "{backend:?}");
        assert_eq!(events[0]["actor"], "cli");
        let admin_changes = t
            .cli(
                &["audit", "--kind", "admin_change", "--since", "1h", "--json"],
                None,
            )
            .ok()
            .json();
        assert!(
            admin_changes.as_array().unwrap().len() >= 3,
            "bootstrap, add, disable"
        );
        assert!(t
            .cli(&["audit", "--since", "2000-01-01T00:00:00Z"], None)
            .ok()
            .stdout
            .starts_with("ID"));
        t.cli(&["audit", "--kind", "nope"], None)
            .fails_with("login_failed");
        t.cli(&["audit", "--since", "last tuesday"], None)
            .fails_with("duration like 1h");
    }
}

/// A configured store, set up with `tessera init`.
pub(crate) async fn initialised(backend: crate::harness::Backend) -> TestServer {
    let t = TestServer::configure(&Options {
        backend,
        ..Default::default()
    })
    .await;
    t.cli(&["init"], None).ok();
    t
}
