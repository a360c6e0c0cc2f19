//! `tessera tls show`: the certificate the listener serves, its SHA-256
//! fingerprint and public-key pin, for `curl --cacert` or pinning. Reads
//! files only: it never opens the store nor generates a certificate.

use crate::config::{self, Overrides};
use crate::tls;
use anyhow::{bail, Result};
use clap::Subcommand;
use std::path::Path;
use tessera_model::config::TlsMode;

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Print the served certificate's path, subject, names, validity,
    /// SHA-256 fingerprint and public-key pin.
    Show {
        /// Print JSON instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(file: Option<&Path>, overrides: &Overrides, cmd: TlsCommand) -> Result<()> {
    let TlsCommand::Show { json } = cmd;
    let settings = config::load(file, overrides)?;
    let config = &settings.config;
    let path = tls::certificate_path(config)?;
    if !path.exists() {
        if config.server.tls == TlsMode::SelfSigned {
            bail!(
                "no certificate yet at {}: `tessera init` or the first `tessera serve` generates it",
                path.display()
            );
        }
        bail!("[server] tls_cert {} does not exist", path.display());
    }
    let cert = tls::describe(&path)?;
    let now = tls::wall_clock();
    let renewal = (config.server.tls == TlsMode::SelfSigned)
        .then(|| tls::renewal_due(&cert, &tls::hostnames(config), now))
        .flatten();
    if json {
        let value = serde_json::json!({
            "certificate": cert.certificate,
            "subject": cert.subject,
            "issuer": cert.issuer,
            "names": cert.names,
            "not_before": tls::rfc3339(cert.not_before),
            "not_after": tls::rfc3339(cert.not_after),
            "sha256": cert.sha256,
            "public_key_pin": cert.public_key_pin,
            "renewal_at_next_start": renewal,
        });
        return super::output::json(&value);
    }
    let days_left = (cert.not_after - now).whole_days();
    let lines = [
        ("certificate", cert.certificate.display().to_string()),
        ("subject", cert.subject.clone()),
        ("issuer", cert.issuer.clone()),
        ("names", cert.names.join(", ")),
        ("not before", tls::rfc3339(cert.not_before)),
        (
            "not after",
            format!("{} ({days_left} days left)", tls::rfc3339(cert.not_after)),
        ),
        ("sha256", cert.sha256.clone()),
        ("public key pin", cert.public_key_pin.clone()),
    ];
    for (key, value) in lines {
        println!("{:<16}{value}", format!("{key}:"));
    }
    if let Some(why) = renewal {
        println!("{:<16}at the next start: {why}", "renewal:");
    }
    Ok(())
}
