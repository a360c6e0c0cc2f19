//! Admin API for users: list, create, enable or disable, set a password,
//! unlock.

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
use tessera_core::admin::NewUser;
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
    /// Only this domain's users.
    domain: Option<String>,
    /// How many (1 to 1000; 100 when absent).
    limit: Option<usize>,
    /// How many to skip.
    offset: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/users",
    tag = "admin",
    summary = "List users",
    params(UserListQuery),
    responses(
        (status = 200, description = "A page of users", body = crate::schema::UserPage),
        (status = 400, description = "A query parameter this does not take", body = crate::schema::ApiError),
        (status = 404, description = "No such domain", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn users_list(State(state): State<AppState>, _admin: Admin, uri: Uri) -> Response {
    let q: UserListQuery = match query(&uri) {
        Ok(q) => q,
        Err(res) => return res,
    };
    match state.core.user_list(q.domain.as_deref()).await {
        Ok(users) => {
            let (users, next) = Page {
                limit: q.limit,
                offset: q.offset,
            }
            .cut(users);
            Json(json!({ "users": users, "next_offset": next })).into_response()
        }
        Err(e) => api_error(e),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UserCreate {
    name: String,
    #[serde(default)]
    domain: Option<String>,
    /// Omitted: a password is generated and returned once.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<Zeroizing<String>>,
    /// System roles ("vdc roles").
    #[serde(default)]
    roles: Vec<String>,
    /// Roles on the user's own domain ("tenant roles").
    #[serde(default)]
    domain_roles: Vec<String>,
    #[serde(default)]
    emergency: bool,
    #[serde(default)]
    common_name: Option<String>,
    #[serde(default)]
    distinguished_name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/users",
    tag = "admin",
    summary = "Create a user",
    request_body = UserCreate,
    responses(
        (status = 201, description = "Created (`Cache-Control: no-store`: a generated password is in it)", body = crate::schema::UserCreated),
        (status = 400, description = "Bad body, name or password; unknown role", body = crate::schema::ApiError),
        (status = 404, description = "No such domain or role", body = crate::schema::ApiError),
        (status = 409, description = "The user exists", body = crate::schema::ApiError),
        (status = 415, description = "The body is not JSON", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn users_create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let u: UserCreate = match json_body(&headers, &body) {
        Ok(u) => u,
        Err(res) => return res,
    };
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
    match state.core.user_add(&actor, new).await {
        Ok(created) => {
            let mut body = json!({
                "id": created.user.id,
                "name": created.user.name,
                "domain": created.domain.name,
                "emergency": created.user.emergency,
            });
            if let Some(pw) = &created.generated_password {
                body["generated_password"] = json!(pw.as_str());
            }
            (
                StatusCode::CREATED,
                [(axum::http::header::CACHE_CONTROL, "no-store")],
                Json(body),
            )
                .into_response()
        }
        Err(e) => api_error(e),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UserUpdate {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<Zeroizing<String>>,
}

#[utoipa::path(
    patch,
    path = "/v1/admin/users/{domain}/{name}",
    tag = "admin",
    summary = "Enable, disable or set the password of a user",
    params(
        ("domain" = String, Path, description = "The user's domain"),
        ("name" = String, Path, description = "The user's name"),
    ),
    request_body = UserUpdate,
    responses(
        (status = 204, description = "Updated"),
        (status = 400, description = "Bad body, or neither enabled nor password", body = crate::schema::ApiError),
        (status = 404, description = "No such domain or user", body = crate::schema::ApiError),
        (status = 415, description = "The body is not JSON", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn users_update(
    State(state): State<AppState>,
    Admin(actor): Admin,
    Path((domain, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let u: UserUpdate = match json_body(&headers, &body) {
        Ok(u) => u,
        Err(res) => return res,
    };
    if u.enabled.is_none() && u.password.is_none() {
        return crate::error::json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send enabled and/or password",
        );
    }
    let core = &state.core;
    if let Some(pw) = u.password {
        if let Err(e) = core.user_passwd(&actor, Some(&domain), &name, pw).await {
            return api_error(e);
        }
    }
    if let Some(enabled) = u.enabled {
        if let Err(e) = core.user_set_enabled(&actor, Some(&domain), &name, enabled).await {
            return api_error(e);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

#[utoipa::path(
    post,
    path = "/v1/admin/users/{domain}/{name}/unlock",
    tag = "admin",
    summary = "End a user's lockout",
    params(
        ("domain" = String, Path, description = "The user's domain"),
        ("name" = String, Path, description = "The user's name"),
    ),
    responses(
        (status = 204, description = "Unlocked"),
        (status = 404, description = "No such domain or user", body = crate::schema::ApiError),
        crate::schema::AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn users_unlock(
    State(state): State<AppState>,
    Admin(actor): Admin,
    Path((domain, name)): Path<(String, String)>,
) -> Response {
    match state.core.user_unlock(&actor, Some(&domain), &name).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => api_error(e),
    }
}
