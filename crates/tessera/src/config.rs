//! Loading the configuration: defaults, then `tessera.toml`, then
//! `TESSERA_<SECTION>__<KEY>` and the named `TESSERA_*` variables, then
//! command-line flags. The result is validated before anything starts.
//! One file holds two trees: the core's [`Config`] and the doors' tables
//! ([`DoorsConfig`], `[doors.*]`), read together by [`FileConfig`] so that an
//! unknown key anywhere is an error naming it. Every problem, of shape
//! ([`shape`]) or of value, is reported at once, naming the file read.

mod shape;

use anyhow::{anyhow, bail, Context, Result};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_http::doors::DoorsConfig;
use tessera_model::config::{
    BootstrapConfig, ClusterConfig, Config, GatewayConfig, LdapConfig, LockoutConfig, PasswordConfig,
    ServerConfig, StoreConfig, TokenPolicy,
};

/// Environment variables Tessera reads by name, beside the
/// `TESSERA_<SECTION>__<KEY>` family.
pub const NAMED_ENV: [&str; 5] = [
    "TESSERA_CONFIG",
    "TESSERA_DATA_DIR",
    "TESSERA_ADMIN_PASSWORD",
    "TESSERA_MASTER_KEY",
    "TESSERA_SERVICE_TOKEN",
];

/// Flags that override the configuration.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
}

/// The loaded configuration: the core's, and the doors' tables (which
/// the core never sees), and where it came from.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub config: Arc<Config>,
    pub doors: Arc<DoorsConfig>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Where `data_dir` was set: `--data-dir`, `TESSERA_DATA_DIR`, the
    /// file, or the default.
    pub data_dir_origin: String,
}

/// `tessera.toml` as one table: every top-level key of [`Config`] plus
/// `doors`. Named one by one rather than through `#[serde(flatten)]`,
/// which would silently accept unknown keys; the conversions below
/// destructure both sides, so a key added to [`Config`] and missed here
/// does not compile.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileConfig {
    data_dir: PathBuf,
    server: ServerConfig,
    store: StoreConfig,
    password: PasswordConfig,
    lockout: LockoutConfig,
    policies: BTreeMap<String, TokenPolicy>,
    doors: DoorsConfig,
    gateway: GatewayConfig,
    cluster: ClusterConfig,
    bootstrap: BootstrapConfig,
    ldap: LdapConfig,
}

impl FileConfig {
    fn join(config: Config, doors: DoorsConfig) -> FileConfig {
        let Config {
            data_dir,
            server,
            store,
            password,
            lockout,
            policies,
            gateway,
            cluster,
            bootstrap,
            ldap,
        } = config;
        FileConfig {
            data_dir,
            server,
            store,
            password,
            lockout,
            policies,
            doors,
            gateway,
            cluster,
            bootstrap,
            ldap,
        }
    }

    fn split(self) -> (Config, DoorsConfig) {
        let FileConfig {
            data_dir,
            server,
            store,
            password,
            lockout,
            policies,
            doors,
            gateway,
            cluster,
            bootstrap,
            ldap,
        } = self;
        let config = Config {
            data_dir,
            server,
            store,
            password,
            lockout,
            policies,
            gateway,
            cluster,
            bootstrap,
            ldap,
        };
        (config, doors)
    }
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig::join(Config::default(), DoorsConfig::default())
    }
}

/// Loads and validates the configuration. `file` is the `--config` flag
/// (or `TESSERA_CONFIG`); without it `./tessera.toml` is read when present.
///
/// Errors: a file that cannot be read or parsed; else every problem
/// [`load_unchecked`] finds, in one message, one line each.
pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Settings> {
    let (settings, problems) = load_unchecked(file, overrides)?;
    if !problems.is_empty() {
        return Err(invalid(&settings, &problems));
    }
    Ok(settings)
}

/// `invalid configuration (FILE):` and one line per problem.
pub fn invalid(settings: &Settings, problems: &[String]) -> anyhow::Error {
    invalid_in(&source_of(settings.file.as_deref()), problems)
}

fn invalid_in(source: &str, problems: &[String]) -> anyhow::Error {
    anyhow!(
        "invalid configuration ({source}):\n  - {}",
        problems.join("\n  - ")
    )
}

