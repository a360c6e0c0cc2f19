//! The cross-field checks and bounds of the configuration that serde
//! cannot express (`Config::validate`): every problem found, one line
//! each, naming the key, the value and what is allowed.

use super::*;

impl Config {
    /// Cross-field checks and bounds serde cannot express. Returns every
    /// problem found, each naming the key to fix, its value and what is
    /// allowed.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for (name, p) in &self.policies {
            if p.max_lifetime.is_none() && p.idle_timeout.is_none() {
                problems.push(format!(
                    "policies.{name}: set max_lifetime or idle_timeout; a token that never expires is a proxy token"
                ));
            }
            for (key, value) in [
                ("idle_timeout", p.idle_timeout),
                ("max_lifetime", p.max_lifetime),
                ("refresh_lifetime", p.refresh_lifetime),
            ] {
                if let Some(value) = value {
                    check_range(
                        &mut problems,
                        &format!("policies.{name}.{key}"),
                        value,
                        SECOND,
                        MAX_TOKEN_LIFETIME,
                    );
                }
            }
        }
        if self.server.tls == TlsMode::Files
            && (self.server.tls_cert.is_none() || self.server.tls_key.is_none())
        {
            problems.push("server.tls = \"files\" needs both server.tls_cert and server.tls_key".into());
        }
        for name in &self.server.tls_hostnames {
            if !is_tls_hostname(name) {
                problems.push(format!(
                    "server.tls_hostnames: {name:?} is neither a host name (letters, digits, '-' and '.', \
                     an optional leading \"*.\"; xn-- for other scripts) nor an IP address"
                ));
            }
        }
        if self.ldap.pool_size == 0 {
            problems.push("ldap.pool_size is 0; it must be at least 1 connection per directory".into());
        }
        self.password_problems(&mut problems);
        self.lockout_problems(&mut problems);
        if self.server.max_body_bytes < 1024 {
            problems.push(format!(
                "server.max_body_bytes is {}; it must be at least 1024",
                self.server.max_body_bytes
            ));
        }
        if self.server.max_connections == 0 || self.server.max_connections > 1_000_000 {
            problems.push(format!(
                "server.max_connections is {}; it must be between 1 and 1000000",
                self.server.max_connections
            ));
        }
        let ms = Duration::from_millis;
        let (min, hour) = (Duration::from_secs(60), Duration::from_secs(3600));
        let bounds = [
            (
                "server.header_read_timeout",
                self.server.header_read_timeout,
                ms(100),
                5 * min,
            ),
            (
                "server.keep_alive_timeout",
                self.server.keep_alive_timeout,
                ms(100),
                hour,
            ),
            ("server.send_timeout", self.server.send_timeout, ms(100), hour),
            (
                "server.request_timeout",
                self.server.request_timeout,
                ms(100),
                hour,
            ),
            ("store.acquire_timeout", self.store.acquire_timeout, ms(100), min),
            (
                "store.operation_timeout",
                self.store.operation_timeout,
                ms(100),
                5 * min,
            ),
            ("cluster.max_staleness", self.cluster.max_staleness, SECOND, hour),
            ("ldap.connect_timeout", self.ldap.connect_timeout, ms(100), min),
            (
                "ldap.operation_timeout",
                self.ldap.operation_timeout,
                ms(100),
                5 * min,
            ),
            (
                "gateway.connect_timeout",
                self.gateway.connect_timeout,
                ms(100),
                min,
            ),
            ("gateway.timeout", self.gateway.timeout, ms(100), hour),
        ];
        for (key, value, min, max) in bounds {
            check_range(&mut problems, key, value, min, max);
        }
        if !self.store.url.is_empty()
            && !self.store.url.starts_with("sqlite:")
            && !self.store.url.starts_with("postgres://")
            && !self.store.url.starts_with("postgresql://")
        {
            problems.push("store.url must start with sqlite:, postgres:// or postgresql://".into());
        }
        if !matches!(self.gateway.default.as_str(), "deny" | "authenticated") {
            problems.push(format!(
                "gateway.default is {:?}; use \"deny\" or \"authenticated\"",
                self.gateway.default
            ));
        }
        let upstream = &self.gateway.upstream;
        if !upstream.is_empty() && !upstream.starts_with("http://") && !upstream.starts_with("https://") {
            problems.push(format!(
                "gateway.upstream is {upstream:?}; give the API's base URL as http://host:port[/prefix] or https://host[:port][/prefix]"
            ));
        }
        if !self.gateway.emergency_prefix.starts_with('/') {
            problems.push("gateway.emergency_prefix must start with /".into());
        }
        if self
            .cluster
            .service_token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 16)
        {
            problems.push("cluster.service_token must be at least 16 characters".into());
        }
        if self
            .bootstrap
            .admin_token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 16)
        {
            problems.push("bootstrap.admin_token must be at least 16 characters".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// `[password]`: Argon2 parameters Argon2 accepts, and a length range
    /// that holds at least one password.
    fn password_problems(&self, problems: &mut Vec<String>) {
        let pw = &self.password;
        if pw.iterations == 0 {
            problems.push("password.iterations is 0; it must be at least 1".into());
        }
        if pw.parallelism == 0 || pw.parallelism > 255 {
            problems.push(format!(
                "password.parallelism is {}; it must be between 1 and 255",
                pw.parallelism
            ));
        }
        if pw.memory_kib < 8 * pw.parallelism.max(1) {
            problems.push(format!(
                "password.memory_kib is {}; it must be at least 8 × password.parallelism ({})",
                pw.memory_kib,
                8 * pw.parallelism.max(1)
            ));
        }
        if pw.min_length == 0 || pw.min_length > 128 {
            problems.push(format!(
                "password.min_length is {}; it must be between 1 and 128 (ASVS level 2 asks for 12)",
                pw.min_length
            ));
        }
        if pw.max_length < pw.min_length.max(1) || pw.max_length > MAX_PASSWORD_CHARS {
            problems.push(format!(
                "password.max_length is {}; it must be between password.min_length ({}) and {MAX_PASSWORD_CHARS}",
                pw.max_length, pw.min_length
            ));
        }
    }

    /// `[lockout]`: on (`max_failed_logins` 1 to 100) it needs a window
    /// and a duration longer than 0s, or it would never lock (or lock
    /// "until now"); off (0) it keeps only the upper bounds.
    fn lockout_problems(&self, problems: &mut Vec<String>) {
        let lock = &self.lockout;
        if lock.max_failed_logins > 100 {
            problems.push(format!(
                "lockout.max_failed_logins is {}; it must be between 1 and 100 (ASVS 2.2.1), or 0 to turn lockout off",
                lock.max_failed_logins
            ));
        }
        let on = lock.max_failed_logins > 0;
        for (key, value) in [
            ("lockout.window", lock.window),
            ("lockout.duration", lock.duration),
        ] {
            if on && value.is_zero() {
                problems.push(format!(
                    "{key} is 0s; it must be between 1s and 24h while lockout is on \
                     (set lockout.max_failed_logins = 0 to turn lockout off)"
                ));
            } else {
                let min = if on { SECOND } else { Duration::ZERO };
                check_range(problems, key, value, min, Duration::from_secs(24 * HOUR));
            }
        }
    }

    /// The policy called `name`, if `[policies]` defines it.
    pub fn policy(&self, name: &str) -> Option<&TokenPolicy> {
        self.policies.get(name)
    }
}

const SECOND: Duration = Duration::from_secs(1);

/// The longest lifetime, idle timeout or refresh lifetime a policy may
/// give: 366 days.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 24 * HOUR);

/// A name a certificate's subjectAltName can carry: an IP address, or a
/// DNS name of at most 253 octets whose labels are 1 to 63 letters, digits
/// or inner hyphens, the first label optionally `*`.
pub fn is_tls_hostname(name: &str) -> bool {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let rest = name.strip_prefix("*.").unwrap_or(name);
    !rest.is_empty()
        && name.len() <= 253
        && rest.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Adds a problem when `value` of `key` lies outside `min..=max`, naming
/// the key, the value and the range.
pub fn check_range(problems: &mut Vec<String>, key: &str, value: Duration, min: Duration, max: Duration) {
    if value < min || value > max {
        problems.push(format!(
            "{key} is {}; it must be between {} and {}",
            duration::format(value),
            duration::format(min),
            duration::format(max),
        ));
    }
}
