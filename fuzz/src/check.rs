//! What every answer must satisfy, whatever was sent: a 500 is a bug (a
//! parser that cannot say what is wrong), a JSON answer is JSON, an XML
//! answer (seed 001's header-login) is well-formed XML, and no secret of
//! the fixture (passwords, client secret, tokens, the master key, a
//! password hash) appears in an answer unless a request of this process
//! carried it (the fuzzer may have stored it as a name, or sent it in a
//! field that is echoed: that is the client's own text).

use crate::world::{World, ADMIN_PASSWORD, ADMIN_TOKEN, CLIENT_SECRET, SERVICE_TOKEN, USER_PASSWORD};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// Checks one answer; panics (a libFuzzer crash) on a violation.
pub fn answer(world: &World, sent: &[u8], res: axum::response::Response) {
    let (parts, body) = world.body(res);
    let text = String::from_utf8_lossy(&body);
    if crate::world::trace() {
        eprintln!(
            "ANSWER {} {}",
            parts.status.as_u16(),
            text.chars().take(300).collect::<String>()
        );
    }
    assert_ne!(
        parts.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "500 for a fuzzed request: {text}"
    );
    let media = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !body.is_empty() && (media.starts_with("application/json") || media.contains("+json")) {
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&body) {
            panic!("a {media} answer is not JSON ({e}): {text}");
        }
    }
    if !body.is_empty() && media.contains("xml") {
        let mut reader = quick_xml::Reader::from_reader(&body[..]);
        let mut buf = Vec::new();
        let mut depth: i64 = 0;
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Start(_)) => depth += 1,
                Ok(quick_xml::events::Event::End(_)) => depth -= 1,
                Ok(quick_xml::events::Event::Text(t)) => {
                    if let Err(e) = t.unescape() {
                        panic!("an XML answer has a bad escape ({e}): {text}");
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("an XML answer is not well-formed ({e}): {text}"),
            }
            buf.clear();
        }
        assert_eq!(depth, 0, "an XML answer leaves elements open: {text}");
    }
    let secrets = [
        ADMIN_PASSWORD,
        USER_PASSWORD,
        CLIENT_SECRET,
        ADMIN_TOKEN,
        SERVICE_TOKEN,
        world.master_key.as_str(),
        "$argon2id$",
    ];
    let holds = |hay: &[u8], secret: &str| hay.windows(secret.len()).any(|w| w == secret.as_bytes());
    let Ok(mut sent_ever) = SENT.lock() else { return };
    for secret in secrets {
        if !secret.is_empty() && holds(sent, secret) {
            sent_ever.insert(secret.to_owned());
        }
    }
    for secret in secrets {
        if secret.is_empty() || sent_ever.contains(secret) {
            continue;
        }
        let in_headers = parts.headers.values().any(|v| holds(v.as_bytes(), secret));
        if holds(&body, secret) || in_headers {
            panic!("the answer carries a secret no request sent ({secret:?}): {text}");
        }
    }
}

/// The secrets some request of this process has carried.
static SENT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
