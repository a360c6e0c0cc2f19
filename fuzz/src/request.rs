//! A request as the fuzzer describes it: structured enough to get past
//! routing and authentication (a route of the document, a real token, a
//! body built from the document's own property names), loose enough to
//! send anything (raw paths, header bytes, bodies).

use crate::world::{Minted, World, ADMIN_TOKEN, SERVICE_TOKEN};
use arbitrary::Arbitrary;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// A string: one of the world's words (property names, enum values, the
/// fixture's user names, passwords and clients), or anything.
#[derive(Arbitrary, Debug)]
pub enum Text {
    Word(u16),
    Any(String),
    /// Two words joined (`admin@local`, `read write`).
    Pair(u16, u8, u16),
}

impl Text {
    pub fn render(&self, world: &World) -> String {
        let word = |i: &u16| {
            world
                .words
                .get(usize::from(*i) % world.words.len().max(1))
                .cloned()
                .unwrap_or_default()
        };
        match self {
            Text::Word(i) => word(i),
            Text::Any(s) => s.clone(),
            Text::Pair(a, sep, b) => {
                let sep = [" ", "@", ":", "/", ",", ";", "=", "&", ".", ""][usize::from(*sep) % 10];
                format!("{}{sep}{}", word(a), word(b))
            }
        }
    }
}

/// A JSON value whose object keys are mostly the document's words.
#[derive(Arbitrary, Debug)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(Text),
    /// A string that is a live token of the fuzz user.
    Token(TokenKind),
    Array(Vec<Json>),
    Object(Vec<(Text, Json)>),
}

impl Json {
    pub fn render(&self, world: &World) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Int(i) => Value::from(*i),
            Json::Uint(u) => Value::from(*u),
            Json::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::Str(t) => Value::String(t.render(world)),
            Json::Token(k) => Value::String(k.render(world)),
            Json::Array(items) => Value::Array(items.iter().map(|j| j.render(world)).collect()),
            Json::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.render(world), v.render(world)))
                    .collect(),
            ),
        }
    }
}

/// A token of some kind, minted or fixed.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum TokenKind {
    Admin,
    Service,
    Opaque,
    Jwt,
    Refresh,
    HeaderLogin,
}

impl TokenKind {
    pub fn render(self, world: &World) -> String {
        let minted = |k| world.token(k).unwrap_or_default();
        match self {
            TokenKind::Admin => ADMIN_TOKEN.to_owned(),
            TokenKind::Service => SERVICE_TOKEN.to_owned(),
            TokenKind::Opaque => minted(Minted::Opaque),
            TokenKind::Jwt => minted(Minted::Jwt),
            TokenKind::Refresh => minted(Minted::Refresh),
            TokenKind::HeaderLogin => minted(Minted::HeaderLogin),
        }
    }
}

/// What the request presents to prove who it is.
#[derive(Arbitrary, Debug)]
pub enum Credential {
    None,
    Token(TokenKind, Carrier),
    /// A token-shaped string of the fuzzer's own, in a carrier.
    Presented(Text, Carrier),
    /// A token with one byte flipped: right shape, wrong token.
    Tampered(TokenKind, u16, u8, Carrier),
    /// HTTP Basic, base64 of `user:password`; `form` form-encodes both
    /// first, as RFC 6749 §2.3.1 clients do.
    Basic {
        user: Text,
        password: Text,
        form: bool,
    },
    /// `Authorization: Basic <anything>`.
    BasicRaw(Vec<u8>),
    /// `Authorization: <anything>`.
    Authorization(Vec<u8>),
}

/// Where a token goes.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Carrier {
    Bearer,
    /// `Authorization: <scheme> token` with the scheme's case or spacing
    /// varied.
    BearerOdd(u8),
    XAuthToken,
    XSdsAuthToken,
    Cookie,
    /// Two carriers at once.
    Both(u8, u8),
}

#[derive(Arbitrary, Debug)]
pub enum ContentType {
    /// The one the route documents.
    Documented,
    None,
    Json,
    Form,
    Xml,
    Any(Text),
}

