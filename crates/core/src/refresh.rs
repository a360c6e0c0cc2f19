//! Refresh-token rotation (RFC 6749 §6, with the rotation and replay
//! rules of the OAuth 2.0 Security BCP). A refresh session keeps one row
//! and one id for its whole life; each use moves it to a new token and
//! issues a new access token in its family. The token it moved from is
//! remembered: presented again, it revokes the whole family.

use crate::cache::Refused;
use crate::error::{AuthError, AuthResult, OAuthCode};
use crate::tokens::{IssueRequest, Issued, IssuedToken};
use crate::{token, Core};
use subtle::ConstantTimeEq;
use tessera_model::session::TokenHash;
use tessera_model::{AuditKind, ClientId, NewAuditEvent, Session, Timestamp, TokenKind};
use tessera_store::{RotateOutcome, Rotation, WriteJob, WriteOutcome};
use zeroize::Zeroizing;

fn same(a: &TokenHash, b: &TokenHash) -> bool {
    bool::from(a.0.ct_eq(&b.0))
}

fn invalid(why: &str) -> AuthError {
    AuthError::oauth(OAuthCode::InvalidGrant, why)
}

const REPLAYED: &str = "the refresh token was already used; its whole session has been revoked";

impl Core {
    /// Uses refresh token `presented` for `client`: a new access token and
    /// the refresh session's next token, with `scope` at most the original.
    pub async fn refresh(
        &self,
        presented: &str,
        client: &ClientId,
        scope: Option<&str>,
    ) -> AuthResult<Issued> {
        let Some(id) = token::refresh_session_id(presented) else {
            return Err(invalid("the refresh token is not valid"));
        };
        let hash = token::hash(presented);
        let stored = match self.cache.session(&hash) {
            Some(cached) => cached.to_session(Some(hash)),
            None => {
                // A refresh token refused for good costs no store round trip.
                if let Some(why) = self.cache.refused(&hash) {
                    self.metrics.refused_from_cache();
                    return Err(invalid(match why {
                        Refused::Unknown => "the refresh token is not valid",
                        Refused::Revoked => "the refresh token has been revoked",
                        Refused::Expired => "the refresh token has expired",
                    }));
                }
                self.metrics.store_lookup();
                match self.store.find_session(&id).await? {
                    Some(s) => s,
                    None => return Err(self.refuse_refresh(hash, Refused::Unknown)),
                }
            }
        };
        if stored.kind != TokenKind::Refresh || stored.client_id.as_ref() != Some(client) {
            return Err(invalid("the refresh token was not issued to this client"));
        }
        let now = self.now();
        if stored.previous_hash.is_some_and(|p| same(&p, &hash)) {
            self.refresh_replayed(&stored, now).await?;
            self.cache.remember_refused(hash, Refused::Revoked);
            return Err(invalid(REPLAYED));
        }
        if !stored.token_hash.is_some_and(|h| same(&h, &hash)) {
            return Err(self.refuse_refresh(hash, Refused::Unknown));
        }
        if stored.revoked_at.is_some() {
            return Err(self.refuse_refresh(hash, Refused::Revoked));
        }
        if stored.expires_at.is_some_and(|t| t <= now) {
            return Err(self.refuse_refresh(hash, Refused::Expired));
        }
        let subject = self.subject_of_session(&stored, now).await.map_err(|e| match e {
            AuthError::Locked { .. } | AuthError::UserDisabled | AuthError::DomainDisabled => {
                invalid("the account cannot log in now")
            }
            other => other,
        })?;
        let scope = crate::scope::narrow(scope, &stored.scope)?;
        let policy = self.policy(&stored.policy)?;
        let req = IssueRequest {
            subject,
            door: stored.door.clone(),
            policy: stored.policy.clone(),
            kind: TokenKind::Access,
            scope,
            client_id: stored.client_id.clone(),
            with_refresh: true,
            auth_time: stored.auth_time,
            audit: vec![],
        };
        // Rotation never extends the login: the refresh session keeps the
        // end it got at the password login, and no access token of the
        // family outlives it (SPEC §2).
        let expires_at = stored.expires_at;
        let access = self.mint(
            &req,
            &policy,
            TokenKind::Access,
            stored.family_id.clone(),
            crate::tokens::earliest(policy.max_lifetime.map(|d| now.plus(d)), expires_at),
            policy.idle_timeout,
            now,
        )?;
        let next_token: Zeroizing<String> = token::new_refresh(&stored.id);
        let next_hash = token::hash(&next_token);
        let event = NewAuditEvent {
            at: now,
            kind: AuditKind::TokenRefreshed,
            actor: None,
            subject: Some(req.subject.id()),
            subject_name: Some(req.subject.name().to_owned()),
            domain: req.subject.domain_name().map(str::to_owned),
            door: Some(stored.door.clone()),
            detail: format!(
                "refresh session {} rotated; issued access session {}",
                stored.id, access.session.id
            ),
        };
        self.cache.drop_session(&hash);
        let generation = self.cache.generation();
        let job = WriteJob::Rotate {
            rotation: Rotation {
                session: stored.id.clone(),
                presented: hash,
                next: next_hash,
                expires_at,
            },
            issued: vec![access.session.clone()],
            audit: vec![event.clone()],
            now,
        };
        match self.writer.submit(job).await? {
            WriteOutcome::Rotate(RotateOutcome::Rotated) => {}
            WriteOutcome::Rotate(RotateOutcome::AlreadyUsed) => {
                // Either the login ended meanwhile (a logout racing this
                // refresh), or another use of the same token won the race:
                // only the second is a replay.
                let ended = self
                    .store
                    .find_session(&stored.id)
                    .await?
                    .is_none_or(|s| s.revoked_at.is_some());
                if ended {
                    return Err(invalid("the refresh token has been revoked"));
                }
                self.refresh_replayed(&stored, now).await?;
                return Err(invalid(REPLAYED));
            }
            WriteOutcome::Issue(_) => {
                return Err(AuthError::Internal(
                    "the writer answered a rotation with an issue".into(),
                ))
            }
        }
        crate::audit::Audit::log(&event);
        let rotated = Session {
            token_hash: Some(next_hash),
            previous_hash: Some(hash),
            expires_at,
            last_used_at: now,
            ..stored
        };
        self.remember(&access.session, generation);
        self.cache
            .put_session(next_hash, self.cache.entry(rotated.clone()), generation);
        Ok(Issued {
            access,
            refresh: Some(IssuedToken {
                token: next_token,
                expires_in: expires_at.map(|t| now.until(t).as_secs()),
                session: rotated,
            }),
        })
    }

