//! Prometheus metrics of one node: logins by door and outcome, token
//! checks by outcome, their latencies, lockouts, gateway upstream errors
//! and the size of this node's session cache. The core records; the ops
//! endpoint renders the text.
//!
//! Every labelled series is resolved once, when the registry is built, so
//! recording on the token-check path is an array index and a few atomic
//! adds: no label lookup, no allocation. It also means every series is
//! exported from the start, at 0, so `rate()` sees the first event.

use crate::error::{AuthError, AuthResult};
use crate::Core;
use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use std::time::Duration;

/// The content type of the text exposition format `render` writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The front doors that log people in, in the order of `LOGIN_DOORS`'
/// pre-resolved series.
pub const LOGIN_DOORS: [&str; 4] = ["oauth2", "header-login", "domain-login", "envelope-login"];

/// How a password login ended, as the metrics count it. Finer than what
/// the doors answer: a locked account is refused as invalid credentials,
/// but counted here as `Locked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    InvalidCredentials,
    Locked,
    /// The user or its domain is disabled.
    Disabled,
    /// The password was right but the door refuses the account (a role
    /// it requires).
    Forbidden,
    /// Anything else: the store, a busy hasher, an unreachable directory.
    Error,
}

impl LoginOutcome {
    const ALL: [LoginOutcome; 6] = [
        LoginOutcome::Success,
        LoginOutcome::InvalidCredentials,
        LoginOutcome::Locked,
        LoginOutcome::Disabled,
        LoginOutcome::Forbidden,
        LoginOutcome::Error,
    ];

    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            LoginOutcome::Success => "success",
            LoginOutcome::InvalidCredentials => "invalid_credentials",
            LoginOutcome::Locked => "locked",
            LoginOutcome::Disabled => "disabled",
            LoginOutcome::Forbidden => "forbidden",
            LoginOutcome::Error => "error",
        }
    }

    /// The outcome a login refused with `e` counts as.
    pub fn of(e: &AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => LoginOutcome::InvalidCredentials,
            AuthError::Locked { .. } => LoginOutcome::Locked,
            AuthError::UserDisabled | AuthError::DomainDisabled => LoginOutcome::Disabled,
            AuthError::Forbidden(_) => LoginOutcome::Forbidden,
            AuthError::UnknownToken
            | AuthError::Revoked
            | AuthError::Expired
            | AuthError::Idle
            | AuthError::TokenLimit { .. }
            | AuthError::OAuth { .. }
            | AuthError::InvalidInput(_)
            | AuthError::NotFound(_)
            | AuthError::Conflict(_)
            | AuthError::StateConflict(_)
            | AuthError::Busy
            | AuthError::SourceUnavailable(_)
            | AuthError::Stale { .. }
            | AuthError::Store(_)
            | AuthError::Internal(_) => LoginOutcome::Error,
        }
    }
}

/// How a token check ended, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    Valid,
    Unknown,
    Revoked,
    Expired,
    Idle,
    /// The user, its domain, or the client is disabled.
    Disabled,
    Locked,
    /// The store or an internal fault: the token's fate is not known.
    Error,
}

impl CheckOutcome {
    const ALL: [CheckOutcome; 8] = [
        CheckOutcome::Valid,
        CheckOutcome::Unknown,
        CheckOutcome::Revoked,
        CheckOutcome::Expired,
        CheckOutcome::Idle,
        CheckOutcome::Disabled,
        CheckOutcome::Locked,
        CheckOutcome::Error,
    ];

    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            CheckOutcome::Valid => "valid",
            CheckOutcome::Unknown => "unknown",
            CheckOutcome::Revoked => "revoked",
            CheckOutcome::Expired => "expired",
            CheckOutcome::Idle => "idle",
            CheckOutcome::Disabled => "disabled",
            CheckOutcome::Locked => "locked",
            CheckOutcome::Error => "error",
        }
    }

    /// The outcome a check refused with `e` counts as. A disabled client's
    /// tokens are refused as `Revoked`, and counted so.
    pub fn of(e: &AuthError) -> Self {
        match e {
            AuthError::UnknownToken => CheckOutcome::Unknown,
            AuthError::Revoked => CheckOutcome::Revoked,
            AuthError::Expired => CheckOutcome::Expired,
            AuthError::Idle => CheckOutcome::Idle,
            AuthError::UserDisabled | AuthError::DomainDisabled => CheckOutcome::Disabled,
            AuthError::Locked { .. } => CheckOutcome::Locked,
            AuthError::InvalidCredentials
            | AuthError::TokenLimit { .. }
            | AuthError::Forbidden(_)
            | AuthError::OAuth { .. }
            | AuthError::InvalidInput(_)
            | AuthError::NotFound(_)
            | AuthError::Conflict(_)
            | AuthError::StateConflict(_)
            | AuthError::Busy
            | AuthError::SourceUnavailable(_)
            | AuthError::Stale { .. }
            | AuthError::Store(_)
            | AuthError::Internal(_) => CheckOutcome::Error,
        }
    }
}

