//! `tessera role ...`

use super::output;
use anyhow::Result;
use clap::{Args, Subcommand};
use tessera_core::admin::RoleTarget;
use tessera_core::{Actor, Core};

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role.
    Add {
        /// The role's name.
        name: String,
        /// A description shown in listings.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List roles.
    List {
        /// Print JSON (the admin API's shape) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Grant a role to a user (on the user's domain, or --system).
    Grant(Grant),
    /// Withdraw a role from a user. The system admin role of the last
    /// enabled administrator is refused unless --force.
    Revoke {
        #[command(flatten)]
        grant: Grant,
        /// Withdraw even the last enabled administrator's admin role.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct Grant {
    /// The role's name.
    role: String,
    /// The user's login name.
    #[arg(long)]
    user: String,
    /// The user's domain (default: local).
    #[arg(long)]
    domain: Option<String>,
    /// On the whole system instead of the user's domain.
    #[arg(long)]
    system: bool,
}

impl RoleCommand {
    /// Whether the command changes the store.
    pub fn writes(&self) -> bool {
        !matches!(self, RoleCommand::List { .. })
    }
}

impl Grant {
    fn target(&self) -> RoleTarget {
        RoleTarget {
            user: self.user.clone(),
            domain: self.domain.clone(),
            system: self.system,
        }
    }
}

pub async fn run(core: &Core, cmd: RoleCommand) -> Result<()> {
    let actor = Actor::Cli;
    match cmd {
        RoleCommand::Add { name, description } => {
            let r = core.role_add(&actor, &name, &description).await?;
            eprintln!("added role {:?} (id {})", r.name, r.id);
        }
        RoleCommand::List { json } => {
            let roles = core.role_list().await?;
            if json {
                output::json(&roles)?;
            } else {
                let rows: Vec<Vec<String>> = roles
                    .iter()
                    .map(|r| {
                        vec![
                            r.name.clone(),
                            output::yes_no(r.enabled),
                            output::yes_no(r.builtin),
                            r.description.clone(),
                            r.id.to_string(),
                        ]
                    })
                    .collect();
                output::table(&["NAME", "ENABLED", "BUILTIN", "DESCRIPTION", "ID"], &rows);
            }
        }
        RoleCommand::Grant(g) => {
            core.role_grant(&actor, &g.role, &g.target()).await?;
            eprintln!(
                "granted {:?} to {:?}{}",
                g.role,
                g.user,
                if g.system { " on the system" } else { "" }
            );
        }
        RoleCommand::Revoke { grant: g, force } => {
            core.role_revoke_with(&actor, &g.role, &g.target(), super::user::guard(force))
                .await
                .map_err(super::user::or_force)?;
            eprintln!(
                "revoked {:?} from {:?}{}",
                g.role,
                g.user,
                if g.system { " on the system" } else { "" }
            );
        }
    }
    Ok(())
}
