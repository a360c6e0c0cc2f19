//! Admin API for identity: users, domains, roles and role assignments.

use super::{query, Admin, Page};
use crate::account::json_body;
use crate::error::api_error;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tessera_core::admin::{NewUser, RoleTarget};
use zeroize::Zeroizing;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/users", get(users_list).post(users_create))
        .route("/v1/admin/users/{domain}/{name}", patch(users_update))
        .route("/v1/admin/users/{domain}/{name}/unlock", post(users_unlock))
        .route("/v1/admin/domains", get(domains_list).post(domains_create))
        .route("/v1/admin/domains/{name}", patch(domains_update))
        .route("/v1/admin/roles", get(roles_list).post(roles_create))
        .route(
            "/v1/admin/assignments",
            post(assignments_create).delete(assignments_delete),
        )
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct UserListQuery {
    domain: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserCreate {
    name: String,
    #[serde(default)]
    domain: Option<String>,
    /// Omitted: a password is generated and returned once.
    #[serde(default)]
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserUpdate {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    password: Option<Zeroizing<String>>,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedCreate {
    name: String,
    #[serde(default)]
    description: String,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Enable {
    enabled: bool,
}

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

async fn roles_list(State(state): State<AppState>, _admin: Admin) -> Response {
    match state.core.role_list().await {
        Ok(roles) => Json(json!({ "roles": roles })).into_response(),
        Err(e) => api_error(e),
    }
}

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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignmentSpec {
    role: String,
    user: String,
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
