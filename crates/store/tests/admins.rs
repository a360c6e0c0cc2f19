//! The last enabled administrator (issue 15): no change the store makes
//! with `LastAdmin::Keep` leaves nobody holding the system `admin` role
//! who could use it, and concurrent changes on different connections (two
//! nodes) cannot get round that by each seeing the other's administrator
//! still there. On every backend; on PostgreSQL under READ COMMITTED.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use tessera_model::*;
use tessera_store::testing::{fresh_postgres_schema, postgres_test_url};
use tessera_store::{Store, StoreError};

fn system(u: &User, r: &Role) -> Assignment {
    Assignment {
        principal: Principal::User(u.id.clone()),
        role_id: r.id.clone(),
        scope: AssignmentScope::System,
    }
}

fn refused(result: Result<bool, StoreError>) -> bool {
    match result {
        Err(StoreError::LastAdministrator) => true,
        Ok(true) => false,
        other => panic!("neither done nor refused: {other:?}"),
    }
}

/// A store with domain `local`, the built-in `admin` role and one
/// administrator, `root`.
async fn one_admin(store: &Store) -> (Domain, Role, User) {
    let local = domain("local");
    store.create_domain(&local).await.unwrap();
    let admin = Role {
        builtin: true,
        ..role(ADMIN_ROLE)
    };
    store.create_role(&admin).await.unwrap();
    let root = user(&local, "root");
    store.create_user(&root, &[system(&root, &admin)]).await.unwrap();
    (local, admin, root)
}

#[tokio::test]
async fn the_last_enabled_administrator_cannot_be_disabled_stripped_or_lose_its_domain() {
    for (backend, store, _dir) in stores().await {
        let (local, admin, root) = one_admin(&store).await;
        let keep = LastAdmin::Keep;
        assert!(
            refused(store.set_user_enabled(&root.id, false, T0, keep).await),
            "{backend}"
        );
        assert!(
            refused(store.revoke_grant(&system(&root, &admin), T0, keep).await),
            "{backend}"
        );
        assert!(
            refused(store.set_domain_enabled(&local.id, false, T0, keep).await),
            "{backend}"
        );
        // Nothing was written.
        let after = store.find_user(&root.id).await.unwrap().unwrap();
        assert!(after.enabled, "{backend}");
        assert_eq!(store.roles_of_user(&root.id).await.unwrap().len(), 1, "{backend}");
        assert!(
            store.find_domain(&local.id).await.unwrap().unwrap().enabled,
            "{backend}"
        );

        // Who does not count as another administrator: an emergency
        // account, a disabled user, a user of a disabled domain, the admin
        // role on a domain only, a client.
        let sos = User {
            emergency: true,
            ..user(&local, "sos")
        };
        store.create_user(&sos, &[system(&sos, &admin)]).await.unwrap();
        let off = user(&local, "off");
        store.create_user(&off, &[system(&off, &admin)]).await.unwrap();
        assert!(store.set_user_enabled(&off.id, false, T0, keep).await.unwrap());
        let closed = domain("closed");
        store.create_domain(&closed).await.unwrap();
        let shut = user(&closed, "shut");
        store.create_user(&shut, &[system(&shut, &admin)]).await.unwrap();
        assert!(store
            .set_domain_enabled(&closed.id, false, T0, keep)
            .await
            .unwrap());
        let tenant = user(&local, "tenant");
        let scoped = Assignment {
            scope: AssignmentScope::Domain(local.id.clone()),
            ..system(&tenant, &admin)
        };
        store
            .create_user(&tenant, std::slice::from_ref(&scoped))
            .await
            .unwrap();
        let robot = Client {
            id: ClientId("robot".into()),
            secret_hash: None,
            grants: vec!["client_credentials".into()],
            policy: None,
            enabled: true,
            created_at: T0,
        };
        let robot_admin = Assignment {
            principal: Principal::Client(robot.id.clone()),
            role_id: admin.id.clone(),
            scope: AssignmentScope::System,
        };
        store
            .create_client(&robot, std::slice::from_ref(&robot_admin))
            .await
            .unwrap();
        assert!(
            refused(store.set_user_enabled(&root.id, false, T0, keep).await),
            "{backend}"
        );
        assert!(
            refused(store.revoke_grant(&system(&root, &admin), T0, keep).await),
            "{backend}"
        );

        // Changes that take no enabled administrator away still go.
        assert!(store.revoke_grant(&scoped, T0, keep).await.unwrap(), "{backend}");
        assert!(
            store.revoke_grant(&robot_admin, T0, keep).await.unwrap(),
            "{backend}"
        );
        assert!(
            store.revoke_grant(&system(&off, &admin), T0, keep).await.unwrap(),
            "{backend}"
        );
        assert!(
            store.set_user_enabled(&sos.id, false, T0, keep).await.unwrap(),
            "{backend}"
        );
        assert!(
            store.set_user_enabled(&tenant.id, false, T0, keep).await.unwrap(),
            "{backend}"
        );
        // Nothing to change is `false`, as before, not a refusal.
        assert!(!store
            .revoke_grant(&system(&tenant, &admin), T0, keep)
            .await
            .unwrap());
        let ghost = user(&local, "ghost");
        assert!(!store.set_user_enabled(&ghost.id, false, T0, keep).await.unwrap());

        // With a second administrator, either one may go, then not the other.
        let ops = domain("ops");
        store.create_domain(&ops).await.unwrap();
        let olga = user(&ops, "olga");
        store.create_user(&olga, &[system(&olga, &admin)]).await.unwrap();
        assert!(
            store.set_user_enabled(&root.id, false, T0, keep).await.unwrap(),
            "{backend}"
        );
        assert!(
            refused(store.set_user_enabled(&olga.id, false, T0, keep).await),
            "{backend}"
        );
        assert!(
            refused(store.set_domain_enabled(&ops.id, false, T0, keep).await),
            "{backend}"
        );
        assert!(
            refused(store.revoke_grant(&system(&olga, &admin), T0, keep).await),
            "{backend}"
        );
        // Enabling is never guarded; then olga's domain may go.
        assert!(store.set_user_enabled(&root.id, true, T0, keep).await.unwrap());
        assert!(
            store.set_domain_enabled(&ops.id, false, T0, keep).await.unwrap(),
            "{backend}"
        );
        assert!(
            refused(store.revoke_grant(&system(&root, &admin), T0, keep).await),
            "{backend}"
        );

        // Overridden on purpose (the CLI's --force): done.
        let over = LastAdmin::Override;
        assert!(
            store
                .revoke_grant(&system(&root, &admin), T0, over)
                .await
                .unwrap(),
            "{backend}"
        );
        store.grant(&system(&root, &admin), T0).await.unwrap();
        assert!(
            store.set_user_enabled(&root.id, false, T0, over).await.unwrap(),
            "{backend}"
        );
        assert!(!store.find_user(&root.id).await.unwrap().unwrap().enabled);
    }
}

