//! LDAP domain administration (SPEC §7): adding a domain whose users come
//! from a directory, and mapping its groups to roles. The settings are
//! checked here, whichever surface asked, and the search account's
//! password is sealed under the master key before it reaches the store.

use super::names;
use crate::audit::Actor;
use crate::directory::{secret, template, tls_config};
use crate::error::{AuthError, AuthResult};
use crate::{random, Core};
use serde::Serialize;
use tessera_model::{Domain, DomainId, GroupMapping, IdentitySource, LdapBind, LdapSettings};
use zeroize::Zeroizing;

/// An LDAP domain to add (`tessera domain add NAME --ldap-url ...`).
#[derive(Debug, Default)]
pub struct NewLdapDomain {
    pub name: String,
    pub description: String,
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    /// Bind straight to this DN, `{user}` filled in (RFC 4514 escaped).
    pub user_dn_template: Option<String>,
    /// Or search here ...
    pub search_base: Option<String>,
    /// ... with this filter, `{user}` filled in (RFC 4515 escaped).
    pub search_filter: Option<String>,
    /// The search account (anonymous search without one).
    pub bind_dn: Option<String>,
    pub bind_password: Option<Zeroizing<String>>,
    pub group_base: Option<String>,
    pub group_filter: Option<String>,
    pub starttls: bool,
    /// The PEM text of the CA certificates (the file's contents, so that
    /// every node has them).
    pub ca_pem: Option<String>,
}

/// A new LDAP domain and what the operator should know about it.
pub struct AddedLdapDomain {
    pub domain: Domain,
    /// E.g. that passwords cross the network in clear over `ldap://`.
    pub warnings: Vec<String>,
}

/// A group → role mapping as listings show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupMappingView {
    /// The directory group's `cn`.
    pub group: String,
    pub role: String,
    /// `system`, or the name of the domain the role applies in.
    pub scope: String,
}

/// What `domain add` and `config check` say about a directory reached
/// over plain `ldap://`.
pub fn cleartext_warning(domain: &str, url: &str) -> String {
    format!(
        "domain {domain:?} reaches its directory at {url} without TLS: passwords cross the network in clear; \
         use ldaps:// or --starttls"
    )
}

/// An optional setting: absent, empty or only whitespace is `None`;
/// otherwise the text as given must be free text (no control character,
/// at most `max` characters), and is kept without its surrounding
/// whitespace.
fn optional(what: &str, value: Option<String>, max: usize) -> AuthResult<Option<String>> {
    match value.filter(|v| !v.trim().is_empty()) {
        Some(v) => {
            names::text(what, &v, max)?;
            Ok(Some(v.trim().to_owned()))
        }
        None => Ok(None),
    }
}

/// A local domain's group mappings, which do not exist.
fn no_mappings(d: &Domain) -> AuthError {
    AuthError::NotFound(format!(
        "group mappings of domain {:?} (a local domain: only LDAP domains map directory groups)",
        d.name
    ))
}

fn invalid(why: impl Into<String>) -> AuthError {
    AuthError::InvalidInput(why.into())
}

/// Checks the URL: `ldap://` or `ldaps://` (any letter case), then
/// `host[:port]` and nothing after it but `/` ([`is_host_port`]).
fn check_url(url: &str) -> AuthResult<()> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("ldaps://")
        .or_else(|| lower.strip_prefix("ldap://"))
        .ok_or_else(|| invalid(format!("LDAP URL {url:?} must start with ldap:// or ldaps://")))?;
    if !is_host_port(rest.trim_end_matches('/')) {
        return Err(invalid(format!(
            "LDAP URL {url:?} must be scheme://host[:port] and nothing more: a host name or IPv4 \
             address (letters, digits, '-' and '_', dots between), or an IPv6 address in brackets; \
             a port from 1 to 65535"
        )));
    }
    Ok(())
}

/// `host[:port]`: a name of dot-separated labels of ASCII letters, digits,
/// `-` and `_` (an IPv4 address is one), or `[...]` of hex digits, `:`
/// and `.`; a port of digits from 1 to 65535, no leading zero.
fn is_host_port(authority: &str) -> bool {
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(inside) => match inside.split_once(']') {
            Some((addr, rest)) => (
                !addr.is_empty()
                    && addr
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.')),
                rest,
            ),
            None => return false,
        },
        None => {
            let (host, rest) = authority.split_at(authority.find(':').unwrap_or(authority.len()));
            let label = |l: &str| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            };
            (host.split('.').all(label), rest)
        }
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            p.bytes().all(|b| b.is_ascii_digit()) && !p.starts_with('0') && p.parse::<u16>().is_ok()
        });
    host_ok && port_ok
}

