//! The admin API under `/v1/admin/` (SPEC §3.5): everything the CLI can
//! do, for holders of the system `admin` role or the bootstrap admin token
//! (seed 002), whose every use is audited. Handlers take
//! [`AdminCaller`](crate::identity::AdminCaller): who administers is the
//! core's decision (`Core::admin`), not this module's.

mod access;
mod identity;
mod users;

pub use access::parse_time;

use crate::error::{ApiError, ErrorBody};
use crate::AppState;
use axum::http::Uri;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;

/// Parses the query string, refusing with 400 and what is wrong.
pub fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("the query string is not what this endpoint takes: {e}")))
}

/// The refusals every admin endpoint can answer, before it looks at the
/// request: its caller must be a system administrator or present the
/// bootstrap admin token (`crate::identity::AdminCaller`).
#[derive(utoipa::IntoResponses)]
#[expect(
    dead_code,
    reason = "described for /openapi.json, never built: the extractor refuses"
)]
enum AdminRefusal {
    /// No token, or not a valid one.
    #[response(status = 401)]
    Unauthorized(ErrorBody<'static>),
    /// The token's holder is not a system administrator.
    #[response(status = 403)]
    Forbidden(ErrorBody<'static>),
}

/// A page of a short list: `limit` (1..=1000, default 100) from `offset`.
#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// How many (1 to 1000; 100 when absent).
    pub limit: Option<usize>,
    /// How many to skip.
    pub offset: Option<usize>,
}

impl Page {
    /// The page of `items`, and the offset of the next page if any.
    pub fn cut<T>(&self, items: Vec<T>) -> (Vec<T>, Option<usize>) {
        let offset = self.offset.unwrap_or(0);
        let limit = self.limit.unwrap_or(100).clamp(1, 1000);
        let total = items.len();
        let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
        let next = (offset + limit < total).then_some(offset + limit);
        (page, next)
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(identity::routes())
        .merge(access::routes())
}
