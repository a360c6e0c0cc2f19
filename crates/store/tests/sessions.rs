//! Sessions on every backend (SQLite always, PostgreSQL when
//! `TESSERA_TEST_POSTGRES` holds a URL): lookup and revocation, the
//! per-user cap, refresh rotation, and the group-commit batches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::time::Duration;
use tessera_model::session::TokenHash;
use tessera_model::*;
use tessera_store::{AuditQuery, CapCheck, IssueOutcome, RotateOutcome, SessionQuery};

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
