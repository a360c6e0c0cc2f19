//! Sessions as people manage them: proxy tokens for scripts (seed 001),
//! listing and revoking sessions, rotating the JWT signing keys.

use crate::audit::Actor;
use crate::error::{AuthError, AuthResult};
use crate::tokens::{Identity, IssueRequest, IssuedToken, Subject};
use crate::Core;
use serde::Serialize;
use std::time::Duration;
use tessera_model::{AuditKind, NewAuditEvent, Session, SessionId, Timestamp, TokenFormat, TokenKind};
use tessera_store::{Invalidation, SessionQuery};

/// A session as listings show it: never the token, never its hash.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Session))]
pub struct SessionView {
    pub id: SessionId,
    /// `access`, `refresh` or `proxy`.
    #[cfg_attr(feature = "openapi", schema(example = "access"))]
    pub kind: &'static str,
    /// `opaque` or `jwt`.
    #[cfg_attr(feature = "openapi", schema(example = "opaque"))]
    pub format: &'static str,
    /// The user's name, for a user's token.
    pub user: Option<String>,
    pub client_id: Option<String>,
    /// The front door that issued it.
    pub door: String,
    /// The token policy it was issued under.
    pub policy: String,
    pub scope: String,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    /// `null`: never expires (proxy tokens).
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoke_reason: Option<String>,
}

impl SessionView {
    pub fn of(s: &Session, user: Option<String>) -> Self {
        SessionView {
            id: s.id.clone(),
            kind: s.kind.as_str(),
            format: s.format.as_str(),
            user,
            client_id: s.client_id.as_ref().map(ToString::to_string),
            door: s.door.clone(),
            policy: s.policy.clone(),
            scope: s.scope.clone(),
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
            revoke_reason: s.revoke_reason.clone(),
        }
    }
}

impl Core {
    /// A proxy token for the caller (seed 001's `GET /proxytoken`): never
    /// expires, does not count against the per-user cap, keeps the
    /// caller's scope and login time.
    pub async fn issue_proxy(&self, who: &Identity) -> AuthResult<IssuedToken> {
        let (Subject::User { .. }, Some(session)) = (&who.subject, &who.session) else {
            return Err(AuthError::Forbidden(
                "only a user's own session can ask for a proxy token".into(),
            ));
        };
        let s = &session.to_session(None);
        if s.kind == TokenKind::Proxy {
            return Err(AuthError::Forbidden(
                "a proxy token cannot make another proxy token".into(),
            ));
        }
        self.mint_proxy(
            who.subject.clone(),
            s.door.clone(),
            s.policy.clone(),
            s.scope.clone(),
            s.auth_time,
            None,
        )
        .await
    }

    /// A proxy token for a user named by an administrator (the CLI).
    pub async fn issue_proxy_for(
        &self,
        actor: &Actor,
        domain: Option<&str>,
        name: &str,
        policy: &str,
    ) -> AuthResult<IssuedToken> {
        let (d, u) = self.user_named(domain, name).await?;
        let user = self
            .user_state(&u.id)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("user {name:?}")))?;
        let domain = self
            .domain_state(&d.id)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("domain {:?}", d.name)))?;
        self.mint_proxy(
            Subject::User { user, domain },
            "cli".into(),
            policy.to_owned(),
            crate::scope::DEFAULT.into(),
            self.now(),
            Some(actor),
        )
        .await
    }

    async fn mint_proxy(
        &self,
        subject: Subject,
        door: String,
        policy: String,
        scope: String,
        auth_time: Timestamp,
        actor: Option<&Actor>,
    ) -> AuthResult<IssuedToken> {
        let event = NewAuditEvent {
            at: self.now(),
            kind: AuditKind::TokenIssued,
            actor: actor.map(Actor::label),
            subject: Some(subject.id()),
            subject_name: Some(subject.name().to_owned()),
            domain: subject.domain_name().map(str::to_owned),
            door: Some(door.clone()),
            detail: "proxy token issued".into(),
        };
        let issued = self
            .issue(IssueRequest {
                subject,
                door,
                policy,
                kind: TokenKind::Proxy,
                scope,
                client_id: None,
                with_refresh: false,
                auth_time,
                audit: vec![event],
            })
            .await?;
        Ok(issued.access)
    }

    /// Live sessions, of one user or all, in id (creation) order, after
    /// `after` (keyset pagination).
    pub async fn session_list(
        &self,
        user: Option<(Option<&str>, &str)>,
        after: Option<SessionId>,
        limit: u32,
    ) -> AuthResult<Vec<SessionView>> {
        let user_id = match user {
            Some((domain, name)) => Some(self.user_named(domain, name).await?.1.id),
            None => None,
        };
        let sessions = self
            .store
            .list_sessions(&SessionQuery {
                user_id,
                kind: None,
                live_at: Some(self.now()),
                after,
                limit,
            })
            .await?;
        let mut names = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(sessions.len());
        for s in &sessions {
            let name = match &s.user_id {
                Some(uid) => {
                    if !names.contains_key(uid) {
                        let n = self.store.find_user(uid).await?.map(|u| u.name);
                        names.insert(uid.clone(), n);
                    }
                    names.get(uid).cloned().flatten()
                }
                None => None,
            };
            out.push(SessionView::of(s, name));
        }
        Ok(out)
    }

    /// Starts signing JWTs with a new key; the old ones stay published
    /// until the last token they signed has expired. Every node follows.
    pub async fn rotate_keys(&self, actor: &Actor) -> AuthResult<String> {
        let longest = self
            .config
            .policies
            .values()
            .filter(|p| p.format == TokenFormat::Jwt)
            .filter_map(|p| p.max_lifetime)
            .max()
            .unwrap_or(Duration::from_secs(3600));
        let now = self.now();
        let kid = self.keys.rotate(now, longest).await?;
        self.store
            .record_invalidations(&[Invalidation::Keys], now)
            .await?;
        self.audit
            .record(NewAuditEvent {
                at: now,
                kind: AuditKind::KeyRotated,
                actor: Some(actor.label()),
                subject: None,
                subject_name: None,
                domain: None,
                door: None,
                detail: format!("JWT signing key rotated; new key {kid}"),
            })
            .await?;
        Ok(kid)
    }
}
