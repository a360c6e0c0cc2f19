//! `tessera domain ...`: local and LDAP domains, and the directory group
//! → role mappings of LDAP domains (SPEC §7).

use super::output;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tessera_core::admin::NewLdapDomain;
use tessera_core::{Actor, Core};

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Create a domain: local, or LDAP with --ldap-url.
    Add {
        /// The domain's name (what logins give as realm or domain).
        name: String,
        /// A description shown in listings.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        ldap: LdapArgs,
    },
    /// List domains.
    List {
        /// Print JSON (the admin API's shape) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Refuse logins to the domain and every token of its users. Refused
    /// when it holds every enabled administrator, unless --force.
    Disable {
        /// The domain's name.
        name: String,
        /// Disable it even when it holds every enabled administrator.
        #[arg(long)]
        force: bool,
    },
    /// Allow the domain again.
    Enable {
        /// The domain's name.
        name: String,
    },
    /// Remove a domain. Refused for the default domain, for a domain that
    /// holds users unless --force, and for one holding every enabled
    /// administrator.
    Remove {
        /// The domain's name.
        name: String,
        /// Remove its users with it (their sessions end at once).
        #[arg(long)]
        force: bool,
    },
    /// Give ROLE to the members of directory group GROUP (its cn) at
    /// their next login: in the domain, or on the whole system with --system.
    MapGroup {
        /// The LDAP domain.
        domain: String,
        /// The directory group's cn.
        group: String,
        /// The role its members get.
        role: String,
        /// On the whole system instead of in the domain.
        #[arg(long)]
        system: bool,
    },
    /// Remove a group → role mapping (members lose the role at their next
    /// login; `tessera token revoke` ends their sessions now).
    UnmapGroup {
        /// The LDAP domain.
        domain: String,
        /// The directory group's cn.
        group: String,
        /// The role it gave.
        role: String,
        /// The mapping on the whole system, not the one in the domain.
        #[arg(long)]
        system: bool,
    },
    /// List an LDAP domain's group → role mappings.
    ListGroups {
        /// The LDAP domain.
        domain: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

impl DomainCommand {
    /// Whether the command changes the store.
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            DomainCommand::List { .. } | DomainCommand::ListGroups { .. }
        )
    }
}

/// The directory of an LDAP domain. `{user}` in the template and filter is
/// the login name, escaped (RFC 4514 in a DN, RFC 4515 in a filter).
#[derive(Debug, Args)]
pub struct LdapArgs {
    /// The directory: ldaps://host[:port], or ldap://host[:port] (with
    /// --starttls, or passwords cross the network in clear).
    #[arg(long, value_name = "URL")]
    ldap_url: Option<String>,
    /// Bind as this DN: e.g. uid={user},ou=people,dc=example,dc=org.
    #[arg(long, value_name = "T", requires = "ldap_url", conflicts_with_all = ["search_base", "search_filter"])]
    user_dn_template: Option<String>,
    /// Or search here for the user's entry ...
    #[arg(long, value_name = "B", requires_all = ["ldap_url", "search_filter"])]
    search_base: Option<String>,
    /// ... with this filter: e.g. (&(objectClass=person)(uid={user})).
    #[arg(long, value_name = "F", requires_all = ["ldap_url", "search_base"])]
    search_filter: Option<String>,
    /// The account that searches (anonymous without one).
    #[arg(long, value_name = "DN", requires_all = ["search_base", "bind_password_stdin"])]
    bind_dn: Option<String>,
    /// Read the search account's password from standard input (stored
    /// encrypted with the master key).
    #[arg(long, requires = "bind_dn")]
    bind_password_stdin: bool,
    /// Where groups are searched (default: the search base, or the
    /// template's dc= suffix).
    #[arg(long, value_name = "B", requires = "ldap_url")]
    group_base: Option<String>,
    /// The group filter; {dn} is the user's DN, {user} its login name
    /// (default: groupOfNames, groupOfUniqueNames by member DN, posixGroup
    /// by memberUid).
    #[arg(long, value_name = "F", requires = "ldap_url")]
    group_filter: Option<String>,
    /// Upgrade ldap:// with StartTLS before any bind.
    #[arg(long, requires = "ldap_url")]
    starttls: bool,
    /// PEM file of the CA certificates the directory's certificate must
    /// chain to (default: the system's roots).
    #[arg(long, value_name = "PEM", requires = "ldap_url")]
    ca_file: Option<PathBuf>,
}

