//! Reading credentials off a request: the token carriers every door
//! accepts, HTTP Basic, and form bodies. Nothing here logs what it reads.

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use axum::http::{HeaderMap, HeaderName};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

/// Seed 001's token header and cookie.
pub const SDS_TOKEN: &str = "X-SDS-AUTH-TOKEN";
/// Seed 002's token header.
pub const AUTH_TOKEN: &str = "X-Auth-Token";
/// The same two headers as typed names, for lookups on the hot path (a
/// lookup by `&str` parses the name every time).
pub const SDS_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-sds-auth-token");
pub const AUTH_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-auth-token");
/// Seed 001's proxy-token header: `GET /proxytoken` answers in it, and a
/// ViPR script sends the proxy token back in it.
pub const PROXY_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-sds-auth-proxy-token");

/// The token a request presents, from the first carrier that has one:
/// `Authorization: Bearer`, `X-Auth-Token`, `X-SDS-AUTH-TOKEN` (header),
/// `X-SDS-AUTH-PROXY-TOKEN`, then the `X-SDS-AUTH-TOKEN` cookie. The
/// carrier says nothing of the token's kind: a proxy token is usable
/// wherever a token is (SPEC §3.2), and the core decides what it is.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    bearer(headers)
        .or_else(|| header_str(headers, &AUTH_TOKEN_HEADER))
        .or_else(|| header_str(headers, &SDS_TOKEN_HEADER))
        .or_else(|| header_str(headers, &PROXY_TOKEN_HEADER))
        .or_else(|| cookie(headers, SDS_TOKEN))
}

/// `Authorization: Bearer <token>` (scheme matched case-insensitively).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The value of cookie `name`, from any `Cookie` header.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// HTTP Basic credentials.
pub struct BasicCredentials {
    pub user: String,
    pub password: Zeroizing<String>,
}

/// Parses `Authorization: Basic ...`. `None` when the header is absent or
/// uses another scheme; `Some(Err)` when it is Basic but malformed.
pub fn basic(headers: &HeaderMap) -> Option<Result<BasicCredentials, &'static str>> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    Some(parse_basic(rest.trim()))
}

fn parse_basic(encoded: &str) -> Result<BasicCredentials, &'static str> {
    let decoded = Zeroizing::new(
        STANDARD
            .decode(encoded)
            .map_err(|_| "the Basic credentials are not valid base64")?,
    );
    let text = std::str::from_utf8(&decoded).map_err(|_| "the Basic credentials are not UTF-8")?;
    let (user, password) = text
        .split_once(':')
        .ok_or("the Basic credentials have no ':' between user and password")?;
    Ok(BasicCredentials {
        user: user.to_owned(),
        password: Zeroizing::new(password.to_owned()),
    })
}

/// Whether the client accepts only JSON (an `Accept` naming JSON and not
/// XML): the doors that answer XML by default (seed 001) answer JSON then.
pub fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    accept.contains("json") && !accept.contains("xml")
}

/// Query parameters (later ones do not override earlier ones).
pub fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
}

/// A boolean query flag such as `using-cookies=true`: `true/false`,
/// `1/0`, `yes/no`, `on/off` in any case; absent is false.
///
/// Errors: a 400 naming the flag for any other value, so a script never
/// believes a flag it misspelled was honoured.
pub fn query_flag(params: &[(String, String)], name: &str) -> Result<bool, crate::error::ApiError> {
    let mut value = false;
    for (_, v) in params.iter().filter(|(k, _)| k == name) {
        value = match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                return Err(crate::error::ApiError::bad_request(format!(
                    "{name} must be true or false (1/0, yes/no, on/off also work), not {v:?}"
                )))
            }
        };
    }
    Ok(value)
}

/// Whether the body is declared `application/x-www-form-urlencoded`.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Whether the body is declared JSON (`application/json`, `...+json`).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"))
}

/// Form parameters. Values are wiped from memory when dropped: they
/// include passwords and secrets.
pub struct Form(Vec<(String, Zeroizing<String>)>);

impl Form {
    /// Parses an urlencoded body. RFC 6749 §3.2: a parameter the endpoint
    /// defines (`defined`) may be given once, and the error names one given
    /// twice; parameters it does not know are ignored, repeated or not.
    pub fn parse(body: &[u8], defined: &[&str]) -> Result<Form, String> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| "the form body is not valid urlencoded text".to_owned())?;
        let mut out: Vec<(String, Zeroizing<String>)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            if !defined.contains(&k.as_str()) {
                continue;
            }
            if out.iter().any(|(seen, _)| *seen == k) {
                return Err(format!("parameter {k:?} is given more than once"));
            }
            out.push((k, Zeroizing::new(v)));
        }
        Ok(Form(out))
    }

    /// A parameter's value; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Whether the parameter is present at all (even empty).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// A required parameter, or a message naming it.
    pub fn require(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("the {name} parameter is missing"))
    }
}

/// Parses a JSON body declared `application/json` as the object `T`
/// describes; 415 for another type, 400 naming what is wrong (see
/// [`json_object`]).
pub fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, crate::error::ApiError> {
    use crate::error::ApiError;
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType(
            "send a JSON body with Content-Type: application/json".into(),
        ));
    }
    json_object(body)
        .map_err(|why| ApiError::bad_request(format!("the JSON body is not what this endpoint takes: {why}")))
}

