//! One identity per visible name (SPEC §5), on every backend: names that
//! RFC 8265 makes the same collide, every lookup by name finds them in any
//! spelling, and rows written before name keys existed get theirs when
//! the store is opened, twins and refused names left without one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use tessera_model::*;
use tessera_store::testing::{fresh_postgres_schema, postgres_test_url};
use tessera_store::{Store, StoreError};

const JOSE_NFC: &str = "Jos\u{e9}";
const JOSE_NFD: &str = "jose\u{301}";

#[tokio::test]
async fn users_whose_names_look_the_same_collide() {
    for (backend, store, _dir) in stores().await {
        let d = domain("local");
        store.create_domain(&d).await.unwrap();
        let jose = user(&d, JOSE_NFC);
        store.create_user(&jose, &[]).await.unwrap();
        for twin in [JOSE_NFD, "JOS\u{c9}", "ｊｏｓé", "JOSE\u{301}"] {
            let err = store.create_user(&user(&d, twin), &[]).await.unwrap_err();
            assert!(
                matches!(err, StoreError::Conflict(_)),
                "{backend}: {twin:?}: {err}"
            );
            let found = store.find_user_by_name(&d.id, twin).await.unwrap();
            assert_eq!(found.map(|u| u.id), Some(jose.id.clone()), "{backend}: {twin:?}");
        }
        // The name is kept as given.
        let found = store.find_user_by_name(&d.id, JOSE_NFD).await.unwrap().unwrap();
        assert_eq!(found.name, JOSE_NFC, "{backend}");

        // The same name in another domain is another user.
        let other = domain("other");
        store.create_domain(&other).await.unwrap();
        store.create_user(&user(&other, JOSE_NFD), &[]).await.unwrap();

        // An invisible or bidi-control character is refused, at insert and
        // at lookup, with the code point named.
        let admin = user(&d, "admin");
        store.create_user(&admin, &[]).await.unwrap();
        for bad in ["admin\u{200b}", "\u{202e}nimda", "ad\u{7}min"] {
            let err = store.create_user(&user(&d, bad), &[]).await.unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidName(_)),
                "{backend}: {bad:?}: {err}"
            );
            let err = store.find_user_by_name(&d.id, bad).await.unwrap_err();
            assert!(err.to_string().contains("may not contain U+"), "{backend}: {err}");
        }
        let err = store.find_user_by_name(&d.id, "admin\u{200b}").await.unwrap_err();
        assert!(err.to_string().contains("U+200B (ZERO WIDTH SPACE)"), "{err}");
        assert_eq!(store.list_users(Some(&d.id)).await.unwrap().len(), 2, "{backend}");
    }
}

