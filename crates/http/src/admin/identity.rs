//! Admin API for identity: domains, roles and role assignments (users
//! are in `users`).

use super::{query, Admin, Page};
use crate::account::json_body;
use crate::error::api_error;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tessera_core::admin::RoleTarget;
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
        (status = 200, description = "A page of domains", body = crate::schema::DomainPage),
        (status = 400, description = "A query parameter this does not take", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn domains_list(State(state): State<AppState>, _admin: Admin, uri: Uri) -> Response {
    let page: Page = match query(&uri) {
        Ok(p) => p,
        Err(res) => return res,
    };
    match state.core.domain_list().await {
        Ok(domains) => {
            let (domains, next) = page.cut(domains);
            Json(json!({ "domains": domains, "next_offset": next })).into_response()
        }
        Err(e) => api_error(e),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NamedCreate {
    name: String,
    #[serde(default)]
    description: String,
}

#[utoipa::path(
    post,
    path = "/v1/admin/domains",
    tag = "admin",
    summary = "Create a local domain",
    request_body = NamedCreate,
    responses(
        (status = 201, description = "Created", body = crate::schema::records::Domain),
        (status = 400, description = "Bad body or name", body = crate::schema::ApiError),
        (status = 409, description = "The domain exists", body = crate::schema::ApiError),
        (status = 415, description = "The body is not JSON", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn domains_create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let d: NamedCreate = match json_body(&headers, &body) {
        Ok(d) => d,
        Err(res) => return res,
    };
    match state.core.domain_add(&actor, &d.name, &d.description).await {
        Ok(domain) => (StatusCode::CREATED, Json(domain)).into_response(),
        Err(e) => api_error(e),
    }
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
    params(("name" = String, Path, description = "The domain's name")),
    request_body = Enable,
    responses(
        (status = 200, description = "Updated", body = crate::schema::records::Domain),
        (status = 400, description = "Bad body, or disabling the default domain", body = crate::schema::ApiError),
        (status = 404, description = "No such domain", body = crate::schema::ApiError),
        (status = 415, description = "The body is not JSON", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn domains_update(
    State(state): State<AppState>,
    Admin(actor): Admin,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let e: Enable = match json_body(&headers, &body) {
        Ok(e) => e,
        Err(res) => return res,
    };
    match state.core.domain_set_enabled(&actor, &name, e.enabled).await {
        Ok(domain) => Json(domain).into_response(),
        Err(e) => api_error(e),
    }
}

#[utoipa::path(
    get,
    path = "/v1/admin/roles",
    tag = "admin",
    summary = "List roles",
    responses(
        (status = 200, description = "Every role", body = crate::schema::RoleList),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn roles_list(State(state): State<AppState>, _admin: Admin) -> Response {
    match state.core.role_list().await {
        Ok(roles) => Json(json!({ "roles": roles })).into_response(),
        Err(e) => api_error(e),
    }
}

#[utoipa::path(
    post,
    path = "/v1/admin/roles",
    tag = "admin",
    summary = "Create a role",
    request_body = NamedCreate,
    responses(
        (status = 201, description = "Created", body = crate::schema::records::Role),
        (status = 400, description = "Bad body or name", body = crate::schema::ApiError),
        (status = 409, description = "The role exists", body = crate::schema::ApiError),
        (status = 415, description = "The body is not JSON", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn roles_create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r: NamedCreate = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(res) => return res,
    };
    match state.core.role_add(&actor, &r.name, &r.description).await {
        Ok(role) => (StatusCode::CREATED, Json(role)).into_response(),
        Err(e) => api_error(e),
    }
}

/// An assignment, in the body (create) or the query (delete).
#[derive(Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AssignmentSpec {
    /// The role's name.
    role: String,
    /// The user's name.
    user: String,
    /// The user's domain (the default domain when absent).
    #[serde(default)]
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
        (status = 400, description = "Bad body", body = crate::schema::ApiError),
        (status = 404, description = "No such domain, user or role", body = crate::schema::ApiError),
        (status = 415, description = "The body is not JSON", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn assignments_create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let a: AssignmentSpec = match json_body(&headers, &body) {
        Ok(a) => a,
        Err(res) => return res,
    };
    match state.core.role_grant(&actor, &a.role, &a.target()).await {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => api_error(e),
    }
}

#[utoipa::path(
    delete,
    path = "/v1/admin/assignments",
    tag = "admin",
    summary = "Take a role back",
    params(AssignmentSpec),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "Missing or unknown query parameters", body = crate::schema::ApiError),
        (status = 404, description = "No such domain, user, role or assignment", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn assignments_delete(State(state): State<AppState>, Admin(actor): Admin, uri: Uri) -> Response {
    let a: AssignmentSpec = match query(&uri) {
        Ok(a) => a,
        Err(res) => return res,
    };
    match state.core.role_revoke(&actor, &a.role, &a.target()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => api_error(e),
    }
}
