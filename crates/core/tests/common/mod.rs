//! A core on a throwaway SQLite store, driven by a manual clock: the
//! fixture of the flow tests. No socket, no HTTP: what a door would ask of
//! the core, asked directly.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;
use tessera_core::admin::{ClientSecretInput, NewClient, NewUser};
use tessera_core::authn::LoginKind;
use tessera_core::{Actor, AuthResult, Core, CoreParts, LoggedIn, LoginRequest, ManualClock, MasterKey};
use tessera_model::config::{Config, OnLimit, PasswordConfig, TokenPolicy};
use tessera_model::{Client, Timestamp};
use tessera_store::Store;
use zeroize::Zeroizing;

/// The password every user the fixture adds is given.
pub const PASSWORD: &str = "correct horse battery staple";

/// The door the flow tests log in at (audit and metrics only).
pub const DOOR: &str = "flows";

/// The policy a test logs in under unless it names its own: one hour, no
/// idle timeout, no cap, no refresh tokens.
pub const PLAIN: &str = "plain";

/// A policy: `max_lifetime` and nothing else.
pub fn lifetime(secs: u64) -> TokenPolicy {
    TokenPolicy {
        idle_timeout: None,
        max_lifetime: Some(Duration::from_secs(secs)),
        refresh_lifetime: None,
        max_tokens_per_user: 0,
        on_limit: OnLimit::Refuse,
        ..TokenPolicy::default()
    }
}

/// A core, its store's directory and the clock it reads.
pub struct Fixture {
    pub core: Arc<Core>,
    pub clock: ManualClock,
    /// Kept so the store outlives the test.
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// A core with the default configuration (cheap Argon2) and the
    /// policy [`PLAIN`].
    pub async fn new() -> Fixture {
        Fixture::with(|_| {}).await
    }

    /// A core whose configuration `tweak` adjusts first (policies,
    /// lockout).
    pub async fn with(tweak: impl FnOnce(&mut Config)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            password: PasswordConfig {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
                ..PasswordConfig::default()
            },
            ..Config::default()
        };
        config.store.url = format!("sqlite://{}", dir.path().join("t.db").display());
        config.policies.insert(PLAIN.into(), lifetime(3600));
        tweak(&mut config);
        if let Err(problems) = config.validate() {
            panic!("test configuration is invalid: {problems:?}");
        }
        let store = Store::connect(&config.store.url, 4).await.unwrap();
        // Start at a round, plausible instant so arithmetic in failures reads well.
        let clock = ManualClock::new(Timestamp(1_750_000_000_000));
        let core = Core::new(CoreParts {
            config: Arc::new(config),
            store,
            clock: Arc::new(clock.clone()),
            master_key: MasterKey::from_text(&MasterKey::generate_text()).unwrap(),
            issuer: String::new(),
        })
        .await
        .unwrap();
        core.bootstrap(Some(Zeroizing::new("Opening-Night-Key-7".into())))
            .await
            .unwrap()
            .expect("a fresh store is bootstrapped");
        Fixture {
            core: Arc::new(core),
            clock,
            _dir: dir,
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    pub fn advance_ms(&self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
    }

    /// Adds a user of the default domain with [`PASSWORD`] and the given
    /// system roles; returns its id.
    pub async fn add_user(&self, name: &str, system_roles: &[&str]) -> String {
        let created = self
            .core
            .user_add(
                &Actor::Cli,
                NewUser {
                    name: name.into(),
                    password: Some(Zeroizing::new(PASSWORD.into())),
                    system_roles: system_roles.iter().map(|r| (*r).to_owned()).collect(),
                    ..NewUser::default()
                },
            )
            .await
            .unwrap();
        created.user.id.to_string()
    }

    /// Registers a public client allowed the password and refresh_token
    /// grants.
    pub async fn add_public_client(&self, id: &str) -> Client {
        self.core
            .client_add(
                &Actor::Cli,
                NewClient {
                    id: id.into(),
                    secret: ClientSecretInput::Public,
                    grants: vec!["password".into(), "refresh_token".into()],
                    policy: None,
                    roles: vec![],
                },
            )
            .await
            .unwrap()
            .client
    }

    /// A password login at [`DOOR`] under `policy`, for `client` when given.
    pub async fn login_as(
        &self,
        user: &str,
        password: &str,
        policy: &str,
        client: Option<&Client>,
    ) -> AuthResult<LoggedIn> {
        self.core
            .login(LoginRequest {
                door: DOOR,
                domain: None,
                username: user,
                password: Zeroizing::new(password.into()),
                kind: LoginKind::Password,
                policy,
                require_role: None,
                scope: None,
                client,
                detail: String::new(),
            })
            .await
    }

    /// A login with the right password under `policy`, which must succeed;
    /// returns the access token.
    pub async fn token(&self, user: &str, policy: &str) -> String {
        let issued = self.login_as(user, PASSWORD, policy, None).await.unwrap();
        issued.issued.access.token.to_string()
    }
}
