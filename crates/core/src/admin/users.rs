//! User administration: add, list, change password, enable, disable,
//! unlock.

use super::names;
use crate::audit::Actor;
use crate::error::{AuthError, AuthResult};
use crate::{random, Core};
use serde::Serialize;
use std::collections::HashMap;
use tessera_model::{
    Assignment, AssignmentScope, Domain, DomainId, IdentitySource, LastAdmin, Principal, RoleGrant,
    Timestamp, User, UserId,
};
use tessera_store::{Invalidation, StoreError};
use zeroize::Zeroizing;

/// A user to create.
#[derive(Debug, Default)]
pub struct NewUser {
    pub domain: Option<String>,
    pub name: String,
    /// `None` generates one, returned once in `CreatedUser`.
    pub password: Option<Zeroizing<String>>,
    /// Roles on the whole system ("vdc roles").
    pub system_roles: Vec<String>,
    /// Roles on the user's own domain ("tenant roles").
    pub domain_roles: Vec<String>,
    pub emergency: bool,
    pub common_name: Option<String>,
    pub distinguished_name: Option<String>,
}

/// A created user, with the generated password when one was generated.
pub struct CreatedUser {
    pub user: User,
    pub domain: Domain,
    pub generated_password: Option<Zeroizing<String>>,
}

/// A role as listings show it: its name and where it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleView {
    pub name: String,
    /// `system`, or the name of the domain it applies in.
    pub scope: String,
}

/// A user as listings show it (never the password hash).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = User))]
pub struct UserView {
    pub id: UserId,
    pub name: String,
    /// The domain's name.
    pub domain: String,
    pub common_name: Option<String>,
    pub distinguished_name: Option<String>,
    pub enabled: bool,
    /// May use only the emergency grant.
    pub emergency: bool,
    /// Set while a lockout is in force.
    pub locked_until: Option<Timestamp>,
    pub roles: Vec<RoleView>,
    pub created_at: Timestamp,
}

