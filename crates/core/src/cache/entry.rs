//! One cached session, kept small: a million of them must fit in a few
//! hundred MB (issue 13: at most 400 bytes each, map slot included). What
//! many sessions share (whose they are, door, policy, scope) lives once in
//! an interned [`SessionShape`]; the entry itself holds fixed-size ids and
//! plain integers, and no heap allocation of its own.

use dashmap::DashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessera_model::session::TokenHash;
use tessera_model::{ClientId, DomainId, Session, SessionId, Timestamp, TokenFormat, TokenKind, UserId};

/// What the sessions of one user (or client) through one door, under one
/// policy and scope have in common; shared by all of them.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SessionShape {
    kind: TokenKind,
    format: TokenFormat,
    user_id: Option<UserId>,
    client_id: Option<ClientId>,
    domain_id: Option<DomainId>,
    door: Box<str>,
    policy: Box<str>,
    scope: Box<str>,
}

impl SessionShape {
    fn of(s: Session) -> SessionShape {
        SessionShape {
            kind: s.kind,
            format: s.format,
            user_id: s.user_id,
            client_id: s.client_id,
            domain_id: s.domain_id,
            door: s.door.into_boxed_str(),
            policy: s.policy.into_boxed_str(),
            scope: s.scope.into_boxed_str(),
        }
    }
}

/// The shapes in use, one `Arc` per distinct shape. Shapes no entry holds
/// any more are dropped by [`Shapes::sweep`].
#[derive(Default)]
pub struct Shapes(DashSet<Arc<SessionShape>>);

impl Shapes {
    /// The shared shape equal to `shape`, added when new.
    fn intern(&self, shape: SessionShape) -> Arc<SessionShape> {
        if let Some(found) = self.0.get(&shape) {
            return found.key().clone();
        }
        let shape = Arc::new(shape);
        // A concurrent intern of an equal shape may win; either copy is
        // correct, the loser is only not shared.
        self.0.insert(shape.clone());
        shape
    }

