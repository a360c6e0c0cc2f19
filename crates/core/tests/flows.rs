//! The core's flows as a user meets them, without a socket: log in, use
//! the token, let it expire or idle out, refresh, hit the cap, get locked
//! out, log out. Time moves by a manual clock, never by sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{lifetime, Fixture, DOOR, PASSWORD, PLAIN};
use std::time::Duration;
use tessera_core::admin::AuditFilter;
use tessera_core::authn::LoginKind;
use tessera_core::{AuthError, LoginRequest, Logout, OAuthCode};
use tessera_model::config::{OnLimit, TokenPolicy};
use tessera_model::AuditKind;
use zeroize::Zeroizing;

const MIN: u64 = 60;
const HOUR: u64 = 3600;

/// Asserts the result is the OAuth `invalid_grant` refusal.
#[track_caller]
fn assert_invalid_grant<T>(r: Result<T, AuthError>) {
    match r {
        Err(AuthError::OAuth {
            code: OAuthCode::InvalidGrant,
            ..
        }) => {}
        Err(other) => panic!("expected invalid_grant, got {other:?}"),
        Ok(_) => panic!("expected invalid_grant, got success"),
    }
}

/// Unwraps the error of a result whose success type is not `Debug`.
#[track_caller]
fn err<T>(r: Result<T, AuthError>) -> AuthError {
    match r {
        Err(e) => e,
        Ok(_) => panic!("expected a refusal, got success"),
    }
}

// 1 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_gives_a_token_that_checks_as_the_user_and_bad_credentials_are_one_refusal() {
    let f = Fixture::new().await;
    let alice = f.add_user("alice", &[]).await;

    let logged_in = f.login_as("alice", PASSWORD, PLAIN, None).await.unwrap();
    assert_eq!(logged_in.subject.id(), alice);
    assert_eq!(logged_in.subject.name(), "alice");
    assert!(logged_in.issued.refresh.is_none(), "no client, no refresh token");

    let identity = f.core.check(&logged_in.issued.access.token, true).await.unwrap();
    assert_eq!(identity.subject.id(), alice);
    assert_eq!(identity.subject.name(), "alice");
    assert_eq!(identity.subject.domain_name(), Some("local"));

    let wrong = f.login_as("alice", "not the password", PLAIN, None).await;
    assert!(matches!(err(wrong), AuthError::InvalidCredentials));
    let unknown = f.login_as("mallory", PASSWORD, PLAIN, None).await;
    assert!(matches!(err(unknown), AuthError::InvalidCredentials));

    // A refused login takes nothing away from the token already held.
    f.core.check(&logged_in.issued.access.token, true).await.unwrap();
    assert!(matches!(
        f.core.check("not-a-token", true).await,
        Err(AuthError::UnknownToken)
    ));
}

// 2 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expires_in_is_the_policy_lifetime_exactly_and_the_token_dies_then() {
    let f = Fixture::with(|c| {
        c.policies.insert("two-hours".into(), lifetime(2 * HOUR));
    })
    .await;
    f.add_user("alice", &[]).await;

    // Off a whole second, so any second read of the clock would show.
    f.advance_ms(437);
    let issued = f
        .login_as("alice", PASSWORD, "two-hours", None)
        .await
        .unwrap()
        .issued;
    assert_eq!(issued.access.expires_in, Some(7200));
    let token = issued.access.token.to_string();

    f.advance(Duration::from_secs(2 * HOUR - 1));
    f.core.check(&token, true).await.unwrap();
    f.advance(Duration::from_secs(1));
    assert!(matches!(
        f.core.check(&token, true).await,
        Err(AuthError::Expired)
    ));
    f.advance(Duration::from_secs(MIN));
    assert!(matches!(
        f.core.check(&token, true).await,
        Err(AuthError::Expired)
    ));
}

