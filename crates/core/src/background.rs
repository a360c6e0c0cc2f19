//! The core's background work: writing idle clocks behind, following the
//! invalidation log, and sweeping dead sessions out of memory and store.

use crate::Core;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_store::Invalidation;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// How often idle clocks are written to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How often the invalidation log is read when nothing wakes the reader.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How often the SQLite WAL is copied into the database beside the writer.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// How often the node's freshness is reviewed.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);
/// How often dead sessions are swept.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// How long ended sessions stay in the store (so a late token is told
/// "expired", not "unknown").
pub const KEEP_ENDED: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long invalidations stay in the log.
pub const KEEP_INVALIDATIONS: Duration = Duration::from_secs(3600);
/// After losing the log for this long, a node drops its whole cache.
const LOST_TRACK_AFTER: Duration = Duration::from_secs(300);

/// The running background tasks; `stop` ends them after a final flush.
pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts the background tasks for `core`.
pub async fn start(core: Arc<Core>) -> Background {
    let (stop, stopped) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let cursor = match core.store.latest_invalidation_id().await {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the invalidation log; following it from the start");
            0
        }
    };
    let listener = {
        let (core, wake) = (core.clone(), wake.clone());
        tokio::spawn(async move { core.store.listen_invalidations(wake).await })
    };
    let mut tasks = vec![
        tokio::spawn(watchdog(core.clone(), stopped.clone())),
        tokio::spawn(flusher(core.clone(), stopped.clone())),
        tokio::spawn(follower(core.clone(), wake, cursor, stopped.clone(), listener)),
        tokio::spawn(sweeper(core.clone(), stopped.clone())),
    ];
    if core.store.backend() == tessera_store::Backend::Sqlite {
        tasks.push(tokio::spawn(checkpointer(core, stopped)));
    }
    Background { stop, tasks }
}

/// A periodic task's clock: `next` waits for its next turn and says
/// whether the server is stopping instead. A turn that ran long delays the
/// next rather than bunching them.
struct Ticks {
    tick: tokio::time::Interval,
    stopped: watch::Receiver<bool>,
}

impl Ticks {
    fn every(period: Duration, stopped: watch::Receiver<bool>) -> Ticks {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ticks { tick, stopped }
    }

    /// `true` on a turn, `false` when stopping.
    async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.tick.tick() => true,
            _ = self.stopped.changed() => false,
        }
    }
}

/// Re-evaluates the node's freshness a few times a second, so the hot path
/// reads one flag and a node whose store reads hang still turns stale.
async fn watchdog(core: Arc<Core>, stopped: watch::Receiver<bool>) {
    let mut ticks = Ticks::every(WATCH_EVERY, stopped);
    while ticks.next().await {
        core.freshness.review();
    }
}

async fn flusher(core: Arc<Core>, stopped: watch::Receiver<bool>) {
    let mut ticks = Ticks::every(FLUSH_EVERY, stopped);
    loop {
        // One last flush when stopping.
        let stopping = !ticks.next().await;
        if let Err(e) = core.flush_idle_clocks().await {
            tracing::warn!(error = %e, "writing idle clocks failed; will retry");
        }
        if stopping {
            return;
        }
    }
}

async fn follower(
    core: Arc<Core>,
    wake: Arc<Notify>,
    cursor: i64,
    mut stopped: watch::Receiver<bool>,
    listener: JoinHandle<()>,
) {
    let mut last_ok = Instant::now();
    let mut log = LogCursor::new(cursor);
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL_EVERY) => {}
            _ = stopped.changed() => { listener.abort(); return; }
        }
        core.freshness.attempting();
        match core.store.invalidations_after(log.from(), 1000).await {
            Ok(batch) => {
                if last_ok.elapsed() > LOST_TRACK_AFTER {
                    tracing::warn!(
                        "the invalidation log was out of reach for a while; dropping every cached session"
                    );
                    core.cache.clear();
                }
                last_ok = Instant::now();
                let full = batch.len() == 1000;
                let mut new = 0;
                for (id, inv) in batch {
                    if !log.take(id) {
                        continue;
                    }
                    new += 1;
                    core.cache.apply(&inv);
                    if inv == Invalidation::Keys {
                        if let Err(e) = core.keys.reload(core.now()).await {
                            tracing::warn!(error = %e, "reloading signing keys failed");
                        }
                    }
                }
                log.advance(Instant::now());
                if full && new > 0 {
                    wake.notify_one();
                } else {
                    // Caught up with everything committed: the cache is current.
                    core.freshness.heard();
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the invalidation log failed; will retry"),
        }
    }
}