#[tokio::test]
async fn domains_roles_and_clients_are_found_in_any_spelling() {
    for (backend, store, _dir) in stores().await {
        let d = domain("Marketing");
        store.create_domain(&d).await.unwrap();
        for spelling in ["marketing", "MARKETING", "ｍａｒｋｅｔｉｎｇ"] {
            let found = store.find_domain_by_name(spelling).await.unwrap();
            assert_eq!(found.map(|f| f.id), Some(d.id.clone()), "{backend}: {spelling}");
        }
        let err = store
            .create_domain(&domain("ＭＡＲＫＥＴＩＮＧ"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{backend}: {err}");

        let r = role("Auditor");
        store.create_role(&r).await.unwrap();
        let found = store.find_role_by_name("auditor").await.unwrap().unwrap();
        assert_eq!(
            (found.id, found.name.as_str()),
            (r.id.clone(), "Auditor"),
            "{backend}"
        );
        let err = store.create_role(&role("AUDITOR")).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{backend}: {err}");
        assert!(matches!(
            store.find_role_by_name("audit\u{200d}or").await.unwrap_err(),
            StoreError::InvalidName(_)
        ));

        let c = client("My-Client");
        store.create_client(&c, &[]).await.unwrap();
        let found = store.find_client("my-client").await.unwrap().unwrap();
        assert_eq!(
            found.id.as_str(),
            "My-Client",
            "a client keeps the id it was given"
        );
        let err = store.create_client(&client("MY-CLIENT"), &[]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{backend}: {err}");
        assert!(store.remove_client(&found.id, T0).await.unwrap());
        assert!(store.find_client("my-client").await.unwrap().is_none());
    }
}

fn client(id: &str) -> Client {
    Client {
        id: ClientId(id.into()),
        secret_hash: None,
        grants: vec!["password".into()],
        policy: None,
        enabled: true,
        created_at: T0,
    }
}

/// Rows as a Tessera from before migration 0002 wrote them: names
/// compared by `lower()` only, so look-alike twins could both land.
const LEGACY_ROWS: &str = "
INSERT INTO domains (id, name, description, source, enabled, created_at, updated_at)
    VALUES ('d0000000000000000000000000000001', 'local', '', 'local', TRUE, 1, 1);
INSERT INTO users (id, domain_id, name, enabled, emergency, created_at, updated_at) VALUES
    ('u0000000000000000000000000000001', 'd0000000000000000000000000000001', 'Jos\u{e9}', TRUE, FALSE, 1, 1),
    ('u0000000000000000000000000000002', 'd0000000000000000000000000000001', 'jose\u{301}', TRUE, FALSE, 2, 2),
    ('u0000000000000000000000000000003', 'd0000000000000000000000000000001', 'admin', TRUE, FALSE, 3, 3),
    ('u0000000000000000000000000000004', 'd0000000000000000000000000000001', 'admin\u{200b}', TRUE, FALSE, 4, 4),
    ('u0000000000000000000000000000005', 'd0000000000000000000000000000001', 'Bob', TRUE, FALSE, 5, 5);
INSERT INTO roles (id, name, description, enabled, builtin, created_at) VALUES
    ('r0000000000000000000000000000001', 'Auditor', '', TRUE, FALSE, 1),
    ('r0000000000000000000000000000002', 'AUDITOR', '', TRUE, FALSE, 2);
INSERT INTO clients (id, secret_hash, grants, policy, enabled, created_at) VALUES
    ('App', NULL, 'password', NULL, TRUE, 1),
    ('app', NULL, 'password', NULL, TRUE, 2);
";

/// A store at migration 0001 holding `LEGACY_ROWS`, as an upgrade finds it.
async fn legacy_store(backend: &str) -> (String, Option<tempfile::TempDir>) {
    let only_first = tempfile::tempdir().unwrap();
    let first = format!(
        "{}/migrations/{backend}/0001_initial.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::copy(first, only_first.path().join("0001_initial.sql")).unwrap();
    let migrator = sqlx::migrate::Migrator::new(only_first.path()).await.unwrap();
    if backend == "sqlite" {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/legacy.db", dir.path().display());
        let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let pool = sqlx::SqlitePool::connect_with(opts.create_if_missing(true))
            .await
            .unwrap();
        migrator.run(&pool).await.unwrap();
        sqlx::raw_sql(LEGACY_ROWS).execute(&pool).await.unwrap();
        pool.close().await;
        (url, Some(dir))
    } else {
        let url = fresh_postgres_schema(&postgres_test_url().unwrap())
            .await
            .unwrap();
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        sqlx::raw_sql(LEGACY_ROWS).execute(&pool).await.unwrap();
        pool.close().await;
        (url, None)
    }
}

#[tokio::test]
async fn an_upgrade_keys_existing_rows_and_leaves_look_alikes_unreachable() {
    let mut backends = vec!["sqlite"];
    if postgres_test_url().is_some() {
        backends.push("postgres");
    }
    for backend in backends {
        let (url, _dir) = legacy_store(backend).await;
        // Opening the store applies 0002 and fills the keys.
        let store = Store::connect(&url, 2).await.unwrap();
        let d = store.find_domain_by_name("LOCAL").await.unwrap().unwrap();

        // The older of two twins keeps the name; the younger is found by
        // no spelling of it.
        let id = |s: &str| s.to_owned();
        for spelling in [JOSE_NFC, JOSE_NFD, "JOSÉ"] {
            let u = store.find_user_by_name(&d.id, spelling).await.unwrap().unwrap();
            assert_eq!(u.id.as_str(), id("u0000000000000000000000000000001"), "{backend}");
        }
        let admin = store.find_user_by_name(&d.id, "ADMIN").await.unwrap().unwrap();
        assert_eq!(admin.id.as_str(), "u0000000000000000000000000000003", "{backend}");
        let bob = store.find_user_by_name(&d.id, "bob").await.unwrap().unwrap();
        assert_eq!(bob.name, "Bob", "{backend}: names are not rewritten");
        let err = store.create_user(&user(&d, "BOB"), &[]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{backend}: {err}");
        let role = store.find_role_by_name("auditor").await.unwrap().unwrap();
        assert_eq!(role.name, "Auditor", "{backend}");
        let app = store.find_client("APP").await.unwrap().unwrap();
        assert_eq!(app.id.as_str(), "App", "{backend}");

        // Every row left without a key is reported, at every start, with
        // the reason; nothing else changed.
        for _ in 0..2 {
            let mut left = store.backfill_name_keys().await.unwrap();
            left.sort_by(|a, b| (a.table, &a.id).cmp(&(b.table, &b.id)));
            let rows: Vec<(&str, &str)> = left.iter().map(|u| (u.table, u.id.as_str())).collect();
            assert_eq!(
                rows,
                [
                    ("clients", "app"),
                    ("roles", "r0000000000000000000000000000002"),
                    ("users", "u0000000000000000000000000000002"),
                    ("users", "u0000000000000000000000000000004"),
                ],
                "{backend}"
            );
            assert!(
                left[2].reason.contains("Jos\u{e9}"),
                "{backend}: {}",
                left[2].reason
            );
            assert!(
                left[3].reason.contains("U+200B (ZERO WIDTH SPACE)"),
                "{}",
                left[3].reason
            );
        }
        let all = store.list_users(Some(&d.id)).await.unwrap();
        assert_eq!(all.len(), 5, "{backend}: unkeyed rows stay listed");
        assert!(all.iter().all(|u| u.enabled), "{backend}");
        store.close().await;
    }
}
