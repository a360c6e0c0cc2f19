//! Issue 15, crash safety: a real `tessera serve` is killed with SIGKILL
//! in the middle of a storm of logins, logouts, revocations, password
//! changes, lockouts and user changes, restarted on the same store, and
//! every write it had acknowledged must still be there; the SQLite file
//! must pass `PRAGMA integrity_check`. Three kills per backend (SQLite,
//! and PostgreSQL when `TESSERA_TEST_POSTGRES` is set). The figures
//! (acknowledged writes per kind, lost) are printed for the record.

use crate::harness::{backends, Backend, Options, ProcessNode, TestServer, ADMIN_PASSWORD};
use crate::log_capture;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Cheap hashes; a lockout that outlasts the test, counted over a window
/// short enough that the checks' own wrong passwords never add up to one.
const SETUP: &str = "[password]\nmemory_kib = 1024\niterations = 1\n\
                     [lockout]\nmax_failed_logins = 5\nwindow = \"3s\"\nduration = \"1h\"\n";
/// How long each storm runs before the kill.
const STORM: Duration = Duration::from_millis(2500);
const KILLS: usize = 3;
/// Wrong passwords that lock an account (`SETUP`'s `max_failed_logins`).
const MAX_FAILED: usize = 5;

/// A password no policy refuses, different on every call.
fn fresh_password() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let pw = format!("Kx9-{:016x}-{}", rand_u64(), N.fetch_add(1, Ordering::Relaxed));
    log_capture::secret("user password", &pw);
    pw
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::UNIX_EPOCH.elapsed().unwrap_or_default().as_nanos());
    h.finish()
}

/// What the server acknowledged, and what it then must remember.
#[derive(Default)]
struct Ledger {
    /// Password logins answered 200.
    logins: usize,
    /// Tokens of acknowledged logins not ended since: must still work.
    live: Vec<String>,
    /// Tokens whose `POST /v1/auth/logout` was answered 200: refused.
    logged_out: Vec<String>,
    /// Tokens whose `POST /oauth/revoke` was answered 200: refused.
    revoked: Vec<String>,
    /// Users whose creation was answered 201: exist.
    created: Vec<String>,
    /// Users whose disable was answered 204: disabled.
    disabled: Vec<String>,
    /// Users whose `MAX_FAILED`-th wrong password was answered: locked.
    locked: Vec<String>,
    /// Password changes answered 200.
    password_changes: usize,
    /// Requests answered 429 or 5xx during a storm (nothing acknowledged).
    refused: usize,
    /// Each password changer's passwords.
    changers: Vec<Changer>,
}

/// One user whose password keeps changing.
#[derive(Clone)]
struct Changer {
    name: String,
    /// The last password whose change was acknowledged (or the first).
    current: String,
    /// A change sent but not answered when the server died: either
    /// password may be in force afterwards.
    pending: Option<String>,
    /// The password `current` replaced: must be refused.
    retired: Option<String>,
}

/// A running storm's shared state.
struct Storm {
    client: reqwest::Client,
    base: String,
    admin: String,
    stop: AtomicBool,
    ledger: Mutex<Ledger>,
}

/// A response, or none (the server died first).
type Answer = Option<(u16, Value)>;

impl Storm {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn note(&self, f: impl FnOnce(&mut Ledger)) {
        f(&mut self.ledger.lock().unwrap());
    }

