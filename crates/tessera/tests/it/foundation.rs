//! The foundation: HTTPS serving, health and readiness, first start and
//! restart, configuration loading.

use crate::harness::{backends, run_cli, Backend, Options, TestServer};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test]
async fn health_and_readiness_answer_over_https_on_every_backend() {
    for backend in backends() {
        let server = TestServer::start_with(Options {
            backend,
            ..Default::default()
        })
        .await;
        let res = server.client.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{backend:?}");
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["status"], "ok");
        let res = server.client.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{backend:?}");
        let body: serde_json::Value = res.json().await.unwrap();
        let want = if backend == Backend::Postgres {
            "postgres"
        } else {
            "sqlite"
        };
        assert_eq!(body["store"], want);
        server.halt().await;
    }
}

#[tokio::test]
async fn readiness_turns_red_when_the_store_is_gone() {
    let server = TestServer::start().await;
    server.core().close().await;
    let res = server.client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["reason"],
        "store unreachable"
    );
    // Liveness is about the process, not the store.
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

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let server = TestServer::start().await;
    let res = server
        .client
        .get(server.url("/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn a_restart_keeps_certificate_store_and_admin() {
    let server = TestServer::start().await;
    let cert = std::fs::read(server.data_dir().join("tls/self-signed.crt")).unwrap();
    let admin = server.core().user_named(None, "admin").await.unwrap().1;
    let server = server.halt().await.boot().await;
    assert_eq!(
        std::fs::read(server.data_dir().join("tls/self-signed.crt")).unwrap(),
        cert
    );
    let again = server.core().user_named(None, "admin").await.unwrap().1;
    assert_eq!(again.id, admin.id);
    assert!(
        server.core().bootstrap(None).await.unwrap().is_none(),
        "a second bootstrap must do nothing"
    );
    // The client trusts the kept certificate, so this also proves it is served.
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

/// Starts `tessera serve` as a real process in `dir` and returns it with
/// the URL it printed.
fn spawn_serve(dir: &std::path::Path) -> (std::process::Child, String, BufReader<std::process::ChildStdout>) {
    spawn_serve_with(dir, &[])
}

pub(crate) fn spawn_serve_with(
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (std::process::Child, String, BufReader<std::process::ChildStdout>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).current_dir(dir);
    for var in tessera::config::NAMED_ENV {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    for (k, v) in env {
        if ["PASSWORD", "TOKEN", "SECRET", "KEY"]
            .iter()
            .any(|w| k.contains(w))
        {
            crate::log_capture::secret(k, v);
        }
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("tessera listening on ")
        .unwrap_or_else(|| panic!("unexpected: {line}"))
        .to_owned();
    (child, url, out)
}

pub(crate) fn terminate(mut child: std::process::Child) -> String {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "serve should exit cleanly on SIGTERM, got {status}"
    );
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    crate::log_capture::save("serve", &err);
    crate::log_capture::secrets_printed("", &err);
    err
}

#[tokio::test]
async fn the_binary_serves_on_embedded_defaults_and_a_second_start_makes_no_new_password() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url, _out) = spawn_serve(dir.path());
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    // The same check as `curl -k https://127.0.0.1:8443/healthz`.
    let curl = Command::new("curl")
        .args(["-sk", &format!("{url}/healthz")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&curl.stdout), r#"{"status":"ok"}"#);
    let stderr = terminate(child);
    assert!(stderr.contains("initialised a new store"), "{stderr}");
    let pw_file = dir.path().join("tessera-data/initial-admin-password");
    let password = std::fs::read_to_string(&pw_file).unwrap();
    assert_eq!(password.trim().len(), 20);
    assert!(
        !stderr.contains(password.trim()),
        "the generated password must not reach the log"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&pw_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let cert = std::fs::read(dir.path().join("tessera-data/tls/self-signed.crt")).unwrap();

    std::fs::remove_file(&pw_file).unwrap();
    let (child, url, _out) = spawn_serve(dir.path());
    let curl = Command::new("curl")
        .args(["-sk", &format!("{url}/readyz")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&curl.stdout).contains("ready"));
    let stderr = terminate(child);
    assert!(!stderr.contains("initialised"), "{stderr}");
    assert!(
        !pw_file.exists(),
        "a second start must not generate another password"
    );
    assert_eq!(
        std::fs::read(dir.path().join("tessera-data/tls/self-signed.crt")).unwrap(),
        cert
    );
}

#[tokio::test]
async fn a_stopped_server_refuses_new_connections() {
    let server = TestServer::start().await;
    let client = server.client.clone();
    let url = server.url("/healthz");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    let server = server.halt().await;
    let err = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(err.is_err(), "a stopped server must not answer");
    drop(server);
}

#[test]
fn config_check_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:9443\"\n[cluster]\nservice_token = \"a-very-secret-service-token\"\n[policies.header-login]\nidle_timeout = \"30m\"\n",
    )
    .unwrap();
    let out = run_cli(&file, dir.path(), &["config", "check"], None);
    out.ok();
    assert!(
        out.stdout.contains("listen = \"127.0.0.1:9443\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("service_token = \"[redacted]\""),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("a-very-secret"));
    // A partial policy keeps the seed's other defaults.
    let cfg: toml::Value = toml::from_str(&out.stdout).unwrap();
    let hl = &cfg["policies"]["header-login"];
    assert_eq!(hl["idle_timeout"].as_str(), Some("30m"));
    assert_eq!(hl["max_lifetime"].as_str(), Some("8h"));
    assert_eq!(hl["max_tokens_per_user"].as_integer(), Some(100));
    assert!(cfg["store"]["url"].as_str().unwrap().starts_with("sqlite://"));
    // The doors' tables are printed with the rest.
    assert_eq!(cfg["doors"]["oauth2"]["recent_auth"].as_str(), Some("5m"));
    assert_eq!(
        cfg["doors"]["envelope_login"]["require_role"].as_str(),
        Some("admin")
    );
}

#[test]
fn config_errors_name_the_key_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(&file, "[server]\nlistn = \"127.0.0.1:9443\"\n").unwrap();
    run_cli(&file, dir.path(), &["config", "check"], None).fails_with("listn");

    std::fs::write(&file, "[lockout]\nduration = \"ten minutes\"\n").unwrap();
    run_cli(&file, dir.path(), &["config", "check"], None).fails_with("lockout.duration");

    std::fs::write(&file, "[doors.oauth2]\npolicy = \"missing\"\n").unwrap();
    run_cli(&file, dir.path(), &["config", "check"], None).fails_with("doors.oauth2.policy");

    // The doors' tables are the doors' own, and checked as strictly.
    std::fs::write(&file, "[doors.oauth2]\npolcy = \"oauth2\"\n").unwrap();
    run_cli(&file, dir.path(), &["config", "check"], None).fails_with("polcy");
    std::fs::write(&file, "[doors.basic_login]\nenabled = true\n").unwrap();
    run_cli(&file, dir.path(), &["config", "check"], None).fails_with("basic_login");
    std::fs::write(&file, "[doors.envelope_login]\nrequire_role = \"\"\n").unwrap();
    run_cli(&file, dir.path(), &["config", "check"], None).fails_with("doors.envelope_login.require_role");

    run_cli(
        &dir.path().join("absent.toml"),
        dir.path(),
        &["config", "check"],
        None,
    )
    .fails_with("does not exist");
}

