//! The configuration tree of `tessera.toml` (SPEC §8). Every key has a
//! default; unknown keys are rejected by serde (`deny_unknown_fields`).
//! Loading (file, environment, flags) lives in the binary; this module only
//! describes the shape, the defaults and the cross-field checks. The
//! `[doors.*]` tables are not here: each front door owns its own (in
//! `tessera-http`), and the binary reads both from the same file.

use crate::duration;
use crate::secret::Secret;
use crate::session::TokenFormat;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration but the doors' tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub password: PasswordConfig,
    pub lockout: LockoutConfig,
    pub policies: BTreeMap<String, TokenPolicy>,
    pub gateway: GatewayConfig,
    pub cluster: ClusterConfig,
    pub bootstrap: BootstrapConfig,
    pub ldap: LdapConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./tessera-data"),
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            password: PasswordConfig::default(),
            lockout: LockoutConfig::default(),
            policies: TokenPolicy::builtins(),
            gateway: GatewayConfig::default(),
            cluster: ClusterConfig::default(),
            bootstrap: BootstrapConfig::default(),
            ldap: LdapConfig::default(),
        }
    }
}

/// How the listener speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// A certificate generated on first start and kept in the data dir.
    SelfSigned,
    /// `tls_cert` and `tls_key` (PEM files).
    Files,
    /// Plain HTTP, only when asked for.
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub tls: TlsMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Host names and IP addresses the self-signed certificate covers
    /// (subjectAltNames). Empty: localhost, 127.0.0.1, ::1 and the listen
    /// address when it is a specific, non-loopback one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls_hostnames: Vec<String>,
    /// Largest request body Tessera itself reads (logins, admin API). The
    /// gateway streams bodies and is not bound by it.
    pub max_body_bytes: usize,
    /// A client must finish sending its request headers within this time:
    /// for the first request counted from accept (TLS handshake included),
    /// for a later one on the same HTTP/1.1 connection from its first byte.
    #[serde(with = "duration::required")]
    pub header_read_timeout: Duration,
    /// A connection with no request in flight is closed after this long
    /// (HTTP/2: GOAWAY).
    #[serde(with = "duration::required")]
    pub keep_alive_timeout: Duration,
    /// A connection whose client takes no byte of a response for this long
    /// (a full socket buffer, or an HTTP/2 window left shut) is closed.
    #[serde(with = "duration::required")]
    pub send_timeout: Duration,
    /// Most connections open at once. At the cap a new connection takes
    /// the place of the oldest one without a request in flight, or is
    /// refused when there is none; the cap also stays below what the
    /// open-file limit allows.
    pub max_connections: u32,
    /// Longest time Tessera spends answering one of its own requests.
    #[serde(with = "duration::required")]
    pub request_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            tls: TlsMode::SelfSigned,
            tls_cert: None,
            tls_key: None,
            tls_hostnames: Vec::new(),
            max_body_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(75),
            send_timeout: Duration::from_secs(30),
            max_connections: 4096,
            request_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://...`; empty means
    /// `sqlite://<data_dir>/tessera.db`.
    pub url: String,
    /// Connections per node (PostgreSQL) or readers (SQLite); 0 picks a
    /// default from the core count.
    pub max_connections: u32,
    /// Longest wait for a connection, opening one included.
    #[serde(with = "duration::required")]
    pub acquire_timeout: Duration,
    /// Longest any one store operation may take (PostgreSQL): past it the
    /// request gets 503 with `Retry-After`, never a hang.
    #[serde(with = "duration::required")]
    pub operation_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: String::new(),
            max_connections: 0,
            acquire_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(5),
        }
    }
}

/// Argon2id parameters for password hashes (defaults: OWASP's m=19 MiB,
/// t=2, p=1), and what a new password must be. The policy applies when a
/// password is set (`tessera user add` and `user passwd`, the admin API,
/// the self-service change, the first `admin`); a hash already stored
/// keeps working at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Fewest characters (Unicode code points) a new password may have.
    /// 8 by default; OWASP ASVS 4.0 level 2 (2.1.1) asks for 12.
    pub min_length: u32,
    /// Most characters a new password may have; longer ones are refused,
    /// never truncated. At most [`MAX_PASSWORD_CHARS`].
    pub max_length: u32,
    /// Refuse a new password an attacker would find within a million
    /// guesses by zxcvbn's estimate: one of the 30,000 most common
    /// passwords or a small variation of one, a keyboard row, a repeat, a
    /// sequence, a date.
    pub refuse_common: bool,
}

