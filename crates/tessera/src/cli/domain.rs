//! `tessera domain ...`

use super::output;
use anyhow::Result;
use clap::Subcommand;
use tessera_core::{Actor, Core};

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Create a local domain.
    Add {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List domains.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Refuse logins to the domain and every token of its users.
    Disable { name: String },
    /// Allow the domain again.
    Enable { name: String },
}

pub async fn run(core: &Core, cmd: DomainCommand) -> Result<()> {
    let actor = Actor::Cli;
    match cmd {
        DomainCommand::Add { name, description } => {
            let d = core.domain_add(&actor, &name, &description).await?;
            eprintln!("added domain {:?} (id {})", d.name, d.id);
        }
        DomainCommand::List { json } => {
            let domains = core.domain_list().await?;
            if json {
                output::json(&domains)?;
            } else {
                let rows: Vec<Vec<String>> = domains
                    .iter()
                    .map(|d| {
                        vec![
                            d.name.clone(),
                            d.source.as_str().to_owned(),
                            output::yes_no(d.enabled),
                            d.description.clone(),
                            d.id.to_string(),
                        ]
                    })
                    .collect();
                output::table(&["NAME", "SOURCE", "ENABLED", "DESCRIPTION", "ID"], &rows);
            }
        }
        DomainCommand::Disable { name } => {
            core.domain_set_enabled(&actor, &name, false).await?;
            eprintln!("domain {name:?} disabled");
        }
        DomainCommand::Enable { name } => {
            core.domain_set_enabled(&actor, &name, true).await?;
            eprintln!("domain {name:?} enabled");
        }
    }
    Ok(())
}
