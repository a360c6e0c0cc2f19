//! A small pool of connections to one directory: at most `pool_size` in
//! use at once, idle ones kept for the next login, every connect and every
//! operation bounded by the configured timeouts. A connection that failed
//! is dropped, never returned, so a directory that comes back is used
//! again without a restart.

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a directory operation did not give an answer.
#[derive(Debug)]
pub enum DirError {
    /// No answer: connection refused or reset, a timeout, TLS failed.
    Unavailable(String),
    /// The directory answered an operation with a non-zero result code.
    Refused { rc: u32, text: String },
}

impl std::fmt::Display for DirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirError::Unavailable(why) => write!(f, "no answer: {why}"),
            DirError::Refused { rc, text } => write!(f, "result code {rc} ({text})"),
        }
    }
}

impl From<LdapError> for DirError {
    fn from(e: LdapError) -> Self {
        match e {
            LdapError::LdapResult { result } => DirError::Refused {
                rc: result.rc,
                text: result.text,
            },
            other => DirError::Unavailable(other.to_string()),
        }
    }
}

/// The timeouts and size of every directory pool.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect: Duration,
    pub operation: Duration,
    pub size: usize,
}

/// Connections to one directory URL.
pub struct Pool {
    url: String,
    starttls: bool,
    tls: Option<Arc<rustls::ClientConfig>>,
    limits: Limits,
    idle: Mutex<Vec<Ldap>>,
    permits: Arc<Semaphore>,
}

/// One connection on loan, with its place in the pool.
struct Lease {
    ldap: Ldap,
    reused: bool,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub fn new(url: String, starttls: bool, tls: Option<Arc<rustls::ClientConfig>>, limits: Limits) -> Pool {
        Pool {
            url,
            starttls,
            tls,
            permits: Arc::new(Semaphore::new(limits.size.max(1))),
            limits,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The longest one operation may take.
    pub fn operation_timeout(&self) -> Duration {
        self.limits.operation
    }

    /// Runs `work` on a pooled connection. Each `work` starts with a bind,
    /// so whom a reused connection was bound as does not matter. When a
    /// reused connection turns out dead (the directory restarted), the
    /// idle ones are dropped and `work` runs once more on a new one.
    pub async fn run<T, F, Fut>(&self, work: F) -> Result<T, DirError>
    where
        F: Fn(Ldap, Duration) -> Fut,
        Fut: Future<Output = Result<T, DirError>>,
    {
        let lease = self.lease(true).await?;
        match self.attempt(lease, &work).await {
            Err((DirError::Unavailable(why), true)) => {
                tracing::debug!(url = %self.url, %why, "a pooled LDAP connection was dead; reconnecting");
                self.drain();
                let lease = self.lease(false).await?;
                self.attempt(lease, &work).await.map_err(|(e, _)| e)
            }
            other => other.map_err(|(e, _)| e),
        }
    }

    async fn attempt<T, F, Fut>(&self, lease: Lease, work: &F) -> Result<T, (DirError, bool)>
    where
        F: Fn(Ldap, Duration) -> Fut,
        Fut: Future<Output = Result<T, DirError>>,
    {
        let op = self.limits.operation;
        // The whole piece of work is bounded too (a few operations).
        let outcome = match tokio::time::timeout(op * 4, work(lease.ldap.clone(), op)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(DirError::Unavailable(format!(
                "no answer within {} ms",
                (op * 4).as_millis()
            ))),
        };
        match outcome {
            Ok(v) => {
                self.give_back(lease);
                Ok(v)
            }
            // The directory answered: the connection is fine.
            Err(e @ DirError::Refused { .. }) => {
                self.give_back(lease);
                Err((e, false))
            }
            Err(e) => Err((e, lease.reused)),
        }
    }

    fn give_back(&self, lease: Lease) {
        let mut ldap = lease.ldap;
        if ldap.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.limits.size {
                idle.push(ldap);
            }
        }
    }

    fn drain(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    async fn lease(&self, may_reuse: bool) -> Result<Lease, DirError> {
        let wait = self.limits.connect + self.limits.operation;
        let permit = match tokio::time::timeout(wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(DirError::Unavailable("the connection pool is closed".into())),
            Err(_) => {
                return Err(DirError::Unavailable(format!(
                    "all {} connections stayed busy for {} ms",
                    self.limits.size,
                    wait.as_millis()
                )))
            }
        };
        if may_reuse {
            let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            if let Some(mut ldap) = reused {
                if !ldap.is_closed() {
                    return Ok(Lease {
                        ldap,
                        reused: true,
                        _permit: permit,
                    });
                }
            }
        }
        let ldap = self.connect().await?;
        Ok(Lease {
            ldap,
            reused: false,
            _permit: permit,
        })
    }

    /// Opens a connection (TCP, then TLS or StartTLS) within the connect
    /// timeout; its driver runs on its own task until it closes.
    async fn connect(&self) -> Result<Ldap, DirError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.limits.connect)
            .set_starttls(self.starttls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        let connecting = LdapConnAsync::with_settings(settings, &self.url);
        let (conn, ldap) = match tokio::time::timeout(self.limits.connect, connecting).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => {
                return Err(DirError::Unavailable(format!(
                    "cannot connect to {}: {e}",
                    self.url
                )))
            }
            Err(_) => {
                return Err(DirError::Unavailable(format!(
                    "cannot connect to {} within {} ms",
                    self.url,
                    self.limits.connect.as_millis()
                )))
            }
        };
        let url = self.url.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(%url, error = %e, "LDAP connection ended");
            }
        });
        Ok(ldap)
    }
}
