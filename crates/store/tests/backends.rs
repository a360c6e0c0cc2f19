//! Store behaviour, checked on every backend: SQLite always, PostgreSQL
//! when `TESSERA_TEST_POSTGRES` holds a URL (each test in a fresh schema).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use tessera_model::session::TokenHash;
use tessera_model::*;
use tessera_store::testing::{fresh_postgres_schema, postgres_test_url};
use tessera_store::{
    AuditQuery, BootstrapRecords, CapCheck, Invalidation, IssueOutcome, RotateOutcome, SessionQuery, Store,
    StoreError,
};

/// One store per backend under test, each empty.
async fn stores() -> Vec<(&'static str, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let mut out = vec![("sqlite", Store::connect(&url, 4).await.unwrap(), Some(dir))];
    if let Some(base) = postgres_test_url() {
        let url = fresh_postgres_schema(&base).await.unwrap();
        out.push(("postgres", Store::connect(&url, 4).await.unwrap(), None));
    }
    out
}

fn id<T>(make: fn([u8; 16]) -> T) -> T {
    make(rand::random())
}

const T0: Timestamp = Timestamp(1_700_000_000_000);

fn domain(name: &str) -> Domain {
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

fn user(d: &Domain, name: &str) -> User {
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

fn role(name: &str) -> Role {
    Role {
        id: id(RoleId::from_bytes),
        name: name.into(),
        description: String::new(),
        enabled: true,
        builtin: false,
        created_at: T0,
    }
}

fn session(user: &User, kind: TokenKind, family: Option<&SessionId>) -> Session {
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

#[tokio::test]
async fn domains_are_unique_and_found_in_any_case() {
    for (backend, store, _dir) in stores().await {
        let d = domain("Marketing");
        store.create_domain(&d).await.unwrap();
        let found = store.find_domain_by_name("marketing").await.unwrap().unwrap();
        assert_eq!(found, d, "{backend}");
        let dup = store.create_domain(&domain("MARKETING")).await.unwrap_err();
        assert!(matches!(dup, StoreError::Conflict(_)), "{backend}: {dup}");
        assert!(store.set_domain_enabled(&d.id, false, T0).await.unwrap());
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
        assert!(store.revoke_grant(&grants[1], T0).await.unwrap());
        assert!(!store.revoke_grant(&grants[1], T0).await.unwrap());
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
        for n in 1..=2 {
            let f = store
                .record_failed_login(&u.id, T0, window, 3, lock)
                .await
                .unwrap();
            assert_eq!(f.failures, n, "{backend}");
        }
        // Past the window the count starts again at 1.
        let later = T0.plus(Duration::from_secs(301));
        let f = store
            .record_failed_login(&u.id, later, window, 3, lock)
            .await
            .unwrap();
        assert_eq!(f.failures, 1, "{backend}");
        store
            .record_failed_login(&u.id, later, window, 3, lock)
            .await
            .unwrap();
        let f = store
            .record_failed_login(&u.id, later, window, 3, lock)
            .await
            .unwrap();
        assert_eq!(f.locked_until, Some(later.plus(lock)), "{backend}");
        let now_user = store.find_user(&u.id).await.unwrap().unwrap();
        assert!(now_user.is_locked(later), "{backend}");
        assert!(!now_user.is_locked(later.plus(lock)), "{backend}");
        assert!(store.unlock_user(&u.id, later).await.unwrap());
        assert!(!store.find_user(&u.id).await.unwrap().unwrap().is_locked(later));
    }
}

#[tokio::test]
async fn concurrent_failures_are_all_counted() {
    for (backend, store, _dir) in stores().await {
        let d = domain("local");
        store.create_domain(&d).await.unwrap();
        let u = user(&d, "dave");
        store.create_user(&u, &[]).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (store, id) = (store.clone(), u.id.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .record_failed_login(&id, T0, Duration::from_secs(300), 100, Duration::from_secs(60))
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            store.find_user(&u.id).await.unwrap().unwrap().failed_logins,
            8,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn sessions_are_found_by_hash_and_revoked_by_user_and_family() {
    for (backend, store, _dir) in stores().await {
        let d = domain("local");
        store.create_domain(&d).await.unwrap();
        let u = user(&d, "erin");
        let other = user(&d, "frank");
        store.create_user(&u, &[]).await.unwrap();
        store.create_user(&other, &[]).await.unwrap();
        let a = session(&u, TokenKind::Access, None);
        let proxy = session(&u, TokenKind::Proxy, None);
        let fam = id(SessionId::from_bytes);
        let r1 = session(&u, TokenKind::Refresh, Some(&fam));
        let a2 = session(&u, TokenKind::Access, Some(&fam));
        let theirs = session(&other, TokenKind::Access, None);
        for s in [&a, &proxy, &r1, &a2, &theirs] {
            store.insert_session(s).await.unwrap();
        }
        let found = store
            .find_session_by_hash(&a.token_hash.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, a, "{backend}");
        assert!(store
            .find_session_by_hash(&TokenHash([7; 32]))
            .await
            .unwrap()
            .is_none());

        assert_eq!(
            store.live_access_sessions(&u.id, T0).await.unwrap().len(),
            2,
            "{backend}"
        );
        let gone = store.revoke_family(&fam, T0, "replay").await.unwrap();
        assert_eq!(gone.len(), 2, "{backend}");
        let gone = store
            .revoke_user_sessions(&u.id, false, T0, "logout")
            .await
            .unwrap();
        assert_eq!(gone, vec![(a.id.clone(), a.token_hash.unwrap())], "{backend}");
        assert!(store
            .find_session(&proxy.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none());
        assert!(store
            .find_session(&theirs.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none());
        let gone = store
            .revoke_user_sessions(&u.id, true, T0, "logout")
            .await
            .unwrap();
        assert_eq!(gone.len(), 1, "{backend}");

        // The idle clock only moves forward.
        let later = T0.plus(Duration::from_secs(60));
        store
            .touch_sessions(&[(theirs.id.clone(), later), (theirs.id.clone(), T0)])
            .await
            .unwrap();
        assert_eq!(
            store
                .find_session(&theirs.id)
                .await
                .unwrap()
                .unwrap()
                .last_used_at,
            later
        );

        let live = store
            .list_sessions(&SessionQuery {
                live_at: Some(T0),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            live.iter().map(|s| &s.id).collect::<Vec<_>>(),
            vec![&theirs.id],
            "{backend}"
        );
        let purged = store
            .purge_sessions(T0.plus(Duration::from_secs(7200)))
            .await
            .unwrap();
        assert_eq!(purged, 5, "{backend}");
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
async fn the_cap_refuses_with_the_first_death_or_evicts_the_oldest() {
    for (backend, store, _dir) in stores().await {
        let d = domain("local");
        store.create_domain(&d).await.unwrap();
        let u = user(&d, "gina");
        store.create_user(&u, &[]).await.unwrap();
        let cap = CapCheck {
            user: u.id.clone(),
            max: 2,
            evict_oldest: false,
        };
        let mut first = session(&u, TokenKind::Access, None);
        first.last_used_at = T0.plus(Duration::from_secs(30));
        let second = session(&u, TokenKind::Access, None);
        for s in [&first, &second] {
            let out = store
                .issue_sessions(std::slice::from_ref(s), Some(&cap), &[], T0)
                .await
                .unwrap();
            assert_eq!(out, IssueOutcome::Issued { evicted: vec![] }, "{backend}");
        }
        // Proxy tokens do not count against the cap.
        let proxy = session(&u, TokenKind::Proxy, None);
        store.issue_sessions(&[proxy], Some(&cap), &[], T0).await.unwrap();
        let mut third = session(&u, TokenKind::Access, None);
        let out = store
            .issue_sessions(std::slice::from_ref(&third), Some(&cap), &[], T0)
            .await
            .unwrap();
        // `second` idles out first: 10 minutes after T0.
        assert_eq!(
            out,
            IssueOutcome::Refused {
                retry_at: Some(T0.plus(Duration::from_secs(600)))
            },
            "{backend}"
        );
        assert!(
            store.find_session(&third.id).await.unwrap().is_none(),
            "a refused issue writes nothing"
        );

        // Once a session idles out, it no longer counts.
        let later = T0.plus(Duration::from_secs(601));
        (third.created_at, third.last_used_at) = (later, later);
        let out = store
            .issue_sessions(std::slice::from_ref(&third), Some(&cap), &[], later)
            .await
            .unwrap();
        assert_eq!(out, IssueOutcome::Issued { evicted: vec![] }, "{backend}");

        let evict = CapCheck {
            evict_oldest: true,
            ..cap
        };
        let fourth = session(&u, TokenKind::Access, None);
        let out = store
            .issue_sessions(&[fourth], Some(&evict), &[], later)
            .await
            .unwrap();
        assert_eq!(
            out,
            IssueOutcome::Issued {
                evicted: vec![(first.id.clone(), first.token_hash.unwrap())]
            },
            "{backend}"
        );
        assert_eq!(
            store
                .find_session(&first.id)
                .await
                .unwrap()
                .unwrap()
                .revoke_reason
                .as_deref(),
            Some("evicted")
        );
    }
}

#[tokio::test]
async fn a_refresh_session_rotates_in_place_once_per_token() {
    use tessera_store::Rotation;
    for (backend, store, _dir) in stores().await {
        let d = domain("local");
        store.create_domain(&d).await.unwrap();
        let u = user(&d, "hank");
        store.create_user(&u, &[]).await.unwrap();
        let fam = id(SessionId::from_bytes);
        let r = session(&u, TokenKind::Refresh, Some(&fam));
        store.insert_session(&r).await.unwrap();
        let first = r.token_hash.unwrap();
        let second = TokenHash(rand::random());
        let rotation = |presented, next| Rotation {
            session: r.id.clone(),
            presented,
            next,
            expires_at: Some(T0.plus(Duration::from_secs(7200))),
        };
        let access = session(&u, TokenKind::Access, Some(&fam));
        let out = store
            .rotate_refresh(rotation(first, second), std::slice::from_ref(&access), &[], T0)
            .await
            .unwrap();
        assert_eq!(out, RotateOutcome::Rotated, "{backend}");
        let now = store.find_session(&r.id).await.unwrap().unwrap();
        assert_eq!(
            (now.token_hash, now.previous_hash),
            (Some(second), Some(first)),
            "{backend}"
        );
        assert_eq!(now.expires_at, Some(T0.plus(Duration::from_secs(7200))));
        assert!(
            store.find_session(&access.id).await.unwrap().is_some(),
            "{backend}"
        );

        // The same token again: refused, and what it would have issued is not written.
        let again = session(&u, TokenKind::Access, Some(&fam));
        let out = store
            .rotate_refresh(
                rotation(first, TokenHash(rand::random())),
                std::slice::from_ref(&again),
                &[],
                T0,
            )
            .await
            .unwrap();
        assert_eq!(out, RotateOutcome::AlreadyUsed, "{backend}");
        assert!(
            store.find_session(&again.id).await.unwrap().is_none(),
            "{backend}"
        );
        assert_eq!(
            store.find_session(&r.id).await.unwrap().unwrap().token_hash,
            Some(second)
        );
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
        store.set_user_enabled(&u.id, false, T0).await.unwrap();
        store.set_domain_enabled(&d.id, false, T0).await.unwrap();
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

#[tokio::test]
async fn a_batch_lands_many_jobs_and_answers_each() {
    use tessera_store::{WriteJob, WriteOutcome};
    for (backend, store, _dir) in stores().await {
        let d = domain("local");
        store.create_domain(&d).await.unwrap();
        let u = user(&d, "jack");
        store.create_user(&u, &[]).await.unwrap();
        let fam = id(SessionId::from_bytes);
        let old = session(&u, TokenKind::Refresh, Some(&fam));
        store.insert_session(&old).await.unwrap();
        let event = |n: usize| NewAuditEvent {
            at: T0,
            kind: AuditKind::TokenIssued,
            actor: None,
            subject: Some(u.id.to_string()),
            subject_name: Some("jack".into()),
            domain: None,
            door: Some("oauth2".into()),
            detail: format!("issue {n} with a \"quote\" and ünïcode"),
        };
        let mut jobs: Vec<WriteJob> = (0..300)
            .map(|n| WriteJob::Issue {
                sessions: vec![session(&u, TokenKind::Access, None)],
                cap: None,
                audit: vec![event(n)],
                now: T0,
            })
            .collect();
        let rotate = |tag| WriteJob::Rotate {
            rotation: tessera_store::Rotation {
                session: old.id.clone(),
                presented: old.token_hash.unwrap(),
                next: TokenHash(rand::random()),
                expires_at: None,
            },
            issued: vec![session(&u, TokenKind::Access, Some(&fam))],
            audit: vec![event(tag)],
            now: T0,
        };
        jobs.insert(10, rotate(1000));
        jobs.push(rotate(1001));
        let out = store.write_batch(&jobs).await.unwrap();
        assert_eq!(out.len(), 302, "{backend}");
        assert_eq!(out[10], WriteOutcome::Rotate(RotateOutcome::Rotated), "{backend}");
        assert_eq!(
            out[301],
            WriteOutcome::Rotate(RotateOutcome::AlreadyUsed),
            "{backend}"
        );
        let live = store.live_access_sessions(&u.id, T0).await.unwrap();
        assert_eq!(
            live.len(),
            301,
            "{backend}: 300 issued, 1 from the winning rotation"
        );
        let WriteJob::Issue { sessions, .. } = &jobs[0] else {
            unreachable!()
        };
        let back = store
            .find_session_by_hash(&sessions[0].token_hash.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            back, sessions[0],
            "{backend}: every column survives the JSON trip"
        );
        let events = store
            .list_audit_events(&AuditQuery {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(events.len(), 301, "{backend}: the losing rotation wrote nothing");
        assert!(events
            .iter()
            .any(|e| e.event.detail == "issue 7 with a \"quote\" and ünïcode"));
    }
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
