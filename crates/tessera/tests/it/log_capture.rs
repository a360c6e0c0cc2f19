//! `.ci/log-secrets.sh`: when `TESSERA_TEST_LOG_DIR` is set, every test
//! server in this process logs at debug level (or `TESSERA_TEST_LOG`) into
//! files in that directory, one per test thread (libtest names each test's
//! thread after the test; the workers of multi-thread runtimes and the
//! password threads share `tokio-runtime-worker.log` and the like), the
//! `tessera` processes the tests start add theirs (`cli.*.log`,
//! `serve.*.log`), and every secret the harness hands out or receives is
//! listed in `secrets.jsonl`, for the script to look for in the logs.
//! Unset, everything here does nothing.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once, OnceLock};

fn dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("TESSERA_TEST_LOG_DIR").map(PathBuf::from))
        .as_deref()
}

/// Whether the tests' logs and secrets are being collected.
pub fn enabled() -> bool {
    dir().is_some()
}

/// The current test's name (its thread's), fit for a file name.
fn thread_label() -> String {
    let name = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .replace("::", ".");
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Installs the file logger, once per process. Every test server calls
/// it before it starts; so does any test that would install a global
/// subscriber of its own, so that this one is always first.
pub fn init() {
    static ONCE: Once = Once::new();
    let Some(dir) = dir() else { return };
    ONCE.call_once(|| {
        std::fs::create_dir_all(dir).unwrap();
        let filter = std::env::var("TESSERA_TEST_LOG").unwrap_or_else(|_| "debug".into());
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_ansi(false)
            .with_thread_names(true)
            .with_writer(ThreadFiles::default())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("TESSERA_TEST_LOG_DIR: the test log must be the first global subscriber");
    });
}

/// One log file per thread name, opened on first use.
#[derive(Default)]
struct ThreadFiles {
    files: Mutex<HashMap<String, Arc<Mutex<File>>>>,
}

struct FileWriter(Arc<Mutex<File>>);

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ThreadFiles {
    type Writer = FileWriter;

    fn make_writer(&'a self) -> FileWriter {
        let label = thread_label();
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let file = files
            .entry(label.clone())
            .or_insert_with(|| Arc::new(Mutex::new(append(&format!("{label}.log")))))
            .clone();
        FileWriter(file)
    }
}

fn append(name: &str) -> File {
    let dir = dir().expect("only called when collecting");
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .unwrap()
}

/// Notes a secret a test used (`what` says which kind), for the scan.
pub fn secret(what: &str, value: &str) {
    static LOCK: Mutex<()> = Mutex::new(());
    if dir().is_none() || value.is_empty() {
        return;
    }
    let line = serde_json::json!({ "what": what, "value": value, "test": thread_label() });
    let _one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    writeln!(append("secrets.jsonl"), "{line}").unwrap();
}

/// Notes the secrets a `tessera` command printed: tokens (`tsa_`,
/// `tsr_`, `tsp_`), and what follows its "shown once" notices (a
/// generated password or client secret on standard output, a first
/// start's admin password on standard error).
pub fn secrets_printed(stdout: &str, stderr: &str) {
    if dir().is_none() {
        return;
    }
    for word in stdout.split_whitespace().chain(stderr.split_whitespace()) {
        if ["tsa_", "tsr_", "tsp_"].iter().any(|p| word.starts_with(p)) {
            secret("token printed by the CLI", word);
        }
    }
    if stderr.contains("shown once") {
        for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
            secret("generated secret printed by the CLI", line);
        }
        for line in stderr.lines() {
            if let Some((_, pw)) = line.split_once("(shown once, store it now):") {
                secret("generated admin password", pw.trim());
            }
        }
    }
}

/// Notes the secrets of a configuration: every string under a key that
/// names a token, secret or password, or a master key (`[bootstrap] admin_token`,
/// `[cluster] service_token`, a directory's bind password...).
pub fn config_secrets(toml_text: &str) {
    fn walk(key: &str, v: &toml::Value) {
        match v {
            toml::Value::String(s) => {
                let k = key.to_ascii_lowercase();
                if ["token", "secret", "password"].iter().any(|w| k.contains(w)) || k == "master_key" {
                    secret(&format!("configuration {key}"), s);
                }
            }
            toml::Value::Table(t) => t.iter().for_each(|(k, v)| walk(k, v)),
            toml::Value::Array(a) => a.iter().for_each(|v| walk(key, v)),
            _ => {}
        }
    }
    if dir().is_none() {
        return;
    }
    if let Ok(v) = toml::from_str::<toml::Value>(toml_text) {
        walk("", &v);
    }
}

/// Notes the master key a data directory holds.
pub fn master_key(data_dir: &Path) {
    if let Ok(key) = std::fs::read_to_string(data_dir.join("master.key")) {
        secret("master key", key.trim());
    }
}

/// Where a `tessera serve` the tests start writes its log: a file here
/// when collecting, else nowhere.
pub fn stderr_file(kind: &str) -> std::process::Stdio {
    if dir().is_none() {
        return std::process::Stdio::null();
    }
    append(&format!("{kind}.{}.log", thread_label())).into()
}

/// Keeps a `tessera` process's log (its standard error) as `kind.TEST.log`.
pub fn save(kind: &str, text: &str) {
    if dir().is_none() || text.is_empty() {
        return;
    }
    let mut file = append(&format!("{kind}.{}.log", thread_label()));
    file.write_all(text.as_bytes()).unwrap();
}

/// A CLI's standard error without the lines its debug logging added, so
/// that tests see what they would see without `RUST_LOG=debug`.
pub fn without_debug_lines(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            let stamped = words.next().is_some_and(|w| {
                w.len() > 20 && w.as_bytes()[4] == b'-' && w.as_bytes()[10] == b'T' && w.ends_with('Z')
            });
            !(stamped && matches!(words.next(), Some("TRACE" | "DEBUG" | "INFO")))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}