/// Copies the SQLite WAL into the database every `CHECKPOINT_EVERY`, on a
/// connection of its own, so that the writer's commits rarely carry a
/// checkpoint (and its fsync) themselves.
async fn checkpointer(core: Arc<Core>, stopped: watch::Receiver<bool>) {
    let mut ticks = Ticks::every(CHECKPOINT_EVERY, stopped);
    while ticks.next().await {
        match core.store.checkpoint().await {
            Ok(pages) if pages > 0 => tracing::trace!(pages, "checkpointed the WAL"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "checkpointing the WAL failed; will retry"),
        }
    }
}

async fn sweeper(core: Arc<Core>, stopped: watch::Receiver<bool>) {
    let mut ticks = Ticks::every(SWEEP_EVERY, stopped);
    while ticks.next().await {
        let now = core.now();
        let live = core.cache.sweep(now);
        tracing::debug!(cached_sessions = live, "swept the session cache");
        if let Err(e) = core.store.purge_sessions(now.minus(KEEP_ENDED)).await {
            tracing::warn!(error = %e, "purging ended sessions failed");
        }
        if let Err(e) = core
            .store
            .purge_invalidations(now.minus(KEEP_INVALIDATIONS))
            .await
        {
            tracing::warn!(error = %e, "purging the invalidation log failed");
        }
    }
}

/// How long an id missing from the invalidation log is waited for. On
/// PostgreSQL ids come from a sequence, taken at insert and visible at
/// commit: a transaction holding id N may commit after N+1 was read. A gap
/// older than this is a rolled-back insert (ids are never reused).
const GAP_GRACE: Duration = Duration::from_secs(30);
/// At most this many ids applied past an open gap (well under a read's
/// 1000), so the reads that wait for the gap still reach new ids.
const MAX_AHEAD: usize = 500;

/// Where the follower reads the invalidation log from: the highest id
/// below which every id was seen or given up on, plus what was applied
/// past it and the gaps still waited for.
struct LogCursor {
    /// Every id up to here has been applied (or waited for long enough).
    done: i64,
    /// Ids past `done` already applied (read again while a gap is open).
    applied: std::collections::BTreeSet<i64>,
    /// Ids past `done` not seen yet, and since when they are missing.
    gaps: std::collections::BTreeMap<i64, Instant>,
}

impl LogCursor {
    fn new(done: i64) -> Self {
        LogCursor {
            done,
            applied: Default::default(),
            gaps: Default::default(),
        }
    }

    /// Where the next read starts (exclusive).
    fn from(&self) -> i64 {
        self.done
    }

    /// Whether `id` is new (to be applied); remembers it either way.
    fn take(&mut self, id: i64) -> bool {
        if id <= self.done {
            return false;
        }
        self.gaps.remove(&id);
        self.applied.insert(id)
    }

    /// Notes the ids missing below the highest applied one, and moves
    /// `done` past every id seen and every gap waited on long enough.
    fn advance(&mut self, now: Instant) {
        let Some(&top) = self.applied.iter().next_back() else {
            return;
        };
        let mut id = self.done + 1;
        while id < top {
            if !self.applied.contains(&id) {
                self.gaps.entry(id).or_insert(now);
            }
            id += 1;
        }
        loop {
            let next = self.done + 1;
            if self.applied.remove(&next) {
                self.done = next;
                continue;
            }
            // So much applied behind a gap that re-reading it all would
            // fill every read: give the gap up.
            if self.applied.len() > MAX_AHEAD {
                self.gaps.remove(&next);
                self.done = next;
                continue;
            }
            match self.gaps.get(&next) {
                Some(since) if now.duration_since(*since) > GAP_GRACE => {
                    self.gaps.remove(&next);
                    self.done = next;
                }
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_committed_late_is_still_applied_and_a_stale_gap_is_given_up() {
        let t0 = Instant::now();
        let mut log = LogCursor::new(10);
        // 11 is not visible yet; 12 is.
        assert!(log.take(12));
        log.advance(t0);
        assert_eq!(log.from(), 10, "the read keeps starting before the gap");
        // 12 is read again: not applied twice; then 11 commits.
        assert!(!log.take(12));
        assert!(log.take(11));
        log.advance(t0);
        assert_eq!(log.from(), 12);
        // 13 never commits (rolled back): given up after the grace.
        assert!(log.take(14));
        log.advance(t0);
        assert_eq!(log.from(), 12);
        log.advance(t0 + GAP_GRACE + Duration::from_secs(1));
        assert_eq!(log.from(), 14);
    }
}
