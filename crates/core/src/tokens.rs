//! Tokens: issue under a named policy, validate, refresh, revoke (SPEC §2).

use crate::cache::{CachedSession, ClientState, DomainState, Refused, UserState};
use crate::error::{AuthError, AuthResult, OAuthCode};
use crate::metrics::CheckOutcome;
use crate::{random, token, Core};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_model::config::{OnLimit, TokenPolicy};
use tessera_model::session::TokenHash;
use tessera_model::{
    AuditKind, ClientId, NewAuditEvent, Session, SessionId, Timestamp, TokenFormat, TokenKind, UserId,
};
use tessera_store::{CapCheck, Invalidation, IssueOutcome, WriteJob, WriteOutcome};
use zeroize::Zeroizing;

pub use crate::identity::{Identity, Subject};

/// What to issue.
pub struct IssueRequest {
    pub subject: Subject,
    /// The front door issuing it (`oauth2`, `header-login`, ...).
    pub door: String,
    /// The token policy's name.
    pub policy: String,
    /// `Access` or `Proxy`.
    pub kind: TokenKind,
    pub scope: String,
    pub client_id: Option<ClientId>,
    /// Also issue a refresh token (when the policy has a refresh lifetime).
    pub with_refresh: bool,
    /// When the credential was last checked for this chain of tokens.
    pub auth_time: Timestamp,
    /// Audit events written with the tokens, in the same transaction.
    pub audit: Vec<NewAuditEvent>,
}

/// A token just issued: shown once, never stored.
pub struct IssuedToken {
    pub token: Zeroizing<String>,
    pub session: Session,
    /// Whole seconds from issue to `session.expires_at` (`expires_in`),
    /// computed from the one clock reading the expiry was computed from,
    /// so a 2 h policy always says 7200. `None` never expires.
    pub expires_in: Option<u64>,
}

/// The tokens of one issue: an access (or proxy) token, and the refresh
/// token of its login when the policy and client allow one.
pub struct Issued {
    pub access: IssuedToken,
    pub refresh: Option<IssuedToken>,
}

/// JWT claims (SPEC §2): iss, sub, aud, exp, iat, jti, domain, roles.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    iat: i64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    roles: Vec<&'a str>,
    scope: &'a str,
    preferred_username: &'a str,
}

/// The `aud` of every JWT Tessera signs.
pub const JWT_AUDIENCE: &str = "tessera";

impl Core {
    /// The policy called `name`; configuration validation guarantees the
    /// doors' own exist, a client's may not.
    pub fn policy(&self, name: &str) -> AuthResult<TokenPolicy> {
        self.config
            .policy(name)
            .copied()
            .ok_or_else(|| AuthError::Internal(format!("no policy named {name:?}")))
    }

