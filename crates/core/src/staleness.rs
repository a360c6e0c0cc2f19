//! How fresh this node's view of the cluster is (SPEC §6). The cache is
//! trusted only while the store's invalidation log is being read: a node
//! that has not read it for longer than `[cluster] max_staleness` may have
//! missed revocations made on other nodes, so it refuses cached tokens with
//! 503 until it hears again. Measured on the monotonic clock (real
//! connectivity, not token time), and kept as one flag the hot path reads.

use crate::error::{AuthError, AuthResult};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The freshness watch of one node.
pub struct Freshness {
    /// The bound (`[cluster] max_staleness`).
    max: Duration,
    /// When this watch started; `heard` counts milliseconds from it.
    origin: Instant,
    /// Milliseconds after `origin` of the last successful read of the
    /// invalidation log.
    heard: AtomicU64,
    /// Milliseconds after `origin` when the last read of the log began.
    attempted: AtomicU64,
    /// Set by [`Freshness::review`] once `heard` is older than `max`.
    stale: AtomicBool,
}

impl Freshness {
    /// A watch that has just heard from the store.
    pub fn new(max: Duration) -> Self {
        Freshness {
            max,
            origin: Instant::now(),
            heard: AtomicU64::new(0),
            attempted: AtomicU64::new(0),
            stale: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn since_heard(&self) -> Duration {
        Duration::from_millis(self.now_ms().saturating_sub(self.heard.load(Ordering::Acquire)))
    }

    /// A read of the invalidation log begins.
    pub fn attempting(&self) {
        self.attempted.store(self.now_ms(), Ordering::Release);
    }

    /// The invalidation log was just read: the cache is current again.
    pub fn heard(&self) {
        self.heard.store(self.now_ms(), Ordering::Release);
        if self.stale.swap(false, Ordering::AcqRel) {
            tracing::info!("heard from the store again; cached tokens are trusted again");
        }
    }

    /// Re-evaluates the flag (the background watchdog, a few times a
    /// second). Returns whether the node is stale.
    pub fn review(&self) -> bool {
        let silent = self.since_heard();
        // Stale only while a read has been tried since the last success: a
        // node that was merely paused (GC, SIGSTOP) has not failed to hear.
        let tried = self.attempted.load(Ordering::Acquire) > self.heard.load(Ordering::Acquire);
        let stale = tried && silent > self.max;
        if stale && !self.stale.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                silent_for_s = silent.as_secs(),
                max_staleness_s = self.max.as_secs(),
                "not heard from the store for longer than [cluster] max_staleness; \
                 refusing cached tokens (503) until it answers again"
            );
        }
        stale
    }

    /// `Err(Stale)` while the node is stale (the hot path: one load).
    ///
    /// Errors: [`AuthError::Stale`] with how long the node has been silent.
    pub fn check(&self) -> AuthResult<()> {
        if self.stale.load(Ordering::Acquire) {
            return Err(AuthError::Stale {
                silent_for: self.since_heard(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_turns_stale_past_its_bound_and_fresh_when_it_hears() {
        let f = Freshness::new(Duration::from_millis(20));
        assert!(!f.review());
        assert!(f.check().is_ok());
        std::thread::sleep(Duration::from_millis(40));
        assert!(!f.review(), "no read was tried: a paused node is not stale");
        f.attempting();
        std::thread::sleep(Duration::from_millis(5));
        f.attempting();
        assert!(f.review());
        assert!(matches!(f.check(), Err(AuthError::Stale { .. })));
        f.heard();
        assert!(f.check().is_ok());
        assert!(!f.review());
    }
}
