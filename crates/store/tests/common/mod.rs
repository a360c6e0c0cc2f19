//! What the store tests share: one empty store per backend under test,
//! and records to put in it.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::time::Duration;
use tessera_model::session::TokenHash;
use tessera_model::*;
use tessera_store::testing::{fresh_postgres_schema, postgres_test_url};
use tessera_store::Store;

/// One store per backend under test, each empty.
pub async fn stores() -> Vec<(&'static str, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let mut out = vec![("sqlite", Store::connect(&url, 4).await.unwrap(), Some(dir))];
    if let Some(base) = postgres_test_url() {
        let url = fresh_postgres_schema(&base).await.unwrap();
        out.push(("postgres", Store::connect(&url, 4).await.unwrap(), None));
    }
    out
}

pub fn id<T>(make: fn([u8; 16]) -> T) -> T {
    make(rand::random())
}

pub const T0: Timestamp = Timestamp(1_700_000_000_000);

pub fn domain(name: &str) -> Domain {
    Domain {
        id: id(DomainId::from_bytes),
        name: name.into(),
        description: String::new(),
        source: IdentitySource::Local,
        enabled: true,
        created_at: T0,
        updated_at: T0,
    }
}

pub fn user(d: &Domain, name: &str) -> User {
    User {
        id: id(UserId::from_bytes),
        domain_id: d.id.clone(),
        name: name.into(),
        common_name: Some(format!("{name} CN")),
        distinguished_name: None,
        password_hash: Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into()),
        enabled: true,
        emergency: false,
        failed_logins: 0,
        first_failed_at: None,
        locked_until: None,
        created_at: T0,
        updated_at: T0,
    }
}

pub fn role(name: &str) -> Role {
    Role {
        id: id(RoleId::from_bytes),
        name: name.into(),
        description: String::new(),
        enabled: true,
        builtin: false,
        created_at: T0,
    }
}

pub fn session(user: &User, kind: TokenKind, family: Option<&SessionId>) -> Session {
    Session {
        id: id(SessionId::from_bytes),
        token_hash: Some(TokenHash(rand::random())),
        kind,
        format: TokenFormat::Opaque,
        user_id: Some(user.id.clone()),
        client_id: None,
        domain_id: Some(user.domain_id.clone()),
        door: "oauth2".into(),
        policy: "oauth2".into(),
        scope: "read write".into(),
        family_id: family.cloned(),
        auth_time: T0,
        created_at: T0,
        last_used_at: T0,
        expires_at: Some(T0.plus(Duration::from_secs(3600))),
        idle_timeout_ms: Some(600_000),
        revoked_at: None,
        revoke_reason: None,
        previous_hash: None,
    }
}
