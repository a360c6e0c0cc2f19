//! The authenticator: checks a (domain, user, password) against the store,
//! with lockout (SPEC §5), the emergency-account rules (seed 000) and no
//! way to tell an unknown user from a wrong password, by answer or by time.

use crate::cache::{DomainState, UserState};
use crate::error::{AuthError, AuthResult};
use crate::Core;
use std::sync::Arc;
use tessera_model::{AuditKind, IdentitySource, NewAuditEvent, Timestamp};
use tessera_store::Admission;
use zeroize::Zeroizing;

/// Which grant a login is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// Any ordinary password login (every door).
    Password,
    /// Seed 000's emergency grant: only emergency accounts of local domains.
    Emergency,
}

/// A password login attempt.
pub struct Login<'a> {
    /// The domain (realm, tenant) named; the default domain when `None`.
    pub domain: Option<&'a str>,
    pub username: &'a str,
    pub password: Zeroizing<String>,
    /// The front door asking, for the audit trail.
    pub door: &'a str,
    pub kind: LoginKind,
}

/// Who logged in.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: Arc<UserState>,
    pub domain: Arc<DomainState>,
    pub at: Timestamp,
}

impl Authenticated {
    /// The audit event of this successful login.
    pub fn event(&self, door: &str, detail: String) -> NewAuditEvent {
        NewAuditEvent {
            at: self.at,
            kind: AuditKind::LoginSucceeded,
            actor: None,
            subject: Some(self.user.user.id.to_string()),
            subject_name: Some(self.user.user.name.clone()),
            domain: Some(self.domain.domain.name.clone()),
            door: Some(door.to_owned()),
            detail,
        }
    }
}

impl Core {
    /// Checks a password login. Every refusal of a wrong or unknown
    /// credential is the same `InvalidCredentials` after the same work; the
    /// real reason goes to the audit trail only. Sets `refused_as_locked`
    /// when it refuses a locked account (for the `locked` outcome of
    /// `tessera_logins_total`, which [`Core::login`] records).
    pub(crate) async fn authenticate(
        &self,
        login: Login<'_>,
        refused_as_locked: &mut bool,
    ) -> AuthResult<Authenticated> {
        let domain_state = self.domain_state_named(login.domain).await?;
        let domain = &domain_state.domain;
        // A name that matched no account may be a password typed into the
        // user field: the trail gets a keyed tag of it, never the text.
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
        if domain.source == IdentitySource::Ldap {
            // Same guarantees, against the directory (crate::directory).
            return self
                .authenticate_ldap(login, &domain_state, refused_as_locked)
                .await;
        }
        // RFC 8265: a name no account can have is refused with its reason
        // (it depends only on the typed string, so it tells nothing).
        if let Err(refused) =
            crate::admin::names::lookup_key(crate::admin::names::NameKind::User, login.username)
        {
            self.audit
                .record(fail("user name refused (RFC 8265)", None))
                .await?;
            return Err(refused);
        }
        // Always read the user itself: its hash and lockout must be current.
        let Some(user) = self.store.find_user_by_name(&domain.id, login.username).await? else {
            self.passwords.verify(login.password, None).await?;
            self.audit.record(fail("unknown user", None)).await?;
            return Err(AuthError::InvalidCredentials);
        };
        let uid = Some(user.id.to_string());
        // Admitted (and counted) atomically before any password work, so
        // parallel guesses on any node never check more than the limit.
        let lock = &self.config.lockout;
        let admitted = self
            .store
            .admit_login_attempt(&user.id, self.now(), lock.window, lock.max_failed_logins)
            .await?;
        if admitted == Admission::Refused {
            // Spend the same work: a refusal must not be told by its speed.
            self.passwords.verify(login.password, None).await?;
            self.audit
                .record(fail("account locked, or its attempts used up for now", uid))
                .await?;
            *refused_as_locked = true;
            return Err(AuthError::InvalidCredentials);
        }
        let hash = user.password_hash.clone();
        let right = self
            .passwords
            .verify(login.password.clone(), hash.clone())
            .await?;
        let now = self.now();
        let locked_until = self
            .store
            .settle_login_attempt(
                &user.id,
                right,
                now,
                lock.window,
                lock.max_failed_logins,
                lock.duration,
            )
            .await?;
        if let Some(until) = locked_until {
            self.note_lockout(&user.id, &user.name, &domain.name, login.door, until)
                .await?;
        }
        if !right {
            self.audit.record(fail("wrong password", uid)).await?;
            return Err(AuthError::InvalidCredentials);
        }
        // The account as it is now, after the hash: a disable, lock or
        // password change that landed meanwhile wins. The generation is read
        // first, so an invalidation that lands after this read keeps the
        // fill out of the cache.
        let generation = self.cache.generation();
        let Some(user) = self.store.find_user(&user.id).await? else {
            self.audit
                .record(fail("user removed during the login", uid))
                .await?;
            return Err(AuthError::InvalidCredentials);
        };
        if user.password_hash != hash {
            self.audit
                .record(fail("password changed during the login", uid))
                .await?;
            return Err(AuthError::InvalidCredentials);
        }
        if user.is_locked(self.now()) {
            self.audit.record(fail("account locked", uid)).await?;
            *refused_as_locked = true;
            return Err(AuthError::InvalidCredentials);
        }
        match login.kind {
            LoginKind::Emergency if !user.emergency => {
                self.audit.record(fail("not an emergency account", uid)).await?;
                return Err(AuthError::InvalidCredentials);
            }
            LoginKind::Password if user.emergency => {
                self.audit
                    .record(fail("emergency accounts may use only the emergency grant", uid))
                    .await?;
                return Err(AuthError::InvalidCredentials);
            }
            _ => {}
        }
        if !user.enabled {
            self.audit.record(fail("user disabled", uid)).await?;
            return Err(AuthError::UserDisabled);
        }
        if !domain.enabled {
            self.audit.record(fail("domain disabled", uid)).await?;
            return Err(AuthError::DomainDisabled);
        }
        if let Some(old) = &hash {
            if self.passwords.needs_rehash(old) {
                let new = self.passwords.hash(login.password).await?;
                self.store.set_password_hash(&user.id, &new, self.now()).await?;
            }
        }
        let roles = self.store.roles_of_user(&user.id).await?;
        let state = Arc::new(UserState::new(user, roles));
        self.cache.put_user(state.clone(), generation);
        Ok(Authenticated {
            user: state,
            domain: domain_state.clone(),
            at: self.now(),
        })
    }