/// Why the gateway could not get an answer from its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// Refused, reset, or no route: the caller got 502.
    Unreachable,
    /// No answer within `[gateway] timeout`: the caller got 504.
    Timeout,
}

impl UpstreamFailure {
    /// The `kind` label.
    pub fn label(self) -> &'static str {
        match self {
            UpstreamFailure::Unreachable => "unreachable",
            UpstreamFailure::Timeout => "timeout",
        }
    }
}

/// Token checks: a few microseconds from the cache, milliseconds when
/// the store is read.
const CHECK_BUCKETS: [f64; 14] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1,
];

/// Logins: Argon2id takes tens to hundreds of milliseconds, more when
/// logins queue for the hasher.
const LOGIN_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The node's metrics registry, owned by `Core`; one per process, never
/// global, so tests can run many cores side by side.
pub struct Metrics {
    registry: Registry,
    logins: IntCounterVec,
    /// `logins` resolved for each of `LOGIN_DOORS` × `LoginOutcome::ALL`.
    login_series: [[IntCounter; LoginOutcome::ALL.len()]; LOGIN_DOORS.len()],
    login_seconds: Histogram,
    /// Indexed by `CheckOutcome as usize`.
    check_series: [IntCounter; 8],
    check_seconds: Histogram,
    lockouts: IntCounter,
    /// Token checks that had to ask the store (a session not cached).
    store_lookups: IntCounter,
    /// Tokens refused from the negative cache, without the store.
    refused_from_cache: IntCounter,
    /// Indexed by `UpstreamFailure as usize`.
    upstream_series: [IntCounter; 2],
    /// Logins refused because an LDAP domain's directory did not answer.
    directory_unavailable: IntCounter,
    cached_sessions: IntGauge,
}

impl Metrics {
    /// Builds and registers every metric. Fails only on a malformed name
    /// or label set, which is a bug in this file.
    pub fn new() -> AuthResult<Metrics> {
        build().map_err(|e| AuthError::Internal(format!("metrics registry: {e}")))
    }

    /// Counts a finished password login through `door` and its latency.
    pub fn login(&self, door: &str, outcome: LoginOutcome, took: Duration) {
        let o = outcome as usize;
        match LOGIN_DOORS.iter().position(|d| *d == door) {
            Some(d) => self.login_series[d][o].inc(),
            // A door this file does not know yet: a label lookup, on a
            // path that just spent an Argon2 hash.
            None => self.logins.with_label_values(&[door, outcome.label()]).inc(),
        }
        self.login_seconds.observe(took.as_secs_f64());
    }

    /// Counts a finished token check and its latency (the hot path).
    pub fn token_checked(&self, outcome: CheckOutcome, took: Duration) {
        self.check_series[outcome as usize].inc();
        self.check_seconds.observe(took.as_secs_f64());
    }

    /// Counts an account locked by failed logins.
    pub fn lockout(&self) {
        self.lockouts.inc();
    }

    /// Counts a token check that asked the store for its session.
    pub fn store_lookup(&self) {
        self.store_lookups.inc();
    }

    /// Counts a token refused from the negative cache.
    pub fn refused_from_cache(&self) {
        self.refused_from_cache.inc();
    }

    /// Counts a login to an LDAP domain whose directory did not answer
    /// (refused with `SourceUnavailable`).
    pub fn directory_unavailable(&self) {
        self.directory_unavailable.inc();
    }

    /// Counts a gateway request the upstream did not answer.
    pub fn upstream_failed(&self, failure: UpstreamFailure) {
        self.upstream_series[failure as usize].inc();
    }

    /// The text exposition of every metric, with the session-cache gauge
    /// set to `cached_sessions` first.
    pub fn render(&self, cached_sessions: usize) -> AuthResult<String> {
        self.cached_sessions
            .set(i64::try_from(cached_sessions).unwrap_or(i64::MAX));
        let mut out = String::new();
        TextEncoder::new()
            .encode_utf8(&self.registry.gather(), &mut out)
            .map_err(|e| AuthError::Internal(format!("metrics encoding: {e}")))?;
        Ok(out)
    }
}

