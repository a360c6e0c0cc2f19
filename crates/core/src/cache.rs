//! The session cache on the token-check path. A validated session is
//! answered from memory: no store round trip, no global lock (sharded
//! maps, atomics). Idle clocks live here and are written behind in
//! batches. Entries are dropped by local changes at once and by other
//! nodes' changes through the invalidation log.

mod entry;

pub use entry::{CachedSession, SessionShape, Shapes};

use dashmap::DashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_model::session::TokenHash;
use tessera_model::{
    Client, ClientId, Domain, DomainId, RoleGrant, Session, SessionId, Timestamp, User, UserId,
};
use tessera_store::Invalidation;
use tokio::sync::mpsc;

/// A user as validation needs them.
#[derive(Debug, Clone)]
pub struct UserState {
    pub user: User,
    pub roles: Vec<RoleGrant>,
    /// `roles`' enabled names, computed once when the state is made.
    names: RoleNames,
}

impl UserState {
    pub fn new(user: User, roles: Vec<RoleGrant>) -> Self {
        let names = RoleNames::of(&roles);
        UserState { user, roles, names }
    }

    /// The enabled roles' names, sorted, each once.
    pub fn role_names(&self) -> &RoleNames {
        &self.names
    }
}

/// A domain as validation needs it.
#[derive(Debug, Clone)]
pub struct DomainState {
    pub domain: Domain,
}

/// A client as client authentication and validation need it.
#[derive(Debug, Clone)]
pub struct ClientState {
    pub client: Client,
    pub roles: Vec<RoleGrant>,
    /// `roles`' enabled names, computed once when the state is made.
    names: RoleNames,
}

impl ClientState {
    pub fn new(client: Client, roles: Vec<RoleGrant>) -> Self {
        let names = RoleNames::of(&roles);
        ClientState { client, roles, names }
    }

    /// The enabled roles' names, sorted, each once.
    pub fn role_names(&self) -> &RoleNames {
        &self.names
    }
}

/// The names of the enabled roles a user or client holds (wherever each
/// applies), sorted and each once, plus the same joined by commas as the
/// `X-Tessera-Roles` header carries them. Made when a user or client is
/// cached, so a token check neither allocates nor sorts them.
#[derive(Debug, Clone, Default)]
pub struct RoleNames {
    /// Comma-separated, sorted.
    joined: String,
    /// Where each name ends in `joined`.
    ends: Vec<u32>,
}

impl RoleNames {
    fn of(grants: &[RoleGrant]) -> Self {
        let mut names: Vec<&str> = grants
            .iter()
            .filter(|g| g.role.enabled)
            .map(|g| g.role.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut joined = String::with_capacity(names.iter().map(|n| n.len() + 1).sum());
        let mut ends = Vec::with_capacity(names.len());
        for n in names {
            if !joined.is_empty() {
                joined.push(',');
            }
            joined.push_str(n);
            ends.push(joined.len() as u32);
        }
        RoleNames { joined, ends }
    }

    /// The names, comma-separated (empty when none).
    pub fn joined(&self) -> &str {
        &self.joined
    }

    /// The names, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0usize;
        self.ends.iter().map(move |&end| {
            let name = &self.joined[start..end as usize];
            start = end as usize + 1;
            name
        })
    }

    /// Whether `role` is one of the names (exact match).
    pub fn contains(&self, role: &str) -> bool {
        self.iter().any(|n| n == role)
    }
}

/// Token hashes are already uniformly random: their first eight bytes are
/// a perfectly good hash, and much cheaper than SipHash.
#[derive(Default)]
pub struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8).take(1) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
}

/// Why a token is refused for good: no later check can find it valid, so
/// the refusal may be remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No session has this token (tokens are random: it never will).
    Unknown,
    Revoked,
    Expired,
}

/// At most this many refused tokens are remembered (about 50 bytes each:
/// a few MB). Past it, half are forgotten, which costs each of those one
/// store round trip more.
pub const MAX_REFUSED: usize = 100_000;

/// How long a dropped token stays refused by the cache's loaders.
const TOMBSTONE_TTL: Duration = Duration::from_secs(60);

/// One store read of a session, shared by every check waiting for it.
pub type Flight = Arc<tokio::sync::OnceCell<Option<Arc<CachedSession>>>>;