/// The largest `[password] max_length`: 256 characters are at most 1024
/// bytes of UTF-8, the most Tessera ever gives Argon2.
pub const MAX_PASSWORD_CHARS: u32 = 256;

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            min_length: 8,
            max_length: 128,
            refuse_common: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    /// Failures within `window` that lock the account, at most 100 (OWASP
    /// ASVS 2.2.1). 0 is the one way to turn lockout off: while it is on,
    /// `window` and `duration` must be longer than 0s.
    pub max_failed_logins: u32,
    /// How far back failures are counted.
    #[serde(with = "duration::required")]
    pub window: Duration,
    /// How long a lockout lasts.
    #[serde(with = "duration::required")]
    pub duration: Duration,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            max_failed_logins: 5,
            window: Duration::from_secs(300),
            duration: Duration::from_secs(60),
        }
    }
}

/// What happens when a user already holds `max_tokens_per_user` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnLimit {
    /// 429 with `Retry-After` until the user's first token frees up.
    Refuse,
    /// Revoke the user's oldest token to make room.
    EvictOldest,
}

/// A named token policy (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenPolicy {
    #[serde(with = "duration::optional")]
    pub idle_timeout: Option<Duration>,
    #[serde(with = "duration::optional")]
    pub max_lifetime: Option<Duration>,
    /// Lifetime of refresh tokens; `none` issues no refresh tokens.
    #[serde(with = "duration::optional")]
    pub refresh_lifetime: Option<Duration>,
    pub format: TokenFormat,
    /// Live access tokens one user may hold; 0 means no cap.
    pub max_tokens_per_user: u32,
    pub on_limit: OnLimit,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            idle_timeout: None,
            max_lifetime: Some(Duration::from_secs(3600)),
            refresh_lifetime: None,
            format: TokenFormat::Opaque,
            max_tokens_per_user: 0,
            on_limit: OnLimit::Refuse,
        }
    }
}

const HOUR: u64 = 3600;

impl TokenPolicy {
    /// The per-door defaults of SPEC §2, taken from the seeds.
    pub fn builtins() -> BTreeMap<String, TokenPolicy> {
        let base = TokenPolicy::default();
        BTreeMap::from([
            (
                // Seed 000: 10 min idle, 24 h absolute; it reports
                // `expires_in: 86399`, so the lifetime is exactly that.
                "oauth2-api".to_owned(),
                TokenPolicy {
                    idle_timeout: Some(Duration::from_secs(600)),
                    max_lifetime: Some(Duration::from_secs(24 * HOUR - 1)),
                    refresh_lifetime: Some(Duration::from_secs(24 * HOUR)),
                    ..base
                },
            ),
            (
                // Seed 003: `expires_in: 7200`, refresh tokens always issued.
                "oauth2".to_owned(),
                TokenPolicy {
                    max_lifetime: Some(Duration::from_secs(2 * HOUR)),
                    refresh_lifetime: Some(Duration::from_secs(24 * HOUR)),
                    ..base
                },
            ),
            (
                // Seed 001: 2 h idle, 8 h absolute, 100 tokens per user.
                "header-login".to_owned(),
                TokenPolicy {
                    idle_timeout: Some(Duration::from_secs(2 * HOUR)),
                    max_lifetime: Some(Duration::from_secs(8 * HOUR)),
                    max_tokens_per_user: 100,
                    ..base
                },
            ),
            // Seed 002: one hour from creation.
            ("domain-login".to_owned(), base),
            (
                // Seed 004: JWT bearer, 60 minutes.
                "envelope-login".to_owned(),
                TokenPolicy {
                    format: TokenFormat::Jwt,
                    ..base
                },
            ),
        ])
    }
}

/// What the gateway does with a request that carries no valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unauthenticated {
    #[serde(rename = "401")]
    Reject,
    /// 302 to `/login?service=...` (seed 001).
    #[serde(rename = "redirect")]
    Redirect,
}

// Accepts `"401"`, `401` (as `TESSERA_GATEWAY__UNAUTHENTICATED=401` arrives)
// and `"redirect"`.
impl<'de> Deserialize<'de> for Unauthenticated {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(401) => Ok(Unauthenticated::Reject),
            Raw::Text(t) if t == "401" => Ok(Unauthenticated::Reject),
            Raw::Text(t) if t == "redirect" => Ok(Unauthenticated::Redirect),
            Raw::Int(n) => Err(serde::de::Error::custom(format!(
                "{n} is not a choice; use \"401\" or \"redirect\""
            ))),
            Raw::Text(t) => Err(serde::de::Error::custom(format!(
                "{t:?} is not a choice; use \"401\" or \"redirect\""
            ))),
        }
    }
}