pub async fn run(core: &Core, cmd: DomainCommand) -> Result<()> {
    let actor = Actor::Cli;
    match cmd {
        DomainCommand::Add {
            name,
            description,
            ldap,
        } => match ldap.ldap_url {
            None => {
                let d = core.domain_add(&actor, &name, &description).await?;
                eprintln!("added domain {:?} (id {})", d.name, d.id);
            }
            Some(url) => {
                let bind_password = if ldap.bind_password_stdin {
                    Some(super::read_secret_stdin("bind password")?)
                } else {
                    None
                };
                let ca_pem = match &ldap.ca_file {
                    Some(path) => Some(
                        std::fs::read_to_string(path)
                            .with_context(|| format!("reading the CA file {}", path.display()))?,
                    ),
                    None => None,
                };
                let added = core
                    .domain_add_ldap(
                        &actor,
                        NewLdapDomain {
                            name,
                            description,
                            url,
                            user_dn_template: ldap.user_dn_template,
                            search_base: ldap.search_base,
                            search_filter: ldap.search_filter,
                            bind_dn: ldap.bind_dn,
                            bind_password,
                            group_base: ldap.group_base,
                            group_filter: ldap.group_filter,
                            starttls: ldap.starttls,
                            ca_pem,
                        },
                    )
                    .await?;
                for w in &added.warnings {
                    eprintln!("warning: {w}");
                }
                eprintln!(
                    "added LDAP domain {:?} (id {})",
                    added.domain.name, added.domain.id
                );
            }
        },
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
        DomainCommand::Disable { name, force } => {
            core.domain_set_enabled_with(&actor, &name, false, super::user::guard(force))
                .await
                .map_err(super::user::or_force)?;
            eprintln!("domain {name:?} disabled");
        }
        DomainCommand::Enable { name } => {
            core.domain_set_enabled(&actor, &name, true).await?;
            eprintln!("domain {name:?} enabled");
        }
        DomainCommand::Remove { name, force } => {
            let users = core
                .domain_remove(&actor, &name, force)
                .await
                .map_err(|e| match e {
                    // Only a domain holding users is refused without --force.
                    tessera_core::AuthError::StateConflict(m) if !force => {
                        anyhow::anyhow!("{m} (repeat with --force to remove them with it)")
                    }
                    other => other.into(),
                })?;
            eprintln!("domain {name:?} removed, with {users} user(s)");
        }
        DomainCommand::MapGroup {
            domain,
            group,
            role,
            system,
        } => {
            let m = core
                .domain_map_group(&actor, &domain, &group, &role, system)
                .await?;
            eprintln!(
                "members of group {:?} get role {:?} ({}) at their next login",
                m.group, m.role, m.scope
            );
        }
        DomainCommand::UnmapGroup {
            domain,
            group,
            role,
            system,
        } => {
            core.domain_unmap_group(&actor, &domain, &group, &role, system)
                .await?;
            eprintln!("group {group:?} no longer gives role {role:?}; members lose it at their next login");
        }
        DomainCommand::ListGroups { domain, json } => {
            let mappings = core.domain_group_mappings(&domain).await?;
            if json {
                output::json(&mappings)?;
            } else {
                let rows: Vec<Vec<String>> = mappings
                    .iter()
                    .map(|m| vec![m.group.clone(), m.role.clone(), m.scope.clone()])
                    .collect();
                output::table(&["GROUP", "ROLE", "SCOPE"], &rows);
            }
        }
    }
    Ok(())
}
