//! Every form of the CLI, on every backend, with its bad-input errors.

use crate::harness::{backends, CliOutput, Options, TestServer};
use serde_json::Value;

fn names(list: &Value) -> Vec<String> {
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

/// `tessera ARGS` typed in `cwd` with no `--config` and none of Tessera's
/// variables set, as an operator who `cd`'d somewhere would run it.
fn bare(cwd: &std::path::Path, args: &[&str], stdin: Option<&str>) -> CliOutput {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(args).current_dir(cwd);
    for var in tessera::config::NAMED_ENV {
        cmd.env_remove(var);
    }
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn read_only_commands_never_create_a_store() {
    // `cd /tmp/x && tessera user list`: no configuration, no store here.
    let dir = tempfile::tempdir().unwrap();
    let reads: [&[&str]; 7] = [
        &["user", "list"],
        &["role", "list"],
        &["domain", "list"],
        &["client", "list"],
        &["token", "list"],
        &["audit"],
        &["domain", "list-groups", "local"],
    ];
    for args in reads {
        let out = bare(dir.path(), args, None);
        out.fails_with("no Tessera store");
        for needle in [
            "tessera-data/tessera.db",
            "no configuration file",
            "tessera.toml",
            "--config",
            "TESSERA_DATA_DIR",
            "tessera init",
        ] {
            assert!(
                out.stderr.contains(needle),
                "{args:?}: {needle:?} in {}",
                out.stderr
            );
        }
        assert!(
            entries(dir.path()).is_empty(),
            "{args:?} created {:?}",
            entries(dir.path())
        );
    }
    // A write on no store asks for `tessera init` and writes nothing either.
    let writes: [&[&str]; 4] = [
        &["user", "add", "bob"],
        &["role", "add", "ops"],
        &["client", "add", "c", "--public"],
        &["keys", "rotate"],
    ];
    for args in writes {
        let out = bare(dir.path(), args, None);
        out.fails_with("tessera init").fails_with("--init");
        assert!(
            entries(dir.path()).is_empty(),
            "{args:?} created {:?}",
            entries(dir.path())
        );
    }

    // `tessera init` sets it up: master key, admin, initial password file.
    let init = bare(dir.path(), &["init"], None);
    init.ok();
    let data = dir.path().join("tessera-data");
    assert!(data.join("master.key").exists());
    let pw = data.join("initial-admin-password");
    assert_eq!(std::fs::read_to_string(&pw).unwrap().trim().len(), 20);
    std::fs::remove_file(&pw).unwrap();
    // A second init changes nothing and says so.
    let again = bare(dir.path(), &["init"], None);
    assert!(again.ok().stderr.contains("already set up"), "{}", again.stderr);
    assert!(!pw.exists(), "a second init made another admin password");
    let users = bare(dir.path(), &["user", "list", "--json"], None).ok().json();
    assert_eq!(names(&users), ["admin"]);

    // `-v` says which configuration and store a command used.
    let out = bare(dir.path(), &["-v", "role", "list"], None);
    out.ok();
    assert!(out.stderr.contains("configuration: none"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("store: sqlite://{}", data.join("tessera.db").display()))
            || out.stderr.contains("store: sqlite://./tessera-data/tessera.db"),
        "{}",
        out.stderr
    );

    // `--init` on a write sets up the store first; reads never take it.
    let other = tempfile::tempdir().unwrap();
    bare(other.path(), &["--init", "role", "add", "ops"], None).ok();
    let roles = bare(other.path(), &["role", "list", "--json"], None).ok().json();
    assert!(names(&roles).contains(&"ops".to_owned()));
}

#[tokio::test]
async fn a_missing_store_names_the_configuration_that_was_read() {
    let t = TestServer::configure(&Options::default()).await;
    let out = t.cli(&["-v", "user", "list"], None);
    out.fails_with("no Tessera store");
    let config = t.config_path.display().to_string();
    assert!(out.stderr.contains(&config), "{}", out.stderr);
    assert!(
        !t.data_dir().join("master.key").exists(),
        "a read wrote a master key"
    );
    t.cli(&["init"], None).ok();
    let out = t.cli(&["-v", "user", "list"], None);
    out.ok();
    assert!(
        out.stderr.contains(&format!("configuration: {config}")),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_piped_password_without_password_stdin_is_refused() {
    let t = TestServer::configure(&Options::default()).await;
    // `echo pw | tessera init` would have thrown the password away too.
    t.cli(&["init"], Some("Ember-Quartz-15\n"))
        .fails_with("pass --password-stdin to read the password from standard input");
    assert!(!t.data_dir().join("master.key").exists());
    t.cli(&["init", "--password-stdin"], Some("Ember-Quartz-15\n"))
        .ok();
    assert!(!t.data_dir().join("initial-admin-password").exists());

    t.cli(&["user", "add", "bob"], Some("Ember-Quartz-15\n"))
        .fails_with("pass --password-stdin to read the password from standard input");
    t.cli(&["client", "add", "c"], Some("my-secret\n"))
        .fails_with("pass --secret-stdin to read the secret from standard input");
    let users = t.cli(&["user", "list", "--json"], None).ok().json();
    assert_eq!(names(&users), ["admin"], "nothing was added");
    // With the flag, the one line is the password.
    t.cli(
        &["user", "add", "bob", "--password-stdin"],
        Some("Ember-Quartz-15\n"),
    )
    .ok();
    // stdin from /dev/null (cron, systemd, `</dev/null`) still generates one.
    let generated = t
        .cli(&["user", "add", "carol"], None)
        .ok()
        .stdout
        .trim()
        .to_owned();
    assert_eq!(generated.len(), 20);
}

#[tokio::test]
async fn times_print_as_rfc_3339() {
    let t = TestServer::configure(&Options::default()).await;
    t.cli(&["init"], None).ok();
    t.cli(
        &["user", "add", "script", "--password-stdin"],
        Some("Ember-Quartz-15"),
    )
    .ok();
    t.cli(&["token", "issue", "--proxy", "--user", "script"], None)
        .ok();
    let is_rfc3339 = |table: &str| {
        table.lines().skip(1).any(|l| {
            l.split_whitespace().any(|cell| {
                cell.len() == 20
                    && cell.ends_with('Z')
                    && cell.as_bytes()[10] == b'T'
                    && cell.starts_with("20")
            })
        })
    };
    let audit = t.cli(&["audit"], None).ok().stdout.clone();
    assert!(is_rfc3339(&audit), "{audit}");
    assert!(!audit.contains("(ms)"), "{audit}");
    let users = t.cli(&["user", "list"], None).ok().stdout.clone();
    assert!(is_rfc3339(&users), "{users}");
    let clients = t.cli(&["client", "add", "c", "--public"], None);
    clients.ok();
    let clients = t.cli(&["client", "list"], None).ok().stdout.clone();
    assert!(is_rfc3339(&clients), "{clients}");
    let tokens = t.cli(&["token", "list"], None).ok().stdout.clone();
    assert!(tokens.contains("never"), "proxy tokens never expire: {tokens}");
    assert!(is_rfc3339(&tokens), "{tokens}");
}

#[test]
fn every_argument_and_subcommand_has_help() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            let sub_path = format!("{path} {}", sub.get_name());
            if sub.get_name() != "help" && sub.get_about().is_none() && sub.get_long_about().is_none() {
                missing.push(sub_path.clone());
            }
            walk(sub, &sub_path, missing);
        }
    }
    let mut missing = Vec::new();
    walk(&tessera::cli::Cli::command(), "tessera", &mut missing);
    assert!(missing.is_empty(), "without help text: {missing:#?}");
}

#[test]
fn completions_and_man_page_come_from_the_command_line_definition() {
    let dir = tempfile::tempdir().unwrap();
    let bash = bare(dir.path(), &["completions", "bash"], None);
    bash.ok();
    assert!(bash.stdout.contains("complete -F"), "{}", bash.stdout);
    assert!(bash.stdout.contains("password-stdin"));
    for shell in ["zsh", "fish"] {
        let out = bare(dir.path(), &["completions", shell], None);
        out.ok();
        assert!(out.stdout.contains("client"), "{shell}");
    }
    bare(dir.path(), &["completions", "cmd"], None).fails_with("bash");
    let man = bare(dir.path(), &["man"], None);
    man.ok();
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH tessera"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
    assert!(man.stdout.contains("SUBCOMMANDS") || man.stdout.contains("user"));
    // Neither reads the configuration nor creates anything.
    assert!(entries(dir.path()).is_empty());
}

/// A configured store, set up with `tessera init`.
async fn initialised(backend: crate::harness::Backend) -> TestServer {
    let t = TestServer::configure(&Options {
        backend,
        ..Default::default()
    })
    .await;
    t.cli(&["init"], None).ok();
    t
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|v| v[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value:?} in {list}"))
}

#[tokio::test]
async fn client_update_changes_grants_policy_roles_and_state() {
    for backend in backends() {
        let t = initialised(backend).await;
        // Seed 000's SimpliVity flow: a public client with the emergency grant.
        t.cli(&["client", "add", "simplivity", "--public"], None).ok();
        t.cli(
            &["client", "update", "simplivity", "--add-grant", "emergency"],
            None,
        )
        .ok();
        let list = t.cli(&["client", "list", "--json"], None).ok().json();
        let c = find(&list, "id", "simplivity");
        assert_eq!(
            c["grants"],
            serde_json::json!(["emergency", "password", "refresh_token"])
        );
        assert_eq!(c["public"], true, "{backend:?}");
        t.cli(
            &[
                "client",
                "update",
                "SimpliVity",
                "--remove-grant",
                "refresh_token",
                "--policy",
                "oauth2-api",
            ],
            None,
        )
        .ok();
        t.cli(&["client", "update", "simplivity", "--disable"], None).ok();
        let list = t.cli(&["client", "list", "--json"], None).ok().json();
        let c = find(&list, "id", "simplivity");
        assert_eq!(c["grants"], serde_json::json!(["emergency", "password"]));
        assert_eq!(c["policy"], "oauth2-api");
        assert_eq!(c["enabled"], false);
        t.cli(
            &["client", "update", "simplivity", "--enable", "--no-policy"],
            None,
        )
        .ok();
        let list = t.cli(&["client", "list", "--json"], None).ok().json();
        let c = find(&list, "id", "simplivity");
        assert_eq!(c["enabled"], true);
        assert!(c["policy"].is_null());

        // What cannot be: said, nothing changed.
        t.cli(
            &[
                "client",
                "update",
                "simplivity",
                "--add-grant",
                "client_credentials",
            ],
            None,
        )
        .fails_with("public client");
        t.cli(&["client", "update", "simplivity", "--grant", "implicit"], None)
            .fails_with("grant \"implicit\"");
        t.cli(&["client", "update", "simplivity", "--policy", "nope"], None)
            .fails_with("policy \"nope\"");
        t.cli(
            &[
                "client",
                "update",
                "simplivity",
                "--remove-grant",
                "password",
                "--remove-grant",
                "emergency",
            ],
            None,
        )
        .fails_with("at least one grant");
        t.cli(&["client", "update", "ghost", "--enable"], None)
            .fails_with("not found");
        t.cli(&["client", "update", "simplivity"], None)
            .fails_with("nothing to change");

        // Roles (client_credentials) replace the client's set.
        t.cli(&["client", "add", "robot", "--grant", "client_credentials"], None)
            .ok();
        t.cli(&["client", "update", "robot", "--role", "read_only"], None)
            .ok();
        let list = t.cli(&["client", "list", "--json"], None).ok().json();
        assert_eq!(
            find(&list, "id", "robot")["roles"],
            serde_json::json!(["read_only"])
        );
        t.cli(&["client", "update", "robot", "--no-roles"], None).ok();
        let list = t.cli(&["client", "list", "--json"], None).ok().json();
        assert_eq!(find(&list, "id", "robot")["roles"], serde_json::json!([]));
        t.cli(&["client", "update", "robot", "--role", "nope"], None)
            .fails_with("role \"nope\"");

        let events = t
            .cli(&["audit", "--kind", "admin_change", "--json"], None)
            .ok()
            .json();
        let details: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["detail"].as_str().unwrap())
            .collect();
        assert!(
            details
                .iter()
                .any(|d| d.contains("client \"simplivity\" updated") && d.contains("emergency")),
            "{details:?}"
        );
    }
}

