//! OAuth2 client administration.

use super::names;
use crate::audit::Actor;
use crate::error::{AuthError, AuthResult};
use crate::{random, Core};
use serde::Serialize;
use tessera_model::{Assignment, AssignmentScope, Client, ClientId, Principal, Timestamp};
use tessera_store::Invalidation;
use zeroize::Zeroizing;

/// The grant types Tessera implements (SPEC §3.1).
pub const GRANT_TYPES: [&str; 4] = ["password", "emergency", "refresh_token", "client_credentials"];

/// How a new client authenticates.
#[derive(Debug)]
pub enum ClientSecretInput {
    /// No secret (seed 000's `simplivity` sends an empty one).
    Public,
    /// A secret the operator chose.
    Given(Zeroizing<String>),
    /// A random 256-bit secret, returned once.
    Generate,
}

/// A client to register.
#[derive(Debug)]
pub struct NewClient {
    pub id: String,
    pub secret: ClientSecretInput,
    /// Empty means `password` and `refresh_token`.
    pub grants: Vec<String>,
    pub policy: Option<String>,
    /// System roles the client itself holds (client_credentials).
    pub roles: Vec<String>,
}

pub struct CreatedClient {
    pub client: Client,
    pub generated_secret: Option<Zeroizing<String>>,
}

/// An OAuth2 client as listings show it (never the secret hash).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Client))]
pub struct ClientView {
    pub id: ClientId,
    /// A public client has no secret.
    pub public: bool,
    /// The grant types it may use (`GRANT_TYPES`).
    pub grants: Vec<String>,
    /// Token policy overriding the door's own.
    pub policy: Option<String>,
    /// System roles for the client_credentials grant.
    pub roles: Vec<String>,
    pub enabled: bool,
    pub created_at: Timestamp,
}

/// A change to a registered client; what is `None` (or empty) stays.
#[derive(Debug, Default)]
pub struct ClientChange {
    /// Replaces the grants.
    pub grants: Option<Vec<String>>,
    /// Grants added to those it has (after `grants`).
    pub add_grants: Vec<String>,
    /// Grants taken away (after `add_grants`).
    pub remove_grants: Vec<String>,
    /// `Some(None)` removes the policy: the door's own applies again.
    pub policy: Option<Option<String>>,
    /// Replaces its system roles (client_credentials).
    pub roles: Option<Vec<String>>,
    pub enabled: Option<bool>,
    /// `Public` drops the secret; `Given` or `Generate` sets a new one
    /// (and makes a public client confidential).
    pub secret: Option<ClientSecretInput>,
}

impl ClientChange {
    fn is_empty(&self) -> bool {
        self.grants.is_none()
            && self.add_grants.is_empty()
            && self.remove_grants.is_empty()
            && self.policy.is_none()
            && self.roles.is_none()
            && self.enabled.is_none()
            && self.secret.is_none()
    }
}

/// Sorted, deduplicated grants, each one Tessera implements, at least one,
/// and no `client_credentials` for a client without a secret.
fn checked_grants(mut grants: Vec<String>, public: bool) -> AuthResult<Vec<String>> {
    grants.sort();
    grants.dedup();
    for g in &grants {
        if !GRANT_TYPES.contains(&g.as_str()) {
            return Err(AuthError::InvalidInput(format!(
                "grant {g:?} is not one Tessera implements; use {}",
                GRANT_TYPES.join(", ")
            )));
        }
    }
    if grants.is_empty() {
        return Err(AuthError::InvalidInput(format!(
            "a client needs at least one grant ({}); disable it instead",
            GRANT_TYPES.join(", ")
        )));
    }
    if public && grants.iter().any(|g| g == "client_credentials") {
        return Err(AuthError::InvalidInput(
            "a public client cannot use client_credentials: it has no secret to prove who it is".into(),
        ));
    }
    Ok(grants)
}

impl Core {
    pub async fn client_add(&self, actor: &Actor, new: NewClient) -> AuthResult<CreatedClient> {
        let id = names::canonical_name(names::NameKind::Client, &new.id)?;
        let public = matches!(new.secret, ClientSecretInput::Public);
        let grants = if new.grants.is_empty() {
            vec!["password".to_owned(), "refresh_token".to_owned()]
        } else {
            new.grants
        };
        let grants = checked_grants(grants, public)?;
        if let Some(p) = &new.policy {
            if self.config.policy(p).is_none() {
                return Err(AuthError::NotFound(format!("policy {p:?} under [policies]")));
            }
        }
        let roles = self.roles_named(&new.roles).await?;
        let (secret_hash, generated) = match new.secret {
            ClientSecretInput::Public => (None, None),
            ClientSecretInput::Given(s) => {
                if s.is_empty() {
                    return Err(AuthError::InvalidInput(
                        "the client secret is empty; register a public client instead".into(),
                    ));
                }
                (Some(self.client_secrets.hash(&s)), None)
            }
            ClientSecretInput::Generate => {
                let s = Zeroizing::new(random::base64url(32));
                (Some(self.client_secrets.hash(&s)), Some(s))
            }
        };
        let now = self.now();
        let client = Client {
            id: ClientId(id),
            secret_hash,
            grants,
            policy: new.policy,
            enabled: true,
            created_at: now,
        };
        let assignments: Vec<Assignment> = roles
            .iter()
            .map(|r| Assignment {
                principal: Principal::Client(client.id.clone()),
                role_id: r.id.clone(),
                scope: AssignmentScope::System,
            })
            .collect();
        self.store.create_client(&client, &assignments).await?;
        self.audit
            .admin_change(
                now,
                actor,
                Some((client.id.as_str(), client.id.as_str())),
                None,
                format!(
                    "client {:?} added ({}, grants {})",
                    client.id.as_str(),
                    if public { "public" } else { "confidential" },
                    client.grants.join(" ")
                ),
            )
            .await?;
        Ok(CreatedClient {
            client,
            generated_secret: generated,
        })
    }

