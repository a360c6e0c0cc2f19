//! SPEC §5: "Attempts are admitted atomically before any password work, so
//! concurrent guesses never exceed `max_failed_logins`; a disable, lock or
//! password change that lands while a login is in flight wins on every
//! node." Against the real server, on every backend, with one node and
//! with two nodes on one store.

use crate::harness::{backends, Backend, Node, Options, TestServer, ADMIN_PASSWORD};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use tessera_model::{AuditKind, Timestamp, User};
use tokio::task::JoinHandle;

/// The lockout the tests count on (the defaults, spelled out).
const LOCKOUT: &str = "[lockout]\nmax_failed_logins = 5\nwindow = \"5m\"\nduration = \"1m\"\n";
const MAX_FAILED: usize = 5;
const WINDOW: Duration = Duration::from_secs(300);
const LOCKED_FOR: Duration = Duration::from_secs(60);

/// Hashes slow enough (70 to 100 ms on an idle two-core machine, more
/// under load) that a change sent a little after a login reliably lands
/// while that login is hashing.
const SLOW_HASHES: &str = "[password]\nmemory_kib = 19456\niterations = 8\n";
/// How long after sending a login the racing change is sent: enough for
/// the login to have read the account, well short of its hash.
const HEAD_START: Duration = Duration::from_millis(25);

const GUESSME_PASSWORD: &str = "right-horse-battery";
const HANK_PASSWORD: &str = "Tank-Driver-42";

/// One node's base URL and a client that trusts it.
#[derive(Clone)]
struct Door {
    name: &'static str,
    client: reqwest::Client,
    base: String,
}

impl Door {
    fn of_server(s: &TestServer) -> Door {
        Door {
            name: "a",
            client: s.client.clone(),
            base: s.url(""),
        }
    }

