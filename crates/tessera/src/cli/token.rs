//! `tessera token ...` and `tessera keys ...`

use super::output;
use anyhow::{bail, Result};
use clap::Subcommand;
use tessera_core::{Actor, Core};
use tessera_http::doors::DoorsConfig;
use tessera_model::SessionId;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a user (prints it once).
    Issue {
        /// A proxy token: never expires, for scripts (seed 001).
        #[arg(long, required = true)]
        proxy: bool,
        /// The user's login name.
        #[arg(long)]
        user: String,
        /// The user's domain (default: local).
        #[arg(long)]
        domain: Option<String>,
    },
    /// List live sessions (never their tokens).
    List {
        /// Only this user's sessions.
        #[arg(long)]
        user: Option<String>,
        /// The user's domain (default: local).
        #[arg(long)]
        domain: Option<String>,
        /// Print JSON (the admin API's shape) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a session by id.
    Revoke {
        /// The session id `tessera token list` shows.
        id: String,
    },
}

impl TokenCommand {
    /// Whether the command changes the store.
    pub fn writes(&self) -> bool {
        !matches!(self, TokenCommand::List { .. })
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start signing JWTs with a new key; old keys stay published until
    /// their last token expires.
    Rotate,
}

/// `doors` gives the policy of `token issue --proxy`: header-login's,
/// the door whose proxy tokens these are (seed 001).
pub async fn run(core: &Core, doors: &DoorsConfig, cmd: TokenCommand) -> Result<()> {
    let actor = Actor::Cli;
    match cmd {
        TokenCommand::Issue {
            proxy: _,
            user,
            domain,
        } => {
            let issued = core
                .issue_proxy_for(&actor, domain.as_deref(), &user, &doors.header_login.policy)
                .await?;
            eprintln!(
                "proxy token for {user:?} (session {}), shown once:",
                issued.session.id
            );
            println!("{}", issued.token.as_str());
        }
        TokenCommand::List { user, domain, json } => {
            let sessions = core
                .session_list(user.as_deref().map(|u| (domain.as_deref(), u)), None, 1000)
                .await?;
            if json {
                output::json(&sessions)?;
            } else {
                let rows: Vec<Vec<String>> = sessions
                    .iter()
                    .map(|s| {
                        vec![
                            s.id.to_string(),
                            s.kind.to_owned(),
                            s.user.clone().or(s.client_id.clone()).unwrap_or_default(),
                            s.door.clone(),
                            s.scope.clone(),
                            output::time(s.created_at),
                            output::time(s.last_used_at),
                            s.expires_at.map(output::time).unwrap_or_else(|| "never".into()),
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "ID",
                        "KIND",
                        "WHO",
                        "DOOR",
                        "SCOPE",
                        "CREATED",
                        "LAST USED",
                        "EXPIRES",
                    ],
                    &rows,
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let Some(sid) = SessionId::parse(&id) else {
                bail!("{id:?} is not a session id (32 lowercase hex characters; see `tessera token list`)");
            };
            if !core
                .revoke_session_id(&sid, "revoked with the CLI", Some("cli"))
                .await?
            {
                bail!("no live session {id}");
            }
            eprintln!("session {id} revoked");
        }
    }
    Ok(())
}

pub async fn keys(core: &Core, cmd: KeysCommand) -> Result<()> {
    match cmd {
        KeysCommand::Rotate => {
            let kid = core.rotate_keys(&Actor::Cli).await?;
            eprintln!("JWT signing key rotated; new key id:");
            println!("{kid}");
        }
    }
    Ok(())
}
