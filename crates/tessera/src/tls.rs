//! TLS for the listener: a self-signed certificate generated on first
//! start and kept in the data dir (seeds 000 and 001 expect `curl -k`), or
//! the operator's PEM files.

use crate::private_files::{create_private_dir, ensure_private, write_private};
use anyhow::{bail, Context, Result};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_model::config::{Config, TlsMode};

/// Where the self-signed pair lives inside the data dir.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("self-signed.crt"), dir.join("self-signed.key"))
}

/// The rustls configuration the listener should use; `None` for plain HTTP.
pub fn server_config(config: &Config) -> Result<Option<Arc<rustls::ServerConfig>>> {
    let (cert, key) = match config.server.tls {
        TlsMode::Off => return Ok(None),
        TlsMode::Files => match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            _ => bail!("server.tls = \"files\" needs server.tls_cert and server.tls_key"),
        },
        TlsMode::SelfSigned => {
            let (c, k) = self_signed_paths(&config.data_dir);
            if !c.is_file() || !k.is_file() {
                generate_self_signed(&c, &k, config)?;
            }
            (c, k)
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

/// The private key, refused when users other than its owner may read it
/// (the operator's `[server] tls_key` as much as the self-signed one).
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    ensure_private(path, "TLS private key")?;
    let pem = std::fs::read(path).with_context(|| format!("reading TLS key {}", path.display()))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .with_context(|| format!("parsing TLS key {}", path.display()))?
        .with_context(|| format!("{} holds no PEM private key", path.display()))
}

/// Names the certificate covers: loopback, the machine's host name and
/// the configured listen address.
fn subject_names(config: &Config) -> Vec<String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let ip = config.server.listen.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() && !names.iter().any(|n| n == host) {
            names.push(host.to_owned());
        }
    }
    names
}

fn generate_self_signed(cert_path: &Path, key_path: &Path, config: &Config) -> Result<()> {
    let names = subject_names(config);
    let certified =
        rcgen::generate_simple_self_signed(names.clone()).context("generating a self-signed certificate")?;
    if let Some(dir) = cert_path.parent() {
        create_private_dir(dir)?;
    }
    write_private(key_path, certified.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, certified.cert.pem())
        .with_context(|| format!("writing {}", cert_path.display()))?;
    tracing::info!(cert = %cert_path.display(), names = ?names, "generated a self-signed TLS certificate");
    Ok(())
}
