//! TLS for the listener: a self-signed certificate kept in the data dir
//! (seeds 000 and 001 expect `curl -k`), or the operator's PEM files.
//!
//! The self-signed certificate names Tessera, lasts [`VALIDITY`], and
//! covers `[server] tls_hostnames` (by default the loopback names and a
//! specific listen address). Each start renews it, on the same key, when it
//! ends within [`RENEW_BEFORE`], covers other names, or was not issued by
//! this scheme (an older Tessera's lasted until the year 4096).

use crate::private_files::{create_private_dir, ensure_private, write_private};
use anyhow::{bail, Context, Result};
use base64::Engine as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tessera_model::config::{Config, TlsMode};
use time::OffsetDateTime;

/// How long a self-signed certificate lasts.
pub const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// A self-signed certificate that ends within this is renewed on start.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Its subject's common and organisation name.
const ISSUER_NAME: &str = "Tessera";
/// How far back a new certificate starts, for clients whose clock is behind.
const BACKDATE: Duration = Duration::from_secs(3600);

/// Where the self-signed pair lives inside the data dir.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("self-signed.crt"), dir.join("self-signed.key"))
}

/// The rustls configuration the listener should use; `None` for plain HTTP.
/// With `tls = "self-signed"` the certificate is generated or renewed first.
pub fn server_config(config: &Config) -> Result<Option<Arc<rustls::ServerConfig>>> {
    let (cert, key) = match config.server.tls {
        TlsMode::Off => return Ok(None),
        TlsMode::Files => match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            _ => bail!("server.tls = \"files\" needs server.tls_cert and server.tls_key"),
        },
        TlsMode::SelfSigned => {
            ensure_self_signed(config)?;
            self_signed_paths(&config.data_dir)
        }
    };
    let certs = read_certs(&cert)?;
    let key = read_key(&key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match or are unsupported")?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Arc::new(server)))
}

