//! What a cached session costs in memory (issue 13: a million active
//! sessions in at most 0.5 GiB, at most 400 bytes each): the growth of
//! this process's RSS while a cache fills, a size, not a timing. One
//! measurement per process (memory freed by one would be reused by the
//! next), so this file holds one test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tessera_core::cache::SessionCache;
use tessera_model::session::TokenHash;
use tessera_model::{ClientId, DomainId, Session, SessionId, Timestamp, TokenFormat, TokenKind, UserId};

/// This process's resident memory, in bytes (`VmRSS`).
fn rss() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: i64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

fn id_bytes(i: u64, salt: u8) -> [u8; 16] {
    let mut b = [salt; 16];
    b[..8].copy_from_slice(&i.to_le_bytes());
    b
}

/// An access session as the oauth2 door issues it, for one of `users`.
fn session(i: u64, users: u64) -> (TokenHash, Session) {
    let mut h = [0u8; 32];
    // Token hashes are uniform: spread the counter over the whole hash.
    let mixed = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h[..8].copy_from_slice(&mixed.to_le_bytes());
    h[8..16].copy_from_slice(&i.to_le_bytes());
    let s = Session {
        id: SessionId::from_bytes(id_bytes(i, 1)),
        token_hash: Some(TokenHash(h)),
        kind: TokenKind::Access,
        format: TokenFormat::Opaque,
        user_id: Some(UserId::from_bytes(id_bytes(i % users, 2))),
        client_id: Some(ClientId("simplivity".into())),
        domain_id: Some(DomainId::from_bytes([3; 16])),
        door: "oauth2".into(),
        policy: "oauth2".into(),
        scope: "read write".into(),
        family_id: Some(SessionId::from_bytes(id_bytes(i, 4))),
        auth_time: Timestamp(1_700_000_000_000),
        created_at: Timestamp(1_700_000_000_000),
        last_used_at: Timestamp(1_700_000_000_000),
        expires_at: Some(Timestamp(1_700_086_400_000)),
        idle_timeout_ms: Some(600_000),
        revoked_at: None,
        revoke_reason: None,
        previous_hash: None,
    };
    (TokenHash(h), s)
}

/// Bytes per cached session, filling a cache with `n` sessions of `users`
/// users the way checks fill it (`entry` + `put_session`).
fn bytes_per_session(n: u64, users: u64) -> i64 {
    let cache = SessionCache::default();
    let before = rss();
    for i in 0..n {
        let (hash, s) = session(i, users);
        let e = cache.entry(s);
        assert!(cache.put_session(hash, e, cache.generation()));
    }
    assert_eq!(cache.len(), usize::try_from(n).unwrap_or(0));
    let per = (rss() - before) / i64::try_from(n).unwrap_or(1);
    drop(cache);
    per
}

#[test]
fn a_cached_session_costs_at_most_400_bytes() {
    // A million: the map's slack is what it is at the target's size.
    let many_logins = bytes_per_session(1_000_000, 1_000);
    println!("bytes per cached session (1,000 users): {many_logins}");
    assert!(many_logins <= 400, "{many_logins} bytes per cached session");
}
