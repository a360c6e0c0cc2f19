//! The front doors (SPEC §3), one module each, and their registry. A door
//! owns its `[doors.*]` table, its routes and its dialect (how a refusal
//! looks on its wire); the flows themselves are the core's (`Core::login`,
//! `Core::logout`). Adding a sixth door is one module plus one line in
//! [`DoorsConfig`], [`DoorsConfig::validate`] and [`routes`].

pub mod domain_login;
pub mod envelope_login;
pub mod header_login;
pub mod oauth2;

use crate::error::{in_dialect, Dialect};
use crate::AppState;
use serde::{Deserialize, Serialize};
use tessera_model::config::Config;
use utoipa_axum::router::OpenApiRouter;

/// A front door: its name, its configuration table, its routes, and (as a
/// [`Dialect`]) how its refusals look.
pub trait Door: Dialect {
    /// The name the audit trail and the metrics know the door by.
    const NAME: &'static str;
    /// The door's `[doors.*]` table.
    type Table: DoorTable;
    /// The door's table among all of them.
    fn table(doors: &DoorsConfig) -> &Self::Table;
    fn routes() -> OpenApiRouter<AppState>;
}

/// What the registry asks of every door's table.
pub trait DoorTable {
    /// `enabled = true`: the door's routes are served.
    fn enabled(&self) -> bool;
    /// What serde cannot check (policies named, bounds), given the rest
    /// of the configuration; each problem names the key to fix.
    fn problems(&self, config: &Config) -> Vec<String>;
    /// The roles the table names, as `(key, role)`: roles live in the
    /// store, so they are checked once it is open (`Core::check_references`).
    fn roles_named(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// The `[doors]` section: one table per door, each owned by its module.
/// Unknown keys are rejected by serde, naming the key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DoorsConfig {
    pub oauth2: oauth2::Table,
    pub header_login: header_login::Table,
    pub domain_login: domain_login::Table,
    pub envelope_login: envelope_login::Table,
}

impl DoorsConfig {
    /// Cross-checks of the doors' tables against the rest of the
    /// configuration (`[policies]`). Returns every problem found, each
    /// naming the key to fix; empty when all is well.
    pub fn validate(&self, config: &Config) -> Vec<String> {
        [
            self.oauth2.problems(config),
            self.header_login.problems(config),
            self.domain_login.problems(config),
            self.envelope_login.problems(config),
        ]
        .concat()
    }

    /// Every role the doors' tables name, as `(key, role)`, for the check
    /// with the store open.
    pub fn roles_named(&self) -> Vec<(String, String)> {
        [
            self.oauth2.roles_named(),
            self.header_login.roles_named(),
            self.domain_login.roles_named(),
            self.envelope_login.roles_named(),
        ]
        .concat()
    }
}

/// The problem with a door's `key` naming policy `name`, if `[policies]`
/// does not define it.
fn undefined_policy(config: &Config, key: &str, name: &str) -> Option<String> {
    config
        .policy(name)
        .is_none()
        .then(|| format!("{key} names policy {name:?}, which is not defined under [policies]"))
}

/// Mounts door `D` when it is enabled, its every refusal rendered in its
/// dialect.
fn mount<D: Door>(router: OpenApiRouter<AppState>, state: &AppState) -> OpenApiRouter<AppState> {
    if !D::table(&state.doors).enabled() {
        return router;
    }
    let limit = state.core.config().server.max_body_bytes;
    let door = D::routes()
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::body_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            in_dialect::<D>,
        ));
    router.merge(door)
}

/// Every enabled door's routes: the registry, one line per door.
pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new();
    let router = mount::<oauth2::OAuth2>(router, state);
    let router = mount::<header_login::HeaderLogin>(router, state);
    let router = mount::<domain_login::DomainLogin>(router, state);
    mount::<envelope_login::EnvelopeLogin>(router, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(
            DoorsConfig::default().validate(&Config::default()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let err = toml::from_str::<DoorsConfig>("[oauth2]\npolcy = \"oauth2\"\n").unwrap_err();
        assert!(err.to_string().contains("polcy"), "{err}");
        let err = toml::from_str::<DoorsConfig>("[basic_login]\nenabled = true\n").unwrap_err();
        assert!(err.to_string().contains("basic_login"), "{err}");
    }

    #[test]
    fn the_tables_keep_their_keys_and_defaults() {
        let doors: DoorsConfig =
            toml::from_str("[oauth2]\nrecent_auth = \"10m\"\n[envelope_login]\nenabled = false\n").unwrap();
        assert_eq!(doors.oauth2.recent_auth, std::time::Duration::from_secs(600));
        assert_eq!(doors.oauth2.api_policy, "oauth2-api");
        assert!(!doors.envelope_login.enabled());
        assert_eq!(doors.envelope_login.require_role, "admin");
        assert_eq!(doors.header_login.realm, "Tessera");
        let text = toml::to_string(&doors).unwrap();
        assert!(text.contains("recent_auth = \"10m\""), "{text}");
    }

    #[test]
    fn a_door_naming_a_missing_policy_is_reported() {
        let mut doors = DoorsConfig::default();
        doors.domain_login.policy = "nope".into();
        doors.oauth2.api_policy = "gone".into();
        let problems = doors.validate(&Config::default());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("doors.oauth2.api_policy"), "{problems:?}");
        assert!(
            problems[1].contains("doors.domain_login.policy names policy \"nope\""),
            "{problems:?}"
        );
    }

    #[test]
    fn recent_auth_is_bounded() {
        let doors: DoorsConfig = toml::from_str("[oauth2]\nrecent_auth = \"99999999999h\"\n").unwrap();
        assert_eq!(
            doors.validate(&Config::default()),
            ["doors.oauth2.recent_auth is 99999999999h; it must be between 0s and 24h"]
        );
        let doors: DoorsConfig = toml::from_str("[oauth2]\nrecent_auth = \"0s\"\n").unwrap();
        assert_eq!(doors.validate(&Config::default()), Vec::<String>::new());
    }

    #[test]
    fn the_roles_the_tables_name_are_listed_for_the_store_check() {
        let mut doors = DoorsConfig::default();
        doors.envelope_login.require_role = "auditors".into();
        assert_eq!(
            doors.roles_named(),
            [(
                "doors.envelope_login.require_role".to_owned(),
                "auditors".to_owned()
            )]
        );
    }

    #[test]
    fn the_envelope_door_needs_a_role() {
        let mut doors = DoorsConfig::default();
        doors.envelope_login.require_role = " ".into();
        let problems = doors.validate(&Config::default());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("doors.envelope_login.require_role"),
            "{problems:?}"
        );
    }
}
