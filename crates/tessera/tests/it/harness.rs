//! Starting and stopping a real Tessera for a test, and running the CLI
//! against its store.

use crate::log_capture;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use tessera::server::RunningServer;
use tessera_core::{Core, ManualClock};
use tessera_http::doors::DoorsConfig;
use tessera_store::testing::{fresh_postgres_schema, postgres_test_url};
use zeroize::Zeroizing;

/// The admin password every test server starts with.
pub const ADMIN_PASSWORD: &str = "Opening-Night-Key-7";

/// Which store a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends a test should run on: SQLite always, PostgreSQL when
/// `TESSERA_TEST_POSTGRES` is set.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if postgres_test_url().is_some() {
        out.push(Backend::Postgres);
    }
    out
}

/// What a test server looks like.
#[derive(Debug, Clone)]
pub struct Options {
    pub backend: Backend,
    /// Extra TOML appended to the generated configuration.
    pub toml: String,
    pub tls: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backend: Backend::Sqlite,
            toml: String::new(),
            tls: true,
        }
    }
}

/// A configured Tessera: its files, its store URL, and (once started) the
/// running server.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub store_url: String,
    pub clock: ManualClock,
    pub client: reqwest::Client,
    running: Option<RunningServer>,
}

impl TestServer {
    /// A server on SQLite with the default configuration.
    pub async fn start() -> TestServer {
        TestServer::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> TestServer {
        let server = TestServer::configure(&opts).await;
        server.boot().await
    }

    /// Writes the configuration without starting anything (for CLI-only
    /// tests and restart tests).
    pub async fn configure(opts: &Options) -> TestServer {
        log_capture::init();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store_url = match opts.backend {
            Backend::Sqlite => format!("sqlite://{}", data.join("tessera.db").display()),
            Backend::Postgres => fresh_postgres_schema(&postgres_test_url().unwrap())
                .await
                .unwrap(),
        };
        let tls = if opts.tls { "self-signed" } else { "off" };
        let toml = format!(
            "data_dir = {data:?}\n{extra}\n[server]\nlisten = \"127.0.0.1:0\"\ntls = \"{tls}\"\n[store]\nurl = {store_url:?}\n",
            data = data.display().to_string(),
            extra = opts.toml,
        );
        let config_path = dir.path().join("tessera.toml");
        log_capture::config_secrets(&toml);
        std::fs::write(&config_path, toml).unwrap();
        TestServer {
            dir,
            config_path,
            store_url,
            clock: ManualClock::starting_now(),
            client: reqwest::Client::new(),
            running: None,
        }
    }

    /// Starts (or restarts) the server on this configuration.
    pub async fn boot(mut self) -> TestServer {
        let settings = tessera::config::load(Some(&self.config_path), &Default::default()).unwrap();
        let core = tessera::runtime::open_core(&settings, Arc::new(self.clock.clone()))
            .await
            .unwrap();
        core.bootstrap(Some(Zeroizing::new(ADMIN_PASSWORD.into())))
            .await
            .unwrap();
        log_capture::secret("admin password", ADMIN_PASSWORD);
        log_capture::master_key(&self.data_dir());
        let running = tessera::server::start(core, settings.doors, None).await.unwrap();
        self.client = client_for(&running, &self.data_dir());
        self.running = Some(running);
        self
    }

    /// Stops the server, keeping its files.
    pub async fn halt(mut self) -> TestServer {
        if let Some(r) = self.running.take() {
            let core = r.core.clone();
            r.stop().await.unwrap();
            core.close().await;
        }
        self
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.running.as_ref().expect("server not running").core
    }

    /// The `[doors]` tables the server runs with.
    pub fn doors(&self) -> &Arc<DoorsConfig> {
        &self.running.as_ref().expect("server not running").doors
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.running.as_ref().expect("server not running").base_url()
        )
    }

