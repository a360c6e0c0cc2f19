//! The header parsers of `tessera_http::extract` on any header bytes:
//! HTTP Basic, cookies, every token carrier, Bearer, Accept negotiation
//! (`wants_json`) and the body media types.
#![no_main]

use arbitrary::Arbitrary;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tessera_http::extract;

const NAMES: [&str; 6] = [
    "authorization",
    "cookie",
    "accept",
    "content-type",
    "x-auth-token",
    "x-sds-auth-token",
];

#[derive(Arbitrary, Debug)]
struct Case {
    headers: Vec<(u8, Vec<u8>)>,
    /// A cookie name to look up besides `X-SDS-AUTH-TOKEN`.
    cookie: String,
}

fuzz_target!(|case: Case| {
    let mut headers = HeaderMap::new();
    for (name, value) in &case.headers {
        let name = HeaderName::from_static(NAMES[usize::from(*name) % NAMES.len()]);
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(name, v);
        }
    }
    if let Some(t) = extract::bearer(&headers) {
        assert!(!t.is_empty() && t == t.trim(), "bearer {t:?}");
    }
    if let Some(t) = extract::presented_token(&headers) {
        assert!(!t.is_empty(), "an empty presented token");
    }
    for name in [extract::SDS_TOKEN, case.cookie.as_str()] {
        if let Some(v) = extract::cookie(&headers, name) {
            assert!(!v.is_empty(), "cookie {name:?} is empty");
        }
    }
    if let Some(Ok(c)) = extract::basic(&headers) {
        let _ = (c.user.len(), c.password.len());
    }
    let _ = extract::wants_json(&headers);
    assert!(
        !(extract::is_form(&headers) && extract::is_json(&headers)),
        "a body declared both form and JSON"
    );
});