fn build() -> prometheus::Result<Metrics> {
    let registry = Registry::new();
    let logins = IntCounterVec::new(
        Opts::new(
            "tessera_logins_total",
            "Password logins by front door and outcome.",
        ),
        &["door", "outcome"],
    )?;
    let login_series = resolve_doors(&logins)?;
    let login_seconds = Histogram::with_opts(
        HistogramOpts::new(
            "tessera_login_seconds",
            "Time to check a password login, any outcome, in seconds.",
        )
        .buckets(LOGIN_BUCKETS.to_vec()),
    )?;
    let checks = IntCounterVec::new(
        Opts::new("tessera_token_checks_total", "Token validations by outcome."),
        &["outcome"],
    )?;
    let check_series = resolve(&checks, CheckOutcome::ALL.map(CheckOutcome::label))?;
    let check_seconds = Histogram::with_opts(
        HistogramOpts::new(
            "tessera_token_check_seconds",
            "Time to validate a token, any outcome, in seconds.",
        )
        .buckets(CHECK_BUCKETS.to_vec()),
    )?;
    let lockouts = IntCounter::with_opts(Opts::new(
        "tessera_lockouts_total",
        "Accounts locked after too many failed logins.",
    ))?;
    let store_lookups = IntCounter::with_opts(Opts::new(
        "tessera_token_store_lookups_total",
        "Token checks that read the session from the store (not in this node's cache).",
    ))?;
    let refused_from_cache = IntCounter::with_opts(Opts::new(
        "tessera_token_refusals_cached_total",
        "Token checks refused from this node's bounded cache of refused tokens, without the store.",
    ))?;
    let upstream = IntCounterVec::new(
        Opts::new(
            "tessera_gateway_upstream_errors_total",
            "Gateway requests the upstream did not answer: unreachable (502) or timeout (504).",
        ),
        &["kind"],
    )?;
    let upstream_series = resolve(
        &upstream,
        [UpstreamFailure::Unreachable, UpstreamFailure::Timeout].map(UpstreamFailure::label),
    )?;
    let cached_sessions = IntGauge::with_opts(Opts::new(
        "tessera_node_cached_sessions",
        "Sessions held in this node's session cache: tokens (refresh tokens too) this node issued or \
         checked and has not swept out yet; not the cluster's count of active sessions.",
    ))?;
    let directory_unavailable = IntCounter::with_opts(Opts::new(
        "tessera_directory_unavailable_total",
        "Logins to LDAP domains refused because the directory did not answer within the timeouts.",
    ))?;
    let collectors: [Box<dyn Collector>; 10] = [
        Box::new(directory_unavailable.clone()),
        Box::new(store_lookups.clone()),
        Box::new(refused_from_cache.clone()),
        Box::new(logins.clone()),
        Box::new(login_seconds.clone()),
        Box::new(checks),
        Box::new(check_seconds.clone()),
        Box::new(lockouts.clone()),
        Box::new(upstream),
        Box::new(cached_sessions.clone()),
    ];
    for c in collectors {
        registry.register(c)?;
    }
    Ok(Metrics {
        directory_unavailable,
        registry,
        logins,
        login_series,
        login_seconds,
        check_series,
        check_seconds,
        lockouts,
        store_lookups,
        refused_from_cache,
        upstream_series,
        cached_sessions,
    })
}

/// One counter per value of a one-label vector.
fn resolve<const N: usize>(vec: &IntCounterVec, values: [&str; N]) -> prometheus::Result<[IntCounter; N]> {
    let mut out = Vec::with_capacity(N);
    for v in values {
        out.push(vec.get_metric_with_label_values(&[v])?);
    }
    out.try_into()
        .map_err(|_| prometheus::Error::Msg("resolved series count".into()))
}

/// The login counters for every door × outcome.
fn resolve_doors(
    vec: &IntCounterVec,
) -> prometheus::Result<[[IntCounter; LoginOutcome::ALL.len()]; LOGIN_DOORS.len()]> {
    let mut out = Vec::with_capacity(LOGIN_DOORS.len());
    for door in LOGIN_DOORS {
        let mut row = Vec::with_capacity(LoginOutcome::ALL.len());
        for outcome in LoginOutcome::ALL {
            row.push(vec.get_metric_with_label_values(&[door, outcome.label()])?);
        }
        out.push(
            row.try_into()
                .map_err(|_| prometheus::Error::Msg("login outcomes count".into()))?,
        );
    }
    out.try_into()
        .map_err(|_| prometheus::Error::Msg("login doors count".into()))
}