    /// Remembers a refresh token refused for good (never one refused only
    /// for being presented by another client) and gives the refusal.
    fn refuse_refresh(&self, hash: TokenHash, why: Refused) -> AuthError {
        self.cache.remember_refused(hash, why);
        invalid(match why {
            Refused::Unknown => "the refresh token is not valid",
            Refused::Revoked => "the refresh token has been revoked",
            Refused::Expired => "the refresh token has expired",
        })
    }

    /// A used refresh token came back: revoke its whole family.
    async fn refresh_replayed(&self, stored: &Session, now: Timestamp) -> AuthResult<()> {
        let family = stored.family_id.clone().unwrap_or_else(|| stored.id.clone());
        let revoked = self
            .store
            .revoke_family(&family, now, "refresh token replayed")
            .await?;
        for (_, hash) in &revoked {
            self.cache.drop_session(hash);
        }
        self.audit
            .record(NewAuditEvent {
                at: now,
                kind: AuditKind::RefreshReplay,
                actor: None,
                subject: stored
                    .user_id
                    .as_ref()
                    .map(ToString::to_string)
                    .or(stored.client_id.as_ref().map(ToString::to_string)),
                subject_name: None,
                domain: None,
                door: Some(stored.door.clone()),
                detail: format!(
                    "a used refresh token of session {} was presented again; revoked {} sessions of its family",
                    stored.id,
                    revoked.len()
                ),
            })
            .await
    }
}
