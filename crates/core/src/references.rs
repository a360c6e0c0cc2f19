//! What the configuration names that lives in the store: the role a door
//! requires, the policies clients use, the roles gateway rules allow. The
//! file alone cannot tell whether they exist, so this is checked with the
//! store open, when the server starts and by `tessera config check`; a
//! name that does not exist would otherwise be found only when every login
//! at that door is refused.

use crate::bootstrap::BUILTIN_ROLES;
use crate::error::AuthResult;
use crate::policy::Allow;
use crate::Core;
use std::collections::BTreeSet;
use tessera_model::config::Config;
use tessera_model::names::{lookup_key, NameKind};
use tessera_store::Store;

/// What [`check_references`] found: problems refuse a start, warnings are
/// only said.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReferenceReport {
    /// Each names the key (or the client), the missing name and the fix.
    pub problems: Vec<String>,
    /// Gateway rules allowing a role that does not exist: such a rule lets
    /// no one through by that role (it fails closed), and the role may be
    /// created later, so this does not stop a start.
    pub warnings: Vec<String>,
}

/// Checks that every role `door_roles` names (`(key, role)` pairs from the
/// doors' tables) exists, spelled as the role is (logins compare role
/// names exactly), that every client's policy is defined under
/// `[policies]`, and warns about gateway rules allowing a missing role.
/// With no store yet (`store` is `None`), only the built-in roles a first
/// start creates exist.
///
/// Errors: the store's.
pub async fn check_references(
    store: Option<&Store>,
    config: &Config,
    door_roles: &[(String, String)],
) -> AuthResult<ReferenceReport> {
    let mut roles: BTreeSet<String> = BUILTIN_ROLES.iter().map(|(n, _)| (*n).to_owned()).collect();
    let mut clients = Vec::new();
    if let Some(store) = store {
        roles.extend(store.list_roles().await?.into_iter().map(|r| r.name));
        clients = store.list_clients().await?;
    }
    let mut report = ReferenceReport::default();
    for (key, role) in door_roles {
        if let Some(why) = missing_role(&roles, role, store.is_none()) {
            report.problems.push(format!("{key} names role {role:?}, {why}"));
        }
    }
    for client in &clients {
        if let Some(policy) = &client.policy {
            if config.policy(policy).is_none() {
                report.problems.push(format!(
                    "client {:?} uses policy {policy:?}, which is not defined under [policies]; \
                     define [policies.{policy}] again, or remove the client (tessera client remove {})",
                    client.id.as_str(),
                    client.id.as_str()
                ));
            }
        }
    }
    for (i, rule) in config.gateway.rules.iter().enumerate() {
        for entry in &rule.allow {
            if let Ok(Allow::Role(role)) = Allow::parse(entry) {
                if let Some(why) = missing_role(&roles, &role, store.is_none()) {
                    report.warnings.push(format!(
                        "gateway.rules[{i}] ({}) allows role {role:?}, {why}; until then the rule lets no one through by it",
                        rule.path
                    ));
                }
            }
        }
    }
    Ok(report)
}

/// Why `role` is not among `roles`, or `None` when it is.
fn missing_role(roles: &BTreeSet<String>, role: &str, new_store: bool) -> Option<String> {
    if roles.contains(role) {
        return None;
    }
    let key = lookup_key(NameKind::Role, role).ok();
    if let Some(spelled) = roles
        .iter()
        .find(|r| key.is_some() && lookup_key(NameKind::Role, r).ok() == key)
    {
        return Some(format!(
            "but the role is spelled {spelled:?}: write it exactly so, role names are compared as written"
        ));
    }
    let known: Vec<&str> = roles.iter().map(String::as_str).take(12).collect();
    let more = if roles.len() > known.len() { ", ..." } else { "" };
    let which = if new_store {
        "which a new store does not have"
    } else {
        "which does not exist"
    };
    Some(format!(
        "{which}: create it (tessera role add {role}) or name one that exists ({}{more})",
        known.join(", ")
    ))
}

impl Core {
    /// [`check_references`] on this core's store and configuration.
    ///
    /// Errors: the store's.
    pub async fn check_references(&self, door_roles: &[(String, String)]) -> AuthResult<ReferenceReport> {
        check_references(Some(&self.store), &self.config, door_roles).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtins() -> BTreeSet<String> {
        BUILTIN_ROLES.iter().map(|(n, _)| (*n).to_owned()).collect()
    }

    #[test]
    fn a_missing_role_is_named_with_the_fix() {
        assert_eq!(missing_role(&builtins(), "admin", false), None);
        let why = missing_role(&builtins(), "auditors", false).unwrap();
        assert!(why.starts_with("which does not exist"), "{why}");
        assert!(why.contains("tessera role add auditors"), "{why}");
        assert!(why.contains("_member_, admin, read_only"), "{why}");
        let why = missing_role(&builtins(), "Admin", false).unwrap();
        assert!(why.contains("spelled \"admin\""), "{why}");
    }

    #[tokio::test]
    async fn without_a_store_only_the_builtin_roles_exist() {
        let config = Config::default();
        let doors = [("doors.envelope_login.require_role".to_owned(), "ops".to_owned())];
        let report = check_references(None, &config, &doors).await.unwrap();
        assert_eq!(report.problems.len(), 1, "{report:?}");
        assert!(
            report.problems[0].starts_with(
                "doors.envelope_login.require_role names role \"ops\", which a new store does not have"
            ),
            "{report:?}"
        );
    }
}
