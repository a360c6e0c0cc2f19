//! LDAP directories (SPEC §7): the client side of an LDAP domain. A login
//! finds the user's DN (template or search), binds as it with the given
//! password, and reads the user's groups; the core counts the attempt for
//! lockout before the bind and keeps the shadow user (`login.rs`). One
//! small connection pool per directory (`pool.rs`); names escaped where
//! they land (`template.rs`); the search account's password sealed under
//! the master key (`secret.rs`).

mod login;
pub mod pool;
pub mod secret;
pub mod template;

use crate::error::{AuthError, AuthResult};
use crate::master_key::MasterKey;
use dashmap::DashMap;
use ldap3::{Ldap, Scope, SearchEntry};
use pool::{DirError, Limits, Pool};
use std::sync::Arc;
use std::time::Duration;
use tessera_model::config::LdapConfig;
use tessera_model::{DomainId, LdapBind, LdapSettings};
use zeroize::Zeroizing;

/// The LDAP result code of a bind with a wrong password or an unknown DN.
pub const INVALID_CREDENTIALS: u32 = 49;
/// The LDAP result code for a search base that does not exist.
const NO_SUCH_OBJECT: u32 = 32;

/// This node's directories, one per LDAP domain, built on first use and
/// rebuilt when the domain's settings change.
pub struct Directories {
    limits: Limits,
    by_domain: DashMap<DomainId, Arc<Directory>>,
}

impl Directories {
    pub fn new(config: &LdapConfig) -> Directories {
        Directories {
            limits: Limits {
                connect: config.connect_timeout,
                operation: config.operation_timeout,
                size: usize::try_from(config.pool_size).unwrap_or(1).max(1),
            },
            by_domain: DashMap::new(),
        }
    }

    /// The directory of a domain with these settings.
    ///
    /// Errors: `InvalidInput` when the CA certificates cannot be read or
    /// the bind password cannot be decrypted with this node's master key.
    pub fn get(&self, settings: LdapSettings, master: &MasterKey) -> AuthResult<Arc<Directory>> {
        if let Some(d) = self.by_domain.get(&settings.domain_id) {
            if d.settings == settings {
                return Ok(d.clone());
            }
        }
        let d = Arc::new(Directory::new(settings, master, self.limits)?);
        self.by_domain.insert(d.settings.domain_id.clone(), d.clone());
        Ok(d)
    }
}

/// What a search for a login name found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    One {
        dn: String,
    },
    Nobody,
    /// More than one entry: the filter is too loose; nobody logs in.
    Many(usize),
}

/// How the directory judged a password.
#[derive(Debug)]
pub enum Verdict {
    /// The bind succeeded: who the user is in the directory.
    Accepted(DirectoryUser),
    /// The bind was refused with this result code (49: wrong password or
    /// no such entry).
    Refused { rc: u32 },
}

/// A user as the directory describes it after a successful bind.
#[derive(Debug, Clone)]
pub struct DirectoryUser {
    pub dn: String,
    pub common_name: Option<String>,
    /// The `cn` of every group the user is in.
    pub groups: Vec<String>,
}

/// One LDAP domain's directory.
pub struct Directory {
    settings: LdapSettings,
    bind_password: Option<Zeroizing<String>>,
    pool: Pool,
}

impl Directory {
    fn new(settings: LdapSettings, master: &MasterKey, limits: Limits) -> AuthResult<Directory> {
        let bind_password = match &settings.bind_password_enc {
            Some(sealed) => Some(secret::open(master, settings.domain_id.as_str(), sealed)?),
            None => None,
        };
        let needs_tls = settings.starttls || settings.url.to_ascii_lowercase().starts_with("ldaps://");
        let tls = if needs_tls {
            Some(tls_config(settings.ca_pem.as_deref())?)
        } else {
            None
        };
        let pool = Pool::new(settings.url.clone(), settings.starttls, tls, limits);
        Ok(Directory {
            settings,
            bind_password,
            pool,
        })
    }

    pub fn settings(&self) -> &LdapSettings {
        &self.settings
    }

    /// Binds as the search account, or anonymously without one.
    async fn bind_searcher(&self, ldap: &mut Ldap, op: Duration) -> Result<(), DirError> {
        let (dn, pw) = match (&self.settings.bind, &self.bind_password) {
            (
                LdapBind::Search {
                    bind_dn: Some(dn), ..
                },
                Some(pw),
            ) => (dn.as_str(), pw.as_str()),
            _ => ("", ""),
        };
        ldap.with_timeout(op).simple_bind(dn, pw).await?.success()?;
        Ok(())
    }

