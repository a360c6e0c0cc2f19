//! Tessera's own token endpoints: `GET /v1/auth/whoami` and
//! `POST /v1/auth/logout` (JSON; SPEC §3.5).

use crate::error::ApiError;
use crate::extract::json_body;
use crate::identity::Caller;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use tessera_core::{Identity, Logout, Subject};
use tessera_model::AssignmentScope;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami_get))
        .routes(routes!(logout_post))
}

/// `GET /v1/auth/whoami`: the caller, whatever token it presented.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Whoami {
    /// `user`, `client` or `service`.
    #[schema(example = "user")]
    pub kind: &'static str,
    /// The user's or client's id (absent for the service principal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinguished_name: Option<String>,
    /// The user's domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// For a user, each role with where it applies; for a client or the
    /// service principal, role names.
    pub roles: Vec<WhoamiRole>,
    /// The token's scope (`read write`, `emergency`, ...).
    pub scope: String,
    /// The session the token belongs to (absent for the service token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<WhoamiSession>,
}

/// A role in `whoami`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum WhoamiRole {
    /// A user's role and where it applies (`system` or a domain's name).
    Grant { name: String, scope: String },
    /// A client's or the service principal's role name.
    Name(String),
}

/// The session part of `whoami`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WhoamiSession {
    pub id: String,
    /// `access`, `refresh` or `proxy`.
    pub kind: &'static str,
    /// The front door that issued it.
    pub door: String,
    /// The token policy it was issued under.
    pub policy: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch; `null` never expires (proxy tokens).
    pub expires_at: Option<i64>,
}

impl Whoami {
    /// The caller: who, which domain, which roles where, and the session
    /// the token belongs to.
    pub fn of(who: &Identity) -> Whoami {
        let names = || {
            who.subject
                .role_names()
                .into_iter()
                .map(|r| WhoamiRole::Name(r.to_owned()))
                .collect()
        };
        let mut w = Whoami {
            kind: "service",
            id: None,
            name: who.subject.name().to_owned(),
            common_name: None,
            distinguished_name: None,
            domain: None,
            domain_id: None,
            roles: vec![],
            scope: who.scope().to_owned(),
            session: who.session.as_ref().map(|s| WhoamiSession {
                id: s.id().to_string(),
                kind: s.kind().as_str(),
                door: s.door().to_owned(),
                policy: s.policy().to_owned(),
                created_at: s.created_at().millis(),
                expires_at: s.expires_at().map(|t| t.millis()),
            }),
        };
        match &who.subject {
            Subject::User { user, domain } => {
                w.kind = "user";
                w.id = Some(user.user.id.to_string());
                w.common_name = user.user.common_name.clone();
                w.distinguished_name = user.user.distinguished_name.clone();
                w.domain = Some(domain.domain.name.clone());
                w.domain_id = Some(domain.domain.id.to_string());
                w.roles = user
                    .roles
                    .iter()
                    .filter(|g| g.role.enabled)
                    .map(|g| WhoamiRole::Grant {
                        name: g.role.name.clone(),
                        scope: match &g.scope {
                            AssignmentScope::System => "system".to_owned(),
                            AssignmentScope::Domain(id) if *id == domain.domain.id => {
                                domain.domain.name.clone()
                            }
                            AssignmentScope::Domain(id) => id.to_string(),
                        },
                    })
                    .collect();
            }
            Subject::Client(c) => {
                w.kind = "client";
                w.id = Some(c.client.id.to_string());
                w.roles = names();
            }
            Subject::Service => w.roles = names(),
        }
        w
    }
}

#[utoipa::path(
    get,
    path = "/v1/auth/whoami",
    tag = "tessera",
    operation_id = "tessera_whoami_get",
    summary = "Who the presented token speaks for",
    responses(
        (status = 200, description = "The caller, its roles and its session", body = Whoami),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn whoami_get(Caller(who): Caller) -> Json<Whoami> {
    Json(Whoami::of(&who))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LogoutBody {
    /// End every session of the user, not just this one.
    #[serde(default)]
    all: bool,
    /// With `all`, proxy tokens too.
    #[serde(default)]
    proxy_tokens: bool,
}

#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    tag = "tessera",
    operation_id = "tessera_logout_post",
    summary = "End the presented token's session, or every session of its user",
    request_body(content = Option<LogoutBody>, description = "Optional; no body, or `null`, ends this session only"),
    responses(
        (status = 200, description = "How many sessions ended", body = Revoked),
        (status = 400, description = "Bad body, or the service token (no session)", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
        (status = 415, description = "A body that is not JSON", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn logout_post(
    State(state): State<AppState>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Revoked>, ApiError> {
    // No body, or `null` (the document's `Option`): this session only.
    let opts: LogoutBody =
        if body.is_empty() || (body.trim_ascii() == b"null" && crate::extract::is_json(&headers)) {
            LogoutBody::default()
        } else {
            json_body(&headers, &body)?
        };
    let (what, reason) = if opts.all {
        (
            Logout::AllOfUser {
                proxy_tokens: opts.proxy_tokens,
            },
            "logout (all sessions)",
        )
    } else {
        (Logout::ThisLogin, "logout")
    };
    let revoked = state.core.logout(&who, what, reason).await?;
    Ok(Json(Revoked { revoked }))
}

/// How many sessions a logout or revocation ended.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Revoked {
    pub revoked: usize,
}