impl Core {
    /// The user called `name` in `domain` (default domain when `None`).
    pub async fn user_named(&self, domain: Option<&str>, name: &str) -> AuthResult<(Domain, User)> {
        let d = self.domain_named(domain).await?;
        let u = self
            .store
            .find_user_by_name(&d.id, name)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("user {name:?} in domain {:?}", d.name)))?;
        Ok((d, u))
    }

    /// Creates a local user; a generated password when `new.password` is
    /// `None` (returned once, in the result).
    ///
    /// Errors: `InvalidInput` for a name, text or password the rules
    /// refuse; `NotFound` for the domain or a role; `Conflict` when the
    /// user exists; [`AuthError::StateConflict`] for an LDAP domain (its
    /// users come from the directory); the store's.
    pub async fn user_add(&self, actor: &Actor, new: NewUser) -> AuthResult<CreatedUser> {
        let name = names::canonical_name(names::NameKind::User, &new.name)?;
        if let Some(cn) = &new.common_name {
            names::text("common name", cn, 256)?;
        }
        if let Some(dn) = &new.distinguished_name {
            names::text("distinguished name", dn, 1024)?;
        }
        let domain = self.domain_named(new.domain.as_deref()).await?;
        if domain.source != IdentitySource::Local {
            return Err(AuthError::StateConflict(format!(
                "domain {:?} takes its users from a directory; add them there",
                domain.name
            )));
        }
        let system = self.roles_named(&new.system_roles).await?;
        let scoped = self.roles_named(&new.domain_roles).await?;
        let (password, generated) = match new.password {
            Some(p) => (p, false),
            None => (Zeroizing::new(random::password()), true),
        };
        // A generated password is 20 random characters: no policy to meet.
        let hash = if generated {
            self.passwords.hash(password.clone()).await?
        } else {
            self.hash_new_password(&name, password.clone()).await?
        };
        let now = self.now();
        let user = User {
            id: UserId::from_bytes(random::id_bytes()),
            domain_id: domain.id.clone(),
            name,
            common_name: new.common_name,
            distinguished_name: new.distinguished_name,
            password_hash: Some(hash),
            enabled: true,
            emergency: new.emergency,
            failed_logins: 0,
            first_failed_at: None,
            locked_until: None,
            created_at: now,
            updated_at: now,
        };
        let principal = Principal::User(user.id.clone());
        let mut assignments: Vec<Assignment> = Vec::new();
        for r in &system {
            assignments.push(Assignment {
                principal: principal.clone(),
                role_id: r.id.clone(),
                scope: AssignmentScope::System,
            });
        }
        for r in &scoped {
            let scope = AssignmentScope::Domain(domain.id.clone());
            assignments.push(Assignment {
                principal: principal.clone(),
                role_id: r.id.clone(),
                scope,
            });
        }
        assignments.dedup();
        self.store.create_user(&user, &assignments).await?;
        let role_names: Vec<&str> = system
            .iter()
            .chain(scoped.iter())
            .map(|r| r.name.as_str())
            .collect();
        self.audit
            .admin_change(
                now,
                actor,
                Some((user.id.as_str(), &user.name)),
                Some(&domain.name),
                format!(
                    "user {:?} added{}{}",
                    user.name,
                    if user.emergency {
                        " (emergency account)"
                    } else {
                        ""
                    },
                    if role_names.is_empty() {
                        String::new()
                    } else {
                        format!(" with roles {}", role_names.join(", "))
                    }
                ),
            )
            .await?;
        Ok(CreatedUser {
            user,
            domain,
            generated_password: generated.then_some(password),
        })
    }

    /// Users of one domain, or of every domain, with their roles.
    pub async fn user_list(&self, domain: Option<&str>) -> AuthResult<Vec<UserView>> {
        let domains: HashMap<DomainId, String> = self
            .store
            .list_domains()
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        let filter = match domain {
            Some(name) => Some(self.domain_named(Some(name)).await?.id),
            None => None,
        };
        let now = self.now();
        let mut out = Vec::new();
        for u in self.store.list_users(filter.as_ref()).await? {
            let grants = self.store.roles_of_user(&u.id).await?;
            out.push(UserView {
                domain: domains.get(&u.domain_id).cloned().unwrap_or_default(),
                roles: role_views(&grants, &domains),
                locked_until: u.locked_until.filter(|t| *t > now),
                id: u.id,
                name: u.name,
                common_name: u.common_name,
                distinguished_name: u.distinguished_name,
                enabled: u.enabled,
                emergency: u.emergency,
                created_at: u.created_at,
            });
        }
        Ok(out)
    }

    /// Sets a user's password (an administrator's reset: no old password).
    pub async fn user_passwd(
        &self,
        actor: &Actor,
        domain: Option<&str>,
        name: &str,
        password: Zeroizing<String>,
    ) -> AuthResult<()> {
        self.user_update(actor, domain, name, Some(password), None).await
    }

    /// Sets a user's password and/or enables or disables them (the admin
    /// API's merge patch), all or nothing: the new password is checked
    /// against `[password]` and hashed first, then the enable/disable is
    /// decided (the last-administrator guard may refuse it), and only then
    /// is the new hash stored, so a refused request changes nothing.
    ///
    /// Errors: [`AuthError::NotFound`] for an unknown domain or user;
    /// [`AuthError::InvalidInput`] for a password `[password]` refuses;
    /// [`AuthError::StateConflict`] when disabling the last enabled
    /// administrator.
    pub async fn user_update(
        &self,
        actor: &Actor,
        domain: Option<&str>,
        name: &str,
        password: Option<Zeroizing<String>>,
        enabled: Option<bool>,
    ) -> AuthResult<()> {
        let (d, u) = self.user_named(domain, name).await?;
        let hash = match password {
            Some(p) => Some(self.hash_new_password(&u.name, p).await?),
            None => None,
        };
        if let Some(enabled) = enabled {
            self.user_set_enabled(actor, Some(&d.name), &u.name, enabled)
                .await?;
        }
        let Some(hash) = hash else {
            return Ok(());
        };
        let now = self.now();
        self.store.set_password_hash(&u.id, &hash, now).await?;
        self.audit
            .record(tessera_model::NewAuditEvent {
                at: now,
                kind: tessera_model::AuditKind::PasswordChanged,
                actor: Some(actor.label()),
                subject: Some(u.id.to_string()),
                subject_name: Some(u.name.clone()),
                domain: Some(d.name.clone()),
                door: None,
                detail: "password set by an administrator".into(),
            })
            .await
    }

    /// Enables or disables a user. A disabled user cannot log in and every
    /// token of theirs is refused. Enabling always works (it is how the
    /// CLI recovers an installation nobody can administer).
    ///
    /// Errors: [`AuthError::StateConflict`] when disabling the last enabled
    /// administrator (decided atomically in the store, on every node).
    pub async fn user_set_enabled(
        &self,
        actor: &Actor,
        domain: Option<&str>,
        name: &str,
        enabled: bool,
    ) -> AuthResult<()> {
        self.user_set_enabled_with(actor, domain, name, enabled, LastAdmin::Keep)
            .await
    }

    /// [`Core::user_set_enabled`], where [`LastAdmin::Override`] disables
    /// even the last enabled administrator (the CLI's `--force`).
    pub async fn user_set_enabled_with(
        &self,
        actor: &Actor,
        domain: Option<&str>,
        name: &str,
        enabled: bool,
        guard: LastAdmin,
    ) -> AuthResult<()> {
        let (d, u) = self.user_named(domain, name).await?;
        let now = self.now();
        self.store
            .set_user_enabled(&u.id, enabled, now, guard)
            .await
            .map_err(|e| last_admin(e, &u.name, &d.name))?;
        self.cache.apply(&Invalidation::User(u.id.to_string()));
        let verb = if enabled { "enabled" } else { "disabled" };
        self.audit
            .admin_change(
                now,
                actor,
                Some((u.id.as_str(), &u.name)),
                Some(&d.name),
                format!("user {verb}{}", forced(!enabled, guard)),
            )
            .await
    }

    /// Lifts a lockout before it runs out.
    pub async fn user_unlock(&self, actor: &Actor, domain: Option<&str>, name: &str) -> AuthResult<()> {
        let (d, u) = self.user_named(domain, name).await?;
        let now = self.now();
        self.store.unlock_user(&u.id, now).await?;
        self.cache.apply(&Invalidation::User(u.id.to_string()));
        self.audit
            .admin_change(
                now,
                actor,
                Some((u.id.as_str(), &u.name)),
                Some(&d.name),
                "user unlocked".into(),
            )
            .await
    }

    /// Removes a user: their sessions end at once on every node, their
    /// role grants go with them; audited.
    ///
    /// Errors: [`AuthError::NotFound`] for an unknown domain or user;
    /// [`AuthError::StateConflict`] for the last enabled administrator
    /// unless `guard` is [`LastAdmin::Override`] (decided atomically in
    /// the store).
    pub async fn user_remove(
        &self,
        actor: &Actor,
        domain: Option<&str>,
        name: &str,
        guard: LastAdmin,
    ) -> AuthResult<()> {
        let (d, u) = self.user_named(domain, name).await?;
        let now = self.now();
        let removed = self
            .store
            .remove_user(&u.id, now, guard)
            .await
            .map_err(|e| last_admin(e, &u.name, &d.name))?;
        if !removed {
            return Err(AuthError::NotFound(format!(
                "user {name:?} in domain {:?}",
                d.name
            )));
        }
        self.cache.apply(&Invalidation::UserSessions(u.id.to_string()));
        self.cache.apply(&Invalidation::User(u.id.to_string()));
        self.audit
            .admin_change(
                now,
                actor,
                Some((u.id.as_str(), &u.name)),
                Some(&d.name),
                format!("user {:?} removed{}", u.name, forced(true, guard)),
            )
            .await
    }
}

