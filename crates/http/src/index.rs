//! `GET /`: what this server offers, for a newcomer who only knows its
//! address: the front doors switched on and their paths, Tessera's own
//! API, and the operator's endpoints (`/openapi.json`, health, metrics).
//! Read off the published OpenAPI document, so it names exactly the routes
//! served. JSON, or a page of links for a browser. Served only while the
//! gateway is off: with an upstream, `/` is the upstream's.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::header::ACCEPT;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::openapi::OpenApi as Document;

/// The tags of the front doors, in the document's order.
const DOORS: [&str; 4] = ["oauth2", "header-login", "domain-login", "envelope-login"];

/// A front door that is switched on.
#[derive(Serialize, utoipa::ToSchema)]
struct Door {
    #[schema(example = "oauth2")]
    name: String,
    description: String,
    /// Its paths, as `/openapi.json` lists them.
    paths: Vec<String>,
}

/// `GET /`.
#[derive(Serialize, utoipa::ToSchema)]
struct Index {
    #[schema(example = "Tessera")]
    name: &'static str,
    version: &'static str,
    /// The front doors switched on.
    doors: Vec<Door>,
    /// Tessera's own token endpoints (forward auth, whoami, logout, ...).
    tessera: Vec<String>,
    /// The administration API (the system admin role).
    admin: Vec<String>,
    #[schema(example = "/openapi.json")]
    openapi: &'static str,
    #[schema(example = "/healthz")]
    health: &'static str,
    #[schema(example = "/readyz")]
    ready: &'static str,
    #[schema(example = "/metrics")]
    metrics: &'static str,
}

/// Paths by tag.
fn paths_by_tag(doc: &Document) -> BTreeMap<&str, Vec<String>> {
    let mut by: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            &item.get,
            &item.put,
            &item.post,
            &item.delete,
            &item.options,
            &item.head,
            &item.patch,
            &item.trace,
        ];
        for op in ops.into_iter().flatten() {
            for tag in op.tags.iter().flatten() {
                let list = by.entry(tag.as_str()).or_default();
                if list.last() != Some(path) {
                    list.push(path.clone());
                }
            }
        }
    }
    by
}

fn index(doc: &Document) -> Index {
    let mut by = paths_by_tag(doc);
    let describe = |name: &str| {
        doc.tags
            .iter()
            .flatten()
            .find(|t| t.name == name)
            .and_then(|t| t.description.clone())
            .unwrap_or_default()
    };
    let doors = DOORS
        .iter()
        .filter_map(|name| {
            by.remove(name).map(|paths| Door {
                name: (*name).to_owned(),
                description: describe(name),
                paths,
            })
        })
        .collect();
    Index {
        name: "Tessera",
        version: env!("CARGO_PKG_VERSION"),
        doors,
        tessera: by.remove("tessera").unwrap_or_default(),
        admin: by.remove("admin").unwrap_or_default(),
        openapi: "/openapi.json",
        health: "/healthz",
        ready: "/readyz",
        metrics: "/metrics",
    }
}

/// Whether `Accept` ranks `text/html` above JSON (a browser's does; curl's
/// `*/*` does not: JSON is the default).
fn prefers_html(headers: &HeaderMap) -> bool {
    let (mut html, mut json, mut any) = (None::<f32>, None::<f32>, None::<f32>);
    for value in headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()) {
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = match media.as_str() {
                "text/html" | "application/xhtml+xml" => &mut html,
                "application/json" => &mut json,
                "*/*" => &mut any,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
    }
    let html = html.or(any).unwrap_or(0.0);
    let json = json.or(any).unwrap_or(0.0);
    html > json
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(index: &Index) -> String {
    let link = |p: &str| format!(r#"<li><a href="{0}"><code>{0}</code></a></li>"#, escape(p));
    let list = |paths: &[String]| paths.iter().map(|p| link(p)).collect::<String>();
    let mut out = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Tessera</title></head><body>\
         <h1>Tessera {}</h1><p>A token authentication server. The whole API: \
         <a href=\"/openapi.json\">/openapi.json</a>. Health: <a href=\"/healthz\">/healthz</a>, \
         readiness: <a href=\"/readyz\">/readyz</a>, metrics: <a href=\"/metrics\">/metrics</a>.</p>\
         <h2>Front doors</h2>",
        escape(index.version)
    );
    for door in &index.doors {
        out.push_str(&format!(
            "<h3>{}</h3><p>{}</p><ul>{}</ul>",
            escape(&door.name),
            escape(&door.description),
            list(&door.paths)
        ));
    }
    out.push_str(&format!(
        "<h2>Tessera's own API</h2><ul>{}</ul><h2>Administration</h2><ul>{}</ul></body></html>",
        list(&index.tessera),
        list(&index.admin)
    ));
    out
}

#[utoipa::path(
    get,
    path = "/",
    tag = "ops",
    operation_id = "index",
    summary = "What this server offers: its doors, its API and the operator's endpoints",
    description = "JSON by default; an HTML page of links when `Accept` prefers `text/html` \
        (a browser). Served only while the gateway is off (with an upstream, `/` is the \
        upstream's).",
    responses(
        (status = 200, description = "The index",
            content((Index = "application/json"), (String = "text/html"))),
    ),
)]
pub async fn index_get(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(doc) = state.openapi.get() else {
        return Err(ApiError::Unavailable {
            message: "the index is not assembled yet".into(),
            retry_after: Duration::from_secs(1),
        });
    };
    let index = index(&doc.0);
    Ok(if prefers_html(&headers) {
        Html(page(&index)).into_response()
    } else {
        Json(index).into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &'static str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static(v));
        prefers_html(&h)
    }

    #[test]
    fn browsers_get_html_and_everyone_else_json() {
        assert!(accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!accept("*/*"));
        assert!(!accept("application/json"));
        assert!(!accept("application/json, text/html;q=0.5"));
        assert!(!prefers_html(&HeaderMap::new()));
    }
}