#[derive(Arbitrary, Debug)]
pub enum Payload {
    Empty,
    Json(Json),
    Form(Vec<(Text, Text)>),
    /// A form parameter given twice.
    FormRepeated(Vec<(Text, Text)>, u8),
    Raw(Vec<u8>),
    /// A value of the route's documented body schema, its choices driven
    /// by these bytes (`schema::value`).
    Schema(Vec<u8>),
}

/// A header that matters to some parser, or any name.
#[derive(Arbitrary, Debug)]
pub enum Name {
    Known(u8),
    Any(String),
}

const HEADERS: [&str; 20] = [
    "accept",
    "authorization",
    "cookie",
    "content-type",
    "x-auth-token",
    "x-sds-auth-token",
    "x-original-uri",
    "x-original-method",
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-forwarded-prefix",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-for",
    "x-real-ip",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "origin",
];

#[derive(Arbitrary, Debug)]
pub enum Target {
    /// A route of the document, its `{params}` filled in order.
    Route { index: u16, params: Vec<Segment> },
    /// Any path (made URI-safe where it has to be).
    Path(Text),
    /// Any bytes as the request target, used only when `Uri` takes them.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
pub enum Segment {
    /// Percent-encoded as a client library would.
    Encoded(Text),
    /// As given, when the URI accepts it (`..;`, `%2f`, `;x=1`).
    Verbatim(Text),
}

#[derive(Arbitrary, Debug)]
pub enum Verb {
    /// The route's own method.
    Documented,
    Get,
    Post,
    Put,
    Delete,
    Head,
    Options,
    Patch,
    Any(String),
}

/// A whole request.
#[derive(Arbitrary, Debug)]
pub struct Fuzzed {
    pub verb: Verb,
    pub target: Target,
    pub query: Option<Vec<(Text, Text)>>,
    pub raw_query: Option<String>,
    pub credential: Credential,
    pub content_type: ContentType,
    pub accept: Option<Text>,
    pub headers: Vec<(Name, Text)>,
    pub payload: Payload,
    pub tls: bool,
}

/// Bytes a path segment may not hold unescaped (RFC 3986 pchar).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Bytes a query component may not hold unescaped.
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'=')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// What the request aimed at, for the checks on its answer.
pub struct Built {
    pub request: Request<Body>,
    pub tls: bool,
    /// Everything the request carries (target, header values, body) and
    /// what a server could decode it to: a secret in the answer must have
    /// come from here (or from an earlier request, which may have stored it).
    pub sent: Vec<u8>,
}