    /// Forgets shapes only this set still holds. Returns how many remain.
    pub fn sweep(&self) -> usize {
        self.0.retain(|s| Arc::strong_count(s) > 1);
        self.0.len()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `expires_at` / `revoked_at` absent.
const NEVER: i64 = i64::MAX;
const NOT_REVOKED: i64 = i64::MIN;
const NO_IDLE_LIMIT: i64 = -1;

/// A session in memory, with its live idle clock. Times are milliseconds
/// since the Unix epoch, as [`Timestamp`]. A revocation reason is not kept:
/// a revoked session is only ever refused.
#[derive(Debug)]
pub struct CachedSession {
    shape: Arc<SessionShape>,
    id: [u8; 16],
    family: Option<[u8; 16]>,
    auth_time: i64,
    created_at: i64,
    /// `NEVER` when the session has no absolute end.
    expires_at: i64,
    /// `NO_IDLE_LIMIT` when it has none.
    idle_timeout_ms: i64,
    /// `NOT_REVOKED` unless revoked.
    revoked_at: i64,
    last_used: AtomicI64,
    /// Set while an idle-clock write is queued, so each session is queued
    /// at most once per flush.
    dirty: AtomicBool,
}

impl CachedSession {
    /// An entry with a shape of its own (tests, one-off identities); the
    /// cache builds entries with [`Shapes`] instead, sharing shapes.
    pub fn new(session: Session) -> Self {
        Self::with_shape(session, Arc::new)
    }

    /// An entry whose shape is interned in `shapes`.
    pub fn interned(session: Session, shapes: &Shapes) -> Self {
        Self::with_shape(session, |shape| shapes.intern(shape))
    }

    fn with_shape(s: Session, share: impl FnOnce(SessionShape) -> Arc<SessionShape>) -> Self {
        let id = s.id.to_bytes();
        let family = s.family_id.as_ref().map(SessionId::to_bytes);
        let (auth_time, created_at, last) = (s.auth_time.0, s.created_at.0, s.last_used_at.0);
        let expires_at = s.expires_at.map_or(NEVER, |t| t.0);
        let idle_timeout_ms = s.idle_timeout_ms.map_or(NO_IDLE_LIMIT, |ms| ms.max(0));
        let revoked_at = s.revoked_at.map_or(NOT_REVOKED, |t| t.0);
        CachedSession {
            shape: share(SessionShape::of(s)),
            id,
            family,
            auth_time,
            created_at,
            expires_at,
            idle_timeout_ms,
            revoked_at,
            last_used: AtomicI64::new(last),
            dirty: AtomicBool::new(false),
        }
    }

    /// The session's id (allocates its hex form).
    pub fn id(&self) -> SessionId {
        SessionId::from_bytes(self.id)
    }

    pub fn kind(&self) -> TokenKind {
        self.shape.kind
    }

    pub fn format(&self) -> TokenFormat {
        self.shape.format
    }

    pub fn user_id(&self) -> Option<&UserId> {
        self.shape.user_id.as_ref()
    }

    pub fn client_id(&self) -> Option<&ClientId> {
        self.shape.client_id.as_ref()
    }

    pub fn domain_id(&self) -> Option<&DomainId> {
        self.shape.domain_id.as_ref()
    }

    /// The front door that issued it.
    pub fn door(&self) -> &str {
        &self.shape.door
    }

    /// The token policy it was issued under.
    pub fn policy(&self) -> &str {
        &self.shape.policy
    }

    /// Space-separated scopes.
    pub fn scope(&self) -> &str {
        &self.shape.scope
    }

    pub fn created_at(&self) -> Timestamp {
        Timestamp(self.created_at)
    }

    /// Absolute end of life; `None` never expires.
    pub fn expires_at(&self) -> Option<Timestamp> {
        (self.expires_at != NEVER).then_some(Timestamp(self.expires_at))
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked_at != NOT_REVOKED
    }

    /// Longest allowed gap between uses; `None` means no idle limit.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_ms != NO_IDLE_LIMIT)
            .then(|| Duration::from_millis(u64::try_from(self.idle_timeout_ms).unwrap_or(0)))
    }

    /// The full record (allocates), with the live idle clock as
    /// `last_used_at` and `token_hash` as given (the cache's key); the
    /// revocation reason and previous refresh hash are not kept.
    pub fn to_session(&self, token_hash: Option<TokenHash>) -> Session {
        let shape = &*self.shape;
        Session {
            id: self.id(),
            token_hash,
            kind: shape.kind,
            format: shape.format,
            user_id: shape.user_id.clone(),
            client_id: shape.client_id.clone(),
            domain_id: shape.domain_id.clone(),
            door: shape.door.to_string(),
            policy: shape.policy.to_string(),
            scope: shape.scope.to_string(),
            family_id: self.family.map(SessionId::from_bytes),
            auth_time: Timestamp(self.auth_time),
            created_at: Timestamp(self.created_at),
            last_used_at: self.last_used(),
            expires_at: self.expires_at(),
            idle_timeout_ms: (self.idle_timeout_ms != NO_IDLE_LIMIT).then_some(self.idle_timeout_ms),
            revoked_at: self.is_revoked().then_some(Timestamp(self.revoked_at)),
            revoke_reason: None,
            previous_hash: None,
        }
    }

    pub fn last_used(&self) -> Timestamp {
        Timestamp(self.last_used.load(Ordering::Relaxed))
    }

    /// Moves the idle clock forward (never back). Returns whether the
    /// session was not queued for a write yet (the caller queues it).
    pub fn note_use(&self, at: Timestamp) -> bool {
        self.last_used.fetch_max(at.0, Ordering::Relaxed);
        !self.dirty.swap(true, Ordering::AcqRel)
    }

    /// The idle clock is being written: later uses queue it again.
    pub(super) fn flushed(&self) -> (SessionId, Timestamp) {
        self.dirty.store(false, Ordering::Release);
        (self.id(), self.last_used())
    }

    /// When this session dies if nothing else happens: the earlier of its
    /// absolute expiry and its idle deadline.
    pub fn dies_at(&self) -> Option<Timestamp> {
        let idle_end = self.idle_timeout().map(|d| self.last_used().plus(d));
        match (self.expires_at(), idle_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user: u8, scope: &str) -> Session {
        Session {
            id: SessionId::from_bytes([user; 16]),
            token_hash: None,
            kind: TokenKind::Access,
            format: TokenFormat::Opaque,
            user_id: Some(UserId::from_bytes([user; 16])),
            client_id: Some(ClientId("c".into())),
            domain_id: Some(DomainId::from_bytes([9; 16])),
            door: "oauth2".into(),
            policy: "p".into(),
            scope: scope.into(),
            family_id: Some(SessionId::from_bytes([7; 16])),
            auth_time: Timestamp(1),
            created_at: Timestamp(2),
            last_used_at: Timestamp(3),
            expires_at: Some(Timestamp(4)),
            idle_timeout_ms: Some(5),
            revoked_at: None,
            revoke_reason: None,
            previous_hash: None,
        }
    }

    #[test]
    fn an_entry_gives_back_the_session_it_was_made_from() {
        let s = session(1, "read write");
        let e = CachedSession::new(s.clone());
        assert_eq!(e.to_session(None), s);
        let bare = Session {
            expires_at: None,
            idle_timeout_ms: None,
            family_id: None,
            revoked_at: Some(Timestamp(8)),
            ..s
        };
        assert_eq!(
            CachedSession::new(bare.clone()).to_session(None),
            Session {
                revoke_reason: None,
                ..bare
            }
        );
    }

    #[test]
    fn sessions_alike_share_one_shape_and_unused_shapes_are_swept() {
        let shapes = Shapes::default();
        let a = CachedSession::interned(session(1, "read"), &shapes);
        let b = CachedSession::interned(session(1, "read"), &shapes);
        let c = CachedSession::interned(session(2, "read"), &shapes);
        assert!(Arc::ptr_eq(&a.shape, &b.shape));
        assert!(!Arc::ptr_eq(&a.shape, &c.shape));
        assert_eq!(shapes.len(), 2);
        drop(c);
        assert_eq!(shapes.sweep(), 1);
        drop((a, b));
        assert_eq!(shapes.sweep(), 0);
    }
}