/// The configuration file read, in words: its path, or that there was
/// none.
pub fn source(settings: &Settings) -> String {
    source_of(settings.file.as_deref())
}

fn source_of(file: Option<&Path>) -> String {
    match file {
        Some(f) => std::path::absolute(f)
            .unwrap_or_else(|_| f.to_owned())
            .display()
            .to_string(),
        None => "none (no configuration file: no --config, no TESSERA_CONFIG and no ./tessera.toml here; \
                 built-in defaults and TESSERA_* variables)"
            .to_owned(),
    }
}

/// The configuration as read, and every problem its checks find (each
/// naming the key, its value and what is allowed), so that a caller with
/// more to check (`config check`, with the store) can report all of them
/// at once.
///
/// Errors: a file that cannot be read or parsed (a value of the wrong
/// type, an unknown key).
pub fn load_unchecked(file: Option<&Path>, overrides: &Overrides) -> Result<(Settings, Vec<String>)> {
    let mut fig = Figment::from(Serialized::defaults(FileConfig::default()));
    let read = match file {
        Some(path) => {
            if !path.is_file() {
                bail!("configuration file {} does not exist", path.display());
            }
            Some(path.to_owned())
        }
        None => Some(PathBuf::from("tessera.toml")).filter(|p| p.is_file()),
    };
    if let Some(path) = &read {
        // A syntax error stops TOML where it is: said alone, with its line.
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        if let Err(e) = toml::from_str::<toml::Table>(&text) {
            bail!(
                "{} is not valid TOML: {}",
                source_of(Some(path)),
                e.to_string().trim()
            );
        }
        fig = fig.merge(Toml::file_exact(path));
    }
    // Only the nested form and DATA_DIR are configuration keys; the other
    // named variables are read where they are used, and unrelated
    // TESSERA_* variables (TESSERA_TEST_POSTGRES, ...) are not keys at all.
    fig = fig.merge(
        Env::prefixed("TESSERA_")
            .filter(|k| k.as_str().contains("__") || k.as_str().eq_ignore_ascii_case("data_dir"))
            .split("__"),
    );
    if let Ok(token) = std::env::var("TESSERA_SERVICE_TOKEN") {
        fig = fig.merge(("cluster.service_token", token));
    }
    if let Some(dir) = &overrides.data_dir {
        fig = fig.merge(("data_dir", dir.display().to_string()));
    }
    if let Some(listen) = &overrides.listen {
        fig = fig.merge(("server.listen", listen.clone()));
    }
    let data_dir_origin = if overrides.data_dir.is_some() {
        "from --data-dir".to_owned()
    } else {
        match fig.find_metadata("data_dir") {
            Some(m) if m.name.contains("environment") => "from TESSERA_DATA_DIR".to_owned(),
            Some(m) if matches!(m.source, Some(figment::Source::File(_))) => {
                "from the configuration file".to_owned()
            }
            _ => "the default".to_owned(),
        }
    };
    let (read_ok, mut problems) = shape::extract::<FileConfig>(&fig);
    let Some(read_ok) = read_ok else {
        return Err(invalid_in(&source_of(read.as_deref()), &problems));
    };
    let (mut config, doors) = read_ok.split();
    if config.store.url.is_empty() {
        config.store.url = format!("sqlite://{}", config.data_dir.join("tessera.db").display());
    }
    problems.extend(doors.validate(&config));
    problems.extend(config.validate().err().unwrap_or_default());
    if let Err(rule_problem) = tessera_core::policy::Policy::compile(&config.gateway) {
        problems.push(rule_problem);
    }
    let settings = Settings {
        config: Arc::new(config),
        doors: Arc::new(doors),
        file: read,
        data_dir_origin,
    };
    Ok((settings, problems))
}

/// The effective configuration as TOML, the doors' tables included,
/// secrets redacted.
pub fn render(settings: &Settings) -> Result<String> {
    let file = FileConfig::join(
        Config::clone(&settings.config),
        DoorsConfig::clone(&settings.doors),
    );
    toml::to_string(&file).context("rendering the configuration")
}
