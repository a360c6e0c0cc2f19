//! Admin API for identity: domains, roles and role assignments (users
//! are in `users`, LDAP directories and group mappings in `directory`).

use super::directory::LdapCreate;
use super::{query, AdminRefusal, Page};
use crate::error::{ApiError, ErrorBody};
use crate::extract::json_body;
use crate::identity::AdminCaller;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use serde::{Deserialize, Serialize};
use tessera_core::admin::names::schema::{Description, DomainName, DomainNameOrDefault, RoleName, UserName};
use tessera_core::admin::RoleTarget;
use tessera_model::{Domain, Role};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// One `routes!` per path: it registers each handler on its annotation's
/// path and methods.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(domains_list, domains_create))
        .routes(routes!(domains_update))
        .routes(routes!(roles_list, roles_create))
        .routes(routes!(assignments_create, assignments_delete))
}

#[utoipa::path(
    get,
    path = "/v1/admin/domains",
    tag = "admin",
    summary = "List domains",
    params(super::Page),
    responses(
        (status = 200, description = "A page of domains", body = DomainPage),
        (status = 400, description = "A query parameter this does not take, or out of range", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn domains_list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    uri: Uri,
) -> Result<Json<DomainPage>, ApiError> {
    let page: Page = query(&uri)?;
    let (domains, next_offset) = page.cut(state.core.domain_list().await?)?;
    Ok(Json(DomainPage { domains, next_offset }))
}

/// A page of domains, and where the next page starts (`null` on the last).
#[derive(Serialize, utoipa::ToSchema)]
struct DomainPage {
    domains: Vec<Domain>,
    next_offset: Option<u32>,
}

/// A new domain.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DomainCreate {
    #[schema(value_type = DomainName)]
    name: String,
    #[serde(default)]
    #[schema(value_type = Description)]
    description: String,
    /// The directory of an LDAP domain (SPEC §7); a local domain without
    /// (or with `null`).
    #[serde(default, deserialize_with = "crate::extract::object_or_null")]
    ldap: Option<LdapCreate>,
}

/// A new role.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleCreate {
    #[schema(value_type = RoleName)]
    name: String,
    #[serde(default)]
    #[schema(value_type = Description)]
    description: String,
}

#[utoipa::path(
    post,
    path = "/v1/admin/domains",
    tag = "admin",
    summary = "Create a local or LDAP domain",
    request_body = DomainCreate,
    responses(
        (status = 201, description = "Created; a `Warning` header when an LDAP directory is reached without TLS", body = Domain),
        (status = 400, description = "Bad body or name; LDAP settings that do not fit together (`LdapCreate` \
            says which do), or a filter or CA file that does not parse", body = ErrorBody),
        (status = 409, description = "The domain exists", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn domains_create(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, Json<Domain>), ApiError> {
    let d: DomainCreate = json_body(&headers, &body)?;
    let mut out = HeaderMap::new();
    let Some(l) = d.ldap else {
        let domain = state.core.domain_add(&actor, &d.name, &d.description).await?;
        return Ok((StatusCode::CREATED, out, Json(domain)));
    };
    let added = state
        .core
        .domain_add_ldap(&actor, l.into_new(d.name, d.description))
        .await?;
    for w in &added.warnings {
        // RFC 7234 §5.5: 299, a persistent warning.
        let text = format!("299 tessera \"{}\"", w.replace(['"', '\\'], "'"));
        if let Ok(v) = axum::http::HeaderValue::from_str(&text) {
            out.append(axum::http::header::WARNING, v);
        }
    }
    Ok((StatusCode::CREATED, out, Json(added.domain)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Enable {
    enabled: bool,
}

#[utoipa::path(
    patch,
    path = "/v1/admin/domains/{name}",
    tag = "admin",
    summary = "Enable or disable a domain",
    params(("name" = DomainName, Path, description = "The domain's name")),
    request_body = Enable,
    responses(
        (status = 200, description = "Updated", body = Domain),
        (status = 400, description = "Bad body, or a name RFC 8265 refuses", body = ErrorBody),
        (status = 404, description = "No such domain", body = ErrorBody),
        (status = 409, description = "Disabling the domain of every enabled administrator", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        AdminRefusal,
        (status = 403, description = "The token's holder is not a system administrator; or the default domain (`local`), which cannot be disabled", body = ErrorBody),
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn domains_update(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Domain>, ApiError> {
    let e: Enable = json_body(&headers, &body)?;
    Ok(Json(
        state.core.domain_set_enabled(&actor, &name, e.enabled).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/v1/admin/roles",
    tag = "admin",
    summary = "List roles",
    responses(
        (status = 200, description = "Every role", body = RoleList),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn roles_list(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<RoleList>, ApiError> {
    Ok(Json(RoleList {
        roles: state.core.role_list().await?,
    }))
}

/// Every role.
#[derive(Serialize, utoipa::ToSchema)]
struct RoleList {
    roles: Vec<Role>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/roles",
    tag = "admin",
    summary = "Create a role",
    request_body = RoleCreate,
    responses(
        (status = 201, description = "Created", body = Role),
        (status = 400, description = "Bad body or name", body = ErrorBody),
        (status = 409, description = "The role exists", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn roles_create(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    let r: RoleCreate = json_body(&headers, &body)?;
    let role = state.core.role_add(&actor, &r.name, &r.description).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// An assignment, in the body (create) or the query (delete).
#[derive(Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AssignmentSpec {
    /// The role's name.
    #[schema(value_type = RoleName)]
    #[param(value_type = RoleName)]
    role: String,
    /// The user's name.
    #[schema(value_type = UserName)]
    #[param(value_type = UserName)]
    user: String,
    /// The user's domain (absent, `null` or empty: the default domain).
    #[serde(default)]
    #[schema(value_type = Option<DomainNameOrDefault>)]
    #[param(value_type = Option<DomainNameOrDefault>)]
    domain: Option<String>,
    /// On the whole system instead of the user's domain.
    #[serde(default)]
    system: bool,
}

impl AssignmentSpec {
    fn target(&self) -> RoleTarget {
        RoleTarget {
            user: self.user.clone(),
            domain: self.domain.clone(),
            system: self.system,
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/admin/assignments",
    tag = "admin",
    summary = "Grant a role to a user, on its domain or the system",
    request_body = AssignmentSpec,
    responses(
        (status = 201, description = "Granted"),
        (status = 400, description = "Bad body, or a name RFC 8265 refuses", body = ErrorBody),
        (status = 404, description = "No such domain, user or role", body = ErrorBody),
        (status = 409, description = "The user holds that role there already", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn assignments_create(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let a: AssignmentSpec = json_body(&headers, &body)?;
    state.core.role_grant(&actor, &a.role, &a.target()).await?;
    Ok(StatusCode::CREATED)
}

#[utoipa::path(
    delete,
    path = "/v1/admin/assignments",
    tag = "admin",
    summary = "Take a role back",
    params(AssignmentSpec),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "Missing or unknown query parameters, or a name RFC 8265 refuses", body = ErrorBody),
        (status = 404, description = "No such domain, user, role or assignment", body = ErrorBody),
        (status = 409, description = "The system admin role of the last enabled administrator", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn assignments_delete(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    uri: Uri,
) -> Result<StatusCode, ApiError> {
    let a: AssignmentSpec = query(&uri)?;
    state.core.role_revoke(&actor, &a.role, &a.target()).await?;
    Ok(StatusCode::NO_CONTENT)
}
