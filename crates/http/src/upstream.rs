//! The gateway's way to its upstream: where it is (`[gateway] upstream`,
//! `http://` or `https://`), the pool of HTTP/1.1 connections that reach it
//! (`pool`) and, for HTTPS, the TLS client (rustls, ring): the upstream's host name as SNI
//! and the name its certificate must carry, verified against the system's
//! roots or `[gateway] upstream_ca_file`.

use crate::pool::Pool;
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::policy::CanonicalPath;
use tessera_model::config::GatewayConfig;

/// Where the upstream is, split once at start so that a request's target
/// is put together without parsing a URL.
pub struct Upstream {
    pub pool: Arc<Pool>,
    /// `authority` as the `Host` header sent upstream.
    pub host: HeaderValue,
    /// Path prefix of the upstream base URL (`/api-base`), or empty.
    pub prefix: String,
    /// `scheme://authority`, for logs.
    pub origin: String,
}

impl Upstream {
    /// `Ok(None)` when no upstream is configured.
    ///
    /// Errors: a URL that is not `http://` or `https://` with a host, or a
    /// CA file that cannot be read or holds no certificate, in words an
    /// operator can act on.
    pub fn new(config: &GatewayConfig) -> Result<Option<Upstream>, String> {
        let url = config.upstream.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::HTTP, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::HTTPS, rest)
        } else {
            return Err(format!(
                "gateway.upstream is {url:?}; give the API's base URL as http://host:port[/prefix] or https://host[:port][/prefix]"
            ));
        };
        let (authority, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let authority: Authority = authority
            .parse()
            .map_err(|_| format!("gateway.upstream is {url:?}: {authority:?} is not a host[:port]"))?;
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("gateway.upstream is {url:?}: the host cannot be sent as a Host header"))?;
        if scheme != Scheme::HTTPS && config.upstream_ca_file.is_some() {
            tracing::warn!(
                "gateway.upstream_ca_file is set but the upstream is plain HTTP: the file is not used"
            );
        }
        let tls = tls_config(config)?;
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let dialled = Uri::builder()
            .scheme(scheme.clone())
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| format!("gateway.upstream is {url:?}: {e}"))?;
        Ok(Some(Upstream {
            pool: Arc::new(Pool::new(connector, dialled, Duration::from_secs(60))),
            origin: format!("{scheme}://{authority}"),
            host,
            prefix: prefix.trim_end_matches('/').to_owned(),
        }))
    }

    /// The request target sent upstream (origin-form, RFC 9112 §3.2.1: the
    /// host goes in `Host`): the canonical path (`path`) and the query as
    /// the client sent it. When the canonical path is the one sent and
    /// there is no prefix, the request's own path and query are reused as
    /// they are (no copy).
    pub fn target_for(&self, sent: &Uri, path: &CanonicalPath<'_>) -> Option<Uri> {
        match sent.path_and_query() {
            Some(pq) if self.prefix.is_empty() && path.is_unchanged() => Some(Uri::from(pq.clone())),
            _ => self.target(path.encoded(), sent.query()),
        }
    }

    /// The origin-form target for a canonical path (already
    /// percent-encoded) and the query as the client sent it.
    pub fn target(&self, path: &str, query: Option<&str>) -> Option<Uri> {
        let mut pq = String::with_capacity(self.prefix.len() + path.len() + query.map_or(0, |q| q.len() + 1));
        pq.push_str(&self.prefix);
        pq.push_str(path);
        if let Some(q) = query {
            pq.push('?');
            pq.push_str(q);
        }
        let pq = PathAndQuery::from_maybe_shared(axum::body::Bytes::from(pq)).ok()?;
        Some(Uri::from(pq))
    }
}

/// The TLS client: TLS 1.2 and 1.3 (ring), roots from the CA file or the
/// system, HTTP/1.1 by ALPN (hyper-rustls sets it).
fn tls_config(config: &GatewayConfig) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match &config.upstream_ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                format!(
                    "gateway.upstream_ca_file {}: cannot be read ({e})",
                    path.display()
                )
            })?;
            let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("gateway.upstream_ca_file {}: not PEM ({e})", path.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "gateway.upstream_ca_file {}: holds no usable certificate (give the PEM of the CA that signed the upstream's certificate)",
                    path.display()
                ));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!(error = %e, "a system root certificate could not be loaded");
            }
            roots.add_parsable_certificates(found.certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS for the gateway's upstream: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Why a request could not reach the upstream, in words for the caller,
/// when the cause is TLS: the certificate (names the fix) or the
/// handshake. `None` for anything else (refused, reset, DNS).
pub fn tls_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        // tokio-rustls reports TLS faults as an `io::Error` wrapping the
        // rustls one, and `io::Error::source` skips what it wraps.
        let tls = c.downcast_ref::<rustls::Error>().or_else(|| {
            c.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(tls) = tls {
            return Some(match tls {
                rustls::Error::InvalidCertificate(why) => format!(
                    "the API behind this gateway presented a certificate that is not trusted ({why:?}); \
                     the operator sets [gateway] upstream_ca_file to the CA that signed it"
                ),
                other => format!("the TLS handshake with the API behind this gateway failed ({other})"),
            });
        }
        cause = c.source();
    }
    // Some connectors box the rustls error where no `source` reaches it;
    // its debug form still names it.
    let text = format!("{e:?}");
    if let Some(at) = text.find("InvalidCertificate(") {
        let why: String = text[at + "InvalidCertificate(".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric())
            .collect();
        return Some(format!(
            "the API behind this gateway presented a certificate that is not trusted ({why}); \
             the operator sets [gateway] upstream_ca_file to the CA that signed it"
        ));
    }
    ["AlertReceived(", "PeerIncompatible(", "PeerMisbehaved("]
        .iter()
        .any(|kind| text.contains(kind))
        .then(|| "the TLS handshake with the API behind this gateway failed".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(upstream: &str) -> GatewayConfig {
        GatewayConfig {
            upstream: upstream.into(),
            ..GatewayConfig::default()
        }
    }

    #[tokio::test]
    async fn both_schemes_split_once_and_targets_keep_the_prefix() {
        let up = Upstream::new(&config("https://api.example:8443/base/"))
            .unwrap()
            .unwrap();
        assert_eq!(up.origin, "https://api.example:8443");
        assert_eq!(up.host, "api.example:8443");
        let t = up.target("/a/b", Some("x=1")).unwrap();
        assert_eq!(t.to_string(), "/base/a/b?x=1");
        let plain = Upstream::new(&config("http://127.0.0.1:9")).unwrap().unwrap();
        assert_eq!(plain.target("/", None).unwrap().to_string(), "/");
        assert!(Upstream::new(&config("")).unwrap().is_none());
        assert!(Upstream::new(&config("ftp://x"))
            .err()
            .unwrap()
            .contains("https://host"));
    }

    #[tokio::test]
    async fn an_unreadable_ca_file_is_named() {
        let mut c = config("https://api.example");
        c.upstream_ca_file = Some("/nonexistent/ca.pem".into());
        let e = Upstream::new(&c).err().unwrap();
        assert!(e.contains("gateway.upstream_ca_file /nonexistent/ca.pem"), "{e}");
    }
}
