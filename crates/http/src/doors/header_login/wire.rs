//! Seed 001's wire types: what `header-login` sends, as XML by default
//! and as JSON to a client that accepts only JSON. Each type is what is
//! sent and what `/openapi.json` documents; `to_xml` writes the seed's
//! element shapes from the same value.

use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use quick_xml::escape::escape;
use serde::Serialize;
use std::fmt::Write;

const XML_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

/// A body this door writes in XML or JSON.
pub trait SdsBody: Serialize {
    fn to_xml(&self) -> String;
}

/// Renders `body` as the client asked: JSON when it accepts only JSON,
/// else the seed's XML.
pub fn reply<B: SdsBody>(status: StatusCode, json: bool, body: &B) -> Response {
    if json {
        (status, axum::Json(body)).into_response()
    } else {
        (
            status,
            [(CONTENT_TYPE, "application/xml")],
            format!("{XML_DECL}{}", body.to_xml()),
        )
            .into_response()
    }
}

/// `<loggedIn><user>NAME</user></loggedIn>` (or `loggedOut`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct SdsUser {
    pub user: String,
    /// The XML element: `loggedIn` or `loggedOut`.
    #[serde(skip)]
    #[schema(ignore)]
    pub element: &'static str,
}

impl SdsBody for SdsUser {
    fn to_xml(&self) -> String {
        format!("<{0}><user>{1}</user></{0}>", self.element, escape(&self.user))
    }
}

/// The door's error: `<error><code/><description/><details/><retryable/></error>`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SdsError {
    /// The HTTP status.
    pub code: u16,
    /// The status's reason phrase.
    pub description: &'static str,
    /// What went wrong and what to do.
    pub details: String,
    pub retryable: bool,
}

impl SdsBody for SdsError {
    fn to_xml(&self) -> String {
        format!(
            "<error><code>{}</code><description>{}</description><details>{}</details><retryable>{}</retryable></error>",
            self.code,
            escape(self.description),
            escape(&self.details),
            self.retryable
        )
    }
}

/// A role on another domain than the user's own.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SdsSubtenantRole {
    pub tenant: String,
    pub role: String,
}

/// Seed 001's whoami (`<user>...</user>` in XML).
#[derive(Serialize, utoipa::ToSchema)]
pub struct SdsWhoami {
    pub common_name: String,
    pub distinguished_name: String,
    /// Roles on the user's own domain.
    pub home_tenant_roles: Vec<String>,
    /// Roles on other domains.
    pub subtenant_roles: Vec<SdsSubtenantRole>,
    /// `urn:tessera:Domain:<id>:` (absent for clients and the service).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// System roles.
    pub vdc_roles: Vec<String>,
}

/// `<outer><inner>a</inner>...</outer>`, or `<outer/>` when empty.
fn list(out: &mut String, outer: &str, inner: &str, items: &[String]) {
    if items.is_empty() {
        let _ = write!(out, "<{outer}/>");
        return;
    }
    let _ = write!(out, "<{outer}>");
    for i in items {
        let _ = write!(out, "<{inner}>{}</{inner}>", escape(i));
    }
    let _ = write!(out, "</{outer}>");
}

impl SdsBody for SdsWhoami {
    fn to_xml(&self) -> String {
        let mut out = format!(
            "<user><common_name>{}</common_name><distinguished_name>{}</distinguished_name>",
            escape(&self.common_name),
            escape(&self.distinguished_name)
        );
        list(
            &mut out,
            "home_tenant_roles",
            "home_tenant_role",
            &self.home_tenant_roles,
        );
        if self.subtenant_roles.is_empty() {
            out.push_str("<subtenant_roles/>");
        } else {
            out.push_str("<subtenant_roles>");
            for r in &self.subtenant_roles {
                let _ = write!(
                    out,
                    "<subtenant_role><tenant>{}</tenant><role>{}</role></subtenant_role>",
                    escape(&r.tenant),
                    escape(&r.role)
                );
            }
            out.push_str("</subtenant_roles>");
        }
        if let Some(t) = &self.tenant {
            let _ = write!(out, "<tenant>{}</tenant>", escape(t));
        }
        list(&mut out, "vdc_roles", "vdc_role", &self.vdc_roles);
        out.push_str("</user>");
        out
    }
}

/// `GET /login`'s `service`: where to go once logged in. The pattern is
/// what `same_origin` takes as a path; it also takes an absolute
/// `http(s)://` URL whose host is the request's own `Host`, which no
/// pattern can name.
pub struct ServicePath;

impl utoipa::PartialSchema for ServicePath {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let ctrl = crate::openapi::patterns::CTRL;
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(format!(r"^/(?:[^/\\{ctrl}][^\\{ctrl}]*)?$")))
            .description(Some(
                "A path on this server (`/tenant`): it starts with one `/`, and holds no `\\` and \
                 no control character. An absolute `http://` or `https://` URL whose host is this \
                 request's `Host` is taken too (its path is used). Anything else is refused (400): \
                 no open redirect.",
            ))
            .examples(["/tenant"])
            .into()
    }
}

impl utoipa::ToSchema for ServicePath {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whoami_xml_has_the_seeds_shape() {
        let w = SdsWhoami {
            common_name: "root".into(),
            distinguished_name: "root".into(),
            home_tenant_roles: vec!["TENANT_ADMIN".into()],
            subtenant_roles: vec![],
            tenant: Some("urn:tessera:Domain:x:".into()),
            vdc_roles: vec!["SYSTEM_ADMIN".into(), "a<b".into()],
        };
        assert_eq!(
            w.to_xml(),
            "<user><common_name>root</common_name><distinguished_name>root</distinguished_name>\
             <home_tenant_roles><home_tenant_role>TENANT_ADMIN</home_tenant_role></home_tenant_roles>\
             <subtenant_roles/><tenant>urn:tessera:Domain:x:</tenant>\
             <vdc_roles><vdc_role>SYSTEM_ADMIN</vdc_role><vdc_role>a&lt;b</vdc_role></vdc_roles></user>"
        );
    }
}