    fn of_node(n: &Node) -> Door {
        Door {
            name: "b",
            client: n.client.clone(),
            base: n.url(""),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Header-login's `GET /login` with Basic: the status and the token.
    async fn basic_login(&self, user: &str, password: &str) -> (u16, Option<String>) {
        let res = self
            .client
            .get(self.url("/login"))
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        let token = res
            .headers()
            .get("x-sds-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (res.status().as_u16(), token)
    }

    /// A password grant through the public client `cli`: the status and the
    /// access token.
    async fn grant(&self, user: &str, password: &str) -> (u16, Option<String>) {
        let res = self
            .client
            .post(self.url("/oauth/token"))
            .basic_auth("cli", Some(""))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        (status, body["access_token"].as_str().map(str::to_owned))
    }

    async fn whoami(&self, token: &str) -> u16 {
        self.client
            .get(self.url("/v1/auth/whoami"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// An admin API call with the bearer token `admin`: the status.
    async fn admin(&self, method: Method, path: &str, admin: &str, body: Option<serde_json::Value>) -> u16 {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(admin);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap().status().as_u16()
    }
}

/// The account as the store has it now.
async fn account(server: &TestServer, name: &str) -> User {
    server.core().user_named(None, name).await.unwrap().1
}

fn locked(server: &TestServer, user: &User) -> bool {
    user.is_locked(Timestamp(server.clock.now_ms()))
}

/// Waits (at most 10 s) until `name`'s account satisfies `what`.
async fn until_account(server: &TestServer, name: &str, what: impl Fn(&User) -> bool) -> User {
    let start = Instant::now();
    loop {
        let user = account(server, name).await;
        if what(&user) {
            return user;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name} never got there: failed_logins {} locked_until {:?}",
            user.failed_logins,
            user.locked_until
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// ---------------------------------------------------------------------------
// Parallel guesses
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_wrong_passwords_check_at_most_the_limit() {
    for backend in backends() {
        guess_storm(backend, 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_wrong_passwords_on_two_nodes_check_at_most_the_limit() {
    for backend in backends() {
        guess_storm(backend, 2).await;
    }
}

/// 40 wrong passwords at once for one user, spread over `nodes` nodes on
/// one store, then the right one while they are in flight: at most
/// `max_failed_logins` passwords are ever checked, the right one is
/// refused, and it works once the lockout and the window are over.
async fn guess_storm(backend: Backend, nodes: usize) {
    let a = TestServer::start_with(Options {
        backend,
        toml: LOCKOUT.into(),
        ..Default::default()
    })
    .await;
    a.add_user(None, "guessme", GUESSME_PASSWORD, &[], false).await;
    let b = if nodes == 2 { Some(a.peer().await) } else { None };
    let mut doors = vec![Door::of_server(&a)];
    doors.extend(b.as_ref().map(Door::of_node));
    let ctx = format!("{backend:?}, {nodes} node(s)");

    let guesses: Vec<JoinHandle<(u16, Option<String>)>> = (0..40)
        .map(|i| {
            let door = doors[i % doors.len()].clone();
            tokio::spawn(async move { door.basic_login("guessme", &format!("wrong-guess-{i}")).await })
        })
        .collect();
    // The right password goes in while the guesses are in flight, as soon as
    // they hold the window's attempts (or have locked the account). Sent
    // before that it could fairly take a free attempt of its own and win.
    until_account(&a, "guessme", |u| {
        u.failed_logins >= MAX_FAILED as i64 || locked(&a, u)
    })
    .await;
    let in_flight = guesses.iter().filter(|g| !g.is_finished()).count();
    let right_door = doors.last().unwrap();
    let (status, token) = right_door.basic_login("guessme", GUESSME_PASSWORD).await;
    assert!(
        in_flight > 0,
        "{ctx}: every guess had finished before the right password was sent"
    );
    assert_eq!(
        (status, token.is_some()),
        (401, false),
        "{ctx}: the right password, sent on node {} while {in_flight} guesses were in flight, \
         must get no token",
        right_door.name
    );
    for g in guesses {
        let (status, token) = g.await.unwrap();
        assert_eq!((status, token), (401, None), "{ctx}: a wrong guess");
    }

    let events = a
        .core()
        .audit_events(&tessera_core::admin::AuditFilter {
            who: Some("guessme".into()),
            kind: Some(AuditKind::LoginFailed),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let details: Vec<&str> = events.iter().map(|e| e.event.detail.as_str()).collect();
    let checked = details.iter().filter(|d| **d == "wrong password").count();
    let refused = details.iter().filter(|d| d.starts_with("account locked")).count();
    assert_eq!(details.len(), 41, "{ctx}: one failure per attempt: {details:?}");
    assert!(
        (1..=MAX_FAILED).contains(&checked),
        "{ctx}: {checked} of 40 parallel guesses had their password checked (at most {MAX_FAILED} may)"
    );
    assert_eq!(
        refused,
        41 - checked,
        "{ctx}: every other attempt (the right password too) is refused as locked: {details:?}"
    );
    let lockouts = a
        .core()
        .audit_events(&tessera_core::admin::AuditFilter {
            who: Some("guessme".into()),
            kind: Some(AuditKind::Lockout),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(lockouts.len(), 1, "{ctx}: one lockout");

    // Still locked just before the lockout ends; past it and the window,
    // the right password works on every node.
    a.clock.advance(LOCKED_FOR - Duration::from_secs(1));
    assert_eq!(
        doors[0].basic_login("guessme", GUESSME_PASSWORD).await.0,
        401,
        "{ctx}: still locked"
    );
    a.clock.advance(WINDOW);
    for door in &doors {
        let (status, token) = door.basic_login("guessme", GUESSME_PASSWORD).await;
        assert_eq!(status, 200, "{ctx}: after the lockout, on node {}", door.name);
        assert!(token.is_some(), "{ctx}: a token on node {}", door.name);
    }
    if let Some(b) = b {
        b.stop().await;
    }
    a.halt().await;
}

// ---------------------------------------------------------------------------
// A change racing a login
// ---------------------------------------------------------------------------

/// Two nodes on one store, the public client `cli`, the user `hank`, an
/// admin token, and the token of hank's last good login.
struct Cluster {
    backend: Backend,
    a: TestServer,
    b: Node,
    /// Node a, then node b.
    doors: [Door; 2],
    admin: String,
    held: String,
}

impl Cluster {
    async fn start(backend: Backend) -> Cluster {
        let a = TestServer::start_with(Options {
            backend,
            toml: format!("{LOCKOUT}{SLOW_HASHES}"),
            ..Default::default()
        })
        .await;
        a.add_client("cli", None, &["password"], &[]).await;
        a.add_user(None, "hank", HANK_PASSWORD, &[], false).await;
        let b = a.peer().await;
        let doors = [Door::of_server(&a), Door::of_node(&b)];
        let admin = a
            .grant("/oauth/token", "cli", "password", "admin", ADMIN_PASSWORD)
            .await;
        let mut c = Cluster {
            backend,
            a,
            b,
            doors,
            admin,
            held: String::new(),
        };
        c.held = c.good_login().await;
        c
    }

    async fn stop(self) {
        self.b.stop().await;
        self.a.halt().await;
    }

    /// How soon the other node must follow a change to a user: within 1 s
    /// with PostgreSQL, which tells it at once (LISTEN/NOTIFY). SQLite has
    /// no notifications: there the other node reads the invalidation log
    /// every `POLL_EVERY` (1 s), so it gets that and a little more.
    fn promptly(&self) -> Duration {
        match self.backend {
            Backend::Postgres => Duration::from_secs(1),
            Backend::Sqlite => tessera_core::background::POLL_EVERY + Duration::from_millis(500),
        }
    }

    /// Hank logs in on node a; the token works on both nodes.
    async fn good_login(&self) -> String {
        let (status, token) = self.doors[0].grant("hank", HANK_PASSWORD).await;
        assert_eq!(status, 200, "{:?}: hank's login", self.backend);
        let token = token.unwrap();
        self.until_everywhere(&token, 200, None).await;
        token
    }

    /// Polls every node with `token` until each answers `want`: node
    /// `at_once` on the first try (it made the change, and drops what it
    /// cached of the user before answering for it); the other within
    /// [`Cluster::promptly`]. Then checks that each still does.
    async fn until_everywhere(&self, token: &str, want: u16, at_once: Option<usize>) {
        if let Some(n) = at_once {
            assert_eq!(
                self.doors[n].whoami(token).await,
                want,
                "{:?}: node {}, which made the change, must answer {want} at once",
                self.backend,
                self.doors[n].name
            );
        }
        let start = Instant::now();
        for door in &self.doors {
            loop {
                let status = door.whoami(token).await;
                if status == want {
                    break;
                }
                assert!(
                    start.elapsed() < self.promptly(),
                    "{:?}: node {} still answers {status}, not {want}, {:?} on",
                    self.backend,
                    door.name,
                    start.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        for door in &self.doors {
            assert_eq!(
                door.whoami(token).await,
                want,
                "{:?}: node {} went back",
                self.backend,
                door.name
            );
        }
    }

    fn hank_path(&self) -> &'static str {
        "/v1/admin/users/local/hank"
    }

    /// Sends hank's right password to node a; returns the running login.
    fn login_in_flight(&self) -> JoinHandle<(u16, Option<String>)> {
        let a = self.doors[0].clone();
        tokio::spawn(async move { a.grant("hank", HANK_PASSWORD).await })
    }

    /// Hank's login on node a; while it is hashing, an admin disables hank
    /// through node `via`. Whatever the login answered, no token of hank's
    /// (the new one, if any, and the one held from before) works on node
    /// `via` any more, nor soon after on the other. Then hank is enabled
    /// again and logs in. Returns whether the login got a token.
    async fn disable_round(&mut self, via: usize) -> bool {
        let login = self.login_in_flight();
        tokio::time::sleep(HEAD_START).await;
        let disabled = self.doors[via]
            .admin(
                Method::PATCH,
                self.hank_path(),
                &self.admin,
                Some(json!({"enabled": false})),
            )
            .await;
        assert_eq!(disabled, 204, "{:?}: disable hank", self.backend);
        let (status, token) = login.await.unwrap();
        assert!(
            token.is_some() == (status == 200),
            "{:?}: a login answers a token or an error, got {status}",
            self.backend
        );
        for t in token.iter().chain([&self.held]) {
            self.until_everywhere(t, 401, Some(via)).await;
        }
        let enabled = self.doors[via]
            .admin(
                Method::PATCH,
                self.hank_path(),
                &self.admin,
                Some(json!({"enabled": true})),
            )
            .await;
        assert_eq!(enabled, 204, "{:?}: enable hank", self.backend);
        self.held = self.good_login().await;
        token.is_some()
    }

    /// `before` wrong passwords for hank through node `via`, then one more,
    /// and a moment later (while that one is being checked) the right one
    /// on node a. With 4 before, the fifth guess takes the window's last
    /// attempt and locks the account while the right password is in
    /// flight. With 3 before, the right password gets an attempt of its
    /// own and is hashing when the fourth guess is settled; should that
    /// lock the account, the login must see it after its hash. Either way,
    /// once hank is locked no token of his works on node `via`, nor soon
    /// after on the other. Then hank is unlocked and logs in. Returns
    /// whether the login got a token.
    async fn lock_round(&mut self, via: usize, before: usize) -> bool {
        let guesser = self.doors[via].clone();
        let guess = |i: usize| {
            let g = guesser.clone();
            tokio::spawn(async move { g.grant("hank", &format!("wrong-{i}")).await })
        };
        let first: Vec<JoinHandle<(u16, Option<String>)>> = (0..before).map(guess).collect();
        for g in first {
            assert_eq!(g.await.unwrap().1, None, "{:?}: a wrong password", self.backend);
        }
        let last = guess(before);
        tokio::time::sleep(HEAD_START).await;
        let login = self.login_in_flight();
        assert_eq!(
            last.await.unwrap().1,
            None,
            "{:?}: a wrong password",
            self.backend
        );
        let (status, token) = login.await.unwrap();
        assert!(
            token.is_some() == (status == 200),
            "{:?}: a login answers a token or an error, got {status}",
            self.backend
        );
        // The guesses may have stopped short of the lock (the right
        // password held an attempt meanwhile): finish it, so that every
        // round ends locked.
        for extra in 0.. {
            if locked(&self.a, &account(&self.a, "hank").await) {
                break;
            }
            assert!(extra < MAX_FAILED, "{:?}: hank never locked", self.backend);
            guesser.grant("hank", "wrong-more").await;
        }
        for t in token.iter().chain([&self.held]) {
            self.until_everywhere(t, 401, Some(via)).await;
        }
        let unlocked = self.doors[via]
            .admin(
                Method::POST,
                &format!("{}/unlock", self.hank_path()),
                &self.admin,
                None,
            )
            .await;
        assert_eq!(unlocked, 204, "{:?}: unlock hank", self.backend);
        self.held = self.good_login().await;
        token.is_some()
    }
}

const ROUNDS: usize = 5;

/// Whether the races raced: a login that finished before the change
/// landed would get its token fairly, and then a round proves nothing.
/// Some of the logins must have been refused.
fn some_refused(backend: Backend, got_token: &[bool]) {
    assert!(
        got_token.iter().any(|t| !t),
        "{backend:?}: every login finished before the change landed ({} rounds); \
         the hashes are too quick for this machine (raise SLOW_HASHES)",
        got_token.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disable_racing_a_login_wins_on_every_node() {
    for backend in backends() {
        let mut c = Cluster::start(backend).await;
        let mut got_token = Vec::new();
        // The disable through the other node (b), and through the node
        // doing the login (a).
        for _ in 0..ROUNDS {
            for via in [1, 0] {
                got_token.push(c.disable_round(via).await);
            }
        }
        some_refused(backend, &got_token);
        c.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lock_racing_a_login_wins_on_every_node() {
    for backend in backends() {
        let mut c = Cluster::start(backend).await;
        let mut got_token = Vec::new();
        // The wrong passwords through the other node (b), and through the
        // node doing the login (a); four of them before, then three, by turns.
        for round in 0..ROUNDS {
            let before = MAX_FAILED - 1 - round % 2;
            for via in [1, 0] {
                got_token.push(c.lock_round(via, before).await);
            }
        }
        some_refused(backend, &got_token);
        c.stop().await;
    }
}

/// A stolen token cannot guess the current password past the lockout: a
/// password change's `current_password` is admitted like a login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_parallel_wrong_current_passwords_check_at_most_the_limit() {
    for backend in backends() {
        let server = TestServer::start_with(Options {
            backend,
            toml: "[lockout]\nmax_failed_logins = 5\n".into(),
            ..Default::default()
        })
        .await;
        server.add_client("app", None, &["password"], &[]).await;
        server
            .add_user(None, "dave", "Meadow-Copper-19", &[], false)
            .await;
        let token = server
            .grant("/oauth/token", "app", "password", "dave", "Meadow-Copper-19")
            .await;
        let mut tries = Vec::new();
        for i in 0..40 {
            let (client, url, token) = (
                server.client.clone(),
                server.url("/v1/users/me/password"),
                token.clone(),
            );
            tries.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "password": "Taken-Over-123", "current_password": format!("wrong-{i}") }))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        for t in tries {
            // 403 for a wrong or unadmitted current password; 401 once the
            // lock it caused also refuses the token itself (seed 004).
            let status = t.await.unwrap();
            assert!(matches!(status, 401 | 403), "{backend:?}: {status}");
        }
        let failed = server
            .core()
            .audit_events(&tessera_core::admin::AuditFilter {
                who: Some("dave".into()),
                kind: Some(AuditKind::LoginFailed),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        let checked = failed
            .iter()
            .filter(|e| e.event.detail == "wrong current password")
            .count();
        assert!(checked <= 5, "{backend:?}: {checked} current passwords checked");
        // The right current password is refused too while the lock holds.
        let res = server
            .client
            .post(server.url("/v1/users/me/password"))
            .bearer_auth(&token)
            .json(&json!({ "password": "Taken-Over-123", "current_password": "Meadow-Copper-19" }))
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 200, "{backend:?}");
        server.halt().await;
    }
}