#[tokio::test]
async fn user_remove_ends_sessions_and_keeps_the_last_administrator() {
    for backend in backends() {
        let t = initialised(backend).await;
        t.cli(
            &["user", "add", "bob", "--password-stdin"],
            Some("Ember-Quartz-15\n"),
        )
        .ok();
        t.cli(&["token", "issue", "--proxy", "--user", "bob"], None).ok();
        t.cli(&["user", "remove", "admin"], None)
            .fails_with("last enabled administrator")
            .fails_with("--force");
        t.cli(&["user", "remove", "Bob"], None).ok();
        let users = t.cli(&["user", "list", "--json"], None).ok().json();
        assert_eq!(names(&users), ["admin"], "{backend:?}");
        let sessions = t.cli(&["token", "list", "--json"], None).ok().json();
        assert!(
            sessions.as_array().unwrap().is_empty(),
            "bob's session ended: {sessions}"
        );
        t.cli(&["user", "remove", "bob"], None).fails_with("not found");
        let events = t.cli(&["audit", "--user", "bob", "--json"], None).ok().json();
        assert_eq!(events[0]["detail"], "user \"bob\" removed", "{events}");
        assert_eq!(events[0]["actor"], "cli");
    }
}

#[tokio::test]
async fn a_removed_users_token_is_refused_by_the_running_server() {
    let server = TestServer::start().await;
    server.add_user(None, "bob", "Ember-Quartz-15", &[], false).await;
    let token = server
        .cli(&["token", "issue", "--proxy", "--user", "bob"], None)
        .ok()
        .stdout
        .trim()
        .to_owned();
    let whoami = server.url("/v1/auth/whoami");
    let status = |token: String| {
        let (client, url) = (server.client.clone(), whoami.clone());
        async move {
            client
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(token.clone()).await, 200);
    let out = tokio::task::spawn_blocking({
        let (config, dir) = (server.config_path.clone(), server.dir.path().to_owned());
        move || crate::harness::run_cli(&config, &dir, &["user", "remove", "bob"], None)
    })
    .await
    .unwrap();
    out.ok();
    let start = std::time::Instant::now();
    while status(token.clone()).await != 401 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "still accepted after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn domain_remove_refuses_the_default_domain_and_asks_before_taking_users() {
    for backend in backends() {
        let t = initialised(backend).await;
        t.cli(&["domain", "add", "empty"], None).ok();
        t.cli(&["domain", "add", "sdn"], None).ok();
        t.cli(
            &["user", "add", "x", "--domain", "sdn", "--password-stdin"],
            Some("Ember-Quartz-15"),
        )
        .ok();
        t.cli(&["domain", "remove", "local"], None)
            .fails_with("default domain");
        t.cli(&["domain", "remove", "sdn"], None)
            .fails_with("1 user")
            .fails_with("--force");
        t.cli(&["domain", "remove", "Empty"], None).ok();
        t.cli(&["domain", "remove", "sdn", "--force"], None).ok();
        let list = t.cli(&["domain", "list", "--json"], None).ok().json();
        assert_eq!(names(&list), ["local"], "{backend:?}");
        let users = t.cli(&["user", "list", "--json"], None).ok().json();
        assert_eq!(names(&users), ["admin"]);
        t.cli(&["domain", "remove", "sdn"], None).fails_with("not found");
        // The domain holding every administrator is refused even with --force.
        t.cli(&["domain", "add", "ops"], None).ok();
        t.cli(
            &["user", "add", "boss", "--domain", "ops", "--role", "admin"],
            None,
        )
        .ok();
        t.cli(&["user", "disable", "admin"], None).ok();
        t.cli(&["domain", "remove", "ops", "--force"], None)
            .fails_with("last enabled administrator");
        let events = t
            .cli(&["audit", "--kind", "admin_change", "--json"], None)
            .ok()
            .json();
        assert!(
            events
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["detail"] == "domain \"sdn\" removed with 1 user"),
            "{events}"
        );
    }
}
