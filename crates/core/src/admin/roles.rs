//! Role administration and role assignments.

use super::names;
use crate::audit::Actor;
use crate::error::{AuthError, AuthResult};
use crate::{random, Core};
use tessera_model::{Assignment, AssignmentScope, LastAdmin, Principal, Role, RoleId};
use tessera_store::Invalidation;

/// Whom a grant or revocation is about.
#[derive(Debug, Clone)]
pub struct RoleTarget {
    pub user: String,
    /// The user's domain; the default domain when `None`.
    pub domain: Option<String>,
    /// System scope (a "vdc role") instead of the user's own domain (a
    /// "tenant role").
    pub system: bool,
}

impl Core {
    pub async fn role_named(&self, name: &str) -> AuthResult<Role> {
        self.store
            .find_role_by_name(name)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("role {name:?}")))
    }

    pub async fn role_add(&self, actor: &Actor, name: &str, description: &str) -> AuthResult<Role> {
        let name = names::canonical_name(names::NameKind::Role, name)?;
        names::text("description", description, 1024)?;
        let now = self.now();
        let r = Role {
            id: RoleId::from_bytes(random::id_bytes()),
            name,
            description: description.to_owned(),
            enabled: true,
            builtin: false,
            created_at: now,
        };
        self.store.create_role(&r).await?;
        self.audit
            .admin_change(now, actor, None, None, format!("role {:?} added", r.name))
            .await?;
        Ok(r)
    }

    pub async fn role_list(&self) -> AuthResult<Vec<Role>> {
        Ok(self.store.list_roles().await?)
    }

    async fn assignment_for(
        &self,
        role: &str,
        target: &RoleTarget,
    ) -> AuthResult<(Assignment, String, String, String)> {
        let role = self.role_named(role).await?;
        let (domain, user) = self.user_named(target.domain.as_deref(), &target.user).await?;
        let scope = if target.system {
            AssignmentScope::System
        } else {
            AssignmentScope::Domain(domain.id.clone())
        };
        let where_ = if target.system {
            "system".to_owned()
        } else {
            format!("domain {:?}", domain.name)
        };
        let a = Assignment {
            principal: Principal::User(user.id.clone()),
            role_id: role.id,
            scope,
        };
        Ok((
            a,
            user.id.to_string(),
            format!("role {:?} for {:?} in {where_}", role.name, user.name),
            domain.name,
        ))
    }

    /// Grants `role` to a user, on the system or on the user's domain.
    pub async fn role_grant(&self, actor: &Actor, role: &str, target: &RoleTarget) -> AuthResult<()> {
        let (a, user_id, what, _) = self.assignment_for(role, target).await?;
        self.store
            .grant(&a, self.now())
            .await
            .map_err(|e| match AuthError::from(e) {
                AuthError::Conflict(_) => AuthError::Conflict(what.clone()),
                other => other,
            })?;
        self.cache.apply(&Invalidation::User(user_id.clone()));
        self.audit
            .admin_change(
                self.now(),
                actor,
                Some((&user_id, &target.user)),
                target.domain.as_deref(),
                format!("granted {what}"),
            )
            .await
    }

    /// Withdraws `role` from a user; `NotFound` when it was not held there.
    ///
    /// Errors: [`AuthError::StateConflict`] when it is the system `admin`
    /// role of the last enabled administrator (decided atomically in the
    /// store).
    pub async fn role_revoke(&self, actor: &Actor, role: &str, target: &RoleTarget) -> AuthResult<()> {
        self.role_revoke_with(actor, role, target, LastAdmin::Keep).await
    }

    /// [`Core::role_revoke`], where [`LastAdmin::Override`] withdraws even
    /// the last enabled administrator's role (the CLI's `--force`).
    pub async fn role_revoke_with(
        &self,
        actor: &Actor,
        role: &str,
        target: &RoleTarget,
        guard: LastAdmin,
    ) -> AuthResult<()> {
        let (a, user_id, what, domain) = self.assignment_for(role, target).await?;
        let revoked = self
            .store
            .revoke_grant(&a, self.now(), guard)
            .await
            .map_err(|e| super::users::last_admin(e, &target.user, &domain))?;
        if !revoked {
            return Err(AuthError::NotFound(what));
        }
        self.cache.apply(&Invalidation::User(user_id.clone()));
        self.audit
            .admin_change(
                self.now(),
                actor,
                Some((&user_id, &target.user)),
                target.domain.as_deref(),
                format!("revoked {what}{}", super::users::forced(true, guard)),
            )
            .await
    }

    /// Looks up every role name, failing on the first unknown one.
    pub(crate) async fn roles_named(&self, names: &[String]) -> AuthResult<Vec<Role>> {
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            out.push(self.role_named(n).await?);
        }
        Ok(out)
    }
}