    /// Issues an access (or proxy) token, and a refresh token when asked
    /// and the policy allows, under the per-user cap.
    pub async fn issue(&self, req: IssueRequest) -> AuthResult<Issued> {
        let policy = self.policy(&req.policy)?;
        let now = self.now();
        let family = (req.with_refresh && policy.refresh_lifetime.is_some())
            .then(|| SessionId::from_bytes(random::time_ordered_id_bytes(now)));
        // The login ends `refresh_lifetime` after the password check at
        // the latest; no access token of it outlives that (SPEC §2).
        let login_ends = family
            .as_ref()
            .and(policy.refresh_lifetime)
            .map(|life| now.plus(life));
        let (expires_at, idle) = match req.kind {
            TokenKind::Proxy => (None, None),
            _ => (
                earliest(policy.max_lifetime.map(|d| now.plus(d)), login_ends),
                policy.idle_timeout,
            ),
        };
        let access = self.mint(&req, &policy, req.kind, family.clone(), expires_at, idle, now)?;
        let refresh = match (&family, login_ends) {
            (Some(_), Some(end)) => Some(self.mint(
                &req,
                &policy,
                TokenKind::Refresh,
                family.clone(),
                Some(end),
                None,
                now,
            )?),
            _ => None,
        };
        let cap = match (&req.subject, req.kind) {
            (Subject::User { user, .. }, TokenKind::Access) if policy.max_tokens_per_user > 0 => {
                Some(CapCheck {
                    user: user.user.id.clone(),
                    max: policy.max_tokens_per_user,
                    evict_oldest: policy.on_limit == OnLimit::EvictOldest,
                })
            }
            _ => None,
        };
        if cap.is_some() {
            // The cap counts idle clocks from the store: bring them up to date.
            self.flush_idle_clocks().await?;
        }
        let mut sessions = vec![access.session.clone()];
        sessions.extend(refresh.iter().map(|r| r.session.clone()));
        let generation = self.cache.generation();
        let job = WriteJob::Issue {
            sessions,
            cap,
            audit: req.audit.clone(),
            now,
        };
        match self.writer.submit(job).await? {
            WriteOutcome::Issue(IssueOutcome::Issued { evicted }) => {
                for (_, hash) in &evicted {
                    self.cache.drop_session(hash);
                }
            }
            WriteOutcome::Issue(IssueOutcome::Refused { retry_at }) => {
                let retry_after = retry_at
                    .map(|t| now.until(t))
                    .unwrap_or(Duration::from_secs(3600));
                return Err(AuthError::TokenLimit {
                    retry_after: round_up_secs(retry_after),
                });
            }
            WriteOutcome::Rotate(_) => {
                return Err(AuthError::Internal(
                    "the writer answered an issue with a rotation".into(),
                ))
            }
        }
        req.audit.iter().for_each(crate::audit::Audit::log);
        self.remember(&access.session, generation);
        if let Some(r) = &refresh {
            self.remember(&r.session, generation);
        }
        Ok(Issued { access, refresh })
    }

    /// [`Core::subject_of`] for a stored session.
    pub(crate) async fn subject_of_session(&self, s: &Session, now: Timestamp) -> AuthResult<Subject> {
        self.subject_of(s.user_id.as_ref(), s.client_id.as_ref(), s.kind, now)
            .await
    }

    /// Caches a session just written, so its first use needs no store.
    pub(crate) fn remember(&self, s: &Session, generation: u64) {
        if let Some(hash) = s.token_hash {
            self.cache
                .put_session(hash, self.cache.entry(s.clone()), generation);
        }
    }

