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

impl Core {
    pub async fn client_add(&self, actor: &Actor, new: NewClient) -> AuthResult<CreatedClient> {
        let id = names::canonical_name(names::NameKind::Client, &new.id)?;
        let mut grants = if new.grants.is_empty() {
            vec!["password".to_owned(), "refresh_token".to_owned()]
        } else {
            new.grants
        };
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
        if let Some(p) = &new.policy {
            if self.config.policy(p).is_none() {
                return Err(AuthError::NotFound(format!("policy {p:?} under [policies]")));
            }
        }
        let public = matches!(new.secret, ClientSecretInput::Public);
        if public && grants.iter().any(|g| g == "client_credentials") {
            return Err(AuthError::InvalidInput(
                "a public client cannot use client_credentials: it has no secret to prove who it is".into(),
            ));
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
