//! First start on an empty store: the default domain, the built-in roles
//! and an `admin` user holding the system `admin` role.

use crate::admin::DEFAULT_DOMAIN;
use crate::error::AuthResult;
use crate::{random, Core};
use tessera_model::{
    Assignment, AssignmentScope, Domain, DomainId, IdentitySource, Principal, Role, RoleId, User, UserId,
};
use tessera_store::BootstrapRecords;
use zeroize::Zeroizing;

/// The roles that exist from the first start.
pub const BUILTIN_ROLES: [(&str, &str); 3] = [
    ("admin", "Everything, on the system or on a domain"),
    ("_member_", "Default role for project membership"),
    ("read_only", "Read-only access"),
];

/// The name of the first administrator.
const ADMIN_USER: &str = "admin";

/// What a first start did.
pub struct Bootstrapped {
    /// The admin password when Tessera generated it: show it once.
    pub generated_password: Option<Zeroizing<String>>,
}

impl Core {
    /// Bootstraps an empty store. Returns `None` when the store was already
    /// set up (by an earlier start or by another node racing this one).
    pub async fn bootstrap(
        &self,
        admin_password: Option<Zeroizing<String>>,
    ) -> AuthResult<Option<Bootstrapped>> {
        if self.store.is_bootstrapped().await? {
            return Ok(None);
        }
        let now = self.now();
        let domain = Domain {
            id: DomainId::from_bytes(random::id_bytes()),
            name: DEFAULT_DOMAIN.into(),
            description: "Default domain".into(),
            source: IdentitySource::Local,
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        let roles: Vec<Role> = BUILTIN_ROLES
            .iter()
            .map(|(name, description)| Role {
                id: RoleId::from_bytes(random::id_bytes()),
                name: (*name).into(),
                description: (*description).into(),
                enabled: true,
                builtin: true,
                created_at: now,
            })
            .collect();
        let (password, generated) = match admin_password.filter(|p| !p.is_empty()) {
            Some(p) => (p, false),
            None => (Zeroizing::new(random::password()), true),
        };
        // A given password meets `[password]` like any other; a generated
        // one is 20 random characters. Checked before anything is written.
        let hash = if generated {
            self.passwords.hash(password.clone()).await?
        } else {
            self.hash_new_password(ADMIN_USER, password.clone()).await?
        };
        let admin = User {
            id: UserId::from_bytes(random::id_bytes()),
            domain_id: domain.id.clone(),
            name: ADMIN_USER.into(),
            common_name: Some("Administrator".into()),
            distinguished_name: None,
            password_hash: Some(hash),
            enabled: true,
            emergency: false,
            failed_logins: 0,
            first_failed_at: None,
            locked_until: None,
            created_at: now,
            updated_at: now,
        };
        let admin_assignments = vec![Assignment {
            principal: Principal::User(admin.id.clone()),
            role_id: roles[0].id.clone(),
            scope: AssignmentScope::System,
        }];
        let records = BootstrapRecords {
            domain,
            roles,
            admin,
            admin_assignments,
        };
        if !self.store.bootstrap(&records, now).await? {
            return Ok(None);
        }
        self.audit
            .admin_change(
                now,
                &crate::Actor::System,
                Some((records.admin.id.as_str(), "admin")),
                Some(DEFAULT_DOMAIN),
                "store bootstrapped: default domain, built-in roles, admin user".into(),
            )
            .await?;
        Ok(Some(Bootstrapped {
            generated_password: generated.then_some(password),
        }))
    }
}