type TokenMap = DashMap<TokenHash, Arc<CachedSession>, BuildHasherDefault<PrehashedHasher>>;

/// The hash of the maps keyed by ids and names: foldhash, seeded per
/// process (hashbrown's default), several times cheaper than SipHash on
/// the short keys every token check looks up (user and domain).
type IdHash = foldhash::fast::RandomState;

/// The caches of one node.
pub struct SessionCache {
    sessions: TokenMap,
    /// What cached sessions share (see [`SessionShape`]).
    shapes: Shapes,
    users: DashMap<UserId, Arc<UserState>, IdHash>,
    domains: DashMap<DomainId, Arc<DomainState>, IdHash>,
    /// Lowercased domain name to id (names never change).
    domain_names: DashMap<String, DomainId, IdHash>,
    clients: DashMap<ClientId, Arc<ClientState>, IdHash>,
    /// Bumped by every invalidation of more than one token; a load that
    /// raced one is not cached.
    generation: AtomicU64,
    /// Tokens dropped one by one, recently: a load of one of them that
    /// raced its revocation is not cached. Kept for `TOMBSTONE_TTL`.
    tombstones: DashMap<TokenHash, Instant, BuildHasherDefault<PrehashedHasher>>,
    /// Tokens refused for good, so checks of them touch no store
    /// (bounded by `MAX_REFUSED`).
    refused: DashMap<TokenHash, Refused, BuildHasherDefault<PrehashedHasher>>,
    /// Which half of `refused` goes next when it is full.
    refused_evictions: AtomicU64,
    /// Store reads of sessions in flight, one per token: concurrent
    /// checks of a token the cache does not hold wait for the first.
    flights: DashMap<TokenHash, Flight, BuildHasherDefault<PrehashedHasher>>,
    dirty_tx: mpsc::UnboundedSender<Arc<CachedSession>>,
    dirty_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Arc<CachedSession>>>,
}

impl Default for SessionCache {
    fn default() -> Self {
        let (dirty_tx, dirty_rx) = mpsc::unbounded_channel();
        SessionCache {
            sessions: TokenMap::default(),
            shapes: Shapes::default(),
            users: DashMap::default(),
            domains: DashMap::default(),
            domain_names: DashMap::default(),
            clients: DashMap::default(),
            generation: AtomicU64::new(0),
            tombstones: DashMap::default(),
            refused: DashMap::default(),
            refused_evictions: AtomicU64::new(0),
            flights: DashMap::default(),
            dirty_tx,
            dirty_rx: tokio::sync::Mutex::new(dirty_rx),
        }
    }
}

impl SessionCache {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn session(&self, hash: &TokenHash) -> Option<Arc<CachedSession>> {
        self.sessions.get(hash).map(|e| e.value().clone())
    }

    /// A cache entry for `session`, sharing its shape with alike sessions
    /// (not cached yet: see [`SessionCache::put_session`]).
    pub fn entry(&self, session: Session) -> Arc<CachedSession> {
        Arc::new(CachedSession::interned(session, &self.shapes))
    }

    /// Caches a session loaded or issued; `generation` is the value read
    /// before loading it. A stale load is not cached: one that raced an
    /// invalidation of many tokens (`generation` moved) or the drop of
    /// this one (a tombstone). The check and the insert happen under the
    /// lock of the key's shard, which [`SessionCache::drop_session`] and
    /// [`SessionCache::apply`] also take after marking their drop, so a
    /// drop racing a fill never leaves the dropped session cached.
    /// Returns whether it was cached.
    pub fn put_session(&self, hash: TokenHash, s: Arc<CachedSession>, generation: u64) -> bool {
        let slot = self.sessions.entry(hash);
        if self.generation() != generation || self.tombstones.contains_key(&hash) {
            return false;
        }
        slot.insert(s);
        true
    }

    pub fn user(&self, id: &UserId) -> Option<Arc<UserState>> {
        self.users.get(id).map(|e| e.value().clone())
    }

    pub fn put_user(&self, state: Arc<UserState>, generation: u64) {
        if self.generation() == generation {
            self.users.insert(state.user.id.clone(), state);
        }
    }

    pub fn domain(&self, id: &DomainId) -> Option<Arc<DomainState>> {
        self.domains.get(id).map(|e| e.value().clone())
    }

