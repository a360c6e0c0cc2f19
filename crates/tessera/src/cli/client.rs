//! `tessera client ...`

use super::{output, read_secret_stdin};
use anyhow::Result;
use clap::Subcommand;
use tessera_core::admin::{ClientSecretInput, NewClient};
use tessera_core::{Actor, Core};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an OAuth2 client (prints a generated secret unless
    /// --public or --secret-stdin).
    Add {
        id: String,
        /// A client without a secret.
        #[arg(long, conflicts_with = "secret_stdin")]
        public: bool,
        /// Read the secret from standard input.
        #[arg(long)]
        secret_stdin: bool,
        /// A grant type it may use; repeatable (default: password, refresh_token).
        #[arg(long = "grant", value_name = "GRANT")]
        grants: Vec<String>,
        /// A token policy replacing the door's own.
        #[arg(long)]
        policy: Option<String>,
        /// A system role the client holds for client_credentials; repeatable.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
    },
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a client; its tokens die with it.
    Remove { id: String },
}

pub async fn run(core: &Core, cmd: ClientCommand) -> Result<()> {
    let actor = Actor::Cli;
    match cmd {
        ClientCommand::Add {
            id,
            public,
            secret_stdin,
            grants,
            policy,
            roles,
        } => {
            let secret = if public {
                ClientSecretInput::Public
            } else if secret_stdin {
                ClientSecretInput::Given(read_secret_stdin("client secret")?)
            } else {
                ClientSecretInput::Generate
            };
            let created = core
                .client_add(
                    &actor,
                    NewClient {
                        id,
                        secret,
                        grants,
                        policy,
                        roles,
                    },
                )
                .await?;
            eprintln!(
                "added {} client {:?} (grants: {})",
                if created.client.is_public() {
                    "public"
                } else {
                    "confidential"
                },
                created.client.id.as_str(),
                created.client.grants.join(" ")
            );
            if let Some(secret) = created.generated_secret {
                eprintln!("generated secret (shown once):");
                println!("{}", secret.as_str());
            }
        }
        ClientCommand::List { json } => {
            let clients = core.client_list().await?;
            if json {
                output::json(&clients)?;
            } else {
                let rows: Vec<Vec<String>> = clients
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.to_string(),
                            if c.public { "public" } else { "confidential" }.to_owned(),
                            c.grants.join(" "),
                            c.policy.clone().unwrap_or_else(|| "-".into()),
                            c.roles.join(","),
                        ]
                    })
                    .collect();
                output::table(&["ID", "TYPE", "GRANTS", "POLICY", "ROLES"], &rows);
            }
        }
        ClientCommand::Remove { id } => {
            core.client_remove(&actor, &id).await?;
            eprintln!("removed client {id:?}");
        }
    }
    Ok(())
}