impl Fuzzed {
    /// The `http::Request` this describes; `None` when what the fuzzer
    /// chose is no valid HTTP request (hyper would refuse it first).
    pub fn build(&self, world: &World) -> Option<Built> {
        let route = match &self.target {
            Target::Route { index, .. } if !world.routes.is_empty() => {
                Some(&world.routes[usize::from(*index) % world.routes.len()])
            }
            _ => None,
        };
        let method = match &self.verb {
            Verb::Documented => route.map_or(Method::GET, |r| r.method.clone()),
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Delete => Method::DELETE,
            Verb::Head => Method::HEAD,
            Verb::Options => Method::OPTIONS,
            Verb::Patch => Method::PATCH,
            Verb::Any(m) => Method::from_bytes(m.as_bytes()).ok()?,
        };
        let path = match &self.target {
            Target::Route { params, .. } => {
                let template = route.map_or("/", |r| r.path.as_str());
                fill(template, params, world)
            }
            Target::Path(t) => {
                let p = t.render(world);
                let p = if p.starts_with('/') { p } else { format!("/{p}") };
                p.split('/')
                    .map(|s| {
                        if s.parse::<axum::http::uri::PathAndQuery>().is_ok() {
                            s.to_owned()
                        } else {
                            utf8_percent_encode(s, SEGMENT).to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/")
            }
            Target::Raw(bytes) => String::from_utf8(bytes.clone()).ok()?,
        };
        let mut target = path;
        let mut query: Vec<String> = Vec::new();
        if let Some(pairs) = &self.query {
            for (k, v) in pairs {
                query.push(format!(
                    "{}={}",
                    utf8_percent_encode(&k.render(world), QUERY),
                    utf8_percent_encode(&v.render(world), QUERY)
                ));
            }
        }
        if let Some(raw) = &self.raw_query {
            query.push(raw.clone());
        }
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query.join("&"));
        }
        let uri: axum::http::Uri = target.parse().ok()?;
        let target = target.clone();
        let mut req = Request::builder().method(method).uri(uri);
        let headers = req.headers_mut()?;

        // Credentials.
        match &self.credential {
            Credential::None => {}
            Credential::Token(kind, carrier) => carry(headers, *carrier, &kind.render(world)),
            Credential::Presented(t, carrier) => carry(headers, *carrier, &t.render(world)),
            Credential::Tampered(kind, at, xor, carrier) => {
                let mut bytes = kind.render(world).into_bytes();
                if !bytes.is_empty() {
                    let i = usize::from(*at) % bytes.len();
                    bytes[i] ^= xor | 1;
                }
                carry(headers, *carrier, &String::from_utf8_lossy(&bytes));
            }
            Credential::Basic { user, password, form } => {
                let (mut u, mut p) = (user.render(world), password.render(world));
                if *form {
                    u = form_encode(&u);
                    p = form_encode(&p);
                }
                let value = format!("Basic {}", STANDARD.encode(format!("{u}:{p}")));
                insert(headers, "authorization", value.as_bytes());
            }
            Credential::BasicRaw(b) => {
                let mut v = b"Basic ".to_vec();
                v.extend_from_slice(b);
                insert(headers, "authorization", &v);
            }
            Credential::Authorization(b) => insert(headers, "authorization", b),
        }

        // Body and its type.
        let documented = route.and_then(|r| r.media.clone());
        let content_type = match &self.content_type {
            ContentType::Documented => documented,
            ContentType::None => None,
            ContentType::Json => Some("application/json".to_owned()),
            ContentType::Form => Some("application/x-www-form-urlencoded".to_owned()),
            ContentType::Xml => Some("application/xml".to_owned()),
            ContentType::Any(t) => Some(t.render(world)),
        };
        if let Some(ct) = content_type {
            insert(headers, "content-type", ct.as_bytes());
        }
        if let Some(a) = &self.accept {
            insert(headers, "accept", a.render(world).as_bytes());
        }
        for (name, value) in &self.headers {
            let name = match name {
                Name::Known(i) => HEADERS[usize::from(*i) % HEADERS.len()].to_owned(),
                Name::Any(s) => s.clone(),
            };
            // Framing headers are hyper's business, not the handlers'.
            if ["content-length", "transfer-encoding"].contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            let value = value.render(world);
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
                    headers.append(name, v);
                }
            }
        }
        let body = match &self.payload {
            Payload::Empty => Vec::new(),
            Payload::Json(j) => serde_json::to_vec(&j.render(world)).unwrap_or_default(),
            Payload::Form(pairs) => form(pairs, None, world).into_bytes(),
            Payload::FormRepeated(pairs, which) => form(pairs, Some(*which), world).into_bytes(),
            Payload::Raw(b) => b.clone(),
            Payload::Schema(bytes) => match route.and_then(|r| r.schema.as_ref().map(|s| (r, s))) {
                Some((r, schema)) => {
                    let mut u = arbitrary::Unstructured::new(bytes);
                    let v = crate::schema::value(world, schema, &mut u, 0).unwrap_or_default();
                    if r.media.as_deref() == Some("application/x-www-form-urlencoded") {
                        crate::schema::form(&v)
                    } else {
                        serde_json::to_vec(&v).unwrap_or_default()
                    }
                }
                None => bytes.clone(),
            },
        };
        // What the request carries, and what a server could decode it to
        // (percent escapes, form `+`, base64 credentials, JSON strings).
        let mut sent = Vec::new();
        reveal(&mut sent, target.as_bytes());
        for (name, value) in headers.iter() {
            sent.extend_from_slice(name.as_str().as_bytes());
            sent.push(b'\n');
            reveal(&mut sent, value.as_bytes());
            for word in value
                .as_bytes()
                .split(|b| b.is_ascii_whitespace() || *b == b',' || *b == b';')
            {
                for engine in [
                    &base64::engine::general_purpose::STANDARD,
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ] {
                    if let Ok(decoded) = engine.decode(word) {
                        reveal(&mut sent, &decoded);
                    }
                }
            }
        }
        reveal(&mut sent, &body);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
            json_strings(&v, &mut sent);
        }
        let request = req.body(Body::from(body)).ok()?;
        Some(Built {
            request,
            tls: self.tls,
            sent,
        })
    }
}