    pub async fn client_list(&self) -> AuthResult<Vec<ClientView>> {
        let mut out = Vec::new();
        for c in self.store.list_clients().await? {
            let roles = self
                .store
                .roles_of_client(&c.id)
                .await?
                .into_iter()
                .map(|g| g.role.name)
                .collect();
            out.push(ClientView {
                public: c.is_public(),
                id: c.id,
                grants: c.grants,
                policy: c.policy,
                roles,
                enabled: c.enabled,
                created_at: c.created_at,
            });
        }
        Ok(out)
    }

    /// Changes a registered client (named in any spelling of its id): its
    /// grants, policy, roles, enabled state or secret, all checked before
    /// anything is written, then written in one transaction and audited
    /// with what changed. A disabled client's logins and client_credentials
    /// tokens are refused; users' tokens issued through it are not ended.
    ///
    /// Errors: [`AuthError::NotFound`] for an unknown client, policy or
    /// role; [`AuthError::InvalidInput`] for an empty change, an unknown
    /// grant, no grant left, or `client_credentials` on a public client.
    pub async fn client_update(
        &self,
        actor: &Actor,
        id: &str,
        change: ClientChange,
    ) -> AuthResult<CreatedClient> {
        if change.is_empty() {
            return Err(AuthError::InvalidInput(
                "nothing to change: give grants, a policy, roles, enable/disable or a secret".into(),
            ));
        }
        let mut client = self
            .store
            .find_client(id)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("client {id:?}")))?;
        let mut said = Vec::new();
        let mut generated = None;
        match change.secret {
            None => {}
            Some(ClientSecretInput::Public) => {
                client.secret_hash = None;
                said.push("now public (no secret)".to_owned());
            }
            Some(ClientSecretInput::Given(s)) => {
                if s.is_empty() {
                    return Err(AuthError::InvalidInput(
                        "the client secret is empty; make the client public instead".into(),
                    ));
                }
                client.secret_hash = Some(self.client_secrets.hash(&s));
                said.push("new secret".to_owned());
            }
            Some(ClientSecretInput::Generate) => {
                let s = Zeroizing::new(random::base64url(32));
                client.secret_hash = Some(self.client_secrets.hash(&s));
                generated = Some(s);
                said.push("new secret".to_owned());
            }
        }
        let before = client.grants.clone();
        let mut grants = change.grants.unwrap_or_else(|| client.grants.clone());
        grants.extend(change.add_grants);
        grants.retain(|g| !change.remove_grants.contains(g));
        client.grants = checked_grants(grants, client.is_public())?;
        if client.grants != before {
            said.push(format!("grants {}", client.grants.join(" ")));
        }
        if let Some(policy) = change.policy {
            if let Some(p) = &policy {
                if self.config.policy(p).is_none() {
                    return Err(AuthError::NotFound(format!("policy {p:?} under [policies]")));
                }
            }
            said.push(match &policy {
                Some(p) => format!("policy {p}"),
                None => "the door's policy".to_owned(),
            });
            client.policy = policy;
        }
        let assignments = match &change.roles {
            Some(names) => {
                let roles = self.roles_named(names).await?;
                said.push(if names.is_empty() {
                    "no roles".to_owned()
                } else {
                    format!("roles {}", names.join(","))
                });
                Some(
                    roles
                        .iter()
                        .map(|r| Assignment {
                            principal: Principal::Client(client.id.clone()),
                            role_id: r.id.clone(),
                            scope: AssignmentScope::System,
                        })
                        .collect::<Vec<_>>(),
                )
            }
            None => None,
        };
        if let Some(enabled) = change.enabled {
            client.enabled = enabled;
            said.push(if enabled { "enabled" } else { "disabled" }.to_owned());
        }
        let now = self.now();
        if !self
            .store
            .update_client(&client, assignments.as_deref(), now)
            .await?
        {
            return Err(AuthError::NotFound(format!("client {id:?}")));
        }
        let cid = client.id.as_str();
        self.cache.apply(&Invalidation::Client(cid.to_owned()));
        self.audit
            .admin_change(
                now,
                actor,
                Some((cid, cid)),
                None,
                format!("client {cid:?} updated: {}", said.join("; ")),
            )
            .await?;
        Ok(CreatedClient {
            client,
            generated_secret: generated,
        })
    }

    /// Removes a client (named in any spelling of its id: letter case,
    /// normalization form); its tokens die with it.
    pub async fn client_remove(&self, actor: &Actor, id: &str) -> AuthResult<()> {
        let not_found = || AuthError::NotFound(format!("client {id:?}"));
        let cid = self.store.find_client(id).await?.ok_or_else(not_found)?.id;
        if !self.store.remove_client(&cid, self.now()).await? {
            return Err(not_found());
        }
        let id = cid.as_str();
        self.cache.apply(&Invalidation::Client(id.to_owned()));
        self.audit
            .admin_change(
                self.now(),
                actor,
                Some((id, id)),
                None,
                format!("client {id:?} removed"),
            )
            .await
    }
}
