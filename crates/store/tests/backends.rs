//! Store behaviour, checked on every backend: SQLite always, PostgreSQL
//! when `TESSERA_TEST_POSTGRES` holds a URL (each test in a fresh schema).
//! Identity, audit, cluster facts, invalidations and checkpoints here;
//! sessions and the batched writes in `sessions.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::time::Duration;
use tessera_model::*;
use tessera_store::testing::{fresh_postgres_schema, postgres_test_url};
use tessera_store::Admission;
use tessera_store::{AuditQuery, BootstrapRecords, Invalidation, Store, StoreError};

#[tokio::test]
async fn domains_are_unique_and_found_in_any_case() {
    for (backend, store, _dir) in stores().await {
        let d = domain("Marketing");
        store.create_domain(&d).await.unwrap();
        let found = store.find_domain_by_name("marketing").await.unwrap().unwrap();
        assert_eq!(found, d, "{backend}");
        let dup = store.create_domain(&domain("MARKETING")).await.unwrap_err();
        assert!(matches!(dup, StoreError::Conflict(_)), "{backend}: {dup}");
        assert!(store
            .set_domain_enabled(&d.id, false, T0, LastAdmin::Keep)
            .await
            .unwrap());
        assert!(
            !store.find_domain(&d.id).await.unwrap().unwrap().enabled,
            "{backend}"
        );
        assert_eq!(store.list_domains().await.unwrap().len(), 1, "{backend}");
    }
}

#[tokio::test]
async fn a_user_and_its_roles_land_together_or_not_at_all() {
    for (backend, store, _dir) in stores().await {
        let d = domain("local");
        store.create_domain(&d).await.unwrap();
        let admin = role("admin");
        store.create_role(&admin).await.unwrap();
        let u = user(&d, "alice");
        let grants = [
            Assignment {
                principal: Principal::User(u.id.clone()),
                role_id: admin.id.clone(),
                scope: AssignmentScope::System,
            },
            Assignment {
                principal: Principal::User(u.id.clone()),
                role_id: admin.id.clone(),
                scope: AssignmentScope::Domain(d.id.clone()),
            },
        ];
        store.create_user(&u, &grants).await.unwrap();
        let roles = store.roles_of_user(&u.id).await.unwrap();
        assert_eq!(roles.len(), 2, "{backend}");
        assert!(roles.iter().any(|g| g.scope == AssignmentScope::System));

        // Same name in another case: refused, and its role grant is not left behind.
        let dup = user(&d, "ALICE");
        let dup_grant = [Assignment {
            principal: Principal::User(dup.id.clone()),
            role_id: admin.id.clone(),
            scope: AssignmentScope::System,
        }];
        let err = store.create_user(&dup, &dup_grant).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{backend}: {err}");
        assert!(
            store.roles_of_user(&dup.id).await.unwrap().is_empty(),
            "{backend}"
        );

        // A grant of a role that does not exist rolls the user back.
        let bob = user(&d, "bob");
        let ghost = [Assignment {
            principal: Principal::User(bob.id.clone()),
            role_id: id(RoleId::from_bytes),
            scope: AssignmentScope::System,
        }];
        assert!(store.create_user(&bob, &ghost).await.is_err(), "{backend}");
        assert!(
            store.find_user_by_name(&d.id, "bob").await.unwrap().is_none(),
            "{backend}"
        );

        let found = store.find_user_by_name(&d.id, "Alice").await.unwrap().unwrap();
        assert_eq!(found.id, u.id);
        assert!(store.revoke_grant(&grants[1], T0, LastAdmin::Keep).await.unwrap());
        assert!(!store.revoke_grant(&grants[1], T0, LastAdmin::Keep).await.unwrap());
        assert!(matches!(
            store.grant(&grants[0], T0).await.unwrap_err(),
            StoreError::Conflict(_)
        ));
    }
}

