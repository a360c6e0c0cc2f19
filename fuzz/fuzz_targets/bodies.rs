//! Every route that takes a body (each door's login, the OAuth2 token,
//! revocation and introspection forms, logout, the password change and
//! every admin body), most of the time with the credential the route
//! wants and a body shaped by its schema in the OpenAPI document, so the
//! fuzzer's values reach the body parser and what the handler does with
//! the parsed body; otherwise any credential, media type or bytes.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tessera_fuzz::request::{
    Carrier, ContentType, Credential, Fuzzed, Payload, Segment, Target, Text, TokenKind, Verb,
};
use tessera_fuzz::world::{World, CLIENT_SECRET, CONFIDENTIAL_CLIENT, USER, USER_PASSWORD};
use tessera_fuzz::{check, schema, world};

/// The credential a caller of `path` would send.
fn rightful(path: &str, u: &mut Unstructured<'_>) -> arbitrary::Result<Credential> {
    let carrier = Carrier::arbitrary(u)?;
    Ok(if path.starts_with("/v1/admin") {
        Credential::Token(TokenKind::Admin, carrier)
    } else if path.starts_with("/v1/") {
        let kind = *u.choose(&[TokenKind::Opaque, TokenKind::Jwt, TokenKind::HeaderLogin])?;
        Credential::Token(kind, carrier)
    } else if path.starts_with("/oauth") || path.ends_with("/oauth/token") || path == "/auth/oauth" {
        if u.arbitrary()? {
            Credential::Basic {
                user: Text::Any(CONFIDENTIAL_CLIENT.into()),
                password: Text::Any(CLIENT_SECRET.into()),
                form: u.arbitrary()?,
            }
        } else {
            Credential::None
        }
    } else if path == "/login" {
        Credential::Basic {
            user: Text::Any(USER.into()),
            password: Text::Any(USER_PASSWORD.into()),
            form: false,
        }
    } else {
        Credential::None
    })
}

fn run(w: &World, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let with_body: Vec<usize> = (0..w.routes.len()).filter(|i| w.routes[*i].has_body).collect();
    if with_body.is_empty() {
        return Ok(());
    }
    let index = *u.choose(&with_body)?;
    let route = &w.routes[index];
    let credential = if u.ratio(7u8, 8u8)? {
        rightful(&route.path, u)?
    } else {
        Credential::arbitrary(u)?
    };
    let content_type = if u.ratio(7u8, 8u8)? {
        ContentType::Documented
    } else {
        ContentType::arbitrary(u)?
    };
    let payload = match &route.schema {
        Some(s) if u.ratio(7u8, 8u8)? => {
            let v = schema::value(w, s, u, 0)?;
            let form = route.media.as_deref() == Some("application/x-www-form-urlencoded");
            Payload::Raw(if form {
                schema::form(&v)
            } else {
                serde_json::to_vec(&v).unwrap_or_default()
            })
        }
        _ => Payload::arbitrary(u)?,
    };
    let params: Vec<Segment> = Vec::arbitrary(u)?;
    let req = Fuzzed {
        verb: Verb::Documented,
        target: Target::Route {
            index: u16::try_from(index).unwrap_or(0),
            params,
        },
        query: None,
        raw_query: None,
        credential,
        content_type,
        accept: Option::<Text>::arbitrary(u)?,
        headers: vec![],
        payload,
        tls: true,
    };
    let Some(built) = req.build(w) else { return Ok(()) };
    let res = w.call(built.request, built.tls);
    check::answer(w, &built.sent, res);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let w = world::world();
    let _ = run(w, &mut Unstructured::new(data));
});