    /// Checks the current password given outside a login (a password
    /// change), under the same admission as a login: counted before the
    /// hash, so a stolen token cannot guess it past the lockout; and the
    /// account re-read after it.
    ///
    /// Errors: [`AuthError::Forbidden`] for a wrong password, a locked or
    /// disabled account, or attempts used up; the store's.
    pub(crate) async fn check_current_password(
        &self,
        user: &tessera_model::User,
        domain: &str,
        door: &str,
        password: Zeroizing<String>,
    ) -> AuthResult<()> {
        let event = |detail: &str| NewAuditEvent {
            at: self.now(),
            kind: AuditKind::LoginFailed,
            actor: None,
            subject: Some(user.id.to_string()),
            subject_name: Some(user.name.clone()),
            domain: Some(domain.to_owned()),
            door: Some(door.to_owned()),
            detail: detail.to_owned(),
        };
        let lock = &self.config.lockout;
        let admitted = self
            .store
            .admit_login_attempt(&user.id, self.now(), lock.window, lock.max_failed_logins)
            .await?;
        if admitted == Admission::Refused {
            self.passwords.verify(password, None).await?;
            self.audit
                .record(event("account locked, or its attempts used up for now"))
                .await?;
            return Err(AuthError::Forbidden(
                "the account is locked for now after too many wrong passwords; retry later".into(),
            ));
        }
        let Some(current) = self.store.find_user(&user.id).await? else {
            return Err(AuthError::Revoked);
        };
        let hash = current.password_hash.clone();
        let right = self.passwords.verify(password, hash.clone()).await?;
        let now = self.now();
        let locked = self
            .store
            .settle_login_attempt(
                &user.id,
                right,
                now,
                lock.window,
                lock.max_failed_logins,
                lock.duration,
            )
            .await?;
        if let Some(until) = locked {
            self.note_lockout(&user.id, &user.name, domain, door, until)
                .await?;
        }
        if !right {
            self.audit.record(event("wrong current password")).await?;
            return Err(AuthError::Forbidden("the current password is wrong".into()));
        }
        let Some(after) = self.store.find_user(&user.id).await? else {
            return Err(AuthError::Revoked);
        };
        if after.password_hash != hash || after.is_locked(self.now()) || !after.enabled {
            self.audit
                .record(event("account changed during the check"))
                .await?;
            return Err(AuthError::Forbidden(
                "the account was locked, disabled or changed meanwhile; log in again".into(),
            ));
        }
        Ok(())
    }

    /// A lockout just started: counted, the user's cached state dropped
    /// (its tokens are refused at once, seed 004) and audited.
    pub(crate) async fn note_lockout(
        &self,
        id: &tessera_model::UserId,
        name: &str,
        domain: &str,
        door: &str,
        until: Timestamp,
    ) -> AuthResult<()> {
        self.metrics.lockout();
        self.cache
            .apply(&tessera_store::Invalidation::User(id.to_string()));
        self.audit
            .record(NewAuditEvent {
                at: self.now(),
                kind: AuditKind::Lockout,
                actor: None,
                subject: Some(id.to_string()),
                subject_name: Some(name.to_owned()),
                domain: Some(domain.to_owned()),
                door: Some(door.to_owned()),
                detail: format!(
                    "locked after {} failed logins until {} (ms since epoch)",
                    self.config.lockout.max_failed_logins, until.0
                ),
            })
            .await
    }

    /// How the audit trail names a login name that matched no account:
    /// `unknown user #` and 16 hex digits of an HMAC-SHA256 of the name
    /// under a key derived from the master key. The same name gets the
    /// same tag on every node (attempts can be correlated), and nobody
    /// without the master key can test a guess against it.
    pub fn unknown_name_tag(&self, name: &str) -> String {
        use hmac::Mac;
        let key = self.master_key.subkey("tessera unknown user names v1");
        let tag = match hmac::Hmac::<sha2::Sha256>::new_from_slice(&key[..]) {
            Ok(mut mac) => {
                mac.update(name.as_bytes());
                hex::encode(&mac.finalize().into_bytes()[..8])
            }
            Err(_) => "?".repeat(16),
        };
        format!("unknown user #{tag}")
    }
}