/// Makes every change to the tables the guard reads take 50 ms inside its
/// transaction on PostgreSQL, after its `WHERE` has been judged: without
/// the lock, two transactions would both judge while the other's change
/// is uncommitted, and both go through.
async fn slow_writes(url: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    for sql in [
        "CREATE FUNCTION slowly() RETURNS trigger AS $$
         BEGIN PERFORM pg_sleep(0.05); RETURN COALESCE(NEW, OLD); END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER slow_users BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION slowly()",
        "CREATE TRIGGER slow_domains BEFORE UPDATE ON domains FOR EACH ROW EXECUTE FUNCTION slowly()",
        "CREATE TRIGGER slow_assignments BEFORE DELETE ON assignments FOR EACH ROW EXECUTE FUNCTION slowly()",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
}

/// Two connections to one store, as two nodes have: SQLite through two
/// writers on one file, PostgreSQL through two pools.
async fn two_nodes() -> Vec<(&'static str, Store, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let mut out = vec![(
        "sqlite",
        Store::connect(&url, 4).await.unwrap(),
        Store::connect(&url, 4).await.unwrap(),
        Some(dir),
    )];
    if let Some(base) = postgres_test_url() {
        let url = fresh_postgres_schema(&base).await.unwrap();
        let a = Store::connect(&url, 4).await.unwrap();
        slow_writes(&url).await;
        out.push(("postgres", a, Store::connect(&url, 4).await.unwrap(), None));
    }
    out
}

async fn holds_admin(store: &Store, id: &UserId) -> bool {
    store
        .roles_of_user(id)
        .await
        .unwrap()
        .iter()
        .any(|g| g.role.name == ADMIN_ROLE && g.scope == AssignmentScope::System)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_on_two_nodes_never_leave_no_administrator() {
    for (backend, a, b, _dir) in two_nodes().await {
        let (_, admin, root) = one_admin(&a).await;
        let ops = domain("ops");
        a.create_domain(&ops).await.unwrap();
        let olga = user(&ops, "olga");
        a.create_user(&olga, &[system(&olga, &admin)]).await.unwrap();
        let keep = LastAdmin::Keep;
        // Each round: both administrators there, then two changes at once,
        // one through each node, each taking away a different one.
        for round in 0..12 {
            a.set_user_enabled(&root.id, true, T0, keep).await.unwrap();
            a.set_user_enabled(&olga.id, true, T0, keep).await.unwrap();
            a.set_domain_enabled(&ops.id, true, T0, keep).await.unwrap();
            for held in [system(&root, &admin), system(&olga, &admin)] {
                match a.grant(&held, T0).await {
                    Ok(()) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => panic!("{backend}: {e}"),
                }
            }
            let (x, y) = (a.clone(), b.clone());
            let (root_id, olga_id, ops_id) = (root.id.clone(), olga.id.clone(), ops.id.clone());
            let (strip_root, strip_olga) = (system(&root, &admin), system(&olga, &admin));
            // Disable or strip root; disable olga, her domain, or strip her.
            let first = tokio::spawn(async move {
                match round % 2 {
                    0 => x.set_user_enabled(&root_id, false, T0, keep).await,
                    _ => x.revoke_grant(&strip_root, T0, keep).await,
                }
            });
            let second = tokio::spawn(async move {
                match round % 3 {
                    0 => y.set_user_enabled(&olga_id, false, T0, keep).await,
                    1 => y.set_domain_enabled(&ops_id, false, T0, keep).await,
                    _ => y.revoke_grant(&strip_olga, T0, keep).await,
                }
            });
            let outcomes = [refused(first.await.unwrap()), refused(second.await.unwrap())];
            assert_eq!(
                outcomes.iter().filter(|r| **r).count(),
                1,
                "{backend}, round {round}: exactly one of the two goes through, got {outcomes:?}"
            );
            let root_now = a.find_user(&root.id).await.unwrap().unwrap();
            let olga_now = a.find_user(&olga.id).await.unwrap().unwrap();
            let ops_now = a.find_domain(&ops.id).await.unwrap().unwrap();
            let root_admin = root_now.enabled && holds_admin(&a, &root.id).await;
            let olga_admin = olga_now.enabled && ops_now.enabled && holds_admin(&a, &olga.id).await;
            assert!(
                root_admin || olga_admin,
                "{backend}, round {round}: no administrator left"
            );
        }
        a.close().await;
        b.close().await;
    }
}
