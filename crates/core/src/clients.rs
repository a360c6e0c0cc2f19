//! OAuth2 client authentication and the client's own tokens
//! (client_credentials), plus token introspection (RFC 7662).

use crate::cache::ClientState;
use crate::error::{AuthError, AuthResult, OAuthCode};
use crate::tokens::{IssueRequest, Issued, Subject};
use crate::{token, Core};
use std::sync::Arc;
use tessera_model::{AuditKind, Client, ClientId, NewAuditEvent, Session, TokenKind};

/// A client that proved who it is.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub client: Client,
    pub state: Arc<ClientState>,
}

/// What introspection knows of a live token.
#[derive(Debug, Clone)]
pub struct Introspection {
    pub session: Session,
    pub subject: Subject,
}

impl Core {
    /// Checks a client's id and secret. A public client presents no secret
    /// (or an empty one, as seed 000's `https://simplivity@host` does); a
    /// confidential client must present its own.
    pub async fn authenticate_client(
        &self,
        id: &str,
        secret: Option<&str>,
    ) -> AuthResult<AuthenticatedClient> {
        let invalid = || AuthError::oauth(OAuthCode::InvalidClient, "unknown client or wrong client secret");
        let state = self
            .client_state(&ClientId(id.to_owned()))
            .await?
            .ok_or_else(invalid)?;
        let client = state.client.clone();
        if !client.enabled {
            return Err(invalid());
        }
        let secret = secret.filter(|s| !s.is_empty());
        match (&client.secret_hash, secret) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(AuthError::oauth(
                    OAuthCode::InvalidClient,
                    "this client is public: send no client secret",
                ))
            }
            (Some(_), None) => {
                return Err(AuthError::oauth(
                    OAuthCode::InvalidClient,
                    "this client must authenticate with its secret",
                ))
            }
            (Some(stored), Some(given)) => {
                if !self.client_secrets.verify(given, stored) {
                    return Err(invalid());
                }
            }
        }
        Ok(AuthenticatedClient { client, state })
    }

    /// Issues a client's own access token (client_credentials): no user,
    /// no refresh token, the scope within what the client's roles allow.
    pub async fn client_credentials(
        &self,
        client: &AuthenticatedClient,
        policy: String,
        scope: Option<&str>,
    ) -> AuthResult<Issued> {
        if client.client.is_public() {
            return Err(AuthError::oauth(
                OAuthCode::UnauthorizedClient,
                "a public client cannot use client_credentials: it has no secret to prove who it is",
            ));
        }
        let scope = crate::scope::resolve(scope, &crate::scope::allowed(&client.state.roles))?;
        let now = self.now();
        let event = NewAuditEvent {
            at: now,
            kind: AuditKind::TokenIssued,
            actor: None,
            subject: Some(client.client.id.to_string()),
            subject_name: Some(client.client.id.to_string()),
            domain: None,
            door: Some("oauth2".into()),
            detail: format!("client_credentials grant, scope {scope:?}"),
        };
        self.issue(IssueRequest {
            subject: Subject::Client(client.state.clone()),
            door: "oauth2".into(),
            policy,
            kind: TokenKind::Access,
            scope,
            client_id: Some(client.client.id.clone()),
            with_refresh: false,
            auth_time: now,
            audit: vec![event],
        })
        .await
    }

    /// The live session behind any token (access, proxy or refresh), for
    /// RFC 7662. Does not count as a use: the idle clock stays put.
    pub async fn introspect(&self, presented: &str) -> AuthResult<Option<Introspection>> {
        if token::opaque_kind(presented) == Some(TokenKind::Refresh) {
            let Some(s) = self.session_for_token(presented).await? else {
                return Ok(None);
            };
            let now = self.now();
            if s.revoked_at.is_some() || s.expires_at.is_some_and(|t| t <= now) {
                return Ok(None);
            }
            return match self.subject_of_session(&s, now).await {
                Ok(subject) => Ok(Some(Introspection { session: s, subject })),
                Err(AuthError::Store(e)) => Err(AuthError::Store(e)),
                Err(_) => Ok(None),
            };
        }
        match self.check(presented, false).await {
            Ok(id) => Ok(id.session.map(|s| Introspection {
                session: s.to_session(None),
                subject: id.subject,
            })),
            Err(AuthError::Store(e)) => Err(AuthError::Store(e)),
            Err(AuthError::Internal(e)) => Err(AuthError::Internal(e)),
            Err(_) => Ok(None),
        }
    }
}
