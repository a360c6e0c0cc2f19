//! LDAP domains (SPEC §7): a domain's directory settings, its group → role
//! mappings, and the shadow users a directory login keeps up to date.

use crate::domains::insert_domain;
use crate::invalidations::{insert_invalidation, Invalidation};
use crate::names;
use crate::roles::insert_assignment;
use crate::{on_pool, Store, StoreError, StoreResult};
use tessera_model::names::NameKind;
use tessera_model::{
    Assignment, Domain, DomainId, GroupMapping, LdapBind, LdapSettings, Principal, RoleId, Timestamp, UserId,
};

#[derive(sqlx::FromRow)]
struct LdapRow {
    domain_id: String,
    url: String,
    bind_style: String,
    user_dn_template: Option<String>,
    search_base: Option<String>,
    search_filter: Option<String>,
    bind_dn: Option<String>,
    bind_password_enc: Option<Vec<u8>>,
    group_base: Option<String>,
    group_filter: Option<String>,
    starttls: bool,
    ca_pem: Option<String>,
}

impl TryFrom<LdapRow> for LdapSettings {
    type Error = StoreError;
    fn try_from(r: LdapRow) -> StoreResult<LdapSettings> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("LDAP settings of domain {}: {what}", r.domain_id));
        let bind = match (
            r.bind_style.as_str(),
            r.user_dn_template,
            r.search_base,
            r.search_filter,
        ) {
            ("dn_template", Some(template), _, _) => LdapBind::DnTemplate { template },
            ("search", _, Some(base), Some(filter)) => LdapBind::Search {
                base,
                filter,
                bind_dn: r.bind_dn,
            },
            (style, ..) => return Err(corrupt(&format!("bind style {style:?} without its settings"))),
        };
        Ok(LdapSettings {
            domain_id: DomainId::from_trusted(r.domain_id),
            url: r.url,
            bind,
            bind_password_enc: r.bind_password_enc,
            group_base: r.group_base,
            group_filter: r.group_filter,
            starttls: r.starttls,
            ca_pem: r.ca_pem,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MappingRow {
    domain_id: String,
    group_name: String,
    role_id: String,
    system: bool,
}

/// The key a group is matched by: its `cn` in lower case.
pub fn group_key(group: &str) -> String {
    group.trim().to_lowercase()
}

impl Store {
    /// Inserts an LDAP domain and its directory settings in one
    /// transaction. `Conflict` when the name is taken (compared as RFC 8265
    /// says), `InvalidName` when RFC 8265 refuses it.
    pub async fn create_ldap_domain(&self, d: &Domain, s: &LdapSettings) -> StoreResult<()> {
        let key = names::key(NameKind::Domain, &d.name)?;
        let (style, template, base, filter, bind_dn) = match &s.bind {
            LdapBind::DnTemplate { template } => ("dn_template", Some(template.as_str()), None, None, None),
            LdapBind::Search {
                base,
                filter,
                bind_dn,
            } => (
                "search",
                None,
                Some(base.as_str()),
                Some(filter.as_str()),
                bind_dn.as_deref(),
            ),
        };
        let result: Result<(), sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                insert_domain(&mut *tx, d, &key).await?;
                sqlx::query(
                    "INSERT INTO ldap_domains (domain_id, url, bind_style, user_dn_template, search_base,
                        search_filter, bind_dn, bind_password_enc, group_base, group_filter, starttls, ca_pem)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(d.id.as_str())
                .bind(s.url.as_str())
                .bind(style)
                .bind(template)
                .bind(base)
                .bind(filter)
                .bind(bind_dn)
                .bind(s.bind_password_enc.as_deref())
                .bind(s.group_base.as_deref())
                .bind(s.group_filter.as_deref())
                .bind(s.starttls)
                .bind(s.ca_pem.as_deref())
                .execute(&mut *tx)
                .await?;
                tx.commit().await
            }
            .await
        });
        result.map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("domain {:?}", d.name)),
            other => other,
        })
    }

    /// The directory settings of an LDAP domain; `None` for a local one.
    pub async fn find_ldap_settings(&self, domain: &DomainId) -> StoreResult<Option<LdapSettings>> {
        let row: Option<LdapRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT domain_id, url, bind_style, user_dn_template, search_base, search_filter, bind_dn,
                    bind_password_enc, group_base, group_filter, starttls, ca_pem
                 FROM ldap_domains WHERE domain_id = $1",
            )
            .bind(domain.as_str())
            .fetch_optional(pool)
            .await
        })?;
        row.map(LdapSettings::try_from).transpose()
    }

    /// Maps a directory group to a role; `Conflict` when that mapping
    /// exists, `NotFound` when the domain or role does not.
    pub async fn map_group(&self, m: &GroupMapping) -> StoreResult<()> {
        let key = group_key(&m.group);
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO ldap_group_roles (domain_id, group_key, group_name, role_id, system)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(m.domain_id.as_str())
            .bind(key.as_str())
            .bind(m.group.trim())
            .bind(m.role_id.as_str())
            .bind(m.system)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("the mapping of group {:?} to that role", m.group))
            }
            other => other,
        })
    }

    /// Removes a mapping; `false` when there was none.
    pub async fn unmap_group(&self, m: &GroupMapping) -> StoreResult<bool> {
        let key = group_key(&m.group);
        let done = on_pool!(self, write, |pool| {
            sqlx::query(
                "DELETE FROM ldap_group_roles
                 WHERE domain_id = $1 AND group_key = $2 AND role_id = $3 AND system = $4",
            )
            .bind(m.domain_id.as_str())
            .bind(key.as_str())
            .bind(m.role_id.as_str())
            .bind(m.system)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// A domain's group mappings, by group then role id.
    pub async fn group_mappings(&self, domain: &DomainId) -> StoreResult<Vec<GroupMapping>> {
        let rows: Vec<MappingRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT domain_id, group_name, role_id, system FROM ldap_group_roles
                 WHERE domain_id = $1 ORDER BY group_key, role_id, system",
            )
            .bind(domain.as_str())
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|r| GroupMapping {
                domain_id: DomainId::from_trusted(r.domain_id),
                group: r.group_name,
                role_id: RoleId::from_trusted(r.role_id),
                system: r.system,
            })
            .collect())
    }

    /// Brings a directory user's shadow record up to date after a login:
    /// its common name and DN, and exactly `assignments` as its roles (the
    /// ones its groups give now), in one transaction, every node told.
    /// `false` when the user is gone.
    pub async fn sync_directory_user(
        &self,
        id: &UserId,
        common_name: Option<&str>,
        distinguished_name: &str,
        assignments: &[Assignment],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let principal = Principal::User(id.clone());
        if assignments.iter().any(|a| a.principal != principal) {
            return Err(StoreError::Corrupt(
                "a directory user's roles must all be its own".into(),
            ));
        }
        let result: Result<bool, sqlx::Error> = on_pool!(self, write, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE users SET common_name = $1, distinguished_name = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(common_name)
                .bind(distinguished_name)
                .bind(now.0)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM assignments WHERE principal_kind = 'user' AND principal_id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                for a in assignments {
                    insert_assignment(&mut *tx, a).await?;
                }
                insert_invalidation(&mut *tx, &Invalidation::User(id.to_string()), now).await?;
                tx.commit().await?;
                Ok(true)
            }
            .await
        });
        Ok(result?)
    }
}