#[tokio::test]
async fn failed_logins_lock_at_the_limit_and_the_window_restarts_the_count() {
    for (backend, store, _dir) in stores().await {
        let d = domain("local");
        store.create_domain(&d).await.unwrap();
        let u = user(&d, "carol");
        store.create_user(&u, &[]).await.unwrap();
        let window = Duration::from_secs(300);
        let lock = Duration::from_secs(60);
        for _ in 1..=2 {
            let locked = store
                .record_failed_login(&u.id, T0, window, 3, lock)
                .await
                .unwrap();
            assert_eq!(locked, None, "{backend}");
        }
        assert_eq!(store.find_user(&u.id).await.unwrap().unwrap().failed_logins, 2);
        // Past the window the count starts again at 1.
        let later = T0.plus(Duration::from_secs(301));
        store
            .record_failed_login(&u.id, later, window, 3, lock)
            .await
            .unwrap();
        assert_eq!(store.find_user(&u.id).await.unwrap().unwrap().failed_logins, 1);
        store
            .record_failed_login(&u.id, later, window, 3, lock)
            .await
            .unwrap();
        let locked = store
            .record_failed_login(&u.id, later, window, 3, lock)
            .await
            .unwrap();
        assert_eq!(locked, Some(later.plus(lock)), "{backend}");
        let now_user = store.find_user(&u.id).await.unwrap().unwrap();
        assert!(now_user.is_locked(later), "{backend}");
        assert!(!now_user.is_locked(later.plus(lock)), "{backend}");
        // While locked nothing is admitted; once the lock ends, the count is fresh.
        assert_eq!(
            store.admit_login_attempt(&u.id, later, window, 3).await.unwrap(),
            Admission::Refused
        );
        assert_eq!(
            store
                .admit_login_attempt(&u.id, later.plus(lock), window, 3)
                .await
                .unwrap(),
            Admission::Admitted { counted: 1 }
        );
        assert!(store.unlock_user(&u.id, later).await.unwrap());
        assert!(!store.find_user(&u.id).await.unwrap().unwrap().is_locked(later));
    }
}

#[tokio::test]
async fn parallel_attempts_are_admitted_at_most_up_to_the_limit() {
    for (backend, store, _dir) in stores().await {
        let d = domain("local");
        store.create_domain(&d).await.unwrap();
        let u = user(&d, "dave");
        store.create_user(&u, &[]).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let (store, id) = (store.clone(), u.id.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .admit_login_attempt(&id, T0, Duration::from_secs(300), 5)
                    .await
                    .unwrap()
            }));
        }
        let mut admitted = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Admission::Admitted { .. }) {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5, "{backend}");
        // A right password takes its count back; a wrong one at the limit locks.
        let (w, l) = (Duration::from_secs(300), Duration::from_secs(60));
        assert_eq!(
            store
                .settle_login_attempt(&u.id, true, T0, w, 5, l)
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.find_user(&u.id).await.unwrap().unwrap().failed_logins, 4);
        assert!(matches!(
            store.admit_login_attempt(&u.id, T0, w, 5).await.unwrap(),
            Admission::Admitted { counted: 5 }
        ));
        assert_eq!(
            store
                .settle_login_attempt(&u.id, false, T0, w, 5, l)
                .await
                .unwrap(),
            Some(T0.plus(l)),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn bootstrap_happens_once_even_when_nodes_race() {
    for (backend, store, _dir) in stores().await {
        let mut tasks = Vec::new();
        for i in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let d = domain("local");
                let admin = role("admin");
                let u = user(&d, "admin");
                let records = BootstrapRecords {
                    admin_assignments: vec![Assignment {
                        principal: Principal::User(u.id.clone()),
                        role_id: admin.id.clone(),
                        scope: AssignmentScope::System,
                    }],
                    domain: d,
                    roles: vec![admin],
                    admin: u,
                };
                store.bootstrap(&records, Timestamp(i)).await.unwrap()
            }));
        }
        let mut won = 0;
        for t in tasks {
            won += usize::from(t.await.unwrap());
        }
        assert_eq!(won, 1, "{backend}");
        assert_eq!(store.list_domains().await.unwrap().len(), 1, "{backend}");
        assert!(store.is_bootstrapped().await.unwrap());
        let first = store
            .set_cluster_fact_once("service_token", "a", T0)
            .await
            .unwrap();
        let second = store
            .set_cluster_fact_once("service_token", "b", T0)
            .await
            .unwrap();
        assert_eq!((first.as_str(), second.as_str()), ("a", "a"), "{backend}");
    }
}