/// The certificate file the listener serves: the self-signed one or
/// `[server] tls_cert`. Errors when TLS is off.
pub fn certificate_path(config: &Config) -> Result<PathBuf> {
    match config.server.tls {
        TlsMode::Off => bail!("TLS is off ([server] tls = \"off\"): the listener serves no certificate"),
        TlsMode::Files => config
            .server
            .tls_cert
            .clone()
            .context("server.tls = \"files\" needs server.tls_cert"),
        TlsMode::SelfSigned => Ok(self_signed_paths(&config.data_dir).0),
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).with_context(|| format!("reading TLS certificate {}", path.display()))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing TLS certificate {}", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

/// The PEM text of a private key, refused when users other than its owner
/// may read it (the operator's `[server] tls_key` as much as the
/// self-signed one).
fn read_key_pem(path: &Path) -> Result<String> {
    ensure_private(path, "TLS private key")?;
    std::fs::read_to_string(path).with_context(|| format!("reading TLS key {}", path.display()))
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = read_key_pem(path)?;
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .with_context(|| format!("parsing TLS key {}", path.display()))?
        .with_context(|| format!("{} holds no PEM private key", path.display()))
}

/// The names the self-signed certificate should cover, in configured
/// order: `[server] tls_hostnames`, or loopback and a specific listen
/// address.
pub fn hostnames(config: &Config) -> Vec<String> {
    if !config.server.tls_hostnames.is_empty() {
        return config.server.tls_hostnames.clone();
    }
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let ip = config.server.listen.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    names
}

/// One spelling per name, so that `::0001` matches `::1` and `Host` `host`.
fn canonical(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = names
        .iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => n.to_ascii_lowercase(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What a certificate says, as `tessera tls show` prints it.
#[derive(Debug, Clone)]
pub struct Described {
    /// The PEM file it was read from (its first certificate).
    pub certificate: PathBuf,
    pub subject: String,
    pub issuer: String,
    /// Its DNS names and IP addresses (subjectAltName), in its order.
    pub names: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// SHA-256 of the DER certificate, colon-separated upper-case hex (as
    /// `openssl x509 -fingerprint -sha256` prints it).
    pub sha256: String,
    /// `sha256//BASE64` of its public key, for `curl --pinnedpubkey`; it
    /// survives renewal, which keeps the key.
    pub public_key_pin: String,
}

/// Reads the first certificate of the PEM file at `path`.
pub fn describe(path: &Path) -> Result<Described> {
    let certs = read_certs(path)?;
    let der = certs.first().context("no certificate")?;
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("parsing TLS certificate {}", path.display()))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            use x509_parser::extensions::GeneralName;
            match name {
                GeneralName::DNSName(d) => names.push((*d).to_owned()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => names.extend(<[u8; 4]>::try_from(*b).map(|a| IpAddr::from(a).to_string())),
                    16 => names.extend(<[u8; 16]>::try_from(*b).map(|a| IpAddr::from(a).to_string())),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let fingerprint: Vec<String> = Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let pin = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(cert.public_key().raw));
    let validity = cert.validity();
    Ok(Described {
        certificate: path.to_owned(),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
        sha256: fingerprint.join(":"),
        public_key_pin: format!("sha256//{pin}"),
    })
}

/// Why the self-signed certificate `current` must be renewed to cover
/// `names` at `now`; `None` when it can stay.
pub fn renewal_due(current: &Described, names: &[String], now: OffsetDateTime) -> Option<String> {
    let ours = format!("CN={ISSUER_NAME}, O={ISSUER_NAME}");
    if current.subject != ours {
        return Some(format!("it names {:?}, not Tessera", current.subject));
    }
    if current.not_after - now < RENEW_BEFORE {
        return Some(format!("it ends on {}", rfc3339(current.not_after)));
    }
    if current.not_before > now + Duration::from_secs(24 * 3600) {
        return Some(format!("it starts only on {}", rfc3339(current.not_before)));
    }
    if canonical(&current.names) != canonical(names) {
        return Some(format!(
            "it covers {} and the configuration names {}",
            current.names.join(", "),
            names.join(", ")
        ));
    }
    None
}

/// The wall clock, which a client judges the certificate by (never the
/// injected test clock): read through the core's sanctioned reader.
pub fn wall_clock() -> OffsetDateTime {
    use tessera_core::Clock as _;
    let ms = tessera_core::SystemClock.now().0;
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2027-11-30T16:42:26Z`.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

/// Generates the self-signed certificate when it is missing, unreadable or
/// due for renewal, keeping the key file when there is one.
fn ensure_self_signed(config: &Config) -> Result<()> {
    let (cert_path, key_path) = self_signed_paths(&config.data_dir);
    let names = hostnames(config);
    let reason = if !cert_path.is_file() {
        None
    } else {
        match describe(&cert_path) {
            Ok(current) => match renewal_due(&current, &names, wall_clock()) {
                Some(why) => Some(why),
                // Kept; its key is checked (and read) with it below.
                None if key_path.is_file() => return Ok(()),
                None => Some("its key is missing".to_owned()),
            },
            Err(e) => Some(format!("it cannot be read ({e:#})")),
        }
    };
    let key = if key_path.is_file() {
        let pem = read_key_pem(&key_path)?;
        rcgen::KeyPair::from_pem(&pem).with_context(|| {
            format!(
                "{} cannot sign a new certificate; move it away to have a new key generated",
                key_path.display()
            )
        })?
    } else {
        let key = rcgen::KeyPair::generate().context("generating a TLS key")?;
        if let Some(dir) = key_path.parent() {
            create_private_dir(dir)?;
        }
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        key
    };
    let pem = issue(&key, &names)?;
    write_replacing(&cert_path, pem.as_bytes())?;
    match reason {
        Some(why) => tracing::info!(
            cert = %cert_path.display(), names = ?names, "renewed the self-signed TLS certificate: {why}"
        ),
        None => tracing::info!(
            cert = %cert_path.display(), names = ?names, "generated a self-signed TLS certificate"
        ),
    }
    Ok(())
}

/// A certificate for `names` signed by `key`, valid from an hour ago for
/// [`VALIDITY`], its serial number random (a renewal on the same key must
/// not repeat one).
fn issue(key: &rcgen::KeyPair, names: &[String]) -> Result<String> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .context("a name in server.tls_hostnames cannot go into a certificate")?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, ISSUER_NAME);
    dn.push(rcgen::DnType::OrganizationName, ISSUER_NAME);
    params.distinguished_name = dn;
    let now = wall_clock();
    params.not_before = now - BACKDATE;
    params.not_after = now + VALIDITY;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let mut serial = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut serial)
        .map_err(|_| anyhow::anyhow!("no random numbers for a certificate serial"))?;
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = params
        .self_signed(key)
        .context("signing the self-signed certificate")?;
    Ok(cert.pem())
}

/// Writes `path` whole or not at all: a crash mid-write leaves the old one.
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("crt.new");
    let _ = std::fs::remove_file(&tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
