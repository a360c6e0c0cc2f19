//! One refusal type for every handler. [`ApiError`] classifies what went
//! wrong once (one exhaustive conversion from the core's `AuthError`, and
//! the one place that logs internal causes); it renders as Tessera's own
//! JSON (`{"error": CODE, "message": TEXT}`), and a door that speaks
//! another dialect re-renders it in its own shape with a [`Dialect`].
//! Whatever the shape, the shared parts come from here: the status, the
//! `WWW-Authenticate` challenge on every 401 (RFC 9110 §11.6.1) and
//! `Retry-After` on every 429 and 503.

use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::borrow::Cow;
use std::time::Duration;
use tessera_core::{AuthError, OAuthCode};

/// Why a token was not accepted (401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Not a token this server issued.
    Unknown,
    Revoked,
    /// Past its absolute lifetime.
    Expired,
    /// Unused for longer than its idle timeout.
    Idle,
    UserDisabled,
    DomainDisabled,
    Locked,
}

/// Why a request was refused, whatever door it came in at.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be used as sent; the text says what to fix.
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// 401: no credentials at all; the text says what to send.
    #[error("{0}")]
    NoCredentials(Cow<'static, str>),
    /// 401: wrong user name or password (or an account that may not log
    /// in this way: the same answer, so no door tells them apart).
    #[error("wrong user name or password")]
    InvalidCredentials,
    /// 401: a token that is not (or no longer) valid.
    #[error("{}", .0.message())]
    InvalidToken(TokenRefusal),
    /// 403: authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// 404: the thing named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// 404: no route serves this path (and no gateway is configured).
    #[error("no route for {0}")]
    NoRoute(String),
    /// 405: the path exists but not with this method.
    #[error("{0}")]
    MethodNotAllowed(Cow<'static, str>),
    /// 409: it already exists, or the request does not fit the state of
    /// what it names; the text says which, in full.
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// 413: the body is larger than this endpoint reads.
    #[error("the body is larger than the {0} bytes this endpoint reads")]
    PayloadTooLarge(usize),
    /// 415: the body is not of a type this endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(Cow<'static, str>),
    /// 429: the per-user token cap.
    #[error("this account already holds as many live tokens as allowed; log out elsewhere or retry in {} s", .retry_after.as_secs())]
    TooManyTokens { retry_after: Duration },
    /// An OAuth2 error with its RFC 6749 code (400, or 401 for
    /// `invalid_client`).
    #[error("{description}")]
    OAuth {
        code: OAuthCode,
        description: Cow<'static, str>,
    },
    /// 503: try again after `retry_after`; the text says what is missing.
    #[error("{message}")]
    Unavailable {
        message: Cow<'static, str>,
        retry_after: Duration,
    },
    /// 500: a fault inside Tessera, already logged; never described.
    #[error("internal error; see the server log")]
    Internal,
    /// 302 to the login page (seed 001's redirect flow) instead of a 401.
    #[error("log in first")]
    LoginRedirect(HeaderValue),
}

impl TokenRefusal {
    /// Tessera's words for the refusal.
    pub fn message(self) -> &'static str {
        match self {
            TokenRefusal::Unknown => "the token is not valid",
            TokenRefusal::Revoked => "the token has been revoked",
            // Seed 004's words: its API server tells clients exactly this.
            TokenRefusal::Expired => "Token is already expired",
            TokenRefusal::Idle => "the token expired after being unused too long",
            TokenRefusal::UserDisabled => "the account is disabled",
            TokenRefusal::DomainDisabled => "the account's domain is disabled",
            TokenRefusal::Locked => "the account is locked for now",
        }
    }
}