    /// Another node on the same configuration and store (a cluster of two),
    /// sharing this server's clock.
    pub async fn peer(&self) -> Node {
        let settings = tessera::config::load(Some(&self.config_path), &Default::default()).unwrap();
        let core = tessera::runtime::open_core(&settings, Arc::new(self.clock.clone()))
            .await
            .unwrap();
        let running = tessera::server::start(core, settings.doors, None).await.unwrap();
        let client = client_for(&running, &self.data_dir());
        Node { running, client }
    }

    /// `127.0.0.1:PORT`, for substituting into the seeds' command lines.
    pub fn host(&self) -> String {
        self.running
            .as_ref()
            .expect("server not running")
            .addr
            .to_string()
    }

    /// The server's self-signed certificate, for clients that verify.
    pub fn cert_path(&self) -> PathBuf {
        self.data_dir().join("tls/self-signed.crt")
    }

    /// Runs a shell script (a seed's command lines) with `$HOST` set to
    /// this server and curl trusting its certificate, the way an operator
    /// who imported the certificate would run it.
    pub async fn sh(&self, script: &str) -> CliOutput {
        let out = tokio::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .env("HOST", self.host())
            .env("CURL_CA_BUNDLE", self.cert_path())
            .current_dir(self.dir.path())
            .output()
            .await
            .unwrap();
        CliOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Adds a user through the core (what `tessera user add` does).
    pub async fn add_user(
        &self,
        domain: Option<&str>,
        name: &str,
        password: &str,
        system_roles: &[&str],
        emergency: bool,
    ) {
        log_capture::secret("user password", password);
        self.core()
            .user_add(
                &tessera_core::Actor::Cli,
                tessera_core::admin::NewUser {
                    domain: domain.map(str::to_owned),
                    name: name.into(),
                    password: Some(Zeroizing::new(password.into())),
                    system_roles: system_roles.iter().map(|r| (*r).to_owned()).collect(),
                    emergency,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    /// An access token from a `grant` (password or emergency) at the oauth2
    /// `path`, through the public client `client`.
    pub async fn grant(&self, path: &str, client: &str, grant: &str, user: &str, password: &str) -> String {
        log_capture::secret("login password", password);
        let res = self
            .client
            .post(self.url(path))
            .basic_auth(client, Some(""))
            .form(&[("grant_type", grant), ("username", user), ("password", password)])
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        for kind in ["access_token", "refresh_token"] {
            log_capture::secret(kind, body[kind].as_str().unwrap_or(""));
        }
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {body}"))
            .to_owned()
    }

    /// Registers an OAuth2 client through the core (what `tessera client add` does).
    pub async fn add_client(&self, id: &str, secret: Option<&str>, grants: &[&str], roles: &[&str]) {
        use tessera_core::admin::{ClientSecretInput, NewClient};
        log_capture::secret("client secret", secret.unwrap_or(""));
        let secret = match secret {
            Some(s) => ClientSecretInput::Given(Zeroizing::new(s.into())),
            None => ClientSecretInput::Public,
        };
        self.core()
            .client_add(
                &tessera_core::Actor::Cli,
                NewClient {
                    id: id.into(),
                    secret,
                    grants: grants.iter().map(|g| (*g).to_owned()).collect(),
                    policy: None,
                    roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                },
            )
            .await
            .unwrap();
    }

    /// Runs the `tessera` binary on this server's configuration.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        run_cli(&self.config_path, self.dir.path(), args, stdin)
    }
}

/// A second node started by `TestServer::peer`.
pub struct Node {
    running: RunningServer,
    pub client: reqwest::Client,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    pub async fn stop(self) {
        let core = self.running.core.clone();
        self.running.stop().await.unwrap();
        core.close().await;
    }
}

/// A reqwest client that trusts the server's own certificate (no `-k`).
fn client_for(running: &RunningServer, data_dir: &Path) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if running.tls {
        let pem = std::fs::read(data_dir.join("tls/self-signed.crt")).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// What a CLI run printed and how it ended.
#[derive(Debug)]
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "command failed: stderr={} stdout={}",
            self.stderr, self.stdout
        );
        self
    }

    /// Asserts failure with one clear `error:` line mentioning `needle`.
    pub fn fails_with(&self, needle: &str) -> &Self {
        assert_ne!(self.code, 0, "command should have failed: stdout={}", self.stdout);
        assert!(
            self.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "stderr should mention {needle:?}: {}",
            self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// A second node as its own process: the real `tessera serve` on this
/// server's configuration and store (its own clock: the real one).
pub struct ProcessNode {
    child: tokio::process::Child,
    base: String,
    pub client: reqwest::Client,
}

impl TestServer {
    /// Starts `tessera serve` on this configuration, on a free port.
    pub async fn process_peer(&self) -> ProcessNode {
        use tokio::io::AsyncBufReadExt;
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
        cmd.arg("--config")
            .arg(&self.config_path)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_capture::stderr_file("serve"))
            .kill_on_drop(true);
        for var in tessera::config::NAMED_ENV {
            cmd.env_remove(var);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let base = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("tessera listening on ") {
                    return url.trim().trim_end_matches('/').to_owned();
                }
            }
            panic!("tessera serve ended without listening");
        })
        .await
        .expect("tessera serve did not start within 30 s");
        // Keep reading its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let client = match &self.running {
            Some(r) => client_for(r, &self.data_dir()),
            None => reqwest::Client::new(),
        };
        ProcessNode { child, base, client }
    }
}

