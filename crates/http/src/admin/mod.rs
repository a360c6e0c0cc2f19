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

#[cfg(test)]
mod tests {
    //! The records the admin API sends are model and core types whose
    //! schemas utoipa derives from the same fields serde writes; this
    //! checks that the two read the serde attributes (`flatten`,
    //! `skip_serializing`) alike, so `/openapi.json` names exactly the keys
    //! on the wire.

    use serde::Serialize;
    use serde_json::Value;
    use std::collections::BTreeSet;
    use tessera_core::admin::{ClientView, RoleView, UserView};
    use tessera_core::session_admin::SessionView;
    use tessera_model as m;
    use utoipa::OpenApi;

    fn document() -> Value {
        let (_, doc) = utoipa_axum::router::OpenApiRouter::<crate::AppState>::with_openapi(
            crate::openapi::ApiDoc::openapi(),
        )
        .merge(super::routes())
        .split_for_parts();
        serde_json::to_value(doc).unwrap()
    }

    /// The properties a schema names, through `$ref` and `allOf`.
    fn properties(doc: &Value, schema: &Value) -> BTreeSet<String> {
        if let Some(name) = schema["$ref"].as_str() {
            let name = name.trim_start_matches("#/components/schemas/");
            return properties(doc, &doc["components"]["schemas"][name]);
        }
        let mut out: BTreeSet<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            out.extend(properties(doc, part));
        }
        out
    }

    fn keys<T: Serialize>(value: &T) -> BTreeSet<String> {
        match serde_json::to_value(value).unwrap() {
            Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    const ID: &str = "0123456789abcdef0123456789abcdef";
    const T0: m::Timestamp = m::Timestamp(0);

    #[test]
    fn the_documented_records_have_the_keys_serde_writes() {
        let doc = document();
        let check = |component: &str, written: BTreeSet<String>| {
            let schema = &doc["components"]["schemas"][component];
            assert!(schema.is_object(), "{component} is not in the document");
            assert_eq!(properties(&doc, schema), written, "{component}");
        };
        check(
            "Domain",
            keys(&m::Domain {
                id: m::DomainId::from_trusted(ID.into()),
                name: "local".into(),
                description: String::new(),
                source: m::IdentitySource::Local,
                enabled: true,
                created_at: T0,
                updated_at: T0,
            }),
        );
        check(
            "Role",
            keys(&m::Role {
                id: m::RoleId::from_trusted(ID.into()),
                name: "admin".into(),
                description: String::new(),
                enabled: true,
                builtin: true,
                created_at: T0,
            }),
        );
        let grant = RoleView {
            name: "admin".into(),
            scope: "system".into(),
        };
        check("RoleView", keys(&grant));
        check(
            "User",
            keys(&UserView {
                id: m::UserId::from_trusted(ID.into()),
                name: "u".into(),
                domain: "local".into(),
                common_name: None,
                distinguished_name: None,
                enabled: true,
                emergency: false,
                locked_until: None,
                roles: vec![grant],
                created_at: T0,
            }),
        );
        check(
            "Client",
            keys(&ClientView {
                id: m::ClientId("c".into()),
                public: true,
                grants: vec![],
                policy: None,
                roles: vec![],
                enabled: true,
                created_at: T0,
            }),
        );
        check(
            "Session",
            keys(&SessionView {
                id: m::SessionId::from_trusted(ID.into()),
                kind: "access",
                format: "opaque",
                user: None,
                client_id: None,
                door: "oauth2".into(),
                policy: "oauth2".into(),
                scope: "read write".into(),
                created_at: T0,
                last_used_at: T0,
                expires_at: None,
                revoked_at: None,
                revoke_reason: None,
            }),
        );
        check(
            "AuditEvent",
            keys(&m::AuditEvent {
                id: 1,
                event: m::NewAuditEvent {
                    at: T0,
                    kind: m::AuditKind::Logout,
                    actor: None,
                    subject: None,
                    subject_name: None,
                    domain: None,
                    door: None,
                    detail: String::new(),
                },
            }),
        );
        // The kinds the document lists are the ones the server takes.
        let kinds: Vec<&str> = m::AuditKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            doc["components"]["schemas"]["AuditKind"]["enum"],
            serde_json::json!(kinds)
        );
    }
}
