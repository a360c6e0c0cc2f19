//! Loading the configuration: defaults, then `tessera.toml`, then
//! `TESSERA_<SECTION>__<KEY>` and the named `TESSERA_*` variables, then
//! command-line flags. The result is validated before anything starts.

use anyhow::{anyhow, bail, Context, Result};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use std::path::{Path, PathBuf};
use tessera_model::config::Config;

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

/// Loads and validates the configuration. `file` is the `--config` flag
/// (or `TESSERA_CONFIG`); without it `./tessera.toml` is read when present.
pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    match file {
        Some(path) => {
            if !path.is_file() {
                bail!("configuration file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        None => {
            let default = Path::new("tessera.toml");
            if default.is_file() {
                fig = fig.merge(Toml::file_exact(default));
            }
        }
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
    let mut config: Config = fig.extract().map_err(describe)?;
    if config.store.url.is_empty() {
        config.store.url = format!("sqlite://{}", config.data_dir.join("tessera.db").display());
    }
    let mut problems = config.validate().err().unwrap_or_default();
    if let Err(rule_problem) = tessera_core::policy::Policy::compile(&config.gateway) {
        problems.push(rule_problem);
    }
    if !problems.is_empty() {
        return Err(anyhow!("invalid configuration:\n  - {}", problems.join("\n  - ")));
    }
    Ok(config)
}

/// Turns figment's errors into one line per problem naming the key and
/// where it came from.
fn describe(err: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let origin = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            let origin = if origin.is_empty() {
                String::new()
            } else {
                format!(" (from {origin})")
            };
            if key.is_empty() {
                format!("{}{origin}", e.kind)
            } else {
                format!("{key}: {}{origin}", e.kind)
            }
        })
        .collect();
    anyhow!("invalid configuration:\n  - {}", lines.join("\n  - "))
}

/// The effective configuration as TOML, secrets redacted.
pub fn render(config: &Config) -> Result<String> {
    toml::to_string(config).context("rendering the configuration")
}