    /// Search style: the DN of the one entry the filter finds for `user`.
    pub async fn find_user(&self, user: &str) -> Result<Found, DirError> {
        let LdapBind::Search { base, filter, .. } = &self.settings.bind else {
            return Err(DirError::Unavailable("this domain binds by DN template".into()));
        };
        let filter = template::filter(filter, user, "");
        self.pool
            .run(|mut ldap, op| {
                let filter = filter.clone();
                async move {
                    self.bind_searcher(&mut ldap, op).await?;
                    let (entries, _) = ldap
                        .with_timeout(op)
                        .search(base, Scope::Subtree, &filter, vec!["1.1"])
                        .await?
                        .success()?;
                    Ok(match entries.len() {
                        0 => Found::Nobody,
                        1 => Found::One {
                            dn: entries
                                .into_iter()
                                .next()
                                .map(|e| SearchEntry::construct(e).dn)
                                .unwrap_or_default(),
                        },
                        n => Found::Many(n),
                    })
                }
            })
            .await
    }

    /// Binds as `dn` with `password`; when the directory accepts it, reads
    /// the user's `cn` and groups (as the search account when there is
    /// one, else as the user).
    pub async fn verify(&self, dn: &str, user: &str, password: &str) -> Result<Verdict, DirError> {
        self.pool
            .run(|mut ldap, op| async move {
                let bound = ldap.with_timeout(op).simple_bind(dn, password).await?;
                if bound.rc != 0 {
                    return Ok(Verdict::Refused { rc: bound.rc });
                }
                let (common_name, member_of) = read_own_entry(&mut ldap, dn, op).await?;
                if matches!(self.settings.bind, LdapBind::Search { bind_dn: Some(_), .. }) {
                    self.bind_searcher(&mut ldap, op).await?;
                }
                let mut groups = self.groups_of(&mut ldap, dn, user, op).await?;
                groups.extend(member_of.iter().filter_map(|g| template::leading_cn(g)));
                groups.sort_by_key(|g| g.to_lowercase());
                groups.dedup_by_key(|g| g.to_lowercase());
                Ok(Verdict::Accepted(DirectoryUser {
                    dn: dn.to_owned(),
                    common_name,
                    groups,
                }))
            })
            .await
    }

    /// The `cn` of every group the group filter finds for the user.
    async fn groups_of(
        &self,
        ldap: &mut Ldap,
        dn: &str,
        user: &str,
        op: Duration,
    ) -> Result<Vec<String>, DirError> {
        let base = self
            .settings
            .group_base
            .clone()
            .unwrap_or_else(|| template::default_group_base(&self.settings.bind));
        let filter = template::filter(
            self.settings
                .group_filter
                .as_deref()
                .unwrap_or(template::DEFAULT_GROUP_FILTER),
            user,
            dn,
        );
        let result = ldap
            .with_timeout(op)
            .search(&base, Scope::Subtree, &filter, vec!["cn"])
            .await?;
        if result.1.rc == NO_SUCH_OBJECT {
            return Ok(Vec::new());
        }
        let (entries, _) = result.success()?;
        Ok(entries
            .into_iter()
            .filter_map(|e| first_value(&SearchEntry::construct(e), "cn"))
            .collect())
    }
}

/// The user's own `cn` and `memberOf` values (Active Directory, or
/// OpenLDAP's memberof overlay); nothing when the entry cannot be read.
async fn read_own_entry(
    ldap: &mut Ldap,
    dn: &str,
    op: Duration,
) -> Result<(Option<String>, Vec<String>), DirError> {
    let result = ldap
        .with_timeout(op)
        .search(dn, Scope::Base, "(objectClass=*)", vec!["cn", "memberOf"])
        .await?;
    if result.1.rc != 0 {
        return Ok((None, Vec::new()));
    }
    let Some(entry) = result.0.into_iter().next().map(SearchEntry::construct) else {
        return Ok((None, Vec::new()));
    };
    let member_of = entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("memberOf"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Ok((first_value(&entry, "cn"), member_of))
}

fn first_value(entry: &SearchEntry, attr: &str) -> Option<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first().cloned())
}

/// The TLS client configuration: the domain's CA certificates when given,
/// else the system's roots; ring as the crypto provider.
///
/// Errors: `InvalidInput` when the PEM holds no certificate, or one that
/// cannot be a trust anchor (not an X.509 certificate).
pub fn tls_config(ca_pem: Option<&str>) -> AuthResult<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in parse_ca_pem(pem)? {
                roots.add(cert).map_err(|e| {
                    AuthError::InvalidInput(format!(
                        "the CA file holds a certificate that cannot be a trust anchor ({e}); give the \
                             PEM of the directory's CA certificates"
                    ))
                })?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system root rustls cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AuthError::Internal(format!("TLS versions: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of a PEM bundle.
///
/// Errors: `InvalidInput` when it holds none or is not PEM.
pub fn parse_ca_pem(pem: &str) -> AuthResult<Vec<rustls::pki_types::CertificateDer<'static>>> {
    let mut reader = std::io::BufReader::new(pem.as_bytes());
    let certs: Vec<_> = rustls_pemfile::certs(&mut reader)
        .collect::<Result<_, _>>()
        .map_err(|e| AuthError::InvalidInput(format!("the CA file is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(AuthError::InvalidInput(
            "the CA file holds no certificate (PEM \"BEGIN CERTIFICATE\" blocks)".into(),
        ));
    }
    Ok(certs)
}