impl Core {
    /// The node's metrics as Prometheus text (what `GET /metrics` serves).
    pub fn metrics_text(&self) -> AuthResult<String> {
        self.metrics.render(self.cache.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn every_series_is_exported_from_the_start_at_zero() {
        let m = Metrics::new().unwrap();
        let text = m.render(0).unwrap();
        for door in LOGIN_DOORS {
            for o in LoginOutcome::ALL {
                let series = format!(
                    "tessera_logins_total{{door=\"{door}\",outcome=\"{}\"}}",
                    o.label()
                );
                assert_eq!(line(&text, &series), Some("0"), "{series} in\n{text}");
            }
        }
        for o in CheckOutcome::ALL {
            let series = format!("tessera_token_checks_total{{outcome=\"{}\"}}", o.label());
            assert_eq!(line(&text, &series), Some("0"), "{series}");
        }
        assert_eq!(line(&text, "tessera_lockouts_total"), Some("0"));
        assert_eq!(line(&text, "tessera_directory_unavailable_total"), Some("0"));
        assert_eq!(line(&text, "tessera_node_cached_sessions"), Some("0"));
        assert_eq!(
            line(&text, "tessera_gateway_upstream_errors_total{kind=\"timeout\"}"),
            Some("0")
        );
        assert!(text.contains("# TYPE tessera_token_check_seconds histogram"));
        assert!(
            text.contains("# HELP tessera_node_cached_sessions Sessions held in this node's session cache")
        );
    }

    #[test]
    fn recorded_events_show_in_the_text() {
        let m = Metrics::new().unwrap();
        m.login("oauth2", LoginOutcome::Success, Duration::from_millis(80));
        m.login(
            "oauth2",
            LoginOutcome::InvalidCredentials,
            Duration::from_millis(90),
        );
        m.login("header-login", LoginOutcome::Locked, Duration::from_millis(70));
        m.login("some-new-door", LoginOutcome::Error, Duration::from_millis(1));
        m.token_checked(CheckOutcome::Valid, Duration::from_micros(3));
        m.token_checked(CheckOutcome::Valid, Duration::from_micros(30));
        m.token_checked(CheckOutcome::Expired, Duration::from_micros(4));
        m.lockout();
        m.upstream_failed(UpstreamFailure::Unreachable);
        m.upstream_failed(UpstreamFailure::Timeout);
        m.upstream_failed(UpstreamFailure::Timeout);
        let text = m.render(42).unwrap();
        let expect = [
            ("tessera_logins_total{door=\"oauth2\",outcome=\"success\"}", "1"),
            (
                "tessera_logins_total{door=\"oauth2\",outcome=\"invalid_credentials\"}",
                "1",
            ),
            (
                "tessera_logins_total{door=\"header-login\",outcome=\"locked\"}",
                "1",
            ),
            (
                "tessera_logins_total{door=\"some-new-door\",outcome=\"error\"}",
                "1",
            ),
            ("tessera_login_seconds_count", "4"),
            ("tessera_login_seconds_bucket{le=\"0.1\"}", "4"),
            ("tessera_login_seconds_bucket{le=\"0.05\"}", "1"),
            ("tessera_token_checks_total{outcome=\"valid\"}", "2"),
            ("tessera_token_checks_total{outcome=\"expired\"}", "1"),
            ("tessera_token_check_seconds_count", "3"),
            ("tessera_token_check_seconds_bucket{le=\"0.000005\"}", "2"),
            ("tessera_token_check_seconds_bucket{le=\"0.000025\"}", "2"),
            ("tessera_token_check_seconds_bucket{le=\"0.00005\"}", "3"),
            ("tessera_lockouts_total", "1"),
            ("tessera_gateway_upstream_errors_total{kind=\"unreachable\"}", "1"),
            ("tessera_gateway_upstream_errors_total{kind=\"timeout\"}", "2"),
            ("tessera_node_cached_sessions", "42"),
        ];
        for (series, value) in expect {
            assert_eq!(line(&text, series), Some(value), "{series} in\n{text}");
        }
    }

    #[test]
    fn refusals_map_to_their_outcomes() {
        use tessera_model::Timestamp;
        assert_eq!(
            LoginOutcome::of(&AuthError::InvalidCredentials),
            LoginOutcome::InvalidCredentials
        );
        assert_eq!(
            LoginOutcome::of(&AuthError::DomainDisabled),
            LoginOutcome::Disabled
        );
        assert_eq!(LoginOutcome::of(&AuthError::Busy), LoginOutcome::Error);
        assert_eq!(CheckOutcome::of(&AuthError::Idle), CheckOutcome::Idle);
        assert_eq!(
            CheckOutcome::of(&AuthError::Locked { until: Timestamp(1) }),
            CheckOutcome::Locked
        );
        assert_eq!(CheckOutcome::of(&AuthError::UserDisabled), CheckOutcome::Disabled);
        assert_eq!(
            CheckOutcome::of(&AuthError::Internal("x".into())),
            CheckOutcome::Error
        );
    }
}