#[test]
fn environment_variables_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:9443\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .env("TESSERA_SERVER__LISTEN", "127.0.0.1:7443")
        .env("TESSERA_LOCKOUT__MAX_FAILED_LOGINS", "3")
        .env("TESSERA_DATA_DIR", "/var/lib/tessera-test")
        .env("TESSERA_SERVICE_TOKEN", "service-token-from-the-environment")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("listen = \"127.0.0.1:7443\""), "{stdout}");
    assert!(stdout.contains("max_failed_logins = 3"), "{stdout}");
    assert!(
        stdout.contains("data_dir = \"/var/lib/tessera-test\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("sqlite:///var/lib/tessera-test/tessera.db"),
        "{stdout}"
    );
    assert!(stdout.contains("service_token = \"[redacted]\""), "{stdout}");

    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .env("TESSERA_SERVER__NO_SUCH_KEY", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_key"));
}

#[tokio::test]
async fn no_password_or_token_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let password = "a-very-recognisable-password";
    let (child, url, _out) = spawn_serve_with(
        dir.path(),
        &[("TESSERA_ADMIN_PASSWORD", password), ("RUST_LOG", "debug")],
    );
    let cli = |args: &[&str], stdin: Option<&str>| {
        let cfg = dir.path().join("empty.toml");
        std::fs::write(&cfg, "").unwrap();
        crate::harness::run_cli(&cfg, dir.path(), args, stdin)
    };
    cli(
        &["client", "add", "c", "--secret-stdin", "--grant", "password"],
        Some("client-secret-to-hide"),
    )
    .ok();
    let login = |pw: &str| {
        Command::new("curl")
            .args([
                "-sk",
                &format!("{url}/oauth/token"),
                "-u",
                "c:client-secret-to-hide",
                "-d",
                "grant_type=password",
            ])
            .args(["-d", "username=admin", "-d", &format!("password={pw}")])
            .output()
            .unwrap()
    };
    let ok = login(password);
    let body: serde_json::Value = serde_json::from_slice(&ok.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&ok.stdout)));
    let token = body["access_token"].as_str().unwrap().to_owned();
    login("wrong-guess-to-hide");
    let me = Command::new("curl")
        .args([
            "-sk",
            &format!("{url}/v1/auth/whoami"),
            "-H",
            &format!("X-Auth-Token: {token}"),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&me.stdout).contains("admin"));
    let log = terminate(child);
    assert!(
        log.contains("login_succeeded") && log.contains("login_failed"),
        "the audit reaches the log: {log}"
    );
    for secret in [
        password,
        "wrong-guess-to-hide",
        "client-secret-to-hide",
        token.as_str(),
    ] {
        assert!(!log.contains(secret), "the log leaks {secret}");
    }
}
