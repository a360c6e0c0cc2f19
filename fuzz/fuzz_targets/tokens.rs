//! Presented tokens: the format parsers of `tessera_core::token`
//! (`plausible`, `opaque_kind`, `refresh_session_id`, `looks_like_jwt`)
//! and `Core::check`, which is how a presented JWT (or any token) is
//! verified, on any string: raw, JWT-shaped, opaque-shaped, or a real
//! token with one byte changed.
#![no_main]

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use tessera_core::token;
use tessera_fuzz::request::TokenKind;
use tessera_fuzz::world::{self, SERVICE_TOKEN};
use tessera_model::TokenKind as Kind;

#[derive(Arbitrary, Debug)]
enum Presented {
    Raw(String),
    /// Three base64url parts: a compact JWS in shape.
    Jws(Vec<u8>, Vec<u8>, Vec<u8>),
    /// A JWS whose header and claims are the fuzzer's JSON text.
    JwsText(String, String, Vec<u8>),
    /// A prefix and base64url of any bytes (`tsa_`, `tsr_`, `tsp_`).
    Opaque(u8, Vec<u8>),
    /// A live token, one byte changed.
    Tampered(TokenKind, u16, u8),
    /// A live token, truncated or extended.
    Cut(TokenKind, u16, String),
}

/// One live token of each kind, minted on first use: nothing here revokes
/// or rotates them, and a login per input would fill the session cache
/// (the clock never moves, so no session ever expires).
fn live(kind: TokenKind) -> String {
    static LIVE: OnceLock<Mutex<BTreeMap<String, String>>> = OnceLock::new();
    let key = format!("{kind:?}");
    let map = LIVE.get_or_init(Mutex::default);
    if let Some(t) = map.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return t;
    }
    let t = kind.render(world::world());
    if let Ok(mut m) = map.lock() {
        m.insert(key, t.clone());
    }
    t
}

fuzz_target!(|case: (Presented, bool)| {
    let (presented, touch) = case;
    let w = world::world();
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let t = match presented {
        Presented::Raw(s) => s,
        Presented::Jws(h, c, s) => format!("{}.{}.{}", b64(&h), b64(&c), b64(&s)),
        Presented::JwsText(h, c, s) => format!("{}.{}.{}", b64(h.as_bytes()), b64(c.as_bytes()), b64(&s)),
        Presented::Opaque(p, b) => format!(
            "{}{}",
            ["tsa_", "tsr_", "tsp_", "ts_"][usize::from(p) % 4],
            b64(&b)
        ),
        Presented::Tampered(k, at, xor) => {
            let mut bytes = live(k).into_bytes();
            if bytes.is_empty() {
                return;
            }
            let i = usize::from(at) % bytes.len();
            bytes[i] ^= xor | 1;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Presented::Cut(k, at, tail) => {
            let s = live(k);
            let at = usize::from(at) % (s.len() + 1);
            format!("{}{tail}", &s[..at])
        }
    };
    let kind = token::opaque_kind(&t);
    let plausible = token::plausible(&t);
    assert_eq!(plausible, kind.is_some() || token::looks_like_jwt(&t), "{t:?}");
    let session = token::refresh_session_id(&t);
    if session.is_some() {
        assert_eq!(kind, Some(Kind::Refresh), "{t:?}");
    }
    let _ = token::hash(&t);
    let checked = w.rt.block_on(w.core.check(&t, touch));
    if !plausible && t != SERVICE_TOKEN {
        assert!(checked.is_err(), "an implausible token was accepted: {t:?}");
    }
    if kind == Some(Kind::Refresh) {
        assert!(
            checked.is_err(),
            "a refresh token was accepted as an access token"
        );
    }
});
