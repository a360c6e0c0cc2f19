//! Self-service on one's own account: changing one's password (seed 003).

use crate::error::{AuthError, AuthResult};
use crate::tokens::{Identity, Subject};
use crate::Core;
use tessera_model::{AuditKind, IdentitySource, NewAuditEvent};
use zeroize::Zeroizing;

impl Core {
    /// Changes the password of the user a token speaks for. A stolen token
    /// must not take over the account, so this needs either the current
    /// password or a token from a password login within `recent_auth`. Every other session of the user ends
    /// (proxy tokens excepted: they are scripts' credentials, revoked
    /// explicitly).
    ///
    /// Errors: [`AuthError::StateConflict`] for a user of an LDAP domain
    /// (the directory holds the password); `Forbidden` for a read-only
    /// token, a wrong current password or a stale login; the policy's
    /// `InvalidInput`; the store's.
    pub async fn change_own_password(
        &self,
        who: &Identity,
        new_password: Zeroizing<String>,
        current: Option<Zeroizing<String>>,
        recent_auth: std::time::Duration,
    ) -> AuthResult<()> {
        let (Subject::User { user, domain }, Some(session)) = (&who.subject, &who.session) else {
            return Err(AuthError::Forbidden(
                "only a user's own token can change that user's password".into(),
            ));
        };
        let session = &session.to_session(None);
        if !crate::scope::permits_method(&session.scope, "POST") {
            return Err(AuthError::Forbidden(format!(
                "a token with scope {:?} cannot change a password; log in with the write scope",
                session.scope
            )));
        }
        if domain.domain.source != IdentitySource::Local {
            return Err(AuthError::StateConflict(format!(
                "users of domain {:?} change their password in the directory",
                domain.domain.name
            )));
        }
        let now = self.now();
        match current {
            Some(current) => {
                self.check_current_password(&user.user, &domain.domain.name, "account", current)
                    .await?;
            }
            None => {
                let recent = recent_auth;
                if session.auth_time.plus(recent) < now {
                    return Err(AuthError::Forbidden(format!(
                        "this token's login is older than {}; send current_password, or log in again",
                        tessera_model::duration::format(recent)
                    )));
                }
            }
        }
        let hash = self.hash_new_password(&user.user.name, new_password).await?;
        self.store.set_password_hash(&user.user.id, &hash, now).await?;
        let ended = self
            .store
            .revoke_user_sessions_except(
                &user.user.id,
                &session.id,
                session.family_id.as_ref(),
                now,
                "password changed",
            )
            .await?;
        for (_, h) in &ended {
            self.cache.drop_session(h);
        }
        self.audit
            .record(NewAuditEvent {
                at: now,
                kind: AuditKind::PasswordChanged,
                actor: None,
                subject: Some(user.user.id.to_string()),
                subject_name: Some(user.user.name.clone()),
                domain: Some(domain.domain.name.clone()),
                door: Some(session.door.clone()),
                detail: format!(
                    "password changed by its owner; {} other sessions ended",
                    ended.len()
                ),
            })
            .await
    }
}