/// One gateway rule: which principals may call `methods` on `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayRule {
    /// HTTP methods, or `["*"]` for all.
    pub methods: Vec<String>,
    /// Path pattern; `{name}` matches one segment, a trailing `/**` any rest.
    pub path: String,
    /// `role:NAME`, `scope:NAME`, `authenticated` or `anonymous`.
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Base URL of the API Tessera fronts (`http://` or `https://`); empty
    /// turns the gateway off.
    pub upstream: String,
    /// PEM file of the CA(s) an `https://` upstream's certificate must chain
    /// to; unset, the system's roots.
    pub upstream_ca_file: Option<PathBuf>,
    pub unauthenticated: Unauthenticated,
    /// Where seed 000's emergency operations live.
    pub emergency_prefix: String,
    /// Applied to paths no rule covers: `deny` or `authenticated`.
    pub default: String,
    #[serde(with = "duration::required")]
    pub connect_timeout: Duration,
    /// Longest silence from the upstream: for its response head after the
    /// request body last moved, and between chunks of its response body.
    #[serde(with = "duration::required")]
    pub timeout: Duration,
    pub rules: Vec<GatewayRule>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            upstream: String::new(),
            upstream_ca_file: None,
            unauthenticated: Unauthenticated::Reject,
            emergency_prefix: "/api".into(),
            default: "deny".into(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Seed 002's service token, shared by every node of a cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_token: Option<Secret>,
    /// How long a node may go without hearing the store's invalidations
    /// (revocations, disables, locks on other nodes) before it stops
    /// trusting its cache: past it, token checks answer 503 with
    /// `Retry-After` and `/readyz` turns red, until it hears again.
    #[serde(with = "duration::required")]
    pub max_staleness: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            service_token: None,
            max_staleness: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapConfig {
    /// Seed 002's admin token: off unless set; admin API only, audited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<Secret>,
}

/// How this node talks to the directories of LDAP domains (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapConfig {
    /// Longest wait to open a connection (TCP, TLS, StartTLS).
    #[serde(with = "duration::required")]
    pub connect_timeout: Duration,
    /// Longest wait for one directory operation (a bind, a search).
    #[serde(with = "duration::required")]
    pub operation_timeout: Duration,
    /// Connections kept open, and the most used at once, per directory.
    pub pool_size: u32,
}

impl Default for LdapConfig {
    fn default() -> Self {
        LdapConfig {
            connect_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(5),
            pool_size: 4,
        }
    }
}