/// Appends `bytes` and its percent-decoded and form-decoded forms.
fn reveal(sent: &mut Vec<u8>, bytes: &[u8]) {
    sent.extend_from_slice(bytes);
    sent.push(b'\n');
    sent.extend(percent_encoding::percent_decode(bytes));
    sent.push(b'\n');
    let plus: Vec<u8> = bytes.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    sent.extend(percent_encoding::percent_decode(&plus));
    sent.push(b'\n');
}

fn json_strings(v: &serde_json::Value, sent: &mut Vec<u8>) {
    match v {
        serde_json::Value::String(s) => reveal(sent, s.as_bytes()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| json_strings(i, sent)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                reveal(sent, k.as_bytes());
                json_strings(v, sent);
            }
        }
        _ => {}
    }
}

fn fill(template: &str, params: &[Segment], world: &World) -> String {
    let mut out = String::new();
    let mut rest = template;
    let mut i = 0;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let value = match params.get(i) {
            Some(Segment::Encoded(t)) => utf8_percent_encode(&t.render(world), SEGMENT).to_string(),
            Some(Segment::Verbatim(t)) => {
                let s = t.render(world);
                if format!("/{s}").parse::<axum::http::uri::PathAndQuery>().is_ok() {
                    s
                } else {
                    utf8_percent_encode(&s, SEGMENT).to_string()
                }
            }
            // A parameter the fuzzer left out: one that exists.
            None => match &rest[open + 1..open + close] {
                "domain" => crate::world::DEFAULT_DOMAIN.to_owned(),
                "name" if template.contains("/users/") => crate::world::USER.to_owned(),
                "name" if template.contains("/domains/") => crate::world::DEFAULT_DOMAIN.to_owned(),
                _ => "x".to_owned(),
            },
        };
        out.push_str(&value);
        i += 1;
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

fn form(pairs: &[(Text, Text)], repeat: Option<u8>, world: &World) -> String {
    let mut rendered: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                form_encode(&k.render(world)),
                form_encode(&v.render(world))
            )
        })
        .collect();
    if let Some(which) = repeat {
        if !rendered.is_empty() {
            let again = rendered[usize::from(which) % rendered.len()].clone();
            rendered.push(again);
        }
    }
    rendered.join("&")
}

fn form_encode(s: &str) -> String {
    percent_encoding::percent_encode(s.as_bytes(), percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn insert(headers: &mut axum::http::HeaderMap, name: &'static str, value: &[u8]) {
    if let Ok(v) = HeaderValue::from_bytes(value) {
        headers.append(name, v);
    }
}

fn carry(headers: &mut axum::http::HeaderMap, carrier: Carrier, token: &str) {
    let one = |headers: &mut axum::http::HeaderMap, which: u8| match which % 4 {
        0 => insert(headers, "authorization", format!("Bearer {token}").as_bytes()),
        1 => insert(headers, "x-auth-token", token.as_bytes()),
        2 => insert(headers, "x-sds-auth-token", token.as_bytes()),
        _ => insert(
            headers,
            "cookie",
            format!("a=b; X-SDS-AUTH-TOKEN={token}; c=\"d\"").as_bytes(),
        ),
    };
    match carrier {
        Carrier::Bearer => one(headers, 0),
        Carrier::BearerOdd(k) => {
            let scheme = ["bearer", "BEARER", "Bearer ", "Bearer\t", "bEaReR  "][usize::from(k) % 5];
            insert(headers, "authorization", format!("{scheme} {token} ").as_bytes());
        }
        Carrier::XAuthToken => one(headers, 1),
        Carrier::XSdsAuthToken => one(headers, 2),
        Carrier::Cookie => one(headers, 3),
        Carrier::Both(a, b) => {
            one(headers, a);
            one(headers, b);
        }
    }
}
