//! The front doors (SPEC §3), one module each, and their registry. A door
//! owns its routes and its dialect (how a refusal looks on its wire); the
//! flows themselves are the core's (`Core::login`, `Core::logout`). Adding
//! a sixth door is one module plus one line in [`routes`].

pub mod domain_login;
pub mod envelope_login;
pub mod header_login;
pub mod oauth2;

use crate::error::{in_dialect, Dialect};
use crate::AppState;
use tessera_model::config::Config;
use utoipa_axum::router::OpenApiRouter;

/// A front door: its name, whether configuration turns it on, its routes,
/// and (as a [`Dialect`]) how its refusals look.
pub trait Door: Dialect {
    /// The name the audit trail and the metrics know the door by.
    const NAME: &'static str;
    fn enabled(config: &Config) -> bool;
    fn routes() -> OpenApiRouter<AppState>;
}

/// Mounts door `D` when it is enabled, its every refusal rendered in its
/// dialect.
fn mount<D: Door>(router: OpenApiRouter<AppState>, state: &AppState) -> OpenApiRouter<AppState> {
    if !D::enabled(state.core.config()) {
        return router;
    }
    let door = D::routes().layer(axum::middleware::from_fn_with_state(
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
