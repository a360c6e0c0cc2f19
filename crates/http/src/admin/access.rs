//! Admin API for access: OAuth2 clients, sessions, and the audit trail.

use super::{query, AdminRefusal, Page, TimeQuery};
use crate::error::{ApiError, ErrorBody};
use crate::extract::json_body;
use crate::identity::AdminCaller;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tessera_core::admin::names::schema::{ClientIdName, DomainName, DomainNameOrDefault, RoleName, UserName};
use tessera_core::admin::{AuditFilter, ClientSecretInput, ClientView, NewClient, GRANT_TYPES};
use tessera_core::session_admin::SessionView;
use tessera_model::{AuditEvent, AuditKind, ClientId, SessionId, Timestamp};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

/// One `routes!` per path: it registers each handler on its annotation's
/// path and methods.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(clients_list, clients_create))
        .routes(routes!(clients_delete))
        .routes(routes!(sessions_list))
        .routes(routes!(sessions_delete))
        .routes(routes!(user_sessions_delete))
        .routes(routes!(audit_list))
}

#[utoipa::path(
    get,
    path = "/v1/admin/clients",
    tag = "admin",
    summary = "List OAuth2 clients",
    params(super::Page),
    responses(
        (status = 200, description = "A page of clients", body = ClientPage),
        (status = 400, description = "A query parameter this does not take, or out of range", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn clients_list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    uri: Uri,
) -> Result<Json<ClientPage>, ApiError> {
    let page: Page = query(&uri)?;
    let (clients, next_offset) = page.cut(state.core.client_list().await?)?;
    Ok(Json(ClientPage { clients, next_offset }))
}

/// A page of clients, and where the next page starts (`null` on the last).
#[derive(Serialize, utoipa::ToSchema)]
struct ClientPage {
    clients: Vec<ClientView>,
    next_offset: Option<u32>,
}

/// `POST /v1/admin/clients`. Its schema (below) says what the checks in
/// `clients_create` and `Core::client_add` refuse across fields: a public
/// client has no secret and no `client_credentials` grant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientCreate {
    id: String,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    secret: Option<Zeroizing<String>>,
    #[serde(default)]
    grants: Vec<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

impl utoipa::PartialSchema for ClientCreate {
    fn schema() -> RefOr<Schema> {
        let string = || ObjectBuilder::new().schema_type(Type::String);
        let client = |public: bool| {
            let grants: Vec<&str> = GRANT_TYPES
                .iter()
                .copied()
                .filter(|g| !public || *g != "client_credentials")
                .collect();
            let secret = if public {
                ObjectBuilder::new()
                    .schema_type(Type::Null)
                    .description(Some("A public client has no secret"))
            } else {
                string()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
                    .min_length(Some(1))
                    .description(Some("Absent or `null`: one is generated and returned once"))
            };
            let mut object = ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("id", ClientIdName::schema())
                .required("id")
                .property(
                    "public",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .enum_values(Some([public]))
                        .description(Some(if public {
                            "`true`: a public client, without a secret"
                        } else {
                            "Absent or `false`: a confidential client"
                        })),
                )
                .property("secret", secret)
                .property(
                    "grants",
                    ArrayBuilder::new()
                        .items(string().enum_values(Some(grants)))
                        .description(Some(
                            "The grant types it may use; empty or absent: password and refresh_token",
                        )),
                )
                .property(
                    "policy",
                    string()
                        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                        .description(Some(
                            "A token policy under `[policies]` replacing the door's own (404 when there is none)",
                        )),
                )
                .property(
                    "roles",
                    ArrayBuilder::new()
                        .items(RoleName::schema())
                        .description(Some("System roles the client holds (client_credentials)")),
                )
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            if public {
                object = object.required("public");
            }
            object.title(Some(if public {
                "Public client"
            } else {
                "Confidential client"
            }))
        };
        OneOfBuilder::new()
            .item(client(true))
            .item(client(false))
            .description(Some(
                "A public client (`public: true`: no secret, no client_credentials grant) or a \
                 confidential one",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ClientCreate {}

#[utoipa::path(
    post,
    path = "/v1/admin/clients",
    tag = "admin",
    summary = "Register an OAuth2 client",
    request_body = ClientCreate,
    responses(
        (status = 201, description = "Created (`Cache-Control: no-store`: a generated secret is in it)", body = ClientCreated),
        (status = 400, description = "Bad body or id; a public client with a secret or the client_credentials grant", body = ErrorBody),
        (status = 404, description = "No such role or policy", body = ErrorBody),
        (status = 409, description = "The client exists", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn clients_create(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c: ClientCreate = json_body(&headers, &body)?;
    let secret = match (c.public, c.secret) {
        (true, Some(_)) => {
            return Err(ApiError::bad_request(
                "a public client has no secret: send public or secret, not both",
            ))
        }
        (true, None) => ClientSecretInput::Public,
        (false, Some(s)) => ClientSecretInput::Given(s),
        (false, None) => ClientSecretInput::Generate,
    };
    let new = NewClient {
        id: c.id,
        secret,
        grants: c.grants,
        policy: c.policy,
        roles: c.roles,
    };
    let created = state.core.client_add(&actor, new).await?;
    let body = ClientCreated {
        id: &created.client.id,
        public: created.client.is_public(),
        grants: &created.client.grants,
        policy: created.client.policy.as_deref(),
        generated_secret: created.generated_secret.as_deref().map(String::as_str),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /v1/admin/clients` (201): the new client; a generated secret is
/// shown this once.
#[derive(Serialize, utoipa::ToSchema)]
struct ClientCreated<'a> {
    id: &'a ClientId,
    /// A public client has no secret.
    public: bool,
    #[schema(value_type = Vec<String>)]
    grants: &'a [String],
    /// Token policy overriding the door's own.
    policy: Option<&'a str>,
    /// Only for a confidential client sent without a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_secret: Option<&'a str>,
}

#[utoipa::path(
    delete,
    path = "/v1/admin/clients/{id}",
    tag = "admin",
    summary = "Remove an OAuth2 client",
    params(("id" = ClientIdName, Path, description = "The client id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "An id RFC 8265 refuses", body = ErrorBody),
        (status = 404, description = "No such client", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn clients_delete(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.client_remove(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SessionListQuery {
    /// Only this user's sessions.
    #[param(value_type = Option<UserName>)]
    user: Option<String>,
    /// The user's domain (absent or empty: the default domain); looked up
    /// even without `user` (404 when there is none).
    #[param(value_type = Option<DomainNameOrDefault>)]
    domain: Option<String>,
    /// The last id of the previous page (`next_after`).
    #[param(value_type = Option<SessionId>)]
    after: Option<String>,
    /// How many (1 to 1000; 100 when absent).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/sessions",
    tag = "admin",
    summary = "List live sessions",
    params(SessionListQuery),
    responses(
        (status = 200, description = "A page of live sessions", body = SessionPage),
        (status = 400, description = "A bad query parameter, or out of range", body = ErrorBody),
        (status = 404, description = "No such domain or user", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn sessions_list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    uri: Uri,
) -> Result<Json<SessionPage>, ApiError> {
    let q: SessionListQuery = query(&uri)?;
    let after = match q.after.as_deref().map(SessionId::parse) {
        Some(None) => return Err(ApiError::bad_request("after must be a session id")),
        Some(Some(id)) => Some(id),
        None => None,
    };
    let limit = super::limit(q.limit)?;
    if let (None, Some(domain)) = (&q.user, &q.domain) {
        state.core.domain_named(Some(domain)).await?;
    }
    let user = q.user.as_deref().map(|u| (q.domain.as_deref(), u));
    let sessions = state.core.session_list(user, after, limit).await?;
    let next_after = (sessions.len() == limit as usize)
        .then(|| sessions.last().map(|s| s.id.clone()))
        .flatten();
    Ok(Json(SessionPage { sessions, next_after }))
}

/// A page of live sessions.
#[derive(Serialize, utoipa::ToSchema)]
struct SessionPage {
    sessions: Vec<SessionView>,
    /// Pass as `after` for the next page (`null` on the last).
    next_after: Option<SessionId>,
}

#[utoipa::path(
    delete,
    path = "/v1/admin/sessions/{id}",
    tag = "admin",
    summary = "Revoke one session",
    params(("id" = SessionId, Path, description = "The session id (32 lowercase hex characters)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "Not a session id", body = ErrorBody),
        (status = 404, description = "No live session with that id", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn sessions_delete(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let Some(id) = SessionId::parse(&id) else {
        return Err(ApiError::bad_request(
            "a session id is 32 lowercase hex characters",
        ));
    };
    let revoked = state
        .core
        .revoke_session_id(&id, "revoked by an administrator", Some(&actor.label()))
        .await?;
    if !revoked {
        return Err(ApiError::NotFound("a live session with that id".into()));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RevokeAll {
    /// Proxy tokens too.
    proxy_tokens: bool,
}

#[utoipa::path(
    delete,
    path = "/v1/admin/users/{domain}/{name}/sessions",
    tag = "admin",
    summary = "Revoke every session of a user",
    params(
        ("domain" = DomainName, Path, description = "The user's domain"),
        ("name" = UserName, Path, description = "The user's name"),
        RevokeAll,
    ),
    responses(
        (status = 200, description = "How many sessions ended", body = Revoked),
        (status = 400, description = "A query parameter this does not take, or a name RFC 8265 refuses", body = ErrorBody),
        (status = 404, description = "No such domain or user", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn user_sessions_delete(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    Path((domain, name)): Path<(String, String)>,
    uri: Uri,
) -> Result<Json<Revoked>, ApiError> {
    let q: RevokeAll = query(&uri)?;
    let (_, user) = state.core.user_named(Some(&domain), &name).await?;
    let revoked = state
        .core
        .revoke_user(
            &user.id,
            q.proxy_tokens,
            "revoked by an administrator",
            Some(&actor.label()),
        )
        .await?;
    Ok(Json(Revoked { revoked }))
}

/// How many sessions a revocation ended.
#[derive(Serialize, utoipa::ToSchema)]
struct Revoked {
    revoked: usize,
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditListQuery {
    /// Only events about this: a user name (looked up in `domain`), a user
    /// or client id, or an actor label (`cli`, `admin-token`); any text,
    /// matched as given when it names no user.
    user: Option<String>,
    /// The domain `user` is looked up in (the default domain when absent);
    /// any text, not a filter by itself.
    domain: Option<String>,
    /// Only events of this kind.
    #[param(value_type = Option<AuditKind>)]
    kind: Option<String>,
    /// From this time: milliseconds since the epoch or RFC 3339.
    #[param(value_type = Option<TimeQuery>)]
    since: Option<String>,
    /// Up to this time: milliseconds since the epoch or RFC 3339.
    #[param(value_type = Option<TimeQuery>)]
    until: Option<String>,
    /// Events with ids below this (the previous page's `next_before`).
    before: Option<i64>,
    /// How many (1 to 1000; 100 when absent).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A time given as milliseconds since the epoch or as RFC 3339.
pub fn parse_time(name: &str, s: &str) -> Result<Timestamp, String> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(Timestamp(ms));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| Timestamp(t.timestamp_millis()))
        .map_err(|_| {
            format!("{name} must be milliseconds since the epoch or an RFC 3339 time (2026-11-23T12:00:00Z)")
        })
}

#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    tag = "admin",
    summary = "Audit events, newest first, filtered",
    params(AuditListQuery),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 400, description = "A bad query parameter (kind, time, limit)", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn audit_list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    uri: Uri,
) -> Result<Json<AuditPage>, ApiError> {
    let q: AuditListQuery = query(&uri)?;
    let kind = match q.kind.as_deref().map(|k| (k, AuditKind::parse(k))) {
        Some((k, None)) => {
            let kinds: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "kind {k:?} is not one of {}",
                kinds.join(", ")
            )));
        }
        Some((_, kind)) => kind,
        None => None,
    };
    let time = |name: &str, v: &Option<String>| v.as_deref().map(|s| parse_time(name, s)).transpose();
    let since = time("since", &q.since).map_err(ApiError::bad_request)?;
    let until = time("until", &q.until).map_err(ApiError::bad_request)?;
    let limit = super::limit(q.limit)?;
    let filter = AuditFilter {
        who: q.user,
        domain: q.domain,
        kind,
        since,
        until,
        before: q.before,
        limit,
    };
    let events = state.core.audit_events(&filter).await?;
    let next_before = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage { events, next_before }))
}

/// A page of audit events, newest first.
#[derive(Serialize, utoipa::ToSchema)]
struct AuditPage {
    events: Vec<AuditEvent>,
    /// Pass as `before` for the next page (`null` on the last).
    next_before: Option<i64>,
}
