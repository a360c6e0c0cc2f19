//! The CLI a newcomer meets (issue 14): no second store, `init`, piped
//! passwords, RFC 3339 times, help, completions and the man page, and
//! `client update`, `user remove` and `domain remove`.

use crate::cli::{initialised, names};
use crate::harness::{backends, CliOutput, Options, TestServer};
use serde_json::Value;

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