#[tokio::test]
async fn clients_carry_grants_and_leave_with_their_roles() {
    for (backend, store, _dir) in stores().await {
        let r = role("monitor");
        store.create_role(&r).await.unwrap();
        let c = Client {
            id: ClientId("my-client".into()),
            secret_hash: Some("hash".into()),
            grants: vec!["password".into(), "refresh_token".into()],
            policy: None,
            enabled: true,
            created_at: T0,
        };
        let grant = Assignment {
            principal: Principal::Client(c.id.clone()),
            role_id: r.id.clone(),
            scope: AssignmentScope::System,
        };
        store
            .create_client(&c, std::slice::from_ref(&grant))
            .await
            .unwrap();
        let found = store.find_client("my-client").await.unwrap().unwrap();
        assert_eq!(found, c, "{backend}");
        assert!(found.allows_grant("refresh_token"));
        assert_eq!(store.roles_of_client(&c.id).await.unwrap().len(), 1);
        assert!(matches!(
            store.create_client(&c, &[]).await.unwrap_err(),
            StoreError::Conflict(_)
        ));
        assert!(store.remove_client(&c.id, T0).await.unwrap());
        assert!(!store.remove_client(&c.id, T0).await.unwrap());
        assert!(
            store.roles_of_client(&c.id).await.unwrap().is_empty(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn audit_events_filter_by_subject_kind_and_time() {
    for (backend, store, _dir) in stores().await {
        let ev = |at: i64, kind, who: &str| NewAuditEvent {
            at: Timestamp(at),
            kind,
            actor: None,
            subject: Some(who.into()),
            subject_name: Some(who.into()),
            domain: Some("local".into()),
            door: Some("oauth2".into()),
            detail: String::new(),
        };
        store
            .insert_audit_events(&[
                ev(1, AuditKind::LoginFailed, "u1"),
                ev(2, AuditKind::LoginSucceeded, "u1"),
                ev(3, AuditKind::LoginSucceeded, "u2"),
            ])
            .await
            .unwrap();
        let q = |subject: Option<&str>, kind, since: Option<i64>| AuditQuery {
            subject: subject.map(str::to_owned),
            kind,
            since: since.map(Timestamp),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(
            store
                .list_audit_events(&q(Some("u1"), None, None))
                .await
                .unwrap()
                .len(),
            2,
            "{backend}"
        );
        let ok = store
            .list_audit_events(&q(None, Some(AuditKind::LoginSucceeded), None))
            .await
            .unwrap();
        assert_eq!(
            ok.iter().map(|e| e.event.at.0).collect::<Vec<_>>(),
            vec![3, 2],
            "{backend}"
        );
        assert_eq!(
            store
                .list_audit_events(&q(None, None, Some(3)))
                .await
                .unwrap()
                .len(),
            1
        );
        let page = AuditQuery {
            limit: 2,
            ..Default::default()
        };
        let first = store.list_audit_events(&page).await.unwrap();
        let rest = store
            .list_audit_events(&AuditQuery {
                before_id: Some(first[1].id),
                ..page.clone()
            })
            .await
            .unwrap();
        assert_eq!((first.len(), rest.len()), (2, 1), "{backend}");
    }
}

#[tokio::test]
async fn changes_that_stale_caches_are_logged_for_every_node() {
    for (backend, store, _dir) in stores().await {
        let start = store.latest_invalidation_id().await.unwrap();
        let d = domain("local");
        store.create_domain(&d).await.unwrap();
        let u = user(&d, "ivy");
        store.create_user(&u, &[]).await.unwrap();
        let s = session(&u, TokenKind::Access, None);
        store.insert_session(&s).await.unwrap();
        store.revoke_session(&s.id, T0, "logout").await.unwrap();
        store
            .set_user_enabled(&u.id, false, T0, LastAdmin::Keep)
            .await
            .unwrap();
        store
            .set_domain_enabled(&d.id, false, T0, LastAdmin::Keep)
            .await
            .unwrap();
        store
            .revoke_user_sessions(&u.id, true, T0, "force")
            .await
            .unwrap();
        let seen: Vec<Invalidation> = store
            .invalidations_after(start, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, i)| i)
            .collect();
        assert_eq!(
            seen,
            vec![
                Invalidation::Token(tessera_store::hex(&s.token_hash.unwrap())),
                Invalidation::User(u.id.to_string()),
                Invalidation::Domain(d.id.to_string()),
            ],
            "{backend}: nothing was live for the mass revocation, so it logs nothing"
        );
        assert_eq!(
            store
                .purge_invalidations(T0.plus(Duration::from_secs(1)))
                .await
                .unwrap(),
            3
        );
    }
}

#[tokio::test]
async fn postgres_nodes_are_woken_by_invalidations() {
    let Some(base) = postgres_test_url() else {
        return;
    };
    let url = fresh_postgres_schema(&base).await.unwrap();
    let a = Store::connect(&url, 2).await.unwrap();
    let b = Store::connect(&url, 2).await.unwrap();
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let listener = tokio::spawn({
        let (b, wake) = (b.clone(), wake.clone());
        async move { b.listen_invalidations(wake).await }
    });
    // Keep poking until the listener is up and a notification arrives.
    let woke = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            a.record_invalidations(&[Invalidation::User("x".into())], T0)
                .await
                .unwrap();
            if tokio::time::timeout(Duration::from_millis(200), wake.notified())
                .await
                .is_ok()
            {
                break;
            }
        }
    })
    .await;
    assert!(woke.is_ok(), "node b was never woken");
    listener.abort();
}

/// SQLite: `checkpoint` copies the WAL into the database file while the
/// store stays open, so the file alone (a copy taken without its `-wal`)
/// holds what was committed. PostgreSQL has nothing to copy.
#[tokio::test]
async fn a_checkpoint_puts_committed_writes_into_the_database_file() {
    for (backend, store, dir) in stores().await {
        let d = domain("Checkpointed");
        store.create_domain(&d).await.unwrap();
        let copied = store.checkpoint().await.unwrap();
        let Some(dir) = dir else {
            assert_eq!(copied, 0, "{backend}");
            continue;
        };
        assert!(copied > 0, "{backend}: the WAL held the new domain");
        let copy = dir.path().join("copy.db");
        std::fs::copy(dir.path().join("t.db"), &copy).unwrap();
        let alone = Store::connect(&format!("sqlite://{}", copy.display()), 1)
            .await
            .unwrap();
        assert_eq!(
            alone.find_domain_by_name("checkpointed").await.unwrap(),
            Some(d),
            "{backend}: the database file alone has the domain"
        );
    }
}

/// A commit SQLite acknowledges is on disk: WAL journal with
/// `synchronous = FULL` (2) on every connection that writes (the writer
/// and the checkpointer), so a power cut cannot roll back a revocation,
/// logout, lockout or password change. With NORMAL (1) the last commits
/// before a power loss may vanish. The token path's batches run relaxed
/// (NORMAL) for their own transaction only: after one, the writer is back
/// at FULL for whatever commits next.
#[tokio::test]
async fn sqlite_commits_are_durable_wal_with_synchronous_full() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = Store::connect(&url, 2).await.unwrap();
    let d = domain("local");
    store.create_domain(&d).await.unwrap();
    let u = user(&d, "alice");
    store.create_user(&u, &[]).await.unwrap();
    let Store::Sqlite {
        reader,
        writer,
        checkpointer,
    } = &store
    else {
        panic!("a sqlite: URL opens a SQLite store");
    };
    for round in ["at start", "after a token batch"] {
        for (name, pool) in [
            ("writer", writer),
            ("checkpointer", checkpointer),
            ("reader", reader),
        ] {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(mode, "wal", "{name} {round}: journal mode");
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(
                sync, 2,
                "{name} {round}: synchronous must be FULL (2), not NORMAL (1)"
            );
        }
        let s = session(&u, TokenKind::Access, None);
        store.issue_sessions(&[s], None, &[], T0).await.unwrap();
    }
    store.close().await;
}