    /// The id of the domain called `name` (any case), when known.
    pub fn domain_id_by_name(&self, name: &str) -> Option<DomainId> {
        self.domain_names
            .get(&name.to_ascii_lowercase())
            .map(|e| e.value().clone())
    }

    pub fn put_domain(&self, state: Arc<DomainState>, generation: u64) {
        self.domain_names
            .insert(state.domain.name.to_ascii_lowercase(), state.domain.id.clone());
        if self.generation() == generation {
            self.domains.insert(state.domain.id.clone(), state);
        }
    }

    pub fn client(&self, id: &ClientId) -> Option<Arc<ClientState>> {
        self.clients.get(id).map(|e| e.value().clone())
    }

    pub fn put_client(&self, state: Arc<ClientState>, generation: u64) {
        if self.generation() == generation {
            self.clients.insert(state.client.id.clone(), state);
        }
    }

    /// The store read of `hash` in flight, joined, or a new one.
    pub fn flight(&self, hash: TokenHash) -> Flight {
        self.flights.entry(hash).or_default().value().clone()
    }

    /// A read of `hash` is over: later checks find its result cached (or
    /// refused) and need no flight.
    pub fn land(&self, hash: &TokenHash, flight: &Flight) {
        self.flights.remove_if(hash, |_, f| Arc::ptr_eq(f, flight));
    }

    /// Why `hash` was refused for good, if it was and is still remembered.
    pub fn refused(&self, hash: &TokenHash) -> Option<Refused> {
        self.refused.get(hash).map(|e| *e.value())
    }

    /// Remembers a refusal for good. When full, half the remembered
    /// refusals (by a bit of the hash, alternating) are forgotten first.
    pub fn remember_refused(&self, hash: TokenHash, why: Refused) {
        if self.refused.len() >= MAX_REFUSED {
            let round = self.refused_evictions.fetch_add(1, Ordering::Relaxed);
            let drop_bit = u8::from(round % 2 == 1);
            self.refused.retain(|k, _| k.0[31] & 1 != drop_bit);
        }
        self.refused.insert(hash, why);
    }

    /// How many refusals are remembered.
    pub fn refused_len(&self) -> usize {
        self.refused.len()
    }

    /// Records a use; queues the session for the next idle-clock write.
    pub fn touch(&self, s: &Arc<CachedSession>, at: Timestamp) {
        if s.idle_timeout().is_some() && s.note_use(at) {
            // The receiver lives as long as the cache; a send cannot fail.
            let _ = self.dirty_tx.send(s.clone());
        }
    }

    /// Takes the queued idle clocks: (session, clock) pairs to write.
    pub async fn take_dirty(&self) -> Vec<(SessionId, Timestamp)> {
        let mut rx = self.dirty_rx.lock().await;
        let mut out = Vec::new();
        while let Ok(s) = rx.try_recv() {
            out.push(s.flushed());
        }
        out
    }

    /// Drops whatever `inv` names.
    pub fn apply(&self, inv: &Invalidation) {
        if let Invalidation::Token(hex) = inv {
            if let Some(hash) = parse_hex(hex) {
                self.drop_session(&hash);
            }
            return;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        match inv {
            Invalidation::Token(_) => {}
            Invalidation::UserSessions(uid) => {
                self.sessions
                    .retain(|_, s| s.user_id().map(UserId::as_str) != Some(uid.as_str()));
            }
            Invalidation::User(uid) => {
                self.users.retain(|k, _| k.as_str() != uid);
            }
            Invalidation::Domain(did) => {
                self.domains.retain(|k, _| k.as_str() != did);
            }
            Invalidation::Client(cid) => {
                self.clients.retain(|k, _| k.as_str() != cid);
                self.sessions
                    .retain(|_, s| s.client_id().map(ClientId::as_str) != Some(cid.as_str()));
            }
            Invalidation::Keys => {}
        }
    }

    /// Drops one session at once (a local revocation or rotation). The
    /// tombstone goes first, so a fill that has not taken the shard lock
    /// yet sees it, and one that has is removed here after it.
    pub fn drop_session(&self, hash: &TokenHash) {
        self.tombstones.insert(*hash, Instant::now());
        self.sessions.remove(hash);
    }

    /// Drops everything (after losing track of the invalidation log).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.sessions.clear();
        self.users.clear();
        self.domains.clear();
        self.domain_names.clear();
        self.clients.clear();
    }