impl Core {
    /// Adds a domain whose users authenticate against a directory.
    ///
    /// Errors: `InvalidInput` naming the setting to fix; `Conflict` when
    /// the name is taken.
    pub async fn domain_add_ldap(&self, actor: &Actor, new: NewLdapDomain) -> AuthResult<AddedLdapDomain> {
        let name = names::canonical_name(names::NameKind::Domain, &new.name)?;
        names::text("description", &new.description, 1024)?;
        let url = new.url.trim().to_owned();
        check_url(&url)?;
        let ldaps = url.to_ascii_lowercase().starts_with("ldaps://");
        if ldaps && new.starttls {
            return Err(invalid(
                "StartTLS is for ldap:// URLs; ldaps:// is TLS from the start",
            ));
        }
        let template = optional("user DN template", new.user_dn_template, 1024)?;
        let base = optional("search base", new.search_base, 1024)?;
        let filter = optional("search filter", new.search_filter, 1024)?;
        let bind_dn = optional("bind DN", new.bind_dn, 1024)?;
        let group_base = optional("group base", new.group_base, 1024)?;
        let group_filter = optional("group filter", new.group_filter, 1024)?;
        let password = new.bind_password.filter(|p| !p.is_empty());
        let bind = match (template, base, filter) {
            (Some(template), None, None) => {
                if !template.contains("{user}") || !template.contains('=') {
                    return Err(invalid(
                        "the user DN template must be a DN containing {user}, e.g. uid={user},ou=people,dc=example,dc=org",
                    ));
                }
                if bind_dn.is_some() || password.is_some() {
                    return Err(invalid(
                        "a bind DN and password are for search-then-bind (--search-base and --search-filter); \
                         a DN template binds as the user directly",
                    ));
                }
                LdapBind::DnTemplate { template }
            }
            (None, Some(base), Some(filter)) => {
                template::check_filter("the search filter", &filter, &["{user}"]).map_err(invalid)?;
                if bind_dn.is_some() != password.is_some() {
                    return Err(invalid(
                        "give the search account's bind DN and its password together (or neither, for an \
                         anonymous search)",
                    ));
                }
                LdapBind::Search {
                    base,
                    filter,
                    bind_dn,
                }
            }
            _ => {
                return Err(invalid(
                    "give either a user DN template, or a search base and a search filter (not both)",
                ))
            }
        };
        if let Some(f) = &group_filter {
            template::check_filter("the group filter", f, &["{dn}", "{user}"]).map_err(invalid)?;
        }
        let ca_pem = match new.ca_pem.filter(|p| !p.trim().is_empty()) {
            Some(pem) => {
                if !ldaps && !new.starttls {
                    return Err(invalid("a CA file is for TLS: use an ldaps:// URL or StartTLS"));
                }
                // Read as a login will: every certificate a trust anchor.
                tls_config(Some(&pem))?;
                Some(pem)
            }
            None => None,
        };
        let now = self.now();
        let id = DomainId::from_bytes(random::id_bytes());
        let bind_password_enc = match &password {
            Some(p) => Some(secret::seal(&self.master_key, id.as_str(), p)?),
            None => None,
        };
        let domain = Domain {
            id: id.clone(),
            name,
            description: new.description,
            source: IdentitySource::Ldap,
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        let settings = LdapSettings {
            domain_id: id,
            url,
            bind,
            bind_password_enc,
            group_base,
            group_filter,
            starttls: new.starttls,
            ca_pem,
        };
        self.store.create_ldap_domain(&domain, &settings).await?;
        let style = match &settings.bind {
            LdapBind::DnTemplate { .. } => "DN template",
            LdapBind::Search { bind_dn: Some(_), .. } => "search with a service account",
            LdapBind::Search { bind_dn: None, .. } => "anonymous search",
        };
        self.audit
            .admin_change(
                now,
                actor,
                None,
                Some(&domain.name),
                format!("LDAP domain {:?} added ({}, {style})", domain.name, settings.url),
            )
            .await?;
        let mut warnings = Vec::new();
        if settings.is_cleartext() {
            warnings.push(cleartext_warning(&domain.name, &settings.url));
        }
        Ok(AddedLdapDomain { domain, warnings })
    }

    /// The LDAP domain called `name`; `local` says how to refuse a local
    /// domain (it has no group mappings).
    async fn ldap_domain_named(&self, name: &str, local: fn(&Domain) -> AuthError) -> AuthResult<Domain> {
        let d = self.domain_named(Some(name)).await?;
        if d.source != IdentitySource::Ldap {
            return Err(local(&d));
        }
        Ok(d)
    }

    fn mapping_view(&self, domain: &Domain, group: String, role: String, system: bool) -> GroupMappingView {
        GroupMappingView {
            group,
            role,
            scope: if system {
                "system".into()
            } else {
                domain.name.clone()
            },
        }
    }

    /// Members of directory group `group` get `role` at their next login
    /// (in the domain, or on the system with `system`).
    ///
    /// Errors: `NotFound` for the domain or role, `Conflict` when mapped
    /// already, `StateConflict` for a local domain (its users are not in
    /// a directory), `InvalidInput` for a bad group name.
    pub async fn domain_map_group(
        &self,
        actor: &Actor,
        domain: &str,
        group: &str,
        role: &str,
        system: bool,
    ) -> AuthResult<GroupMappingView> {
        let d = self
            .ldap_domain_named(domain, |d| {
                AuthError::StateConflict(format!(
                    "domain {:?} is a local domain: only LDAP domains map directory groups to roles",
                    d.name
                ))
            })
            .await?;
        let group = group.trim();
        if group.is_empty() {
            return Err(invalid("the group name must not be empty"));
        }
        names::text("group name", group, 256)?;
        let r = self.role_named(role).await?;
        self.store
            .map_group(&GroupMapping {
                domain_id: d.id.clone(),
                group: group.to_owned(),
                role_id: r.id.clone(),
                system,
            })
            .await?;
        let view = self.mapping_view(&d, group.to_owned(), r.name.clone(), system);
        self.audit
            .admin_change(
                self.now(),
                actor,
                None,
                Some(&d.name),
                format!(
                    "directory group {group:?} of domain {:?} mapped to role {:?} ({})",
                    d.name, r.name, view.scope
                ),
            )
            .await?;
        Ok(view)
    }

    /// Removes a mapping; members lose the role at their next login
    /// (end their sessions to take it away at once).
    ///
    /// Errors: `NotFound` when there is no such mapping (a local domain
    /// has none).
    pub async fn domain_unmap_group(
        &self,
        actor: &Actor,
        domain: &str,
        group: &str,
        role: &str,
        system: bool,
    ) -> AuthResult<()> {
        let d = self.ldap_domain_named(domain, no_mappings).await?;
        let r = self.role_named(role).await?;
        let gone = self
            .store
            .unmap_group(&GroupMapping {
                domain_id: d.id.clone(),
                group: group.trim().to_owned(),
                role_id: r.id.clone(),
                system,
            })
            .await?;
        if !gone {
            return Err(AuthError::NotFound(format!(
                "a mapping of group {group:?} to role {:?} in domain {:?}",
                r.name, d.name
            )));
        }
        self.audit
            .admin_change(
                self.now(),
                actor,
                None,
                Some(&d.name),
                format!(
                    "directory group {group:?} of domain {:?} no longer maps to role {:?}",
                    d.name, r.name
                ),
            )
            .await
    }

    /// A domain's group mappings, by group.
    ///
    /// Errors: `NotFound` for an unknown domain, and for a local one (it
    /// has no group mappings).
    pub async fn domain_group_mappings(&self, domain: &str) -> AuthResult<Vec<GroupMappingView>> {
        let d = self.ldap_domain_named(domain, no_mappings).await?;
        let roles = self.store.list_roles().await?;
        let mut out = Vec::new();
        for m in self.store.group_mappings(&d.id).await? {
            let role = roles
                .iter()
                .find(|r| r.id == m.role_id)
                .map(|r| r.name.clone())
                .unwrap_or_else(|| m.role_id.to_string());
            out.push(self.mapping_view(&d, m.group, role, m.system));
        }
        Ok(out)
    }
}

/// One warning per LDAP domain whose directory is reached without TLS
/// (`config check`, which reads the store without starting a core).
///
/// Errors: the store's.
pub async fn cleartext_warnings(store: &tessera_store::Store) -> AuthResult<Vec<String>> {
    let mut out = Vec::new();
    for d in store.list_domains().await? {
        if d.source != IdentitySource::Ldap {
            continue;
        }
        if let Some(s) = store.find_ldap_settings(&d.id).await? {
            if s.is_cleartext() {
                out.push(cleartext_warning(&d.name, &s.url));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_host_and_port_only() {
        for good in [
            "ldap://127.0.0.1:389",
            "LDAPS://dir.example.org",
            "ldaps://dc_1.corp-x.example:636/",
            "ldap://[::1]:10389//",
            "ldap://localhost:65535",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://x",
            "ldap://",
            "ldap://a b",
            "ldap://|*",
            "ldap://a..b",
            "ldap://user@host",
            "ldap://host:0",
            "ldap://host:0389",
            "ldap://host:65536",
            "ldap://host:+1",
            "ldap://host:",
            "ldap://host/dc=example",
            "ldap://[]",
            "ldap://[::1",
            "ldap://[::1]x",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
