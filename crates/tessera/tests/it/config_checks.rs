//! Configuration that cannot switch protection off by accident (issue
//! 15): durations within bounds, lockout on only with a window and a
//! duration, every role and policy a key names existing; every problem
//! reported at once, and a server that refuses to start rather than run
//! with them.

use crate::harness::{run_cli, Options, TestServer};
use std::process::Stdio;
use std::time::Duration;

const FAST_HASHES: &str = "[password]\nmemory_kib = 1024\niterations = 1\n";

#[test]
fn config_check_reports_every_bound_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(
        &file,
        "[lockout]\nduration = \"0s\"\n\
         [server]\nheader_read_timeout = \"0s\"\n\
         [policies.oauth2]\nmax_lifetime = \"99999999999h\"\n",
    )
    .unwrap();
    let out = run_cli(&file, dir.path(), &["config", "check"], None);
    assert_ne!(out.code, 0, "{}", out.stdout);
    for line in [
        "lockout.duration is 0s; it must be between 1s and 24h while lockout is on",
        "server.header_read_timeout is 0s; it must be between 100ms and 5m",
        "policies.oauth2.max_lifetime is 99999999999h; it must be between 1s and 8784h",
    ] {
        assert!(out.stderr.contains(line), "{line:?} missing: {}", out.stderr);
    }
    // `tessera serve` refuses the same file with the same three lines.
    let serve = run_cli(&file, dir.path(), &["serve", "--listen", "127.0.0.1:0"], None);
    assert_ne!(serve.code, 0);
    assert_eq!(serve.stderr.matches("\n  - ").count(), 3, "{}", serve.stderr);

    // Lockout off, said explicitly, takes zeros.
    std::fs::write(
        &file,
        "[lockout]\nmax_failed_logins = 0\nwindow = \"0s\"\nduration = \"0s\"\n",
    )
    .unwrap();
    run_cli(&file, dir.path(), &["config", "check"], None).ok();
}

/// `tessera serve` on `server`'s configuration, expected to fail: its exit
/// code and standard error (bounded: a server that starts is a failure).
async fn serve_refused(server: &TestServer) -> (Option<i32>, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("--config")
            .arg(&server.config_path)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(server.dir.path())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("tessera serve started instead of refusing")
    .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_door_requiring_a_role_that_does_not_exist_refuses_to_start() {
    let server = TestServer::configure(&Options {
        toml: format!("{FAST_HASHES}[doors.envelope_login]\nrequire_role = \"auditors\"\n"),
        ..Default::default()
    })
    .await;
    let want = "doors.envelope_login.require_role names role \"auditors\"";
    // Before the store exists, `config check` knows a first start creates
    // only the built-in roles.
    server
        .cli(&["config", "check"], None)
        .fails_with(want)
        .fails_with("tessera role add auditors");
    let (code, stderr) = serve_refused(&server).await;
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains(&format!("{want}, which does not exist")),
        "{stderr}"
    );
    server.cli(&["config", "check"], None).fails_with(want);
    // The server started in-process refuses the same way.
    let settings = tessera::config::load(Some(&server.config_path), &Default::default()).unwrap();
    let core = tessera::runtime::open_core(&settings, std::sync::Arc::new(server.clock.clone()))
        .await
        .unwrap();
    let err = tessera::server::start(core.clone(), settings.doors.clone(), None)
        .await
        .err()
        .expect("a server whose door requires a missing role must not start");
    assert!(err.to_string().contains(want), "{err}");
    core.close().await;
    // Once the role exists, all is well.
    server.cli(&["--init", "role", "add", "auditors"], None).ok();
    server.cli(&["config", "check"], None).ok();
    let server = server.boot().await;
    assert_eq!(
        server.doors().envelope_login.require_role,
        "auditors",
        "started with the role"
    );
}

#[tokio::test]
async fn a_client_whose_policy_left_the_configuration_refuses_to_start() {
    let fast = "[policies.fast]\nmax_lifetime = \"5m\"\n";
    let server = TestServer::configure(&Options {
        toml: format!("{FAST_HASHES}{fast}"),
        ..Default::default()
    })
    .await;
    server
        .cli(
            &["--init", "client", "add", "c1", "--public", "--policy", "fast"],
            None,
        )
        .ok();
    let text = std::fs::read_to_string(&server.config_path).unwrap();
    std::fs::write(&server.config_path, text.replace(fast, "")).unwrap();
    let want = "client \"c1\" uses policy \"fast\", which is not defined under [policies]";
    server.cli(&["config", "check"], None).fails_with(want);
    let (code, stderr) = serve_refused(&server).await;
    assert_ne!(code, Some(0));
    assert!(stderr.contains(want), "{stderr}");
}

#[test]
fn every_type_and_key_problem_is_reported_at_once_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = 5\nlistn = \"127.0.0.1:1\"\n\
         [lockout]\nmax_failed_logins = -3\nwindow = 5\nduration = \"0s\"\n\
         [password]\nrefuse_common = \"yes\"\n\
         [sever]\ntls = \"off\"\n",
    )
    .unwrap();
    let out = run_cli(&file, dir.path(), &["config", "check"], None);
    assert_ne!(out.code, 0, "{}", out.stdout);
    let err = &out.stderr;
    for line in [
        "server.listen must be a \"host:port\" string such as \"127.0.0.1:8443\", got 5",
        "lockout.max_failed_logins must be a whole number from 0 to 4294967295, got -3",
        "lockout.window must be a duration string such as \"30s\", \"10m\" or \"24h\", got 5",
        "password.refuse_common must be true or false, got \"yes\"",
        "unknown key server.listn (did you mean listen?)",
        "unknown section [sever]",
        // The checks on values join the same report.
        "lockout.duration is 0s",
    ] {
        assert!(err.contains(line), "{line:?} missing: {err}");
    }
    assert!(err.contains(&file.display().to_string()), "names the file: {err}");
    assert_eq!(err.matches("\n  - ").count(), 7, "one line per problem: {err}");
    for rust_speak in ["u32", "i64", "expected `", "invalid type", "SocketAddr"] {
        assert!(!err.contains(rust_speak), "{rust_speak:?} in {err}");
    }
    // An unknown key lists the keys its table takes.
    assert!(err.contains("[server] takes listen, tls"), "{err}");

    // `tessera serve` refuses the same file with the same lines, but for
    // the listen address its --listen replaces.
    let serve = run_cli(&file, dir.path(), &["serve", "--listen", "127.0.0.1:0"], None);
    assert_ne!(serve.code, 0);
    assert_eq!(serve.stderr.matches("\n  - ").count(), 6, "{}", serve.stderr);
    assert!(!serve.stderr.contains("server.listen"), "{}", serve.stderr);
}

#[test]
fn environment_problems_name_the_variable_and_syntax_errors_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(&file, "").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .env("TESSERA_SERVER__LISTEN", "everywhere")
        .env("TESSERA_LOCKOUT__MAX_FAILED_LOGINS", "-1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("server.listen must be a \"host:port\" string"),
        "{err}"
    );
    assert!(err.contains("TESSERA_SERVER__LISTEN"), "{err}");
    assert!(err.contains("got \"everywhere\""), "{err}");
    assert!(err.contains("TESSERA_LOCKOUT__MAX_FAILED_LOGINS"), "{err}");

    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:1\"\n[lockout\n").unwrap();
    let out = run_cli(&file, dir.path(), &["config", "check"], None);
    out.fails_with("is not valid TOML").fails_with("line 3");
    assert!(out.stderr.contains(&file.display().to_string()), "{}", out.stderr);
}
