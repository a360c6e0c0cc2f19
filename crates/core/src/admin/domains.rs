//! Domain administration.

use super::{names, DEFAULT_DOMAIN};
use crate::audit::Actor;
use crate::error::{AuthError, AuthResult};
use crate::{random, Core};
use tessera_model::{Domain, DomainId, IdentitySource, LastAdmin};
use tessera_store::{DomainRemoval, Invalidation, StoreError};

impl Core {
    /// The domain a login or command names, or the default domain when it
    /// names none. Names match as RFC 8265 compares them (any letter case,
    /// any normalization form); one RFC 8265 refuses is `InvalidInput`.
    pub async fn domain_named(&self, name: Option<&str>) -> AuthResult<Domain> {
        let name = name.filter(|n| !n.is_empty()).unwrap_or(DEFAULT_DOMAIN);
        self.store
            .find_domain_by_name(name)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("domain {name:?}")))
    }

    pub async fn domain_add(&self, actor: &Actor, name: &str, description: &str) -> AuthResult<Domain> {
        let name = names::canonical_name(names::NameKind::Domain, name)?;
        names::text("description", description, 1024)?;
        let now = self.now();
        let d = Domain {
            id: DomainId::from_bytes(random::id_bytes()),
            name,
            description: description.to_owned(),
            source: IdentitySource::Local,
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        self.store.create_domain(&d).await?;
        self.audit
            .admin_change(
                now,
                actor,
                None,
                Some(&d.name),
                format!("domain {:?} added", d.name),
            )
            .await?;
        Ok(d)
    }

    pub async fn domain_list(&self) -> AuthResult<Vec<Domain>> {
        Ok(self.store.list_domains().await?)
    }

    /// Enables or disables a domain. Disabling refuses its logins and
    /// every token of its users. The default domain cannot be disabled: it
    /// holds the admin and emergency accounts that must always work.
    ///
    /// Errors: [`AuthError::StateConflict`] when every enabled
    /// administrator is a user of this domain (decided atomically in the
    /// store).
    pub async fn domain_set_enabled(&self, actor: &Actor, name: &str, enabled: bool) -> AuthResult<Domain> {
        self.domain_set_enabled_with(actor, name, enabled, LastAdmin::Keep)
            .await
    }

    /// [`Core::domain_set_enabled`], where [`LastAdmin::Override`] disables
    /// even the domain of every enabled administrator (the CLI's
    /// `--force`).
    pub async fn domain_set_enabled_with(
        &self,
        actor: &Actor,
        name: &str,
        enabled: bool,
        guard: LastAdmin,
    ) -> AuthResult<Domain> {
        let mut d = self.domain_named(Some(name)).await?;
        if !enabled && d.name.eq_ignore_ascii_case(DEFAULT_DOMAIN) {
            // A well-formed request the domain's role forbids: 403, not
            // 400 (nothing in the request is malformed).
            return Err(AuthError::Forbidden(format!(
                "the default domain {DEFAULT_DOMAIN:?} cannot be disabled: it holds the admin and emergency \
                 accounts; disable its users one by one instead"
            )));
        }
        let now = self.now();
        self.store
            .set_domain_enabled(&d.id, enabled, now, guard)
            .await
            .map_err(|e| match e {
                StoreError::LastAdministrator => AuthError::StateConflict(format!(
                    "domain {:?} holds the last enabled administrator; give a user of another domain the \
                     admin role first",
                    d.name
                )),
                other => AuthError::from(other),
            })?;
        self.cache.apply(&Invalidation::Domain(d.id.to_string()));
        d.enabled = enabled;
        let verb = if enabled { "enabled" } else { "disabled" };
        self.audit
            .admin_change(
                now,
                actor,
                None,
                Some(&d.name),
                format!(
                    "domain {:?} {verb}{}",
                    d.name,
                    super::users::forced(!enabled, guard)
                ),
            )
            .await?;
        Ok(d)
    }

    /// Removes a domain: with `with_users`, its users too (their sessions
    /// end at once on every node). The default domain is never removed; a
    /// domain holding users only `with_users`; one holding every enabled
    /// administrator never. Audited. Returns how many users went with it.
    ///
    /// Errors: [`AuthError::NotFound`]; [`AuthError::Forbidden`] for the
    /// default domain; [`AuthError::StateConflict`] for a domain holding
    /// users without `with_users`, or every enabled administrator.
    pub async fn domain_remove(&self, actor: &Actor, name: &str, with_users: bool) -> AuthResult<usize> {
        let d = self.domain_named(Some(name)).await?;
        if d.name.eq_ignore_ascii_case(DEFAULT_DOMAIN) {
            return Err(AuthError::Forbidden(format!(
                "the default domain {DEFAULT_DOMAIN:?} cannot be removed: it holds the admin and emergency accounts"
            )));
        }
        let now = self.now();
        let removal = self
            .store
            .remove_domain(&d.id, now, with_users)
            .await
            .map_err(|e| match e {
                StoreError::LastAdministrator => AuthError::StateConflict(format!(
                    "domain {:?} holds the last enabled administrator; give a user of another domain the \
                     admin role first",
                    d.name
                )),
                other => AuthError::from(other),
            })?;
        let users = match removal {
            DomainRemoval::NotFound => return Err(AuthError::NotFound(format!("domain {name:?}"))),
            DomainRemoval::HasUsers(n) => {
                return Err(AuthError::StateConflict(format!(
                    "domain {:?} holds {n} user{}; remove them first, or remove the domain together with its users",
                    d.name,
                    if n == 1 { "" } else { "s" }
                )))
            }
            DomainRemoval::Removed { users } => users,
        };
        for u in &users {
            self.cache.apply(&Invalidation::UserSessions(u.to_string()));
            self.cache.apply(&Invalidation::User(u.to_string()));
        }
        self.cache.apply(&Invalidation::Domain(d.id.to_string()));
        let with = match users.len() {
            0 => String::new(),
            1 => " with 1 user".to_owned(),
            n => format!(" with {n} users"),
        };
        self.audit
            .admin_change(
                now,
                actor,
                None,
                Some(&d.name),
                format!("domain {:?} removed{with}", d.name),
            )
            .await?;
        Ok(users.len())
    }
}
