//! Which accepted connections are served: at most `max_connections` at
//! once, a cap kept below what the open-file limit allows so that `accept`
//! never runs out of descriptors. At the cap a newcomer takes the place of
//! the oldest connection with nothing in flight (a silent one first); only
//! when every connection is busy is it refused. Also: log lines that an
//! accept storm could repeat, at most once a second with a count.

use super::tracking::ConnState;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Descriptors kept for everything but client connections: the store
/// (SQLite files or PostgreSQL sockets), logs, LDAP, certificates.
const RESERVED_FDS: u64 = 128;
/// The soft open-file limit is raised to the hard one, up to this.
const MOST_FDS: u64 = 1 << 20;
/// How long a newcomer waits for an evicted connection to let go.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// A connection let in: its shared state and its place under the cap.
#[derive(Debug)]
pub struct Admitted {
    pub state: Arc<ConnState>,
    _permit: OwnedSemaphorePermit,
}

/// The cap and the connections under it (owned by the accept loop).
#[derive(Debug)]
pub struct Admission {
    cap: usize,
    permits: Arc<Semaphore>,
    /// Connections in accept order; entries of closed ones are skipped and
    /// swept out now and then.
    open: VecDeque<Weak<ConnState>>,
    evicted: Every,
    refused: Every,
}

impl Admission {
    pub fn new(cap: usize) -> Admission {
        Admission {
            cap,
            permits: Arc::new(Semaphore::new(cap)),
            open: VecDeque::with_capacity(cap.min(4096)),
            evicted: Every::second(),
            refused: Every::second(),
        }
    }

    /// A place for a connection just accepted, or `None`: refuse it.
    pub async fn admit(&mut self) -> Option<Admitted> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !self.evict_one() {
                    if let Some(n) = self.refused.hit() {
                        tracing::warn!(
                            refused = n,
                            max_connections = self.cap,
                            "connection limit reached with every connection busy; refusing new ones"
                        );
                    }
                    return None;
                }
                match tokio::time::timeout(EVICTION_WAIT, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => return None,
                }
            }
        };
        let state = Arc::new(ConnState::new());
        if self.open.len() >= 2 * self.cap {
            self.open.retain(|c| c.strong_count() > 0);
        }
        self.open.push_back(Arc::downgrade(&state));
        Some(Admitted {
            state,
            _permit: permit,
        })
    }

    /// Closes the oldest connection that never sent a request, else the
    /// oldest with nothing in flight. False when every one is busy.
    fn evict_one(&mut self) -> bool {
        while self.open.front().is_some_and(|c| c.strong_count() == 0) {
            self.open.pop_front();
        }
        let pick = |silent_only: bool| {
            self.open
                .iter()
                .filter_map(Weak::upgrade)
                .find(|c| c.evictable(silent_only))
        };
        let Some(victim) = pick(true).or_else(|| pick(false)) else {
            return false;
        };
        victim.evict();
        if let Some(n) = self.evicted.hit() {
            tracing::info!(
                closed = n,
                max_connections = self.cap,
                "connection limit reached; closing idle connections to make room"
            );
        }
        true
    }

    /// Waits until every connection has ended, for at most `within`.
    pub async fn drain(&self, within: Duration) -> bool {
        let all = u32::try_from(self.cap).unwrap_or(u32::MAX);
        tokio::time::timeout(within, self.permits.acquire_many(all))
            .await
            .is_ok()
    }
}

/// Counts events and says when to log them: at most once per period.
#[derive(Debug)]
pub struct Every {
    period: Duration,
    last: Option<Instant>,
    count: u64,
}

impl Every {
    pub fn second() -> Every {
        Every {
            period: Duration::from_secs(1),
            last: None,
            count: 0,
        }
    }

    /// One more event; `Some(events since the last report)` when it is time
    /// to report.
    pub fn hit(&mut self) -> Option<u64> {
        self.count += 1;
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < self.period) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.count))
    }
}

/// The connection cap: `max_connections`, lowered to what `open_files`
/// descriptors allow once `RESERVED_FDS` are set aside, counting two per
/// connection when the gateway may open an upstream socket for each.
pub fn connection_cap(max_connections: u32, open_files: Option<u64>, proxies: bool) -> usize {
    let configured = u64::from(max_connections);
    let cap = match open_files {
        None => configured,
        Some(n) => {
            let per_connection = if proxies { 2 } else { 1 };
            let by_files = n.saturating_sub(RESERVED_FDS) / per_connection;
            configured.min(by_files.max(1))
        }
    };
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// The open-file limit this process runs under, after raising the soft
/// limit to the hard one (what Go does at start): `None` when unlimited or
/// unknown.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        let soft = limit.current?;
        let want = limit.maximum.unwrap_or(MOST_FDS).min(MOST_FDS);
        if soft < want {
            let raised = Rlimit {
                current: Some(want),
                maximum: limit.maximum,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => return Some(want),
                Err(e) => tracing::debug!(error = %e, soft, want, "could not raise the open-file limit"),
            }
        }
        Some(soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_open_file_limit() {
        assert_eq!(connection_cap(4096, None, true), 4096);
        assert_eq!(connection_cap(4096, Some(1 << 20), true), 4096);
        // systemd's default soft limit, with and without a gateway.
        assert_eq!(connection_cap(4096, Some(1024), true), 448);
        assert_eq!(connection_cap(4096, Some(1024), false), 896);
        assert_eq!(connection_cap(50, Some(256), true), 50);
        assert_eq!(connection_cap(4096, Some(256), true), 64);
        assert_eq!(connection_cap(4096, Some(100), true), 1);
    }

    #[test]
    fn reports_come_at_most_once_a_period_with_the_count() {
        let mut every = Every::second();
        assert_eq!(every.hit(), Some(1));
        assert_eq!(every.hit(), None);
        assert_eq!(every.hit(), None);
        every.last = Some(Instant::now() - Duration::from_secs(2));
        assert_eq!(every.hit(), Some(3));
    }

    #[tokio::test]
    async fn at_the_cap_a_silent_connection_makes_room_then_an_idle_one_and_busy_ones_refuse() {
        use super::super::tracking::InFlight;
        let v11 = hyper::Version::HTTP_11;
        let mut admission = Admission::new(2);
        let silent = admission.admit().await.unwrap();
        let kept = admission.admit().await.unwrap();
        let busy = InFlight::start(&kept.state, v11);
        // Full: the silent one is told to go, and its task lets go.
        let gone = tokio::spawn(async move {
            silent.state.evict.notified().await;
            drop(silent);
        });
        let newcomer = admission.admit().await.unwrap();
        gone.await.unwrap();
        // Full, the newcomer busy and `kept` idle after its request: `kept` goes.
        let _newcomer_busy = InFlight::start(&newcomer.state, v11);
        drop(busy);
        let gone = tokio::spawn(async move {
            kept.state.evict.notified().await;
            drop(kept);
        });
        let last = admission.admit().await.unwrap();
        gone.await.unwrap();
        // Every connection busy: refused at once.
        let _last_busy = InFlight::start(&last.state, v11);
        assert!(admission.admit().await.is_none());
    }
}
