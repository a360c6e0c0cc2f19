//! Mirrors of the records the admin API lists: `tessera_model` and
//! `tessera_core` types, serialised by serde, described here so the model
//! and core crates need no OpenAPI dependency. The tests below serialise
//! the real types (built with struct literals, so a new field breaks the
//! build) and compare their keys with these schemas.

use super::AuditKindName;
use utoipa::ToSchema;

/// A domain (tenant, realm): a namespace of users and role assignments.
#[derive(ToSchema)]
pub struct Domain {
    /// 32 lowercase hex characters.
    id: String,
    name: String,
    description: String,
    /// Where users and passwords live: `local` or `ldap`.
    #[schema(example = "local")]
    source: String,
    enabled: bool,
    /// Milliseconds since the epoch.
    created_at: i64,
    updated_at: i64,
}

/// A role.
#[derive(ToSchema)]
pub struct Role {
    id: String,
    name: String,
    description: String,
    enabled: bool,
    /// `admin`, `_member_` and `read_only` are built in.
    builtin: bool,
    created_at: i64,
}

/// A role as a user holds it.
#[derive(ToSchema, serde::Serialize)]
pub struct RoleView {
    name: String,
    /// `system`, or the name of the domain it applies in.
    scope: String,
}

/// A user as listings show it (never the password hash).
#[derive(ToSchema)]
#[schema(as = User)]
pub struct UserView {
    id: String,
    name: String,
    /// The domain's name.
    domain: String,
    common_name: Option<String>,
    distinguished_name: Option<String>,
    enabled: bool,
    /// May use only the emergency grant.
    emergency: bool,
    /// Set while a lockout is in force (milliseconds since the epoch).
    locked_until: Option<i64>,
    roles: Vec<RoleView>,
    created_at: i64,
}

/// An OAuth2 client as listings show it (never the secret hash).
#[derive(ToSchema)]
#[schema(as = Client)]
pub struct ClientView {
    id: String,
    /// A public client has no secret.
    public: bool,
    grants: Vec<String>,
    /// Token policy overriding the door's own.
    policy: Option<String>,
    /// Roles for the client_credentials grant.
    roles: Vec<String>,
    enabled: bool,
    created_at: i64,
}

/// A live session as listings show it (never the token or its hash).
#[derive(ToSchema)]
#[schema(as = Session)]
pub struct SessionView {
    id: String,
    /// `access`, `refresh` or `proxy`.
    kind: String,
    /// `opaque` or `jwt`.
    format: String,
    /// The user's name, for a user's token.
    user: Option<String>,
    client_id: Option<String>,
    /// The front door that issued it.
    door: String,
    policy: String,
    scope: String,
    created_at: i64,
    last_used_at: i64,
    /// `null`: never expires (proxy tokens).
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    revoke_reason: Option<String>,
}

/// A recorded audit event.
#[derive(ToSchema)]
pub struct AuditEvent {
    id: i64,
    /// Milliseconds since the epoch.
    at: i64,
    kind: AuditKindName,
    /// Who did it, when not the subject itself: `cli`, `admin-token`, or
    /// an administrator's user id.
    actor: Option<String>,
    /// Who it happened to: user id, client id or `service`.
    subject: Option<String>,
    /// The name the caller gave, kept even when no such user exists.
    subject_name: Option<String>,
    domain: Option<String>,
    door: Option<String>,
    detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeSet;
    use tessera_model as m;
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    use utoipa::PartialSchema;

    fn keys<T: Serialize>(value: &T) -> BTreeSet<String> {
        match serde_json::to_value(value).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    fn properties<T: PartialSchema>() -> BTreeSet<String> {
        match T::schema() {
            RefOr::T(Schema::Object(o)) => o.properties.keys().cloned().collect(),
            _ => panic!("not an object schema"),
        }
    }

    const ID: &str = "0123456789abcdef0123456789abcdef";
    const T0: m::Timestamp = m::Timestamp(0);

    #[test]
    fn the_mirrors_have_the_fields_the_real_records_serialise() {
        let domain = m::Domain {
            id: m::DomainId::from_trusted(ID.into()),
            name: "local".into(),
            description: String::new(),
            source: m::IdentitySource::Local,
            enabled: true,
            created_at: T0,
            updated_at: T0,
        };
        assert_eq!(keys(&domain), properties::<Domain>());
        let role = m::Role {
            id: m::RoleId::from_trusted(ID.into()),
            name: "admin".into(),
            description: String::new(),
            enabled: true,
            builtin: true,
            created_at: T0,
        };
        assert_eq!(keys(&role), properties::<Role>());
        let grant = tessera_core::admin::RoleView {
            name: "admin".into(),
            scope: "system".into(),
        };
        assert_eq!(keys(&grant), properties::<RoleView>());
        let user = tessera_core::admin::UserView {
            id: m::UserId::from_trusted(ID.into()),
            name: "u".into(),
            domain: "local".into(),
            common_name: None,
            distinguished_name: None,
            enabled: true,
            emergency: false,
            locked_until: None,
            roles: vec![grant],
            created_at: T0,
        };
        assert_eq!(keys(&user), properties::<UserView>());
        let client = tessera_core::admin::ClientView {
            id: m::ClientId("c".into()),
            public: true,
            grants: vec![],
            policy: None,
            roles: vec![],
            enabled: true,
            created_at: T0,
        };
        assert_eq!(keys(&client), properties::<ClientView>());
        let session = tessera_core::session_admin::SessionView {
            id: m::SessionId::from_trusted(ID.into()),
            kind: "access",
            format: "opaque",
            user: None,
            client_id: None,
            door: "oauth2".into(),
            policy: "oauth2".into(),
            scope: "read write".into(),
            created_at: T0,
            last_used_at: T0,
            expires_at: None,
            revoked_at: None,
            revoke_reason: None,
        };
        assert_eq!(keys(&session), properties::<SessionView>());
        let event = m::AuditEvent {
            id: 1,
            event: m::NewAuditEvent {
                at: T0,
                kind: m::AuditKind::Logout,
                actor: None,
                subject: None,
                subject_name: None,
                domain: None,
                door: None,
                detail: String::new(),
            },
        };
        assert_eq!(keys(&event), properties::<AuditEvent>());
    }
}