/// How long a caller should wait after a 503 of a busy or unreachable
/// dependency.
const RETRY_SOON: Duration = Duration::from_secs(1);

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => ApiError::InvalidCredentials,
            AuthError::UnknownToken => ApiError::InvalidToken(TokenRefusal::Unknown),
            AuthError::Revoked => ApiError::InvalidToken(TokenRefusal::Revoked),
            AuthError::Expired => ApiError::InvalidToken(TokenRefusal::Expired),
            AuthError::Idle => ApiError::InvalidToken(TokenRefusal::Idle),
            AuthError::UserDisabled => ApiError::InvalidToken(TokenRefusal::UserDisabled),
            AuthError::DomainDisabled => ApiError::InvalidToken(TokenRefusal::DomainDisabled),
            AuthError::Locked { until: _ } => ApiError::InvalidToken(TokenRefusal::Locked),
            AuthError::TokenLimit { retry_after } => ApiError::TooManyTokens { retry_after },
            AuthError::Forbidden(m) => ApiError::Forbidden(m.into()),
            AuthError::OAuth { code, description } => ApiError::OAuth {
                code,
                description: description.into(),
            },
            AuthError::InvalidInput(m) => ApiError::BadRequest(m.into()),
            AuthError::NotFound(m) => ApiError::NotFound(m),
            AuthError::Conflict(m) => ApiError::Conflict(format!("{m} already exists").into()),
            AuthError::StateConflict(m) => ApiError::Conflict(m.into()),
            AuthError::Busy => ApiError::Unavailable {
                message: "too many logins at once; retry in a moment".into(),
                retry_after: RETRY_SOON,
            },
            AuthError::Stale { silent_for } => ApiError::Unavailable {
                message: format!(
                    "this node has not heard from the store for {} s and will not trust its cache of \
                     revocations; retry, or use another node",
                    silent_for.as_secs()
                )
                .into(),
                retry_after: RETRY_SOON,
            },
            AuthError::SourceUnavailable(m) => ApiError::Unavailable {
                message: m.into(),
                retry_after: RETRY_SOON,
            },
            AuthError::Store(e) => {
                tracing::error!(error = %e, "store error");
                ApiError::Unavailable {
                    message: "the store is unavailable; retry shortly".into(),
                    retry_after: RETRY_SOON,
                }
            }
            AuthError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                ApiError::Internal
            }
        }
    }
}

impl ApiError {
    /// A 400 naming what to fix.
    pub fn bad_request(why: impl Into<Cow<'static, str>>) -> Self {
        ApiError::BadRequest(why.into())
    }

    /// An RFC 6749 error.
    pub fn oauth(code: OAuthCode, description: impl Into<Cow<'static, str>>) -> Self {
        ApiError::OAuth {
            code,
            description: description.into(),
        }
    }

    /// The 401 for a request that carries no token at all.
    pub fn missing_token() -> Self {
        ApiError::NoCredentials(
            "no token: send Authorization: Bearer <token>, X-Auth-Token or X-SDS-AUTH-TOKEN".into(),
        )
    }

    /// The HTTP status of this refusal, the same at every door.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NoCredentials(_) | ApiError::InvalidCredentials | ApiError::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyTokens { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::OAuth {
                code: OAuthCode::InvalidClient,
                ..
            } => StatusCode::UNAUTHORIZED,
            ApiError::OAuth {
                code: OAuthCode::TemporarilyUnavailable,
                ..
            } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::OAuth {
                code: OAuthCode::ServerError,
                ..
            } => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::OAuth { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::LoginRedirect(_) => StatusCode::FOUND,
        }
    }

    /// Tessera's machine-readable code for the refusal (the `error` field
    /// of its JSON; the RFC 6749 code for OAuth2 errors).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "invalid_request",
            ApiError::NoCredentials(_) => "invalid_request",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) | ApiError::NoRoute(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "invalid_request",
            ApiError::TooManyTokens { .. } => "too_many_tokens",
            ApiError::OAuth { code, .. } => code.as_str(),
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal => "internal",
            ApiError::LoginRedirect(_) => "login_required",
        }
    }

    /// When to retry (429 and 503), in whole seconds on the wire.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::TooManyTokens { retry_after } | ApiError::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            ApiError::OAuth {
                code: OAuthCode::TemporarilyUnavailable,
                ..
            } => Some(RETRY_SOON),
            _ => None,
        }
    }

    /// The RFC 6750 Bearer challenge for a 401 of Tessera's own API.
    fn bearer_challenge(&self) -> HeaderValue {
        let value = match self {
            // RFC 6750 §3.1: no error code when no token was presented.
            ApiError::NoCredentials(_) | ApiError::InvalidCredentials => {
                r#"Bearer realm="tessera""#.to_owned()
            }
            other => format!(
                "Bearer realm=\"tessera\", error=\"{}\", error_description=\"{}\"",
                if matches!(other, ApiError::OAuth { .. }) {
                    other.code()
                } else {
                    "invalid_token"
                },
                quoted(&other.to_string())
            ),
        };
        HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(r#"Bearer realm="tessera""#))
    }
}

