//! The admin API under `/v1/admin/` (SPEC §3.5): everything the CLI can
//! do, for holders of the system `admin` role or the bootstrap admin token
//! (seed 002), whose every use is audited. Handlers take
//! [`AdminCaller`](crate::identity::AdminCaller): who administers is the
//! core's decision (`Core::admin`), not this module's.

mod access;
mod directory;
mod identity;
mod users;

pub use access::parse_time;

use crate::error::{ApiError, ErrorBody};
use crate::AppState;
use axum::http::Uri;
use serde::de::DeserializeOwned;
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
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

/// How many items a page holds at most, and when `limit` is absent.
pub const MAX_LIMIT: u32 = 1000;
pub const DEFAULT_LIMIT: u32 = 100;

/// A page's `limit`: 1 to 1000, 100 when absent; anything else is refused
/// (400) rather than quietly changed.
pub fn limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n @ 1..=MAX_LIMIT) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit must be 1 to {MAX_LIMIT}, not {n}"
        ))),
    }
}

/// A page of a short list: `limit` (1..=1000, default 100) from `offset`.
#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// How many (1 to 1000; 100 when absent).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// How many to skip (0 when absent).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub offset: Option<u32>,
}

impl Page {
    /// The page of `items`, and the offset of the next page if any;
    /// refused when `limit` is out of range.
    pub fn cut<T>(&self, items: Vec<T>) -> Result<(Vec<T>, Option<u32>), ApiError> {
        let offset = self.offset.unwrap_or(0);
        let limit = limit(self.limit)?;
        let total = items.len();
        let page: Vec<T> = items
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        let next = offset.saturating_add(limit);
        Ok((page, ((next as usize) < total).then_some(next)))
    }
}

/// A time in a query: milliseconds since the epoch, or an RFC 3339 time.
pub struct TimeQuery;

impl utoipa::PartialSchema for TimeQuery {
    fn schema() -> RefOr<Schema> {
        let millis = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .description(Some("Milliseconds since the epoch"));
        let rfc3339 = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("An RFC 3339 time (2026-11-23T12:00:00Z)"));
        AnyOfBuilder::new()
            .item(millis)
            .item(rfc3339)
            .description(Some("A time: milliseconds since the epoch, or an RFC 3339 time"))
            .into()
    }
}

impl utoipa::ToSchema for TimeQuery {}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(identity::routes())
        .merge(directory::routes())
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

    /// Every `$ref` in `value`.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_names_a_schema_in_the_document() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{r} is not a schema reference"));
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{r} names no schema"
            );
        }
    }

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
