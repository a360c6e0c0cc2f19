//! Admin API for identity: domains, roles and role assignments (users
//! are in `users`).

use super::{json_object, query, AdminRefusal, Page};
use crate::error::{ApiError, ErrorBody};
use crate::identity::AdminCaller;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use serde::{Deserialize, Serialize};
use tessera_core::admin::names::schema::{Description, DomainName, DomainNameOrDefault, RoleName, UserName};
use tessera_core::admin::{GroupMappingView, NewLdapDomain, RoleTarget};
use tessera_model::{Domain, Role};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// One `routes!` per path: it registers each handler on its annotation's
/// path and methods.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(domains_list, domains_create))
        .routes(routes!(domains_update))
        .routes(routes!(
            group_mappings_list,
            group_mappings_create,
            group_mappings_delete
        ))
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
    /// The directory of an LDAP domain (SPEC §7); a local domain without.
    #[serde(default)]
    ldap: Option<LdapCreate>,
}

/// An LDAP domain's directory: `url`, and either `user_dn_template` or
/// `search_base` with `search_filter`. `{user}` is the login name, escaped
/// (RFC 4514 in a DN, RFC 4515 in a filter).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LdapCreate {
    /// `ldaps://host[:port]`, or `ldap://host[:port]` (with `starttls`, or
    /// passwords cross the network in clear).
    url: String,
    /// Bind as this DN, e.g. `uid={user},ou=people,dc=example,dc=org`.
    #[serde(default)]
    user_dn_template: Option<String>,
    /// Or search here for the user's entry ...
    #[serde(default)]
    search_base: Option<String>,
    /// ... with this filter, e.g. `(&(objectClass=person)(uid={user}))`.
    #[serde(default)]
    search_filter: Option<String>,
    /// The search account (anonymous search without one).
    #[serde(default)]
    bind_dn: Option<String>,
    /// Its password: stored encrypted with the master key, never shown.
    #[serde(default)]
    bind_password: Option<String>,
    #[serde(default)]
    group_base: Option<String>,
    /// `{dn}` is the user's DN, `{user}` its login name.
    #[serde(default)]
    group_filter: Option<String>,
    #[serde(default)]
    starttls: bool,
    /// PEM of the CA certificates the directory's certificate chains to.
    #[serde(default)]
    ca_pem: Option<String>,
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
        (status = 400, description = "Bad body or name", body = ErrorBody),
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
    let d: DomainCreate = json_object(&headers, &body)?;
    let mut out = HeaderMap::new();
    let Some(l) = d.ldap else {
        let domain = state.core.domain_add(&actor, &d.name, &d.description).await?;
        return Ok((StatusCode::CREATED, out, Json(domain)));
    };
    let added = state
        .core
        .domain_add_ldap(
            &actor,
            NewLdapDomain {
                name: d.name,
                description: d.description,
                url: l.url,
                user_dn_template: l.user_dn_template,
                search_base: l.search_base,
                search_filter: l.search_filter,
                bind_dn: l.bind_dn,
                bind_password: l.bind_password.map(zeroize::Zeroizing::new),
                group_base: l.group_base,
                group_filter: l.group_filter,
                starttls: l.starttls,
                ca_pem: l.ca_pem,
            },
        )
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
    let e: Enable = json_object(&headers, &body)?;
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
    let r: RoleCreate = json_object(&headers, &body)?;
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
    let a: AssignmentSpec = json_object(&headers, &body)?;
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

/// An LDAP domain's group → role mappings.
#[derive(Serialize, utoipa::ToSchema)]
struct GroupMappingList {
    mappings: Vec<GroupMappingView>,
}

/// A group → role mapping, in the body (create) or the query (delete).
#[derive(Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct GroupMappingSpec {
    /// The directory group's `cn` (any letter case).
    group: String,
    /// The role's name.
    #[schema(value_type = RoleName)]
    #[param(value_type = RoleName)]
    role: String,
    /// On the whole system instead of the domain.
    #[serde(default)]
    system: bool,
}

#[utoipa::path(
    get,
    path = "/v1/admin/domains/{name}/group-mappings",
    tag = "admin",
    summary = "List an LDAP domain's group → role mappings",
    params(("name" = DomainName, Path, description = "The LDAP domain's name")),
    responses(
        (status = 200, description = "Every mapping of the domain", body = GroupMappingList),
        (status = 400, description = "A local domain, or a name RFC 8265 refuses", body = ErrorBody),
        (status = 404, description = "No such domain", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn group_mappings_list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Json<GroupMappingList>, ApiError> {
    Ok(Json(GroupMappingList {
        mappings: state.core.domain_group_mappings(&name).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/v1/admin/domains/{name}/group-mappings",
    tag = "admin",
    summary = "Give a role to the members of a directory group (from their next login)",
    params(("name" = DomainName, Path, description = "The LDAP domain's name")),
    request_body = GroupMappingSpec,
    responses(
        (status = 201, description = "Mapped", body = GroupMappingView),
        (status = 400, description = "Bad body, or a local domain", body = ErrorBody),
        (status = 404, description = "No such domain or role", body = ErrorBody),
        (status = 409, description = "Mapped already", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn group_mappings_create(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<GroupMappingView>), ApiError> {
    let m: GroupMappingSpec = json_object(&headers, &body)?;
    let view = state
        .core
        .domain_map_group(&actor, &name, &m.group, &m.role, m.system)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/domains/{name}/group-mappings",
    tag = "admin",
    summary = "Remove a group → role mapping (members lose the role at their next login)",
    params(("name" = DomainName, Path, description = "The LDAP domain's name"), GroupMappingSpec),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Missing or unknown query parameters, or a local domain", body = ErrorBody),
        (status = 404, description = "No such domain, role or mapping", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn group_mappings_delete(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    Path(name): Path<String>,
    uri: Uri,
) -> Result<StatusCode, ApiError> {
    let m: GroupMappingSpec = query(&uri)?;
    state
        .core
        .domain_unmap_group(&actor, &name, &m.group, &m.role, m.system)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