    /// Builds one session and its token.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn mint(
        &self,
        req: &IssueRequest,
        policy: &TokenPolicy,
        kind: TokenKind,
        family: Option<SessionId>,
        expires_at: Option<Timestamp>,
        idle: Option<Duration>,
        now: Timestamp,
    ) -> AuthResult<IssuedToken> {
        let id = SessionId::from_bytes(random::time_ordered_id_bytes(now));
        let format = if kind == TokenKind::Access {
            policy.format
        } else {
            TokenFormat::Opaque
        };
        let token = match format {
            TokenFormat::Opaque if kind == TokenKind::Refresh => token::new_refresh(&id),
            TokenFormat::Opaque => token::new_opaque(kind),
            TokenFormat::Jwt => self.keys.sign(&Claims {
                iss: self.issuer(),
                sub: req.subject.id(),
                aud: JWT_AUDIENCE,
                exp: expires_at.map(Timestamp::secs),
                iat: now.secs(),
                jti: id.as_str(),
                domain: req.subject.domain_name(),
                roles: req.subject.role_names(),
                scope: &req.scope,
                preferred_username: req.subject.name(),
            })?,
        };
        let (user_id, domain_id) = match &req.subject {
            Subject::User { user, domain } => (Some(user.user.id.clone()), Some(domain.domain.id.clone())),
            _ => (None, None),
        };
        let session = Session {
            id,
            token_hash: Some(token::hash(&token)),
            kind,
            format,
            user_id,
            client_id: req.client_id.clone(),
            domain_id,
            door: req.door.clone(),
            policy: req.policy.clone(),
            scope: req.scope.clone(),
            family_id: family,
            auth_time: req.auth_time,
            created_at: now,
            last_used_at: now,
            expires_at,
            idle_timeout_ms: idle.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            revoked_at: None,
            revoke_reason: None,
            previous_hash: None,
        };
        let expires_in = expires_at.map(|t| now.until(t).as_secs());
        Ok(IssuedToken {
            token,
            session,
            expires_in,
        })
    }

    /// The `iss` of JWTs.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Validates a presented access or proxy token. `touch` refreshes the
    /// idle clock (every real use does; introspection does not). Every
    /// check is counted by outcome and timed (`tessera_token_checks_total`,
    /// `tessera_token_check_seconds`).
    pub async fn check(&self, presented: &str, touch: bool) -> AuthResult<Identity> {
        let started = Instant::now();
        let result = self.validate(presented, touch).await;
        let outcome = match &result {
            Ok(_) => CheckOutcome::Valid,
            Err(e) => CheckOutcome::of(e),
        };
        self.metrics.token_checked(outcome, started.elapsed());
        result
    }

    /// `check` without the metrics.
    async fn validate(&self, presented: &str, touch: bool) -> AuthResult<Identity> {
        let hash = token::hash(presented);
        if self.is_service_token(&hash) {
            return Ok(Identity {
                session: None,
                subject: Subject::Service,
            });
        }
        if !token::plausible(presented) {
            return Err(AuthError::UnknownToken);
        }
        // A cache this node cannot keep current is not trusted (SPEC §6).
        self.freshness.check()?;
        let cached = match self.cache.session(&hash) {
            Some(s) => s,
            None => {
                if let Some(why) = self.cache.refused(&hash) {
                    self.metrics.refused_from_cache();
                    return Err(refusal_error(why));
                }
                // Boxed, as every store wait on this path: a check the
                // cache answers builds and moves a future of a few hundred
                // bytes instead of one sized for the store's.
                match Box::pin(self.load_session(hash)).await? {
                    Some(s) => s,
                    None => return Err(self.refuse_for_good(hash, Refused::Unknown)),
                }
            }
        };
        if cached.kind() == TokenKind::Refresh {
            return Err(self.refuse_for_good(hash, Refused::Unknown));
        }
        let now = self.now();
        let cached = match self.check_session_times(cached, hash, now).await {
            Ok(c) => c,
            Err(e) => {
                return Err(match refused_for_good(&e) {
                    Some(why) => self.refuse_for_good(hash, why),
                    None => e,
                })
            }
        };
        let subject = self
            .subject_of(cached.user_id(), cached.client_id(), cached.kind(), now)
            .await?;
        if touch {
            self.cache.touch(&cached, now);
        }
        Ok(Identity {
            session: Some(cached),
            subject,
        })
    }

    /// Applies revocation, absolute expiry and idle expiry. An entry that
    /// looks idle is re-read first: another node may have used it since.
    async fn check_session_times(
        &self,
        cached: Arc<CachedSession>,
        hash: TokenHash,
        now: Timestamp,
    ) -> AuthResult<Arc<CachedSession>> {
        if cached.is_revoked() {
            return Err(AuthError::Revoked);
        }
        if cached.expires_at().is_some_and(|t| t <= now) {
            return Err(AuthError::Expired);
        }
        let Some(idle) = cached.idle_timeout() else {
            return Ok(cached);
        };
        if cached.last_used().plus(idle) > now {
            return Ok(cached);
        }
        // Read before the store, so an invalidation that lands meanwhile
        // keeps this fill out of the cache.
        let generation = self.cache.generation();
        let fresh = Box::pin(self.store.find_session(&cached.id())).await?;
        let Some(fresh) = fresh.filter(|f| f.last_used_at.plus(idle) > now && f.revoked_at.is_none()) else {
            return Err(AuthError::Idle);
        };
        let merged = self.cache.entry(Session {
            last_used_at: fresh.last_used_at.max(cached.last_used()),
            ..fresh
        });
        self.cache.put_session(hash, merged.clone(), generation);
        Ok(merged)
    }

    /// The stored session behind any presented token, by hash (access and
    /// proxy tokens) or by the id a refresh token carries, checked against
    /// its hash in constant time.
    pub(crate) async fn session_for_token(&self, presented: &str) -> AuthResult<Option<Session>> {
        let hash = token::hash(presented);
        if let Some(id) = token::refresh_session_id(presented) {
            let Some(s) = self.store.find_session(&id).await? else {
                return Ok(None);
            };
            let matches = s
                .token_hash
                .is_some_and(|h| bool::from(subtle::ConstantTimeEq::ct_eq(&h.0[..], &hash.0[..])));
            return Ok(matches.then_some(s));
        }
        if !token::plausible(presented) {
            return Ok(None);
        }
        Ok(self.store.find_session_by_hash(&hash).await?)
    }

    /// Loads a session the cache does not hold. Concurrent checks of one
    /// token share one store read (the first caller's), so a burst of the
    /// same unknown token costs one query, not one per request.
    async fn load_session(&self, hash: TokenHash) -> AuthResult<Option<Arc<CachedSession>>> {
        let flight = self.cache.flight(hash);
        let loaded = flight
            .get_or_try_init(|| async {
                self.metrics.store_lookup();
                let generation = self.cache.generation();
                let found = self.store.find_session_by_hash(&hash).await?;
                let cached = found.map(|s| self.cache.entry(s));
                match &cached {
                    Some(c) => {
                        self.cache.put_session(hash, c.clone(), generation);
                    }
                    // Remembered before the flight lands, so no later check
                    // starts another read of it.
                    None => self.cache.remember_refused(hash, Refused::Unknown),
                }
                Ok::<_, AuthError>(cached)
            })
            .await
            .cloned();
        self.cache.land(&hash, &flight);
        loaded
    }

    /// The subject a session speaks for, refused when the user is disabled,
    /// or locked now and the session is one a lockout stops
    /// ([`lockout_stops`]), or the domain or client is disabled. Every
    /// check of a token, refresh and introspection included, comes here.
    pub(crate) async fn subject_of(
        &self,
        user_id: Option<&UserId>,
        client_id: Option<&ClientId>,
        kind: TokenKind,
        now: Timestamp,
    ) -> AuthResult<Subject> {
        if let Some(uid) = user_id {
            let user = self.user_state(uid).await?.ok_or(AuthError::Revoked)?;
            if !user.user.enabled {
                return Err(AuthError::UserDisabled);
            }
            if let Some(until) = user.user.locked_until.filter(|t| *t > now) {
                if lockout_stops(kind) {
                    return Err(AuthError::Locked { until });
                }
            }
            let domain = self
                .domain_state(&user.user.domain_id)
                .await?
                .ok_or(AuthError::Revoked)?;
            if !domain.domain.enabled {
                return Err(AuthError::DomainDisabled);
            }
            return Ok(Subject::User { user, domain });
        }
        if let Some(cid) = client_id {
            let client = self.client_state(cid).await?.ok_or(AuthError::Revoked)?;
            if !client.client.enabled {
                return Err(AuthError::Revoked);
            }
            return Ok(Subject::Client(client));
        }
        Err(AuthError::Internal(
            "a session has neither user nor client".into(),
        ))
    }

    pub(crate) async fn user_state(&self, id: &UserId) -> AuthResult<Option<Arc<UserState>>> {
        if let Some(u) = self.cache.user(id) {
            return Ok(Some(u));
        }
        // Boxed: the store's future lives on the heap only when it runs,
        // so a cached check moves a small future (see `validate`).
        Box::pin(self.user_from_store(id)).await
    }

    async fn user_from_store(&self, id: &UserId) -> AuthResult<Option<Arc<UserState>>> {
        let generation = self.cache.generation();
        let Some(user) = self.store.find_user(id).await? else {
            return Ok(None);
        };
        let roles = self.store.roles_of_user(id).await?;
        let state = Arc::new(UserState::new(user, roles));
        self.cache.put_user(state.clone(), generation);
        Ok(Some(state))
    }

    pub(crate) async fn domain_state(
        &self,
        id: &tessera_model::DomainId,
    ) -> AuthResult<Option<Arc<DomainState>>> {
        if let Some(d) = self.cache.domain(id) {
            return Ok(Some(d));
        }
        Box::pin(self.domain_from_store(id)).await
    }

    async fn domain_from_store(&self, id: &tessera_model::DomainId) -> AuthResult<Option<Arc<DomainState>>> {
        let generation = self.cache.generation();
        let Some(domain) = self.store.find_domain(id).await? else {
            return Ok(None);
        };
        let state = Arc::new(DomainState { domain });
        self.cache.put_domain(state.clone(), generation);
        Ok(Some(state))
    }

    /// The domain a login names (default when `None`), from the cache when
    /// it can be.
    pub async fn domain_state_named(&self, name: Option<&str>) -> AuthResult<Arc<DomainState>> {
        let name = name
            .filter(|n| !n.is_empty())
            .unwrap_or(crate::admin::DEFAULT_DOMAIN);
        if let Some(id) = self.cache.domain_id_by_name(name) {
            if let Some(state) = self.domain_state(&id).await? {
                return Ok(state);
            }
        }
        let generation = self.cache.generation();
        let domain = self.domain_named(Some(name)).await?;
        let state = Arc::new(DomainState { domain });
        self.cache.put_domain(state.clone(), generation);
        Ok(state)
    }

    pub(crate) async fn client_state(&self, id: &ClientId) -> AuthResult<Option<Arc<ClientState>>> {
        if let Some(c) = self.cache.client(id) {
            return Ok(Some(c));
        }
        Box::pin(self.client_from_store(id)).await
    }

    async fn client_from_store(&self, id: &ClientId) -> AuthResult<Option<Arc<ClientState>>> {
        let generation = self.cache.generation();
        let Some(client) = self.store.find_client(id.as_str()).await? else {
            return Ok(None);
        };
        let roles = self.store.roles_of_client(id).await?;
        let state = Arc::new(ClientState::new(client, roles));
        self.cache.put_client(state.clone(), generation);
        Ok(Some(state))
    }

    /// Writes queued idle clocks to the store.
    pub async fn flush_idle_clocks(&self) -> AuthResult<()> {
        let dirty = self.cache.take_dirty().await;
        self.store.touch_sessions(&dirty).await?;
        Ok(())
    }

    /// Revokes the session behind a presented token (logout, RFC 7009).
    /// A refresh token takes its family with it. With `owner`, only that
    /// client's tokens may be revoked. Returns the session, or `None` when
    /// the token is unknown.
    pub async fn revoke_token(
        &self,
        presented: &str,
        reason: &str,
        actor: Option<&str>,
        owner: Option<&ClientId>,
    ) -> AuthResult<Option<Session>> {
        if !token::plausible(presented) {
            return Ok(None);
        }
        let Some(s) = self.session_for_token(presented).await? else {
            return Ok(None);
        };
        if owner.is_some_and(|o| s.client_id.as_ref() != Some(o)) {
            return Err(AuthError::oauth(
                OAuthCode::UnauthorizedClient,
                "that token was issued to another client",
            ));
        }
        let now = self.now();
        let revoked = match (&s.kind, &s.family_id) {
            (TokenKind::Refresh, Some(family)) => self.store.revoke_family(family, now, reason).await?,
            _ => self
                .store
                .revoke_session(&s.id, now, reason)
                .await?
                .map(|h| vec![(s.id.clone(), h)])
                .unwrap_or_default(),
        };
        for (_, hash) in &revoked {
            self.cache.drop_session(hash);
        }
        if !revoked.is_empty() {
            self.audit_revocation(&s, revoked.len(), reason, actor, now)
                .await?;
        }
        Ok(Some(s))
    }

    /// Revokes a user's sessions (proxy tokens too when `with_proxy`).
    pub async fn revoke_user(
        &self,
        user: &UserId,
        with_proxy: bool,
        reason: &str,
        actor: Option<&str>,
    ) -> AuthResult<usize> {
        let now = self.now();
        let revoked = self
            .store
            .revoke_user_sessions(user, with_proxy, now, reason)
            .await?;
        self.cache.apply(&Invalidation::UserSessions(user.to_string()));
        if !revoked.is_empty() {
            self.audit
                .record(NewAuditEvent {
                    at: now,
                    kind: AuditKind::TokenRevoked,
                    actor: actor.map(str::to_owned),
                    subject: Some(user.to_string()),
                    subject_name: None,
                    domain: None,
                    door: None,
                    detail: format!(
                        "{reason}: revoked {} sessions{}",
                        revoked.len(),
                        if with_proxy {
                            " (proxy tokens included)"
                        } else {
                            ""
                        }
                    ),
                })
                .await?;
        }
        Ok(revoked.len())
    }

    /// Ends the login of the session `id` (an administrator's revoke):
    /// as a logout does, with its whole refresh family. Returns whether a
    /// live session was found.
    pub async fn revoke_session_id(
        &self,
        id: &SessionId,
        reason: &str,
        actor: Option<&str>,
    ) -> AuthResult<bool> {
        let Some(s) = self.store.find_session(id).await? else {
            return Ok(false);
        };
        Ok(self.end_login(&s, reason, actor).await? > 0)
    }

    /// Ends the login `s` belongs to: its refresh family (every access
    /// token minted from it and the refresh session) when it has one, else
    /// the session alone. Proxy tokens are never part of a family. Returns
    /// how many sessions ended.
    pub(crate) async fn end_login(
        &self,
        s: &Session,
        reason: &str,
        actor: Option<&str>,
    ) -> AuthResult<usize> {
        let now = self.now();
        let revoked = match &s.family_id {
            Some(family) => self.store.revoke_family(family, now, reason).await?,
            None => self
                .store
                .revoke_session(&s.id, now, reason)
                .await?
                .map(|h| vec![(s.id.clone(), h)])
                .unwrap_or_default(),
        };
        for (_, hash) in &revoked {
            self.cache.drop_session(hash);
        }
        if !revoked.is_empty() {
            self.audit_revocation(s, revoked.len(), reason, actor, now)
                .await?;
        }
        Ok(revoked.len())
    }

    async fn audit_revocation(
        &self,
        s: &Session,
        n: usize,
        reason: &str,
        actor: Option<&str>,
        now: Timestamp,
    ) -> AuthResult<()> {
        self.audit
            .record(NewAuditEvent {
                at: now,
                kind: AuditKind::TokenRevoked,
                actor: actor.map(str::to_owned),
                subject: s
                    .user_id
                    .as_ref()
                    .map(ToString::to_string)
                    .or(s.client_id.as_ref().map(ToString::to_string)),
                subject_name: None,
                domain: None,
                door: Some(s.door.clone()),
                detail: format!(
                    "{reason}: session {} ({}){}",
                    s.id,
                    s.kind.as_str(),
                    if n > 1 {
                        format!(" and {} more of its family", n - 1)
                    } else {
                        String::new()
                    }
                ),
            })
            .await
    }
}