mod checks;
pub use checks::{check_range, is_tls_hostname};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_seeds() {
        let c = Config::default();
        c.validate().unwrap();
        let api = c.policies["oauth2-api"];
        assert_eq!(api.idle_timeout, Some(Duration::from_secs(600)));
        assert_eq!(api.max_lifetime, Some(Duration::from_secs(86_399)));
        let hl = c.policies["header-login"];
        assert_eq!(hl.max_tokens_per_user, 100);
        assert_eq!(c.policies["envelope-login"].format, TokenFormat::Jwt);
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let err = toml::from_str::<Config>("[server]\nlistn = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(err.to_string().contains("listn"), "{err}");
    }

    #[test]
    fn unauthenticated_accepts_the_number_and_the_words() {
        for (text, want) in [
            ("401", Unauthenticated::Reject),
            ("\"401\"", Unauthenticated::Reject),
            ("\"redirect\"", Unauthenticated::Redirect),
        ] {
            let c: Config = toml::from_str(&format!("[gateway]\nunauthenticated = {text}\n")).unwrap();
            assert_eq!(c.gateway.unauthenticated, want, "{text}");
        }
        let err = toml::from_str::<Config>("[gateway]\nunauthenticated = \"302\"\n").unwrap_err();
        assert!(err.to_string().contains("redirect"), "{err}");
    }

    fn problems(toml_text: &str) -> Vec<String> {
        let c: Config = toml::from_str(toml_text).unwrap();
        c.validate().err().unwrap_or_default()
    }

    #[test]
    fn lockout_on_needs_a_window_and_a_duration() {
        let p = problems("[lockout]\nwindow = \"0s\"\nduration = \"0s\"\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("lockout.window is 0s"), "{p:?}");
        assert!(p[1].starts_with("lockout.duration is 0s"), "{p:?}");
        assert!(p[1].contains("max_failed_logins = 0"), "{p:?}");
        // Off, said explicitly: zeros are fine.
        let off = "[lockout]\nmax_failed_logins = 0\nwindow = \"0s\"\nduration = \"0s\"\n";
        assert_eq!(problems(off), Vec::<String>::new());
        let p = problems("[lockout]\nmax_failed_logins = 101\n");
        assert!(p[0].contains("lockout.max_failed_logins is 101"), "{p:?}");
        let p = problems("[lockout]\nmax_failed_logins = 0\nduration = \"25h\"\n");
        assert_eq!(p, ["lockout.duration is 25h; it must be between 0s and 24h"]);
    }

    #[test]
    fn every_duration_has_an_upper_bound_named_with_its_value() {
        for (text, key) in [
            ("[lockout]\nwindow = \"99999999999h\"\n", "lockout.window"),
            (
                "[server]\nrequest_timeout = \"99999999999h\"\n",
                "server.request_timeout",
            ),
            ("[gateway]\ntimeout = \"2h\"\n", "gateway.timeout"),
            ("[gateway]\nconnect_timeout = \"0s\"\n", "gateway.connect_timeout"),
            ("[ldap]\noperation_timeout = \"1h\"\n", "ldap.operation_timeout"),
            ("[ldap]\nconnect_timeout = \"0s\"\n", "ldap.connect_timeout"),
            ("[store]\nacquire_timeout = \"2m\"\n", "store.acquire_timeout"),
            ("[cluster]\nmax_staleness = \"2h\"\n", "cluster.max_staleness"),
            (
                "[policies.oauth2]\nmax_lifetime = \"99999999999h\"\n",
                "policies.oauth2.max_lifetime",
            ),
            (
                "[policies.oauth2-api]\nidle_timeout = \"367d\"\n",
                "policies.oauth2-api.idle_timeout",
            ),
            (
                "[policies.oauth2]\nrefresh_lifetime = \"500ms\"\n",
                "policies.oauth2.refresh_lifetime",
            ),
        ] {
            let p = problems(text);
            assert_eq!(p.len(), 1, "{text}: {p:?}");
            assert!(p[0].starts_with(&format!("{key} is ")), "{text}: {p:?}");
            assert!(p[0].contains("it must be between"), "{text}: {p:?}");
        }
        let p = problems("[policies.oauth2]\nmax_lifetime = \"99999999999h\"\n");
        assert_eq!(
            p,
            ["policies.oauth2.max_lifetime is 99999999999h; it must be between 1s and 8784h"]
        );
        // The longest allowed values pass.
        assert_eq!(
            problems("[policies.oauth2]\nmax_lifetime = \"366d\"\n[lockout]\nduration = \"24h\"\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn password_lengths_must_leave_room_for_a_password() {
        let p = problems("[password]\nmin_length = 0\n");
        assert!(p[0].starts_with("password.min_length is 0"), "{p:?}");
        let p = problems("[password]\nmin_length = 20\nmax_length = 12\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("password.max_length is 12"), "{p:?}");
        let p = problems("[password]\nmax_length = 257\n");
        assert!(p[0].contains("and 256"), "{p:?}");
        assert_eq!(
            problems("[password]\nmin_length = 12\nmax_length = 256\nrefuse_common = false\n"),
            Vec::<String>::new()
        );
        let d = PasswordConfig::default();
        assert_eq!((d.min_length, d.max_length, d.refuse_common), (8, 128, true));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems(
            "[lockout]\nduration = \"0s\"\n[server]\nheader_read_timeout = \"0s\"\n\
             [policies.oauth2]\nmax_lifetime = \"99999999999h\"\n",
        );
        assert_eq!(p.len(), 3, "{p:?}");
    }

    #[test]
    fn effective_config_serialises_to_toml_with_secrets_redacted() {
        let mut c = Config::default();
        c.cluster.service_token = Some(Secret::new("abcdefghijklmnopqrstuvwxyz"));
        let text = toml::to_string(&c).unwrap();
        assert!(text.contains("[redacted]"));
        assert!(!text.contains("abcdefghijklmnop"));
        assert!(text.contains("idle_timeout = \"10m\""), "{text}");
    }
}
