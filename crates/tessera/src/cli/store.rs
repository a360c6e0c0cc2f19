//! Which store a command works on, and whether it may set one up: a
//! command that only reads never creates a store (nor a master key, nor an
//! admin); a command that writes to a store never set up asks for
//! `tessera init` (or `--init`); only `init`, `--init` and `serve` set one
//! up. `-v` says which configuration file and store were used.

use anyhow::{bail, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use tessera_core::{Core, SystemClock};
use tessera_model::config::Config;
use zeroize::Zeroizing;

use crate::config::{self, Overrides, Settings};
use crate::runtime::redact_url;

/// What the command line asked for, beside the command.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub config: Option<PathBuf>,
    pub overrides: Overrides,
    /// `-v`: say which configuration and store are used.
    pub verbose: bool,
    /// `--init`: set up an empty store before a command that writes.
    pub init: bool,
}

/// Whether a command only reads the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// What is found where the configuration says the store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No SQLite file.
    Missing,
    /// A database never set up (no default domain, no admin).
    Empty,
    /// Set up, or not readable here (opening it says why).
    Ready,
}

impl Context {
    /// Loads the configuration, telling it at `-v`.
    pub fn settings(&self) -> Result<Settings> {
        let settings = config::load(self.config.as_deref(), &self.overrides)?;
        if self.verbose {
            let c = &settings.config;
            eprintln!("configuration: {}", config::source(&settings));
            eprintln!(
                "data dir: {} ({})",
                c.data_dir.display(),
                settings.data_dir_origin
            );
            eprintln!("store: {}", redact_url(&c.store.url));
        }
        Ok(settings)
    }

    /// The core on the configured store, for a command with `access`. A
    /// store that is missing or never set up is refused, naming the
    /// configuration and the store looked at, unless the command writes
    /// and `--init` was given.
    pub async fn open(&self, access: Access) -> Result<(Settings, Arc<Core>)> {
        let settings = self.settings()?;
        let state = probe(&settings.config).await;
        if state != State::Ready {
            if access == Access::Write && self.init {
                let (core, _) = bootstrap(&settings, AdminPassword::from_env()).await?;
                return Ok((settings, core));
            }
            bail!("{}", not_set_up(&settings, state, access));
        }
        let core = crate::runtime::open_core(&settings, Arc::new(SystemClock)).await?;
        Ok((settings, core))
    }
}

/// Looks at the store without creating anything: a SQLite file that does
/// not exist is not opened (opening creates it). A store that cannot be
/// opened counts as ready, so that opening it for real gives its advice.
async fn probe(config: &Config) -> State {
    let url = &config.store.url;
    if let Some(path) = crate::runtime::sqlite_path(url) {
        if !path.exists() {
            return State::Missing;
        }
    }
    let timeouts = tessera_store::Timeouts {
        acquire: config.store.acquire_timeout,
        operation: config.store.operation_timeout,
    };
    let Ok(store) = tessera_store::Store::connect_with(url, 1, timeouts).await else {
        return State::Ready;
    };
    let state = match store.is_bootstrapped().await {
        Ok(false) => State::Empty,
        _ => State::Ready,
    };
    store.close().await;
    state
}

/// Why a command will not run on this store, and how to point it at the
/// right one or set this one up.
fn not_set_up(settings: &Settings, state: State, access: Access) -> String {
    let c = &settings.config;
    let what = match state {
        State::Missing => "no Tessera store at",
        _ => "no Tessera store set up in",
    };
    let head = format!(
        "{what} {} (data dir {}, {}; configuration: {})",
        redact_url(&c.store.url),
        c.data_dir.display(),
        settings.data_dir_origin,
        config::source(settings),
    );
    match access {
        Access::Read => format!(
            "{head}. Point this command at your installation with --config FILE (or TESSERA_CONFIG), \
             or at its data dir with --data-dir DIR (or TESSERA_DATA_DIR); or set up a new store here \
             with `tessera init`"
        ),
        Access::Write => format!(
            "{head}. Set up a new store with `tessera init` (or repeat this command with --init), \
             or point it at your installation with --config FILE (or TESSERA_CONFIG), --data-dir DIR \
             (or TESSERA_DATA_DIR)"
        ),
    }
}

/// The first admin's password, and where it came from (for a refusal).
pub struct AdminPassword {
    pub password: Option<Zeroizing<String>>,
    pub source: &'static str,
}

impl AdminPassword {
    /// `TESSERA_ADMIN_PASSWORD`, when set (else one is generated).
    pub fn from_env() -> AdminPassword {
        AdminPassword {
            password: std::env::var("TESSERA_ADMIN_PASSWORD").ok().map(Zeroizing::new),
            source: "TESSERA_ADMIN_PASSWORD",
        }
    }

    /// Whether a password was given (none is generated).
    pub fn given(&self) -> bool {
        self.password.as_ref().is_some_and(|p| !p.is_empty())
    }
}

/// Opens the core and sets up an empty store: the master key, the
/// default domain, the built-in roles and the `admin` user, whose
/// password is `admin` or generated and shown once. `true` when it was
/// set up now; a store already set up is left as it is.
pub async fn bootstrap(settings: &Settings, admin: AdminPassword) -> Result<(Arc<Core>, bool)> {
    let core = crate::runtime::open_core(settings, Arc::new(SystemClock)).await?;
    let given = admin.given();
    let bootstrapped = match core.bootstrap(admin.password).await {
        // The password policy refused it: say where it came from.
        Err(e @ tessera_core::AuthError::InvalidInput(_)) if given => {
            core.close().await;
            let source = admin.source;
            return Err(
                anyhow::Error::new(e).context(format!("{source} cannot be the first admin's password"))
            );
        }
        Err(e) => {
            core.close().await;
            return Err(e.into());
        }
        Ok(b) => b,
    };
    let Some(done) = bootstrapped else {
        return Ok((core, false));
    };
    eprintln!("initialised a new store: domain \"local\", roles admin, _member_, read_only, user \"admin\"");
    if let Some(pw) = done.generated_password {
        show_generated_admin_password(&pw, &settings.config)?;
    }
    Ok((core, true))
}

/// Shows the generated admin password exactly once: on the terminal when
/// there is one, else in a file only the owner can read (so it never lands
/// in a service log).
fn show_generated_admin_password(pw: &str, config: &Config) -> Result<()> {
    if std::io::stderr().is_terminal() {
        eprintln!();
        eprintln!("  admin password (shown once, store it now): {pw}");
        eprintln!();
    } else {
        let path = config.data_dir.join("initial-admin-password");
        crate::private_files::create_private_dir(&config.data_dir)?;
        crate::private_files::write_private(&path, format!("{pw}\n").as_bytes())?;
        eprintln!(
            "the generated admin password is in {} (mode 0600); delete it once stored",
            path.display()
        );
    }
    Ok(())
}