/// A string fit for a quoted-string of a header parameter.
fn quoted(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect()
}

/// Tessera's own error body.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiError)]
pub struct ErrorBody<'a> {
    /// A stable machine-readable code.
    #[schema(example = "invalid_token")]
    pub error: &'a str,
    /// What went wrong and what to do about it.
    #[schema(example = "the token is not valid")]
    pub message: Cow<'a, str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string().into(),
        };
        let res = Json(body).into_response();
        let challenge = self.bearer_challenge();
        finish(res, self, Some(challenge))
    }
}

/// Gives a rendered refusal its shared parts: status, `Retry-After`,
/// the challenge on a 401, `Location` on a redirect; and keeps the
/// refusal in the response's extensions (for a door's re-rendering and
/// for logs).
pub fn finish(mut res: Response, e: ApiError, challenge: Option<HeaderValue>) -> Response {
    let status = e.status();
    *res.status_mut() = status;
    let headers = res.headers_mut();
    if let Some(after) = e.retry_after() {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        headers.insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    if status == StatusCode::UNAUTHORIZED {
        let value = challenge.unwrap_or(HeaderValue::from_static(r#"Bearer realm="tessera""#));
        headers.insert(WWW_AUTHENTICATE, value);
    }
    if let ApiError::LoginRedirect(to) = &e {
        headers.insert(LOCATION, to.clone());
    }
    // A refusal is never worth caching, the gateway's included (the own
    // routes' layer does the same for every other answer).
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.extensions_mut().insert(e);
    res
}

/// How a front door writes a refusal in its own wire shape (the seeds'
/// texts). `render` gives the body and content type; [`finish`] adds the
/// shared parts. The door's routes are wrapped with [`in_dialect`].
pub trait Dialect: Send + Sync + 'static {
    /// What the renderer needs to know of the request (its `Accept`, ...),
    /// read before the handler runs.
    type Context: Send + 'static;
    fn context(state: &crate::AppState, headers: &HeaderMap) -> Self::Context;
    /// The body of a refusal in this door's shape.
    fn render(e: &ApiError, cx: &Self::Context) -> Response;
    /// The challenge of this door's 401s (`None`: Tessera's Bearer one).
    fn challenge(_e: &ApiError, _cx: &Self::Context) -> Option<HeaderValue> {
        None
    }
}

/// Middleware re-rendering every refusal of a door's routes in its
/// dialect, so no handler can answer in another door's shape.
pub async fn in_dialect<D: Dialect>(
    State(state): State<crate::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let cx = D::context(&state, req.headers());
    let res = next.run(req).await;
    let limit = state.core.config().server.max_body_bytes;
    let (e, allow) = match res.extensions().get::<ApiError>() {
        Some(e) => (e.clone(), None),
        None => match crate::limits::adopt(&res, limit) {
            Some(adopted) => adopted,
            None => return res,
        },
    };
    let keep = res.headers().get(axum::http::header::CONNECTION).cloned();
    let challenge = D::challenge(&e, &cx).or_else(|| Some(e.bearer_challenge()));
    let mut out = finish(D::render(&e, &cx), e, challenge);
    for (name, value) in [
        (axum::http::header::ALLOW, allow),
        (axum::http::header::CONNECTION, keep),
    ] {
        if let Some(v) = value {
            out.headers_mut().insert(name, v);
        }
    }
    out
}