    /// Drops sessions that have died by `now`, old tombstones and shapes
    /// no session uses any more. Returns how many sessions are left.
    pub fn sweep(&self, now: Timestamp) -> usize {
        self.tombstones.retain(|_, at| at.elapsed() < TOMBSTONE_TTL);
        self.sessions
            .retain(|_, s| !s.is_revoked() && s.dies_at().is_none_or(|t| t > now));
        self.shapes.sweep();
        self.sessions.len()
    }

    /// How many distinct session shapes are held.
    pub fn shapes_len(&self) -> usize {
        self.shapes.len()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

fn parse_hex(hex: &str) -> Option<TokenHash> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(TokenHash(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_model::{TokenFormat, TokenKind};

    fn session(idle: Option<i64>) -> Session {
        Session {
            id: SessionId::from_bytes([1; 16]),
            token_hash: None,
            kind: TokenKind::Access,
            format: TokenFormat::Opaque,
            user_id: Some(UserId::from_bytes([2; 16])),
            client_id: None,
            domain_id: None,
            door: "oauth2".into(),
            policy: "p".into(),
            scope: "read".into(),
            family_id: None,
            auth_time: Timestamp(0),
            created_at: Timestamp(0),
            last_used_at: Timestamp(0),
            expires_at: Some(Timestamp(100_000)),
            idle_timeout_ms: idle,
            revoked_at: None,
            revoke_reason: None,
            previous_hash: None,
        }
    }

    #[tokio::test]
    async fn idle_clocks_are_queued_once_per_flush_and_only_move_forward() {
        let cache = SessionCache::default();
        let s = Arc::new(CachedSession::new(session(Some(10_000))));
        cache.touch(&s, Timestamp(5));
        cache.touch(&s, Timestamp(9));
        cache.touch(&s, Timestamp(7));
        assert_eq!(cache.take_dirty().await, vec![(s.id(), Timestamp(9))]);
        assert!(cache.take_dirty().await.is_empty());
        cache.touch(&s, Timestamp(11));
        assert_eq!(cache.take_dirty().await.len(), 1);
        assert_eq!(s.dies_at(), Some(Timestamp(10_011)));
    }

    #[test]
    fn sessions_without_an_idle_limit_are_never_queued() {
        let cache = SessionCache::default();
        let s = Arc::new(CachedSession::new(session(None)));
        cache.touch(&s, Timestamp(5));
        assert_eq!(s.dies_at(), Some(Timestamp(100_000)));
    }

    #[test]
    fn invalidations_drop_what_they_name_and_stale_loads_are_not_cached() {
        let cache = SessionCache::default();
        let hash = TokenHash([0xab; 32]);
        let g = cache.generation();
        cache.put_session(hash, Arc::new(CachedSession::new(session(None))), g);
        assert!(cache.session(&hash).is_some());
        cache.apply(&Invalidation::Token("ab".repeat(32)));
        assert!(cache.session(&hash).is_none());
        // A load that started before the invalidation is not cached.
        cache.put_session(hash, Arc::new(CachedSession::new(session(None))), g);
        assert!(cache.session(&hash).is_none());
        let g = cache.generation();
        cache.put_session(hash, Arc::new(CachedSession::new(session(None))), g);
        cache.apply(&Invalidation::UserSessions(
            UserId::from_bytes([2; 16]).to_string(),
        ));
        assert!(cache.is_empty());
    }

    #[test]
    fn remembered_refusals_stay_bounded() {
        let cache = SessionCache::default();
        for i in 0..(MAX_REFUSED + 10) {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(i as u64).to_le_bytes());
            h[31] = (i % 251) as u8;
            cache.remember_refused(TokenHash(h), Refused::Unknown);
        }
        assert!(cache.refused_len() <= MAX_REFUSED, "{}", cache.refused_len());
        assert!(cache.refused_len() > MAX_REFUSED / 4);
    }

    #[test]
    fn sweeping_keeps_only_live_sessions() {
        let cache = SessionCache::default();
        cache.put_session(
            TokenHash([1; 32]),
            Arc::new(CachedSession::new(session(Some(1_000)))),
            0,
        );
        cache.put_session(TokenHash([2; 32]), Arc::new(CachedSession::new(session(None))), 0);
        assert_eq!(cache.sweep(Timestamp(5_000)), 1);
        assert_eq!(cache.sweep(Timestamp(100_000)), 0);
    }
}
