//! A password login to an LDAP domain, with the guarantees a local login
//! has: the attempt is admitted and counted (lockout, SPEC §5) on the
//! user's shadow record before the bind, so a locked account never
//! reaches the directory; an unknown user and a wrong password get the
//! same answer after the same work (a dummy Argon2 verify on every
//! refusal); and a directory that does not answer is said to be
//! unavailable, never "invalid credentials". After a good bind the shadow
//! user gets its `cn`, DN and the roles its groups map to now.

use super::{Found, Verdict};
use crate::authn::{Authenticated, Login, LoginKind};
use crate::cache::{DomainState, UserState};
use crate::error::{AuthError, AuthResult};
use crate::password::MAX_PASSWORD_BYTES;
use crate::{random, Core};
use std::collections::HashSet;
use std::sync::Arc;
use tessera_model::{
    Assignment, AssignmentScope, AuditKind, LdapBind, NewAuditEvent, Principal, RoleGrant, User, UserId,
};
use tessera_store::{group_key, Admission};

impl Core {
    /// [`Core::authenticate`] for a domain whose source is `ldap`.
    pub(crate) async fn authenticate_ldap(
        &self,
        login: Login<'_>,
        domain_state: &Arc<DomainState>,
        refused_as_locked: &mut bool,
    ) -> AuthResult<Authenticated> {
        let domain = &domain_state.domain;
        // As for local logins: a name not tied to an account may be a
        // password typed into the user field, so the trail gets a keyed tag.
        let fail = |reason: &str, subject: Option<String>| NewAuditEvent {
            at: self.now(),
            kind: AuditKind::LoginFailed,
            actor: None,
            subject_name: Some(match subject {
                Some(_) => login.username.to_owned(),
                None => self.unknown_name_tag(login.username),
            }),
            subject,
            domain: Some(domain.name.clone()),
            door: Some(login.door.to_owned()),
            detail: reason.to_owned(),
        };
        let password = login.password.clone();
        // Every refusal spends a dummy Argon2 verify, so none is told
        // apart by its time (the directory's bind is much cheaper).
        let refuse = |reason: String, subject: Option<String>| {
            let password = password.clone();
            let event = fail(&reason, subject);
            async move {
                self.passwords.verify(password, None).await?;
                self.audit.record(event).await?;
                Err::<Authenticated, _>(AuthError::InvalidCredentials)
            }
        };
        if login.kind == LoginKind::Emergency {
            return refuse("the emergency grant is for local accounts only".into(), None).await;
        }
        let name =
            match crate::admin::names::canonical_name(crate::admin::names::NameKind::User, login.username) {
                Ok(name) => name,
                Err(refused) => {
                    self.audit
                        .record(fail("user name refused (RFC 8265)", None))
                        .await?;
                    return Err(refused);
                }
            };
        // An empty password would be an anonymous bind, which directories
        // accept (RFC 4513 §5.1.2): never send one.
        if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
            return refuse("empty or overlong password".into(), None).await;
        }
        let settings = self.store.find_ldap_settings(&domain.id).await?.ok_or_else(|| {
            AuthError::Internal(format!("LDAP domain {:?} has no directory settings", domain.name))
        })?;
        let directory = self.directories.get(settings, &self.master_key)?;
        let unavailable = |why: String| async move {
            self.metrics.directory_unavailable();
            tracing::warn!(domain = %domain.name, error = %why, "directory unavailable");
            self.audit
                .record(fail(&format!("directory unavailable: {why}"), None))
                .await?;
            Err::<Authenticated, _>(AuthError::SourceUnavailable(format!(
                "the directory of domain {:?} is unavailable; logins to it cannot be checked now, try again \
                 shortly (local and emergency accounts still work)",
                domain.name
            )))
        };
        let search_style = matches!(directory.settings().bind, LdapBind::Search { .. });
        let dn = match &directory.settings().bind {
            LdapBind::DnTemplate { template } => super::template::user_dn(template, &name),
            LdapBind::Search { .. } => match directory.find_user(&name).await {
                Ok(Found::One { dn }) => dn,
                Ok(Found::Nobody) => return refuse("unknown user".into(), None).await,
                Ok(Found::Many(n)) => {
                    return refuse(format!("the user search matched {n} entries"), None).await;
                }
                Err(e) => return unavailable(format!("searching for the user: {e}")).await,
            },
        };
        let mut shadow = self.store.find_user_by_name(&domain.id, &name).await?;
        // A search found the entry: keep a shadow record from the first
        // attempt on, so attempts are counted before the bind. (A DN
        // template cannot tell an unknown user from a wrong password, so
        // its shadow record starts at the first good login.)
        if shadow.is_none() && search_style {
            shadow = Some(self.create_shadow_user(&domain.id, &name, &dn).await?);
        }
        let lock = &self.config.lockout;
        let counted = match &shadow {
            Some(user) => {
                let admitted = self
                    .store
                    .admit_login_attempt(&user.id, self.now(), lock.window, lock.max_failed_logins)
                    .await?;
                if admitted == Admission::Refused {
                    *refused_as_locked = true;
                    return refuse(
                        "account locked, or its attempts used up for now".into(),
                        Some(user.id.to_string()),
                    )
                    .await;
                }
                Some(user.id.clone())
            }
            None => None,
        };
        let verdict = directory.verify(&dn, &name, &password).await;
        let right = matches!(verdict, Ok(Verdict::Accepted(_)));
        if let Some(id) = &counted {
            // No answer is not a failure of the user's: take the count back.
            let settled_right = right || verdict.is_err();
            let now = self.now();
            let locked = self
                .store
                .settle_login_attempt(
                    id,
                    settled_right,
                    now,
                    lock.window,
                    lock.max_failed_logins,
                    lock.duration,
                )
                .await?;
            if let Some(until) = locked {
                self.note_lockout(id, &name, &domain.name, login.door, until)
                    .await?;
            }
        }
        let found = match verdict {
            Err(e) => return unavailable(format!("binding as the user: {e}")).await,
            Ok(Verdict::Refused { rc }) => {
                let why = if rc == super::INVALID_CREDENTIALS {
                    "wrong password or no such entry (directory result 49)".to_owned()
                } else {
                    format!("the directory refused the bind (result {rc})")
                };
                return refuse(why, counted.map(|id| id.to_string())).await;
            }
            Ok(Verdict::Accepted(found)) => found,
        };
        let user = match shadow {
            Some(u) => u,
            None => self.create_shadow_user(&domain.id, &name, &dn).await?,
        };
        let uid = Some(user.id.to_string());
        // Roles from the groups as they are now; written only when they
        // (or the cn and DN) changed.
        let groups: HashSet<String> = found.groups.iter().map(|g| group_key(g)).collect();
        let mut assignments: Vec<Assignment> = Vec::new();
        for m in self.store.group_mappings(&domain.id).await? {
            if groups.contains(&group_key(&m.group)) {
                let a = Assignment {
                    principal: Principal::User(user.id.clone()),
                    role_id: m.role_id,
                    scope: if m.system {
                        AssignmentScope::System
                    } else {
                        AssignmentScope::Domain(domain.id.clone())
                    },
                };
                if !assignments.contains(&a) {
                    assignments.push(a);
                }
            }
        }
        let held = self.store.roles_of_user(&user.id).await?;
        let same_roles = held.len() == assignments.len()
            && held.iter().all(|g| {
                assignments
                    .iter()
                    .any(|a| a.role_id == g.role.id && a.scope == g.scope)
            });
        if !same_roles
            || user.common_name != found.common_name
            || user.distinguished_name.as_deref() != Some(found.dn.as_str())
        {
            self.store
                .sync_directory_user(
                    &user.id,
                    found.common_name.as_deref(),
                    &found.dn,
                    &assignments,
                    self.now(),
                )
                .await?;
            self.cache
                .apply(&tessera_store::Invalidation::User(user.id.to_string()));
        }
        // The account as it is now: a disable or lock that landed meanwhile
        // wins. The generation is read first, so an invalidation that
        // lands after this read keeps the fill out of the cache.
        let generation = self.cache.generation();
        let Some(user) = self.store.find_user(&user.id).await? else {
            return refuse("user removed during the login".into(), uid).await;
        };
        if user.is_locked(self.now()) {
            *refused_as_locked = true;
            return refuse("account locked".into(), uid).await;
        }
        if !user.enabled {
            self.audit.record(fail("user disabled", uid)).await?;
            return Err(AuthError::UserDisabled);
        }
        if !domain.enabled {
            self.audit.record(fail("domain disabled", uid)).await?;
            return Err(AuthError::DomainDisabled);
        }
        let roles: Vec<RoleGrant> = self.store.roles_of_user(&user.id).await?;
        let state = Arc::new(UserState::new(user, roles));
        self.cache.put_user(state.clone(), generation);
        Ok(Authenticated {
            user: state,
            domain: domain_state.clone(),
            at: self.now(),
        })
    }

    /// The shadow record of a directory user: no password, no roles yet.
    /// A concurrent login that created it first wins; its record is used.
    async fn create_shadow_user(
        &self,
        domain: &tessera_model::DomainId,
        name: &str,
        dn: &str,
    ) -> AuthResult<User> {
        let now = self.now();
        let user = User {
            id: UserId::from_bytes(random::id_bytes()),
            domain_id: domain.clone(),
            name: name.to_owned(),
            common_name: None,
            distinguished_name: Some(dn.to_owned()),
            password_hash: None,
            enabled: true,
            emergency: false,
            failed_logins: 0,
            first_failed_at: None,
            locked_until: None,
            created_at: now,
            updated_at: now,
        };
        match self.store.create_user(&user, &[]).await {
            Ok(()) => Ok(user),
            Err(tessera_store::StoreError::Conflict(_)) => {
                self.store.find_user_by_name(domain, name).await?.ok_or_else(|| {
                    AuthError::Internal("a directory user's record vanished as it was made".into())
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}
