//! `tessera user ...`

use super::input::{read_secret_stdin, refuse_ignored_stdin};
use super::output;
use anyhow::Result;
use clap::{Args, Subcommand};
use tessera_core::admin::NewUser;
use tessera_core::{Actor, AuthError, Core};
use tessera_model::LastAdmin;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (prints a generated password unless --password-stdin).
    Add {
        /// The login name.
        name: String,
        /// The user's domain (default: local).
        #[arg(long)]
        domain: Option<String>,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
        /// A role on the whole system ("vdc role"); repeatable.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// A role on the user's own domain ("tenant role"); repeatable.
        #[arg(long = "domain-role", value_name = "ROLE")]
        domain_roles: Vec<String>,
        /// An account that may use only the emergency grant.
        #[arg(long)]
        emergency: bool,
        /// The display name (seed 001's common name).
        #[arg(long, value_name = "CN")]
        common_name: Option<String>,
        /// The directory distinguished name shown for the user.
        #[arg(long, value_name = "DN")]
        distinguished_name: Option<String>,
    },
    /// List users with their roles.
    List {
        /// Only the users of this domain.
        #[arg(long)]
        domain: Option<String>,
        /// Print JSON (the admin API's shape) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password, read from standard input.
    Passwd {
        /// The login name.
        name: String,
        /// The user's domain (default: local).
        #[arg(long)]
        domain: Option<String>,
        /// Read the new password from standard input (one line; required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Refuse the user's logins and tokens. Refused for the last enabled
    /// administrator unless --force.
    Disable {
        #[command(flatten)]
        target: Target,
        /// Disable even the last enabled administrator (leaving only the
        /// CLI on this host to administer Tessera).
        #[arg(long)]
        force: bool,
    },
    /// Allow the user again.
    Enable(Target),
    /// Lift a lockout now.
    Unlock(Target),
    /// Remove a user: their sessions end at once, their role grants go
    /// with them. Refused for the last enabled administrator unless
    /// --force.
    Remove {
        #[command(flatten)]
        target: Target,
        /// Remove even the last enabled administrator.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct Target {
    /// The login name.
    name: String,
    /// The user's domain (default: local).
    #[arg(long)]
    domain: Option<String>,
}

impl UserCommand {
    /// Whether the command changes the store.
    pub fn writes(&self) -> bool {
        !matches!(self, UserCommand::List { .. })
    }

    /// Refuses a password piped to a command told not to read it.
    pub fn check_stdin(&self) -> Result<()> {
        match self {
            UserCommand::Add {
                password_stdin: false,
                ..
            } => refuse_ignored_stdin("--password-stdin", "password"),
            _ => Ok(()),
        }
    }
}

pub async fn run(core: &Core, cmd: UserCommand) -> Result<()> {
    let actor = Actor::Cli;
    match cmd {
        UserCommand::Add {
            name,
            domain,
            password_stdin,
            roles,
            domain_roles,
            emergency,
            common_name,
            distinguished_name,
        } => {
            let password = if password_stdin {
                Some(read_secret_stdin("password")?)
            } else {
                None
            };
            let created = core
                .user_add(
                    &actor,
                    NewUser {
                        domain,
                        name,
                        password,
                        system_roles: roles,
                        domain_roles,
                        emergency,
                        common_name,
                        distinguished_name,
                    },
                )
                .await?;
            eprintln!(
                "added user {:?} to domain {:?} (id {})",
                created.user.name, created.domain.name, created.user.id
            );
            if let Some(pw) = created.generated_password {
                eprintln!("generated password (shown once):");
                println!("{}", pw.as_str());
            }
        }
        UserCommand::List { domain, json } => {
            let users = core.user_list(domain.as_deref()).await?;
            if json {
                output::json(&users)?;
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| {
                        let roles: Vec<String> = u
                            .roles
                            .iter()
                            .map(|r| format!("{}@{}", r.name, r.scope))
                            .collect();
                        let state = match (u.enabled, u.locked_until) {
                            (false, _) => "disabled".to_owned(),
                            (true, Some(t)) => format!("locked until {}", output::time(t)),
                            (true, None) => "enabled".to_owned(),
                        };
                        vec![
                            u.name.clone(),
                            u.domain.clone(),
                            state,
                            output::yes_no(u.emergency),
                            roles.join(","),
                            output::time(u.created_at),
                            u.id.to_string(),
                        ]
                    })
                    .collect();
                output::table(
                    &["NAME", "DOMAIN", "STATE", "EMERGENCY", "ROLES", "CREATED", "ID"],
                    &rows,
                );
            }
        }
        UserCommand::Passwd {
            name,
            domain,
            password_stdin: _,
        } => {
            let password = read_secret_stdin("password")?;
            core.user_passwd(&actor, domain.as_deref(), &name, password)
                .await?;
            eprintln!("password of {name:?} changed");
        }
        UserCommand::Disable { target: t, force } => {
            core.user_set_enabled_with(&actor, t.domain.as_deref(), &t.name, false, guard(force))
                .await
                .map_err(or_force)?;
            eprintln!("user {:?} disabled", t.name);
        }
        UserCommand::Enable(t) => {
            // Never refused: how an installation nobody can administer
            // is recovered.
            core.user_set_enabled(&actor, t.domain.as_deref(), &t.name, true)
                .await?;
            eprintln!("user {:?} enabled", t.name);
        }
        UserCommand::Unlock(t) => {
            core.user_unlock(&actor, t.domain.as_deref(), &t.name).await?;
            eprintln!("user {:?} unlocked", t.name);
        }
        UserCommand::Remove { target: t, force } => {
            core.user_remove(&actor, t.domain.as_deref(), &t.name, guard(force))
                .await
                .map_err(or_force)?;
            eprintln!("user {:?} removed; their sessions ended", t.name);
        }
    }
    Ok(())
}

/// The guard a command's `--force` asks for: the CLI runs on the host with
/// the store, so it may take away the last administrator on purpose.
pub(crate) fn guard(force: bool) -> LastAdmin {
    if force {
        LastAdmin::Override
    } else {
        LastAdmin::Keep
    }
}

/// A refusal to take away the last enabled administrator, with the CLI's
/// way past it.
pub(crate) fn or_force(e: AuthError) -> anyhow::Error {
    match e {
        AuthError::StateConflict(m) => anyhow::anyhow!("{m} (or repeat with --force to do it anyway)"),
        other => other.into(),
    }
}