impl Core {
    /// Remembers that `hash` is refused for good (SPEC §6: a refused token
    /// costs no store round trip next time) and gives the refusal.
    fn refuse_for_good(&self, hash: TokenHash, why: Refused) -> AuthError {
        self.cache.remember_refused(hash, why);
        refusal_error(why)
    }
}

/// Whether a lockout refuses tokens of this kind while it lasts (SPEC §5,
/// seed 004): session tokens (access, refresh) yes; proxy tokens no. A
/// lockout answers password guessing, and anyone who knows an account's
/// name can cause one; a proxy token was minted from a session of that
/// account and proves no password, so stopping it would only let a
/// stranger halt the account's scripts with five wrong passwords. A stolen
/// proxy token is revoked (`/logout?force=true&proxytokens=true`, the
/// admin API's session revocation); a disabled account refuses it.
pub(crate) fn lockout_stops(kind: TokenKind) -> bool {
    match kind {
        TokenKind::Access | TokenKind::Refresh => true,
        TokenKind::Proxy => false,
    }
}

/// The error of a refusal for good.
fn refusal_error(why: Refused) -> AuthError {
    match why {
        Refused::Unknown => AuthError::UnknownToken,
        Refused::Revoked => AuthError::Revoked,
        Refused::Expired => AuthError::Expired,
    }
}

/// Whether `e` refuses a token for good. A lock, a disabled user or
/// domain can end, and an idle refusal may rest on another node's idle
/// clock not yet written, so those are never remembered.
fn refused_for_good(e: &AuthError) -> Option<Refused> {
    match e {
        AuthError::UnknownToken => Some(Refused::Unknown),
        AuthError::Revoked => Some(Refused::Revoked),
        AuthError::Expired => Some(Refused::Expired),
        // Not `Idle`: another node may have used the token since, and its
        // idle clock reaches the store only in batches.
        _ => None,
    }
}

/// The earlier of two optional instants (`None` is "never").
pub(crate) fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Rounds up to whole seconds, and at least one (for `Retry-After`).
pub(crate) fn round_up_secs(d: Duration) -> Duration {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}