    async fn answer(req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.ok()?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.ok()?;
        Some((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    async fn login(&self, user: &str, password: &str) -> Answer {
        let req = self
            .client
            .post(self.url("/oauth/token"))
            .basic_auth("cli", Some(""))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ]);
        let answer = Self::answer(req).await;
        if let Some((200, body)) = &answer {
            log_capture::secret("access_token", body["access_token"].as_str().unwrap_or(""));
            log_capture::secret("refresh_token", body["refresh_token"].as_str().unwrap_or(""));
        }
        answer
    }

    /// A token from an acknowledged login, or `None`.
    async fn token(&self, user: &str, password: &str) -> Option<String> {
        match self.login(user, password).await {
            Some((200, body)) => body["access_token"].as_str().map(str::to_owned),
            other => self.unacknowledged(&format!("login of {user}"), other),
        }
    }

    /// A storm login: counted when acknowledged.
    async fn storm_login(&self, user: &str, password: &str) -> Option<String> {
        let token = self.token(user, password).await;
        if token.is_some() {
            self.note(|l| l.logins += 1);
        }
        token
    }

    /// An answer that acknowledges nothing: none (the server died), or a
    /// 429 or 5xx under load (counted); anything else fails the test.
    fn unacknowledged<T>(&self, what: &str, answer: Answer) -> Option<T> {
        self.not_acknowledged(what, answer);
        None
    }

    fn not_acknowledged(&self, what: &str, answer: Answer) {
        match answer {
            None => {}
            Some((status, _)) if status == 429 || status >= 500 => self.note(|l| l.refused += 1),
            Some((status, body)) => panic!("{what}: {status} {body}"),
        }
    }

    async fn admin_call(&self, method: reqwest::Method, path: &str, body: Value) -> Answer {
        Self::answer(
            self.client
                .request(method, self.url(path))
                .bearer_auth(&self.admin)
                .json(&body),
        )
        .await
    }

    /// Creates a user through the admin API; its name once acknowledged.
    async fn create_user(&self, prefix: &str, password: &str) -> Option<String> {
        let name = format!("{prefix}-{:012x}", rand_u64() & 0xffff_ffff_ffff);
        let answer = self
            .admin_call(
                reqwest::Method::POST,
                "/v1/admin/users",
                json!({ "name": name, "password": password }),
            )
            .await;
        match answer {
            Some((201, _)) => {
                self.note(|l| l.created.push(name.clone()));
                Some(name)
            }
            other => self.unacknowledged(&format!("create {name}"), other),
        }
    }
}

/// Logs in and out: half the logins are ended with a logout, half kept.
async fn churn(s: Arc<Storm>, user: String, password: String) {
    let mut keep = false;
    while s.running() {
        let Some(token) = s.storm_login(&user, &password).await else {
            continue;
        };
        keep = !keep;
        if keep {
            s.note(|l| l.live.push(token));
            continue;
        }
        let answer = Storm::answer(s.client.post(s.url("/v1/auth/logout")).bearer_auth(&token)).await;
        match answer {
            Some((200, _)) => s.note(|l| l.logged_out.push(token)),
            other => s.not_acknowledged("logout", other),
        }
    }
}

/// Logs in and revokes the token as its client (RFC 7009).
async fn revoker(s: Arc<Storm>, user: String, password: String) {
    while s.running() {
        let Some(token) = s.storm_login(&user, &password).await else {
            continue;
        };
        let answer = Storm::answer(
            s.client
                .post(s.url("/oauth/revoke"))
                .basic_auth("cli", Some(""))
                .form(&[("token", token.as_str())]),
        )
        .await;
        match answer {
            Some((200, _)) => s.note(|l| l.revoked.push(token)),
            other => s.not_acknowledged("revoke", other),
        }
    }
}

/// Changes user `index`'s own password again and again.
async fn changer(s: Arc<Storm>, index: usize) {
    while s.running() {
        let me = s.ledger.lock().unwrap().changers[index].clone();
        let Some(token) = s.storm_login(&me.name, &me.current).await else {
            continue;
        };
        let next = fresh_password();
        s.note(|l| l.changers[index].pending = Some(next.clone()));
        let answer = Storm::answer(
            s.client
                .post(s.url("/v1/users/me/password"))
                .bearer_auth(&token)
                .json(&json!({ "password": next, "current_password": me.current })),
        )
        .await;
        match answer {
            Some((200, _)) => s.note(|l| {
                let c = &mut l.changers[index];
                c.retired = Some(std::mem::replace(&mut c.current, next));
                c.pending = None;
                l.password_changes += 1;
            }),
            other => s.not_acknowledged("password change", other),
        }
    }
}

/// Creates users and disables them.
async fn user_changes(s: Arc<Storm>) {
    while s.running() {
        let Some(name) = s.create_user("made", &fresh_password()).await else {
            continue;
        };
        let answer = s
            .admin_call(
                reqwest::Method::PATCH,
                &format!("/v1/admin/users/local/{name}"),
                json!({ "enabled": false }),
            )
            .await;
        match answer {
            Some((204, _)) => s.note(|l| l.disabled.push(name)),
            other => s.not_acknowledged(&format!("disable {name}"), other),
        }
    }
}

/// Creates users and locks them out with wrong passwords. A lockout is
/// acknowledged by the answer to the last wrong password; it counts once
/// the right password has been seen refused (five answers slower than the
/// window lock nothing).
async fn locker(s: Arc<Storm>) {
    while s.running() {
        let password = fresh_password();
        let Some(name) = s.create_user("lock", &password).await else {
            continue;
        };
        let mut answered = 0;
        for i in 0..MAX_FAILED {
            match s.login(&name, &format!("Wrong-Guess-{i}-{name}")).await {
                Some((200, body)) => panic!("a wrong password logged in: {body}"),
                Some(_) => answered += 1,
                None => break,
            }
        }
        if answered == MAX_FAILED && matches!(s.login(&name, &password).await, Some((st, _)) if st != 200) {
            s.note(|l| l.locked.push(name));
        }
    }
}

/// Every user the admin API lists, by name: (enabled, locked until, ms).
async fn all_users(s: &Storm) -> HashMap<String, (bool, Option<i64>)> {
    let mut out = HashMap::new();
    let mut offset = 0u64;
    loop {
        let res = s
            .client
            .get(s.url(&format!("/v1/admin/users?limit=1000&offset={offset}")))
            .bearer_auth(&s.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        for u in page["users"].as_array().unwrap() {
            out.insert(
                u["name"].as_str().unwrap().to_owned(),
                (u["enabled"].as_bool().unwrap(), u["locked_until"].as_i64()),
            );
        }
        match page["next_offset"].as_u64() {
            Some(next) => offset = next,
            None => return out,
        }
    }
}

/// `GET /v1/auth/whoami` with each token, 16 at a time: the statuses.
async fn whoami_all(s: &Storm, tokens: &[String]) -> Vec<u16> {
    futures_util::stream::iter(tokens.iter().map(|t| async move {
        s.client
            .get(s.url("/v1/auth/whoami"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }))
    .buffered(16)
    .collect()
    .await
}

/// Checks everything the ledger says was acknowledged against the
/// restarted server; returns what was lost, per kind.
async fn lost_writes(s: &Storm) -> Vec<String> {
    let mut lost = Vec::new();
    let ledger = std::mem::take(&mut *s.ledger.lock().unwrap());
    for (kind, tokens, want) in [
        ("login", &ledger.live, 200),
        ("logout", &ledger.logged_out, 401),
        ("revocation", &ledger.revoked, 401),
    ] {
        let statuses = whoami_all(s, tokens).await;
        let bad = statuses.iter().filter(|&&st| st != want).count();
        if bad > 0 {
            lost.push(format!("{kind}: {bad} of {} tokens not {want}", tokens.len()));
        }
    }
    let users = all_users(s).await;
    let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_millis() as i64;
    let missing = ledger.created.iter().filter(|n| !users.contains_key(*n)).count();
    if missing > 0 {
        lost.push(format!(
            "creation: {missing} of {} users missing",
            ledger.created.len()
        ));
    }
    let enabled = ledger
        .disabled
        .iter()
        .filter(|n| users.get(*n).is_none_or(|u| u.0))
        .count();
    if enabled > 0 {
        lost.push(format!(
            "disable: {enabled} of {} users enabled",
            ledger.disabled.len()
        ));
    }
    let unlocked = ledger
        .locked
        .iter()
        .filter(|n| users.get(*n).is_none_or(|u| u.1.is_none_or(|until| until <= now)))
        .count();
    if unlocked > 0 {
        lost.push(format!(
            "lockout: {unlocked} of {} users not locked",
            ledger.locked.len()
        ));
    }
    let mut changers = ledger.changers.clone();
    for c in &mut changers {
        // A change the kill cut short may or may not have landed.
        let works = |answer: Answer| matches!(answer, Some((200, _)));
        let landed = match c.pending.take() {
            Some(p) if works(s.login(&c.name, &p).await) => {
                c.retired = Some(std::mem::replace(&mut c.current, p));
                true
            }
            _ => false,
        };
        if !landed && !works(s.login(&c.name, &c.current).await) {
            lost.push(format!(
                "password change: {}'s acknowledged password is refused",
                c.name
            ));
        }
        if let Some(old) = c.retired.clone() {
            if s.login(&c.name, &old)
                .await
                .is_none_or(|(status, _)| status == 200)
            {
                lost.push(format!(
                    "password change: {}'s replaced password still works",
                    c.name
                ));
                // Carry on from what the store holds, so that the next
                // storm reports this loss once, not as a failed login.
                c.current = old;
                c.retired = None;
            }
        }
    }
    // What stays true carries over to the next round's checks.
    let mut next = s.ledger.lock().unwrap();
    *next = Ledger {
        changers,
        live: ledger.live,
        logged_out: ledger.logged_out,
        revoked: ledger.revoked,
        created: ledger.created,
        disabled: ledger.disabled,
        locked: ledger.locked,
        logins: ledger.logins,
        password_changes: ledger.password_changes,
        refused: ledger.refused,
    };
    lost
}

/// `PRAGMA integrity_check` on the SQLite file a killed server left.
async fn integrity(store_url: &str) -> String {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = store_url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .connect()
        .await
        .unwrap();
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows.join("; ")
}

async fn start(t: &TestServer, ledger: Ledger) -> (ProcessNode, Arc<Storm>) {
    let node = t.process_peer().await;
    let mut storm = Storm {
        client: node.client.clone(),
        base: node.url(""),
        admin: String::new(),
        stop: AtomicBool::new(false),
        ledger: Mutex::new(ledger),
    };
    storm.admin = storm.token("admin", ADMIN_PASSWORD).await.unwrap();
    (node, Arc::new(storm))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_storm_loses_no_acknowledged_write() {
    for backend in backends() {
        crash_storms(backend).await;
    }
}

async fn crash_storms(backend: Backend) {
    let setup = TestServer::start_with(Options {
        backend,
        toml: SETUP.into(),
        tls: false,
    })
    .await;
    setup.add_client("cli", None, &["password"], &[]).await;
    let mut ledger = Ledger::default();
    let mut steady = Vec::new();
    for (i, kind) in ["churn", "churn", "revoke", "revoke", "change", "change"]
        .iter()
        .enumerate()
    {
        let (name, pw) = (format!("{kind}-{i}"), fresh_password());
        setup.add_user(None, &name, &pw, &[], false).await;
        if *kind == "change" {
            ledger.changers.push(Changer {
                name,
                current: pw,
                pending: None,
                retired: None,
            });
        } else {
            steady.push((*kind, name, pw));
        }
    }
    let t = setup.halt().await;
    let mut total_lost = Vec::new();
    for kill in 1..=KILLS {
        let (node, storm) = start(&t, ledger).await;
        let mut workers = Vec::new();
        for (kind, name, pw) in &steady {
            let (s, name, pw) = (storm.clone(), name.clone(), pw.clone());
            workers.push(match *kind {
                "churn" => tokio::spawn(churn(s, name, pw)),
                _ => tokio::spawn(revoker(s, name, pw)),
            });
        }
        for i in 0..storm.ledger.lock().unwrap().changers.len() {
            workers.push(tokio::spawn(changer(storm.clone(), i)));
        }
        workers.push(tokio::spawn(user_changes(storm.clone())));
        workers.push(tokio::spawn(locker(storm.clone())));
        tokio::time::sleep(STORM).await;
        // SIGKILL with requests in flight, then let the workers notice.
        node.stop().await;
        storm.stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.unwrap();
        }
        if backend == Backend::Sqlite {
            let check = integrity(&t.store_url).await;
            assert_eq!(check, "ok", "kill {kill}: PRAGMA integrity_check");
        }
        let carried = std::mem::take(&mut *storm.ledger.lock().unwrap());
        let (node, storm) = start(&t, carried).await;
        let lost = lost_writes(&storm).await;
        {
            let l = storm.ledger.lock().unwrap();
            eprintln!(
                "crash safety, {backend:?}, kill {kill}/{KILLS} (cumulative acknowledged writes): \
                 logins {}, logouts {}, revocations {}, password changes {}, users created {}, \
                 users disabled {}, lockouts {}; lost {} (answered 429/5xx: {})",
                l.logins,
                l.logged_out.len(),
                l.revoked.len(),
                l.password_changes,
                l.created.len(),
                l.disabled.len(),
                l.locked.len(),
                lost.len(),
                l.refused
            );
        }
        total_lost.extend(lost.into_iter().map(|l| format!("kill {kill}: {l}")));
        ledger = std::mem::take(&mut *storm.ledger.lock().unwrap());
        node.stop().await;
    }
    assert!(
        total_lost.is_empty(),
        "{backend:?}: acknowledged writes lost: {total_lost:#?}"
    );
}