// 3 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_use_moves_the_idle_clock_and_a_longer_gap_ends_the_token() {
    let f = Fixture::with(|c| {
        c.policies.insert(
            "idle".into(),
            TokenPolicy {
                idle_timeout: Some(Duration::from_secs(10 * MIN)),
                ..lifetime(8 * HOUR)
            },
        );
    })
    .await;
    f.add_user("alice", &[]).await;
    let token = f.token("alice", "idle").await;

    // Used every 9 minutes for 45 minutes: well past one idle window.
    for _ in 0..5 {
        f.advance(Duration::from_secs(9 * MIN));
        f.core.check(&token, true).await.unwrap();
    }
    // The idle clock reaches the store, as it does on a node's flush.
    f.core.flush_idle_clocks().await.unwrap();
    f.advance(Duration::from_secs(9 * MIN));
    f.core.check(&token, true).await.unwrap();

    f.advance(Duration::from_secs(10 * MIN + 1));
    assert!(matches!(f.core.check(&token, true).await, Err(AuthError::Idle)));
    // Once idle, using it again does not revive it.
    assert!(f.core.check(&token, true).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_without_touch_does_not_move_the_idle_clock() {
    let f = Fixture::with(|c| {
        c.policies.insert(
            "idle".into(),
            TokenPolicy {
                idle_timeout: Some(Duration::from_secs(10 * MIN)),
                ..lifetime(8 * HOUR)
            },
        );
    })
    .await;
    f.add_user("alice", &[]).await;
    let token = f.token("alice", "idle").await;

    f.advance(Duration::from_secs(6 * MIN));
    f.core.check(&token, false).await.unwrap();
    f.advance(Duration::from_secs(6 * MIN));
    assert!(matches!(f.core.check(&token, true).await, Err(AuthError::Idle)));
}

// 4 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_a_replayed_refresh_token_ends_the_whole_login() {
    let f = Fixture::with(|c| {
        c.policies.insert(
            "refreshing".into(),
            TokenPolicy {
                refresh_lifetime: Some(Duration::from_secs(24 * HOUR)),
                ..lifetime(2 * HOUR)
            },
        );
    })
    .await;
    let alice = f.add_user("alice", &[]).await;
    let client = f.add_public_client("app").await;

    let first = f
        .login_as("alice", PASSWORD, "refreshing", Some(&client))
        .await
        .unwrap()
        .issued;
    let refresh1 = first.refresh.expect("a client allowed refresh_token gets one");
    let refresh1 = refresh1.token.to_string();
    let access1 = first.access.token.to_string();

    f.advance(Duration::from_secs(MIN));
    let second = f.core.refresh(&refresh1, &client.id, None).await.unwrap();
    let refresh2 = second.refresh.expect("rotation gives the next refresh token");
    let refresh2 = refresh2.token.to_string();
    let access2 = second.access.token.to_string();
    assert_ne!(refresh2, refresh1);
    assert_ne!(access2, access1);
    assert_eq!(second.access.expires_in, Some(2 * HOUR));
    let identity = f.core.check(&access2, true).await.unwrap();
    assert_eq!(identity.subject.id(), alice);

    // Another client cannot use it.
    let other = f.add_public_client("other-app").await;
    assert_invalid_grant(f.core.refresh(&refresh2, &other.id, None).await);

    // The used token comes back: the whole login ends.
    f.advance(Duration::from_secs(MIN));
    assert_invalid_grant(f.core.refresh(&refresh1, &client.id, None).await);
    assert!(matches!(
        f.core.check(&access2, true).await,
        Err(AuthError::Revoked)
    ));
    assert!(matches!(
        f.core.check(&access1, true).await,
        Err(AuthError::Revoked)
    ));
    assert_invalid_grant(f.core.refresh(&refresh2, &client.id, None).await);

    let replays = f
        .core
        .audit_events(&AuditFilter {
            kind: Some(AuditKind::RefreshReplay),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(replays.len(), 1, "{replays:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshing_never_outlives_the_login_refresh_lifetime() {
    let f = Fixture::with(|c| {
        c.policies.insert(
            "short".into(),
            TokenPolicy {
                refresh_lifetime: Some(Duration::from_secs(6)),
                ..lifetime(3)
            },
        );
    })
    .await;
    f.add_user("alice", &[]).await;
    let client = f.add_public_client("app").await;

    let first = f
        .login_as("alice", PASSWORD, "short", Some(&client))
        .await
        .unwrap()
        .issued;
    assert_eq!(first.access.expires_in, Some(3));
    let mut refresh = first.refresh.unwrap().token.to_string();
    let mut last_access = first.access.token.to_string();

    // Refresh every 1.5 s; the login ends 6 s after the password.
    for step in 1..=3u64 {
        f.advance_ms(1500);
        let elapsed_ms = step * 1500;
        let left_ms = 6000 - elapsed_ms;
        let issued = f
            .core
            .refresh(&refresh, &client.id, None)
            .await
            .unwrap_or_else(|e| panic!("refresh at {elapsed_ms} ms: {e:?}"));
        let expires_in = issued.access.expires_in.expect("the access token expires");
        assert!(
            expires_in * 1000 <= left_ms,
            "at {elapsed_ms} ms the access token says {expires_in} s, but the login ends in {left_ms} ms"
        );
        last_access = issued.access.token.to_string();
        f.core.check(&last_access, true).await.unwrap();
        refresh = issued.refresh.unwrap().token.to_string();
    }

    // 6 s: the login is over, however recently it was refreshed.
    f.advance_ms(1500);
    assert_invalid_grant(f.core.refresh(&refresh, &client.id, None).await);
    assert!(matches!(
        f.core.check(&last_access, true).await,
        Err(AuthError::Expired)
    ));
    f.advance_ms(1500);
    assert_invalid_grant(f.core.refresh(&refresh, &client.id, None).await);
}

// 5 ---------------------------------------------------------------------

fn capped(on_limit: OnLimit) -> TokenPolicy {
    TokenPolicy {
        max_tokens_per_user: 2,
        on_limit,
        ..lifetime(HOUR)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_refusing_policy_says_when_to_come_back() {
    let f = Fixture::with(|c| {
        c.policies.insert("capped".into(), capped(OnLimit::Refuse));
    })
    .await;
    f.add_user("alice", &[]).await;

    let first = f.token("alice", "capped").await;
    f.advance(Duration::from_secs(10 * MIN));
    let second = f.token("alice", "capped").await;
    f.advance(Duration::from_secs(MIN));

    let third = f.login_as("alice", PASSWORD, "capped", None).await;
    let AuthError::TokenLimit { retry_after } = err(third) else {
        panic!("expected the token limit");
    };
    // The first token frees up 49 minutes from now.
    assert!(retry_after <= Duration::from_secs(HOUR), "{retry_after:?}");
    assert!(retry_after > Duration::ZERO);
    assert_eq!(retry_after, Duration::from_secs(HOUR - 11 * MIN));
    // Both held tokens still work.
    f.core.check(&first, true).await.unwrap();
    f.core.check(&second, true).await.unwrap();

    // Once the first has expired there is room again.
    f.advance(retry_after);
    assert!(matches!(
        f.core.check(&first, true).await,
        Err(AuthError::Expired)
    ));
    f.token("alice", "capped").await;
    // Another user is not counted against alice.
    f.add_user("bob", &[]).await;
    f.token("bob", "capped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_an_evicting_policy_ends_the_oldest_token() {
    let f = Fixture::with(|c| {
        c.policies.insert("evicting".into(), capped(OnLimit::EvictOldest));
    })
    .await;
    f.add_user("alice", &[]).await;

    let first = f.token("alice", "evicting").await;
    f.advance(Duration::from_secs(1));
    let second = f.token("alice", "evicting").await;
    f.advance(Duration::from_secs(1));
    let third = f.token("alice", "evicting").await;

    assert!(matches!(
        f.core.check(&first, true).await,
        Err(AuthError::Revoked)
    ));
    f.core.check(&second, true).await.unwrap();
    f.core.check(&third, true).await.unwrap();
}

// 6 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_lock_the_account_and_its_tokens_until_the_lockout_ends() {
    let f = Fixture::with(|c| {
        c.lockout.max_failed_logins = 3;
        c.lockout.window = Duration::from_secs(5 * MIN);
        c.lockout.duration = Duration::from_secs(MIN);
    })
    .await;
    f.add_user("alice", &[]).await;
    let token = f.token("alice", PLAIN).await;

    for _ in 0..3 {
        let wrong = f.login_as("alice", "guess", PLAIN, None).await;
        assert!(matches!(err(wrong), AuthError::InvalidCredentials));
        f.advance(Duration::from_secs(1));
    }
    let locked_at = f.clock.now_ms() - 1000;

    // The right password is refused like a wrong one; the token is refused as locked.
    let right = f.login_as("alice", PASSWORD, PLAIN, None).await;
    assert!(matches!(err(right), AuthError::InvalidCredentials));
    match f.core.check(&token, true).await {
        Err(AuthError::Locked { until }) => assert_eq!(until.0, locked_at + 60_000),
        other => panic!("expected Locked, got {:?}", other.map(|_| ())),
    }
    let lockouts = f
        .core
        .audit_events(&AuditFilter {
            who: Some("alice".into()),
            kind: Some(AuditKind::Lockout),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(lockouts.len(), 1, "{lockouts:?}");

    // Still locked just before the end.
    f.advance(Duration::from_secs(MIN - 2));
    let early = f.login_as("alice", PASSWORD, PLAIN, None).await;
    assert!(matches!(err(early), AuthError::InvalidCredentials));

    f.advance(Duration::from_secs(2));
    let fresh = f.token("alice", PLAIN).await;
    f.core.check(&fresh, true).await.unwrap();
    f.core.check(&token, true).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_spread_wider_than_the_window_do_not_lock() {
    let f = Fixture::with(|c| {
        c.lockout.max_failed_logins = 3;
        c.lockout.window = Duration::from_secs(5 * MIN);
        c.lockout.duration = Duration::from_secs(MIN);
    })
    .await;
    f.add_user("alice", &[]).await;
    for _ in 0..4 {
        let wrong = f.login_as("alice", "guess", PLAIN, None).await;
        assert!(matches!(err(wrong), AuthError::InvalidCredentials));
        f.advance(Duration::from_secs(3 * MIN));
    }
    f.token("alice", PLAIN).await;
}

// 7 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_ends_the_access_token_and_the_refresh_token_of_the_login() {
    let f = Fixture::with(|c| {
        c.policies.insert(
            "refreshing".into(),
            TokenPolicy {
                refresh_lifetime: Some(Duration::from_secs(24 * HOUR)),
                ..lifetime(2 * HOUR)
            },
        );
    })
    .await;
    f.add_user("alice", &[]).await;
    let client = f.add_public_client("app").await;

    let issued = f
        .login_as("alice", PASSWORD, "refreshing", Some(&client))
        .await
        .unwrap()
        .issued;
    let access = issued.access.token.to_string();
    let refresh = issued.refresh.unwrap().token.to_string();
    // Another login of the same user is not this login.
    let other = f.token("alice", PLAIN).await;

    let identity = f.core.check(&access, true).await.unwrap();
    let ended = f
        .core
        .logout(&identity, Logout::ThisLogin, "logout")
        .await
        .unwrap();
    assert!(ended >= 2, "the access token and its refresh session: {ended}");

    assert!(matches!(
        f.core.check(&access, true).await,
        Err(AuthError::Revoked)
    ));
    assert_invalid_grant(f.core.refresh(&refresh, &client.id, None).await);
    f.core.check(&other, true).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_everywhere_spares_proxy_tokens_unless_asked() {
    let f = Fixture::with(|c| {
        c.policies.insert(
            "refreshing".into(),
            TokenPolicy {
                refresh_lifetime: Some(Duration::from_secs(24 * HOUR)),
                ..lifetime(2 * HOUR)
            },
        );
    })
    .await;
    f.add_user("alice", &[]).await;
    f.add_user("bob", &[]).await;
    let client = f.add_public_client("app").await;

    let oauth = f
        .login_as("alice", PASSWORD, "refreshing", Some(&client))
        .await
        .unwrap()
        .issued;
    let oauth_access = oauth.access.token.to_string();
    let oauth_refresh = oauth.refresh.unwrap().token.to_string();
    let plain = f.token("alice", PLAIN).await;
    let bobs = f.token("bob", PLAIN).await;

    let identity = f.core.check(&plain, true).await.unwrap();
    let proxy = f.core.issue_proxy(&identity).await.unwrap();
    assert_eq!(proxy.expires_in, None, "a proxy token never expires");
    let proxy = proxy.token.to_string();
    f.core.check(&proxy, true).await.unwrap();

    f.core
        .logout(
            &identity,
            Logout::AllOfUser { proxy_tokens: false },
            "logout everywhere",
        )
        .await
        .unwrap();
    assert!(matches!(
        f.core.check(&plain, true).await,
        Err(AuthError::Revoked)
    ));
    assert!(matches!(
        f.core.check(&oauth_access, true).await,
        Err(AuthError::Revoked)
    ));
    assert_invalid_grant(f.core.refresh(&oauth_refresh, &client.id, None).await);
    f.core.check(&proxy, true).await.unwrap();
    f.core.check(&bobs, true).await.unwrap();

    let again = f.token("alice", PLAIN).await;
    let identity = f.core.check(&again, true).await.unwrap();
    f.core
        .logout(
            &identity,
            Logout::AllOfUser { proxy_tokens: true },
            "logout everywhere",
        )
        .await
        .unwrap();
    assert!(matches!(
        f.core.check(&again, true).await,
        Err(AuthError::Revoked)
    ));
    assert!(matches!(
        f.core.check(&proxy, true).await,
        Err(AuthError::Revoked)
    ));
    f.core.check(&bobs, true).await.unwrap();
}

// 8 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_requiring_a_role_refuses_users_without_it_and_audits_the_refusal() {
    let f = Fixture::new().await;
    f.add_user("alice", &[]).await;
    f.add_user("root", &["admin"]).await;

    let request = |username: &'static str| LoginRequest {
        door: DOOR,
        domain: None,
        username,
        password: Zeroizing::new(PASSWORD.into()),
        kind: LoginKind::Password,
        policy: PLAIN,
        require_role: Some("admin"),
        scope: None,
        client: None,
        detail: String::new(),
    };

    let refused = f.core.login(request("alice")).await;
    assert!(matches!(err(refused), AuthError::Forbidden(_)));

    let failed = f
        .core
        .audit_events(&AuditFilter {
            who: Some("alice".into()),
            kind: Some(AuditKind::LoginFailed),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let event = &failed[0].event;
    assert_eq!(event.door.as_deref(), Some(DOOR));
    assert_eq!(event.subject_name.as_deref(), Some("alice"));
    assert!(event.detail.contains("admin"), "{}", event.detail);
    let succeeded = f
        .core
        .audit_events(&AuditFilter {
            who: Some("alice".into()),
            kind: Some(AuditKind::LoginSucceeded),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(succeeded.is_empty(), "{succeeded:?}");

    // The same door lets a holder of the role in.
    let admitted = f.core.login(request("root")).await.unwrap();
    assert!(admitted.subject.has_role("admin"));
    f.core.check(&admitted.issued.access.token, true).await.unwrap();
}
