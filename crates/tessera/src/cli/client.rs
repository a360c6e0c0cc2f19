//! `tessera client ...`

use super::input::{read_secret_stdin, refuse_ignored_stdin};
use super::output;
use anyhow::Result;
use clap::{ArgGroup, Args, Subcommand};
use tessera_core::admin::{ClientChange, ClientSecretInput, CreatedClient, NewClient};
use tessera_core::{Actor, Core};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an OAuth2 client (prints a generated secret unless
    /// --public or --secret-stdin).
    Add {
        /// The client id (client_id; the user name of HTTP Basic).
        id: String,
        /// A client without a secret.
        #[arg(long, conflicts_with = "secret_stdin")]
        public: bool,
        /// Read the secret from standard input (one line).
        #[arg(long)]
        secret_stdin: bool,
        /// A grant type it may use: password, emergency, refresh_token,
        /// client_credentials; repeatable (default: password, refresh_token).
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
        /// Print JSON (the admin API's shape) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change a client: grants, policy, roles, enabled, public or
    /// confidential. Its tokens stay unless it is disabled.
    Update(Update),
    /// Remove a client; its tokens die with it.
    Remove {
        /// The client id.
        id: String,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("secret").args(["public", "secret_stdin", "new_secret"])))]
pub struct Update {
    /// The client id (any letter case).
    id: String,
    /// Replace its grants with these; repeatable.
    #[arg(long = "grant", value_name = "GRANT")]
    grants: Vec<String>,
    /// Add a grant (e.g. emergency for seed 000's SimpliVity client); repeatable.
    #[arg(long = "add-grant", value_name = "GRANT")]
    add_grants: Vec<String>,
    /// Take a grant away; repeatable.
    #[arg(long = "remove-grant", value_name = "GRANT")]
    remove_grants: Vec<String>,
    /// Use this token policy instead of the door's own.
    #[arg(long, conflicts_with = "no_policy")]
    policy: Option<String>,
    /// Use the door's own token policy again.
    #[arg(long)]
    no_policy: bool,
    /// Replace its system roles (client_credentials) with these; repeatable.
    #[arg(long = "role", value_name = "ROLE", conflicts_with = "no_roles")]
    roles: Vec<String>,
    /// Take all its system roles away.
    #[arg(long)]
    no_roles: bool,
    /// Allow its logins and tokens again.
    #[arg(long, conflicts_with = "disable")]
    enable: bool,
    /// Refuse its logins and its own client_credentials tokens (users'
    /// tokens issued through it stay until they expire or are revoked).
    #[arg(long)]
    disable: bool,
    /// Drop its secret: a public client (refused with client_credentials).
    #[arg(long)]
    public: bool,
    /// Set a new secret read from standard input (one line).
    #[arg(long)]
    secret_stdin: bool,
    /// Set a new generated secret, printed once.
    #[arg(long)]
    new_secret: bool,
}

impl ClientCommand {
    /// Whether the command changes the store.
    pub fn writes(&self) -> bool {
        !matches!(self, ClientCommand::List { .. })
    }

    /// Refuses a secret piped to a command told not to read it.
    pub fn check_stdin(&self) -> Result<()> {
        match self {
            ClientCommand::Add {
                public: false,
                secret_stdin: false,
                ..
            } => refuse_ignored_stdin("--secret-stdin", "secret"),
            _ => Ok(()),
        }
    }
}

/// Says what kind of client it is and prints a generated secret once.
fn report(verb: &str, done: CreatedClient) {
    let c = &done.client;
    eprintln!(
        "{verb} {} client {:?} (grants: {}{})",
        if c.is_public() { "public" } else { "confidential" },
        c.id.as_str(),
        c.grants.join(" "),
        if c.enabled { "" } else { "; disabled" }
    );
    if let Some(secret) = done.generated_secret {
        eprintln!("generated secret (shown once):");
        println!("{}", secret.as_str());
    }
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
            report("added", created);
        }
        ClientCommand::Update(u) => {
            let secret = if u.public {
                Some(ClientSecretInput::Public)
            } else if u.secret_stdin {
                Some(ClientSecretInput::Given(read_secret_stdin("client secret")?))
            } else if u.new_secret {
                Some(ClientSecretInput::Generate)
            } else {
                None
            };
            let change = ClientChange {
                grants: (!u.grants.is_empty()).then_some(u.grants),
                add_grants: u.add_grants,
                remove_grants: u.remove_grants,
                policy: match (u.policy, u.no_policy) {
                    (Some(p), _) => Some(Some(p)),
                    (None, true) => Some(None),
                    (None, false) => None,
                },
                roles: if u.no_roles {
                    Some(Vec::new())
                } else {
                    (!u.roles.is_empty()).then_some(u.roles)
                },
                enabled: match (u.enable, u.disable) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                secret,
            };
            let updated = core.client_update(&actor, &u.id, change).await?;
            report("updated", updated);
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
                            output::yes_no(c.enabled),
                            output::time(c.created_at),
                        ]
                    })
                    .collect();
                output::table(
                    &["ID", "TYPE", "GRANTS", "POLICY", "ROLES", "ENABLED", "CREATED"],
                    &rows,
                );
            }
        }
        ClientCommand::Remove { id } => {
            core.client_remove(&actor, &id).await?;
            eprintln!("removed client {id:?}");
        }
    }
    Ok(())
}
