//! Bodies shaped by the OpenAPI document: a value of a route's request
//! schema, each property present or not, each value of its type or (now
//! and then) of any type, so that most bodies get past the shape checks
//! and into what the handler does, and the rest probe the edges.

use crate::request::{Json, TokenKind};
use crate::world::{
    World, ADMIN_PASSWORD, CLIENT_SECRET, CONFIDENTIAL_CLIENT, DEFAULT_DOMAIN, PUBLIC_CLIENT, USER,
    USER_PASSWORD,
};
use arbitrary::{Arbitrary, Result, Unstructured};
use serde_json::{Map, Value};

const MAX_DEPTH: u32 = 6;

/// A value of `schema` (a JSON Schema object of `world`'s document).
pub fn value(world: &World, schema: &Value, u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    named(world, schema, u, depth, "")
}

/// The values a property called `name` usually needs to be right: the
/// fixture's users, passwords, clients, domain and live tokens.
fn hint(world: &World, name: &str, u: &mut Unstructured<'_>) -> Result<Option<String>> {
    let pick = |u: &mut Unstructured<'_>, options: &[&str]| -> Result<Option<String>> {
        Ok(Some((*u.choose(options)?).to_owned()))
    };
    match name {
        "client_id" => pick(u, &[PUBLIC_CLIENT, CONFIDENTIAL_CLIENT]),
        "client_secret" => pick(u, &[CLIENT_SECRET, ""]),
        "user" | "username" | "name" => pick(u, &[USER, "admin"]),
        "password" | "current_password" => pick(u, &[USER_PASSWORD, ADMIN_PASSWORD]),
        "domain" | "realm" => pick(u, &[DEFAULT_DOMAIN, ""]),
        "token" | "refresh_token" | "access_token" => Ok(Some(TokenKind::arbitrary(u)?.render(world))),
        _ => Ok(None),
    }
}

fn named(world: &World, schema: &Value, u: &mut Unstructured<'_>, depth: u32, name: &str) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Ok(Value::Null);
    }
    // One value in sixteen is anything at all (never once the input is
    // used up: `Unstructured` then answers zeros, and a body of nulls
    // tests nothing).
    if one_in(u, 16)? {
        return Ok(Json::arbitrary(u)?.render(world));
    }
    let schema = resolve(&world.document, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            if !options.is_empty() {
                let i = u.choose_index(options.len())?;
                return named(world, &options[i], u, depth + 1, name);
            }
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.is_empty() && u.ratio(7u8, 8u8)? {
            return Ok(values[u.choose_index(values.len())?].clone());
        }
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(types)) if !types.is_empty() => types[u.choose_index(types.len())?]
            .as_str()
            .unwrap_or("null")
            .to_owned(),
        _ if schema.get("properties").is_some() => "object".to_owned(),
        _ => "string".to_owned(),
    };
    Ok(match ty.as_str() {
        "object" => {
            let mut map = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, sub) in props {
                    let keep = if required.contains(&name.as_str()) {
                        u.ratio(15u8, 16u8)?
                    } else {
                        u.arbitrary::<bool>()?
                    };
                    if keep {
                        map.insert(name.clone(), named(world, sub, u, depth + 1, name)?);
                    }
                }
            }
            if one_in(u, 8)? {
                let key = crate::request::Text::arbitrary(u)?.render(world);
                map.insert(key, Json::arbitrary(u)?.render(world));
            }
            Value::Object(map)
        }
        "array" => {
            let items = schema.get("items").cloned().unwrap_or(Value::Null);
            let n = u.int_in_range(0..=3)?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push(value(world, &items, u, depth + 1)?);
            }
            Value::Array(out)
        }
        "integer" => {
            if u.arbitrary()? {
                Value::from(u.int_in_range(-2i64..=1100)?)
            } else {
                Value::from(u.arbitrary::<i64>()?)
            }
        }
        "number" => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        "boolean" => Value::Bool(u.arbitrary()?),
        "null" => Value::Null,
        _ => {
            let hinted = if u.ratio(3u8, 4u8)? {
                hint(world, name, u)?
            } else {
                None
            };
            match hinted {
                Some(h) => Value::String(h),
                None => Value::String(crate::request::Text::arbitrary(u)?.render(world)),
            }
        }
    })
}

/// True once in `n`, never when the input is used up.
fn one_in(u: &mut Unstructured<'_>, n: u8) -> Result<bool> {
    Ok(!u.is_empty() && u.int_in_range(1..=n)? == n)
}

/// Follows `$ref`s into `components.schemas`.
fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..8 {
        let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        else {
            break;
        };
        match doc.pointer(&format!("/components/schemas/{name}")) {
            Some(s) => schema = s,
            None => break,
        }
    }
    schema
}

/// A generated object as an urlencoded form (arrays repeat the key,
/// `null` leaves the parameter out).
pub fn form(value: &Value) -> Vec<u8> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Array(items) => {
                        pairs.extend(items.iter().filter_map(|i| Some((k.clone(), scalar(i)?))))
                    }
                    v => pairs.extend(scalar(v).map(|s| (k.clone(), s))),
                }
            }
        }
        other => return scalar(other).unwrap_or_default().into_bytes(),
    }
    serde_urlencoded::to_string(&pairs)
        .unwrap_or_default()
        .into_bytes()
}
