//! Admin API for users: list, create, enable or disable, set a password,
//! unlock.

use super::{query, AdminRefusal, Page};
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
use tessera_core::admin::names::schema::{
    CommonName, DistinguishedName, DomainName, DomainNameOrDefault, NewPassword, RoleName, UserName,
};
use tessera_core::admin::{NewUser, UserView};
use tessera_model::UserId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

/// One `routes!` per path: it registers each handler on its annotation's
/// path and methods.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users_list, users_create))
        .routes(routes!(users_update))
        .routes(routes!(users_unlock))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UserListQuery {
    /// Only this domain's users (empty: the default domain).
    #[param(value_type = Option<DomainNameOrDefault>)]
    domain: Option<String>,
    /// How many (1 to 1000; 100 when absent).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// How many to skip (0 when absent).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    offset: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/users",
    tag = "admin",
    summary = "List users",
    params(UserListQuery),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 400, description = "A query parameter this does not take, or out of range", body = ErrorBody),
        (status = 404, description = "No such domain", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn users_list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    uri: Uri,
) -> Result<Json<UserPage>, ApiError> {
    let q: UserListQuery = query(&uri)?;
    let users = state.core.user_list(q.domain.as_deref()).await?;
    let (users, next_offset) = Page {
        limit: q.limit,
        offset: q.offset,
    }
    .cut(users)?;
    Ok(Json(UserPage { users, next_offset }))
}

/// A page of users, and where the next page starts (`null` on the last).
#[derive(Serialize, utoipa::ToSchema)]
struct UserPage {
    users: Vec<UserView>,
    next_offset: Option<u32>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UserCreate {
    #[schema(value_type = UserName)]
    name: String,
    /// The user's domain (absent, `null` or empty: the default domain).
    #[serde(default)]
    #[schema(value_type = Option<DomainNameOrDefault>)]
    domain: Option<String>,
    /// Omitted: a password is generated and returned once.
    #[serde(default)]
    #[schema(value_type = Option<NewPassword>)]
    password: Option<Zeroizing<String>>,
    /// System roles ("vdc roles").
    #[serde(default)]
    #[schema(value_type = Vec<RoleName>)]
    roles: Vec<String>,
    /// Roles on the user's own domain ("tenant roles").
    #[serde(default)]
    #[schema(value_type = Vec<RoleName>)]
    domain_roles: Vec<String>,
    #[serde(default)]
    emergency: bool,
    #[serde(default)]
    #[schema(value_type = Option<CommonName>)]
    common_name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<DistinguishedName>)]
    distinguished_name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/users",
    tag = "admin",
    summary = "Create a user",
    request_body = UserCreate,
    responses(
        (status = 201, description = "Created (`Cache-Control: no-store`: a generated password is in it)", body = UserCreated),
        (status = 400, description = "Bad body, name or password", body = ErrorBody),
        (status = 404, description = "No such domain or role", body = ErrorBody),
        (status = 409, description = "The user exists; or the domain takes its users from a directory (LDAP)", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn users_create(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let u: UserCreate = json_body(&headers, &body)?;
    let new = NewUser {
        domain: u.domain,
        name: u.name,
        password: u.password,
        system_roles: u.roles,
        domain_roles: u.domain_roles,
        emergency: u.emergency,
        common_name: u.common_name,
        distinguished_name: u.distinguished_name,
    };
    let created = state.core.user_add(&actor, new).await?;
    let body = UserCreated {
        id: &created.user.id,
        name: &created.user.name,
        domain: &created.domain.name,
        emergency: created.user.emergency,
        generated_password: created.generated_password.as_deref().map(String::as_str),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /v1/admin/users` (201): the new user; a generated password is
/// shown this once.
#[derive(Serialize, utoipa::ToSchema)]
struct UserCreated<'a> {
    id: &'a UserId,
    name: &'a str,
    /// The domain's name.
    domain: &'a str,
    emergency: bool,
    /// Only when no password was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_password: Option<&'a str>,
}

/// What to change; a field absent or `null` is left as it is.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UserUpdate {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<NewPassword>)]
    password: Option<Zeroizing<String>>,
}

#[utoipa::path(
    patch,
    path = "/v1/admin/users/{domain}/{name}",
    tag = "admin",
    summary = "Enable, disable or set the password of a user",
    params(
        ("domain" = DomainName, Path, description = "The user's domain"),
        ("name" = UserName, Path, description = "The user's name"),
    ),
    request_body = UserUpdate,
    responses(
        (status = 204, description = "Updated"),
        (status = 400, description = "Bad body, password or name", body = ErrorBody),
        (status = 404, description = "No such domain or user", body = ErrorBody),
        (status = 409, description = "Disabling the last enabled administrator (give another user the admin role first)", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn users_update(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    Path((domain, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let u: UserUpdate = json_body(&headers, &body)?;
    let core = &state.core;
    // All or nothing; a merge patch that changes nothing (RFC 7396) is
    // still a 404 for a user that does not exist.
    core.user_update(&actor, Some(&domain), &name, u.password, u.enabled)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/admin/users/{domain}/{name}/unlock",
    tag = "admin",
    summary = "End a user's lockout",
    params(
        ("domain" = DomainName, Path, description = "The user's domain"),
        ("name" = UserName, Path, description = "The user's name"),
    ),
    responses(
        (status = 204, description = "Unlocked"),
        (status = 400, description = "A name RFC 8265 refuses", body = ErrorBody),
        (status = 404, description = "No such domain or user", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn users_unlock(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    Path((domain, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.core.user_unlock(&actor, Some(&domain), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