impl ProcessNode {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Runs `tessera --config FILE ARGS...` in `cwd` with a clean environment.
pub fn run_cli(config: &Path, cwd: &Path, args: &[&str], stdin: Option<&str>) -> CliOutput {
    use std::io::Write;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.arg("--config").arg(config).args(args).current_dir(cwd);
    for var in tessera::config::NAMED_ENV {
        cmd.env_remove(var);
    }
    if log_capture::enabled() {
        cmd.env("RUST_LOG", "debug");
    }
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        log_capture::secret("CLI standard input", input.trim_end_matches('\n'));
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let (stdout, mut stderr) = (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    );
    if log_capture::enabled() {
        log_capture::save("cli", &stderr);
        log_capture::secrets_printed(&stdout, &stderr);
        stderr = log_capture::without_debug_lines(&stderr);
    }
    CliOutput {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

/// A response header in curl's `-v` or `-i` output.
pub fn curl_header(output: &str, name: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let (k, v) = l.trim_start_matches("< ").trim().split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// The last response status in curl's `-v` or `-i` output.
pub fn curl_status(output: &str) -> u16 {
    output
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim_start_matches("< ");
            l.starts_with("HTTP/")
                .then(|| l.split_whitespace().nth(1)?.parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

/// A directory to put on `PYTHONPATH` so that `python3` can import each of
/// `imports` (comma-separated, as in `import a, b`): empty when the system
/// already has them, else `packages` installed there from PyPI (under
/// target/, once, for every later run).
pub async fn python_packages(name: &str, imports: &str, packages: &[&str]) -> PathBuf {
    // Tests run in parallel: one install at a time, and a second test
    // waiting here finds the first one's result.
    static INSTALLING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = INSTALLING.lock().await;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pydeps-{name}"));
    let importable = |dir: PathBuf| async move {
        tokio::process::Command::new("python3")
            .args(["-c", &format!("import {imports}")])
            .env("PYTHONPATH", &dir)
            .output()
            .await
            .expect("python3 runs")
            .status
            .success()
    };
    if importable(dir.clone()).await {
        return dir;
    }
    // Install beside, then move into place: a half-finished install is
    // never mistaken for a working one.
    let staging = dir.with_extension(format!("staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let out = tokio::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&staging)
        .args(packages)
        .output()
        .await
        .expect("python3 -m pip runs");
    assert!(
        importable(staging.clone()).await,
        "could not install {packages:?} from PyPI: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).unwrap();
    dir
}
