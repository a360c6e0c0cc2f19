//! The flows every front door shares (SPEC §2 "a login"): `Core::login`
//! (authenticate, the door's role requirement, issue under the door's
//! policy, audit) and `Core::logout` (end a whole login, or every login
//! of a user). A door only translates its wire to these and back, so a
//! guarantee made here holds at every door.

use crate::authn::{Login, LoginKind};
use crate::error::{AuthError, AuthResult, OAuthCode};
use crate::metrics::LoginOutcome;
use crate::tokens::{Identity, IssueRequest, Issued, Subject};
use crate::{scope, Core};
use std::time::Instant;
use tessera_model::{AuditKind, Client, NewAuditEvent, TokenKind};
use zeroize::Zeroizing;

/// What a door asks of [`Core::login`].
pub struct LoginRequest<'a> {
    /// The front door asking (`oauth2`, `header-login`, ...): audit and metrics.
    pub door: &'a str,
    /// The domain (realm, tenant) named; the default domain when `None`.
    pub domain: Option<&'a str>,
    pub username: &'a str,
    pub password: Zeroizing<String>,
    pub kind: LoginKind,
    /// The token policy to issue under (the door's, or the client's own).
    pub policy: &'a str,
    /// A role the user must hold to log in at this door (seed 004's
    /// "administrator profiles only"); refused as [`AuthError::Forbidden`],
    /// audited and counted like any other refusal.
    pub require_role: Option<&'a str>,
    /// The `scope` asked for (oauth2); `None` gives the default scope the
    /// user's roles allow.
    pub scope: Option<&'a str>,
    /// The OAuth2 client the login is for: the tokens are bound to it, and
    /// a refresh token comes with them when it may use that grant.
    pub client: Option<&'a Client>,
    /// How the door describes the login in the audit trail.
    pub detail: String,
}

/// A successful login: whom it is for and the tokens it minted.
pub struct LoggedIn {
    pub subject: Subject,
    pub issued: Issued,
}

/// What a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logout {
    /// The presented token's whole login: its refresh family and every
    /// access token minted from it (SPEC §2).
    ThisLogin,
    /// Every login of the token's user; proxy tokens too when
    /// `proxy_tokens`.
    AllOfUser { proxy_tokens: bool },
}

impl Core {
    /// Logs a user in at a door: checks the password (lockout, emergency
    /// rules, no enumeration), the door's role requirement and the scope,
    /// then issues under `policy` with the audit event in the same write.
    ///
    /// Errors: [`AuthError::InvalidCredentials`] for any wrong or unknown
    /// credential, [`AuthError::Forbidden`] when `require_role` is not
    /// held, `OAuth { invalid_scope }` for a scope not granted,
    /// [`AuthError::TokenLimit`] at the per-user cap, and the store's.
    pub async fn login(&self, req: LoginRequest<'_>) -> AuthResult<LoggedIn> {
        let started = Instant::now();
        let door = req.door;
        let mut refused_as_locked = false;
        let result = self.login_flow(req, &mut refused_as_locked).await;
        let outcome = match &result {
            Ok(_) => LoginOutcome::Success,
            Err(_) if refused_as_locked => LoginOutcome::Locked,
            Err(e) => LoginOutcome::of(e),
        };
        self.metrics.login(door, outcome, started.elapsed());
        result
    }

    /// `login` without the metrics.
    async fn login_flow(&self, req: LoginRequest<'_>, refused_as_locked: &mut bool) -> AuthResult<LoggedIn> {
        let login = Login {
            domain: req.domain,
            username: req.username,
            password: req.password,
            door: req.door,
            kind: req.kind,
        };
        let who = self.authenticate(login, refused_as_locked).await?;
        let subject = Subject::from_login(&who);
        if let Some(role) = req.require_role {
            if !subject.has_role(role) {
                self.refuse_login(
                    &subject,
                    req.door,
                    &format!("lacks the {role:?} role this door requires"),
                )
                .await?;
                return Err(AuthError::Forbidden(format!(
                    "only users holding the {role:?} role may log in here"
                )));
            }
        }
        let scope = match req.kind {
            LoginKind::Emergency => match req.scope.map(str::trim) {
                None | Some("") | Some(scope::EMERGENCY) => scope::EMERGENCY.to_owned(),
                Some(other) => {
                    return Err(AuthError::oauth(
                        OAuthCode::InvalidScope,
                        format!("the emergency grant gives only the emergency scope, not {other:?}"),
                    ))
                }
            },
            LoginKind::Password => scope::resolve(req.scope, &scope::allowed(&who.user.roles))?,
        };
        let grant = match (req.client, req.kind) {
            (Some(c), LoginKind::Emergency) => format!("emergency grant via client {:?}, ", c.id.as_str()),
            (Some(c), LoginKind::Password) => format!("password grant via client {:?}, ", c.id.as_str()),
            (None, _) => String::new(),
        };
        let event = who.event(req.door, format!("{}{grant}scope {scope:?}", req.detail));
        let issued = self
            .issue(IssueRequest {
                subject: subject.clone(),
                door: req.door.to_owned(),
                policy: req.policy.to_owned(),
                kind: TokenKind::Access,
                scope,
                client_id: req.client.map(|c| c.id.clone()),
                with_refresh: req.client.is_some_and(|c| c.allows_grant("refresh_token")),
                auth_time: who.at,
                audit: vec![event],
            })
            .await?;
        Ok(LoggedIn { subject, issued })
    }

    /// Audits a login whose password was right but which the door refuses.
    async fn refuse_login(&self, subject: &Subject, door: &str, why: &str) -> AuthResult<()> {
        self.audit
            .record(NewAuditEvent {
                at: self.now(),
                kind: AuditKind::LoginFailed,
                actor: None,
                subject: Some(subject.id()),
                subject_name: Some(subject.name().to_owned()),
                domain: subject.domain_name().map(str::to_owned),
                door: Some(door.to_owned()),
                detail: why.to_owned(),
            })
            .await
    }

    /// Ends logins of the caller `who` (the identity of a presented token).
    /// Returns how many sessions ended.
    ///
    /// Errors: [`AuthError::InvalidInput`] for the service token, which has
    /// no session; [`AuthError::InvalidInput`] for `AllOfUser` with a
    /// client's own token; the store's.
    pub async fn logout(&self, who: &Identity, what: Logout, reason: &str) -> AuthResult<usize> {
        let Some(session) = &who.session else {
            return Err(AuthError::InvalidInput(
                "the service token has no session to end".into(),
            ));
        };
        let s = &session.to_session(None);
        match what {
            Logout::AllOfUser { proxy_tokens } => {
                let Subject::User { user, .. } = &who.subject else {
                    return Err(AuthError::InvalidInput(
                        "a client's own token has no user whose sessions could all end".into(),
                    ));
                };
                self.revoke_user(&user.user.id, proxy_tokens, reason, Some(user.user.id.as_str()))
                    .await
            }
            Logout::ThisLogin => self.end_login(s, reason, None).await,
        }
    }
}
