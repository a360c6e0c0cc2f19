//! Self-service: `POST /v1/users/me/password` (seed 003's password change).

use crate::error::ApiError;
use crate::extract::json_body;
use crate::identity::Caller;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use tessera_core::admin::names::schema::NewPassword;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(password_post))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    /// The new password.
    #[schema(value_type = NewPassword)]
    password: Zeroizing<String>,
    /// Needed unless the token comes from a password login in the last
    /// few minutes (`[doors.oauth2] recent_auth`); a wrong one is 403.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<Zeroizing<String>>,
}

/// Seed 003's password change. A stolen token must not take over the
/// account: it needs the current password or a fresh login.
#[utoipa::path(
    post,
    path = "/v1/users/me/password",
    tag = "tessera",
    summary = "Change the caller's own password",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed", body = Message),
        (status = 400, description = "Bad body or weak password", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
        (status = 403, description = "Wrong current password, a stale login, a read-only token, or not a user's token", body = crate::error::ErrorBody),
        (status = 409, description = "A directory (LDAP) user: the password is changed in the directory", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not JSON", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn password_post(
    State(state): State<AppState>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Message>, ApiError> {
    let change: PasswordChange = json_body(&headers, &body)?;
    state
        .core
        .change_own_password(
            &who,
            change.password,
            change.current_password,
            state.doors.oauth2.recent_auth,
        )
        .await?;
    Ok(Json(Message {
        message: "password changed".into(),
    }))
}

/// A short confirmation.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Message {
    pub message: String,
}