/// The store's refusal to take away the last enabled administrator, in
/// words naming the user (`user` of domain `domain`); other errors as they
/// are.
pub(crate) fn last_admin(e: StoreError, user: &str, domain: &str) -> AuthError {
    match e {
        StoreError::LastAdministrator => AuthError::StateConflict(format!(
            "user {user:?} of domain {domain:?} is the last enabled administrator; give another user the \
             admin role first"
        )),
        other => AuthError::from(other),
    }
}

/// What an audit detail adds to a change that `takes_away` (a disable, a
/// withdrawn role) made with the last-administrator guard overridden.
pub(crate) fn forced(takes_away: bool, guard: LastAdmin) -> &'static str {
    match (takes_away, guard) {
        (true, LastAdmin::Override) => " (last-administrator guard overridden)",
        _ => "",
    }
}

/// Role grants as listings show them, naming domains instead of ids.
pub fn role_views(grants: &[RoleGrant], domains: &HashMap<DomainId, String>) -> Vec<RoleView> {
    grants
        .iter()
        .map(|g| RoleView {
            name: g.role.name.clone(),
            scope: match &g.scope {
                AssignmentScope::System => "system".into(),
                AssignmentScope::Domain(id) => domains.get(id).cloned().unwrap_or_else(|| id.to_string()),
            },
        })
        .collect()
}