/// Reads `body` as the JSON object `T` describes, whatever type it is
/// declared (the doors that take `curl -d` bodies). Anything but an object
/// is refused, arrays above all: serde would read `[true, "pw"]` into a
/// struct's fields in order, a shape the document never promises. Nested
/// structs refuse arrays too when their field says
/// `deserialize_with = "object"` (or [`object_or_null`]).
///
/// Errors: what is wrong, in words (serde's message names the field or
/// position and never echoes values).
pub fn json_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let found = match body.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        None => Some("nothing"),
        Some(b'{') => None,
        Some(b'[') => Some("an array"),
        Some(b'"') => Some("a string"),
        Some(b't' | b'f') => Some("a boolean"),
        Some(b'n') => Some("null"),
        Some(b'-' | b'0'..=b'9') => Some("a number"),
        // Not JSON at all: serde says where.
        Some(_) => None,
    };
    if let Some(found) = found {
        return Err(format!("it must be a JSON object ({{...}}), not {found}"));
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

/// For `#[serde(deserialize_with = "...")]` on a field holding a struct:
/// the struct is read from a JSON object only, never from an array.
pub fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(ObjectOnly(d))
}

/// [`object`] for an optional struct: `null` (or absent, with
/// `#[serde(default)]`) is `None`.
pub fn object_or_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct Object<T>(T);
    impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            object(d).map(Object)
        }
    }
    <Option<Object<T>> as serde::Deserialize>::deserialize(d).map(|o| o.map(|Object(t)| t))
}

/// A deserializer that reads a struct as a map only: serde_json's own
/// `deserialize_struct` takes an array as well.
struct ObjectOnly<D>(D);

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn every_carrier_is_read_bearer_first() {
        assert_eq!(
            presented_token(&headers(&[("authorization", "Bearer abc")])),
            Some("abc")
        );
        assert_eq!(
            presented_token(&headers(&[("authorization", "bearer  abc ")])),
            Some("abc")
        );
        assert_eq!(presented_token(&headers(&[("x-auth-token", "k")])), Some("k"));
        assert_eq!(presented_token(&headers(&[("x-sds-auth-token", "s")])), Some("s"));
        assert_eq!(
            presented_token(&headers(&[("cookie", "a=b; X-SDS-AUTH-TOKEN=c")])),
            Some("c")
        );
        assert_eq!(
            presented_token(&headers(&[("authorization", "Bearer a"), ("x-auth-token", "b")])),
            Some("a")
        );
        assert_eq!(
            presented_token(&headers(&[("authorization", "Basic eDp5")])),
            None
        );
        assert_eq!(presented_token(&headers(&[])), None);
    }

    #[test]
    fn basic_credentials_parse_and_bad_ones_say_why() {
        // curl https://simplivity@host sends "simplivity:".
        let c = basic(&headers(&[("authorization", "Basic c2ltcGxpdml0eTo=")]))
            .unwrap()
            .unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("simplivity", ""));
        let c = basic(&headers(&[("authorization", "Basic cm9vdDpDaGFuZ2VNZQ==")]))
            .unwrap()
            .unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("root", "ChangeMe"));
        assert!(basic(&headers(&[("authorization", "Basic !!!")]))
            .unwrap()
            .is_err());
        assert!(basic(&headers(&[("authorization", "Basic bm9jb2xvbg==")]))
            .unwrap()
            .is_err());
        assert!(basic(&headers(&[("authorization", "Bearer x")])).is_none());
    }

    #[test]
    fn json_bodies_are_objects_only() {
        #[derive(serde::Deserialize, Debug)]
        struct Inner {
            #[allow(dead_code)]
            a: bool,
        }
        #[derive(serde::Deserialize, Debug)]
        struct Outer {
            #[serde(deserialize_with = "object")]
            #[allow(dead_code)]
            inner: Inner,
            #[serde(default, deserialize_with = "object_or_null")]
            more: Option<Inner>,
        }
        assert!(json_object::<Outer>(br#" {"inner":{"a":true},"more":null}"#).is_ok());
        assert!(json_object::<Outer>(br#"{"inner":{"a":true}}"#)
            .unwrap()
            .more
            .is_none());
        assert!(
            json_object::<Outer>(br#"{"inner":{"a":true},"more":{"a":false}}"#)
                .unwrap()
                .more
                .is_some()
        );
        for (body, found) in [
            (&br#"[{"a":true}]"#[..], "not an array"),
            (b"\n \"x\"", "not a string"),
            (b"true", "not a boolean"),
            (b"null", "not null"),
            (b"-1", "not a number"),
            (b"  ", "not nothing"),
        ] {
            let why = json_object::<Outer>(body).unwrap_err();
            assert!(
                why.contains("must be a JSON object") && why.contains(found),
                "{why}"
            );
        }
        // serde_json would read an array into a struct field by field.
        for body in [
            &br#"{"inner":[true]}"#[..],
            br#"{"inner":{"a":true},"more":[false]}"#,
        ] {
            let why = json_object::<Outer>(body).unwrap_err();
            assert!(why.contains("invalid type: sequence"), "{why}");
        }
        assert!(json_object::<Outer>(b"{nope").unwrap_err().contains("line 1"));
    }

    #[test]
    fn forms_refuse_repeated_parameters() {
        let f = Form::parse(
            b"grant_type=password&username=a%40b&password=",
            &["grant_type", "username", "password"],
        )
        .unwrap();
        assert_eq!(f.get("username"), Some("a@b"));
        assert_eq!(f.get("password"), None);
        assert!(f.has("password"));
        assert!(f.require("scope").unwrap_err().contains("scope"));
        let err = Form::parse(b"a=1&a=2&x=1&x=2", &["a"]).err().unwrap();
        assert!(err.contains("\"a\""), "{err}");
    }
}
