//! Every type and key problem of the configuration at once, in plain
//! words. serde stops at the first value it cannot take; here each one it
//! refuses is recorded (key, value, what is allowed, where it came from)
//! and set back to its default, and the tree is read again, until it reads
//! cleanly. The checks on values then run on that tree and join the same
//! report.

use figment::error::{Actual, Kind};
use figment::providers::Serialized;
use figment::value::{Dict, Value};
use figment::Figment;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeSet;

/// More problems than this in one file is a file of another program.
const MAX_PROBLEMS: usize = 100;

/// `T` read from `fig`, and every problem found on the way. `None` when a
/// problem could not be set aside (the tree could not be read at all).
pub fn extract<T: DeserializeOwned + Serialize + Default>(fig: &Figment) -> (Option<T>, Vec<String>) {
    let mut problems = Vec::new();
    let defaults = match Figment::from(Serialized::defaults(T::default())).extract::<Dict>() {
        Ok(d) => d,
        Err(e) => return (None, vec![e.to_string()]),
    };
    let mut data = match fig.extract::<Dict>() {
        Ok(d) => d,
        Err(e) => return (None, e.into_iter().map(|e| source_error(&e)).collect()),
    };
    let durations = duration_keys(&defaults);
    while problems.len() < MAX_PROBLEMS {
        let errors = match Figment::from(Serialized::defaults(&data)).extract::<T>() {
            Ok(value) => return (Some(value), problems),
            Err(e) => e,
        };
        for e in errors {
            let mut path = e.path.clone();
            if let Kind::UnknownField(field, _) = &e.kind {
                if path.last() != Some(field) {
                    path.push(field.clone());
                }
            }
            let value = lookup(&data, &path).cloned();
            let origin = origin(fig, &path);
            problems.push(describe(&path, &e.kind, value.as_ref(), &durations, &origin));
            if !set_aside(
                &mut data,
                &defaults,
                &path,
                matches!(e.kind, Kind::UnknownField(..)),
            ) {
                return (None, problems);
            }
        }
    }
    (None, problems)
}

/// A file that could not be read or parsed: its words, naming the file.
fn source_error(e: &figment::Error) -> String {
    let file = e
        .metadata
        .as_ref()
        .and_then(|m| m.source.as_ref())
        .map(|s| s.to_string());
    match (&e.kind, file) {
        (Kind::Message(m), Some(file)) => format!("{file} is not valid TOML: {}", m.trim()),
        (kind, Some(file)) => format!("{file}: {kind}"),
        (kind, None) => kind.to_string(),
    }
}

/// Where the value at `path` came from, as ` (from TESSERA_X__Y)` for the
/// environment; nothing for the file (the report's header names it).
fn origin(fig: &Figment, path: &[String]) -> String {
    let Some(meta) = fig.find_metadata(&path.join(".")) else {
        return String::new();
    };
    if meta.name.contains("environment") {
        let var = if path.len() == 1 && path[0] == "data_dir" {
            "TESSERA_DATA_DIR".to_owned()
        } else {
            format!("TESSERA_{}", path.join("__").to_uppercase())
        };
        return format!(" (from {var})");
    }
    String::new()
}

/// One problem in plain words: the key, what it must be, what it is.
fn describe(
    path: &[String],
    kind: &Kind,
    value: Option<&Value>,
    durations: &BTreeSet<String>,
    origin: &str,
) -> String {
    let key = path.join(".");
    let leaf = path.last().map(String::as_str).unwrap_or("");
    let got = value.map(shown).unwrap_or_default();
    let listen = leaf == "listen";
    let duration = durations.contains(leaf);
    match kind {
        Kind::UnknownField(field, allowed) => {
            let parent = &path[..path.len().saturating_sub(1)];
            let is_table = matches!(value, Some(Value::Dict(..)));
            let mut text = if parent.is_empty() && is_table {
                format!("unknown section [{field}]")
            } else {
                format!("unknown key {key}")
            };
            if let Some(near) = nearest(field, allowed) {
                text.push_str(&format!(" (did you mean {near}?)"));
            }
            let table = if parent.is_empty() {
                "the file".to_owned()
            } else {
                format!("[{}]", parent.join("."))
            };
            format!("{text}{origin}: {table} takes {}", allowed.join(", "))
        }
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            let got = if got.is_empty() { actual_shown(actual) } else { got };
            format!(
                "{key} must be {}, got {got}{origin}",
                allowed(expected, listen, duration)
            )
        }
        Kind::Message(_) if listen => {
            format!("{key} must be {}, got {got}{origin}", allowed("", true, false))
        }
        Kind::Message(m) => format!("{key}: {m}{origin}"),
        Kind::UnknownVariant(v, choices) => {
            let choices: Vec<String> = choices.iter().map(|c| format!("{c:?}")).collect();
            format!("{key} must be one of {}, got {v:?}{origin}", choices.join(", "))
        }
        Kind::MissingField(field) => format!("{key}: the key {field} is missing{origin}"),
        other => format!("{key}: {other}{origin}"),
    }
}

/// What a key takes, from serde's `expected` and what is known of the key.
fn allowed(expected: &str, listen: bool, duration: bool) -> String {
    if listen || expected.contains("socket address") {
        return "a \"host:port\" string such as \"127.0.0.1:8443\"".into();
    }
    if duration {
        return "a duration string such as \"30s\", \"10m\" or \"24h\"".into();
    }
    match expected {
        "u8" => "a whole number from 0 to 255".into(),
        "u16" => "a whole number from 0 to 65535".into(),
        "u32" => format!("a whole number from 0 to {}", u32::MAX),
        "u64" | "usize" | "u128" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" | "i128" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a string" | "a borrowed string" => "a string".into(),
        "path string" => "a file or directory path (a string)".into(),
        "a sequence" => "a list".into(),
        e if e.starts_with("a map") || e.starts_with("struct ") => "a table".into(),
        other => other.to_owned(),
    }
}

/// A value as it would be written in TOML.
fn shown(v: &Value) -> String {
    match v {
        Value::String(_, s) => format!("{s:?}"),
        Value::Char(_, c) => format!("{:?}", c.to_string()),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(..) => match (v.to_i128(), v.to_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => f.to_string(),
            (None, None) => "a number".into(),
        },
        Value::Empty(..) => "nothing".into(),
        Value::Dict(..) => "a table".into(),
        Value::Array(..) => "a list".into(),
    }
}

fn actual_shown(a: &Actual) -> String {
    match a {
        Actual::Bool(b) => b.to_string(),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Float(f) => f.to_string(),
        Actual::Str(s) => format!("{s:?}"),
        Actual::Seq => "a list".into(),
        Actual::Map => "a table".into(),
        other => other.to_string(),
    }
}

/// The allowed name closest to `typo`, when it is close (at most two
/// edits, or one for short names).
fn nearest<'a>(typo: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let limit = if typo.len() <= 4 { 1 } else { 2 };
    allowed
        .iter()
        .map(|a| (edits(typo, a), *a))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, a)| a)
}

/// Levenshtein distance.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The names of keys whose defaults are durations (`30s`, `none`).
fn duration_keys(defaults: &Dict) -> BTreeSet<String> {
    fn walk(dict: &Dict, out: &mut BTreeSet<String>) {
        for (k, v) in dict {
            match v {
                Value::Dict(_, d) => walk(d, out),
                Value::String(_, s)
                    if s == "none"
                        || (s.ends_with('s') || s.ends_with('m') || s.ends_with('h'))
                            && tessera_model::duration::parse(s).is_ok() =>
                {
                    out.insert(k.clone());
                }
                _ => {}
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(defaults, &mut out);
    out
}

fn lookup<'a>(dict: &'a Dict, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let v = dict.get(first)?;
    if rest.is_empty() {
        return Some(v);
    }
    match v {
        Value::Dict(_, d) => lookup(d, rest),
        _ => None,
    }
}

fn lookup_mut<'a>(dict: &'a mut Dict, path: &[String]) -> Option<&'a mut Dict> {
    let Some((first, rest)) = path.split_first() else {
        return Some(dict);
    };
    match dict.get_mut(first)? {
        Value::Dict(_, d) => lookup_mut(d, rest),
        _ => None,
    }
}

/// Puts the value at `path` (or, when it is not there, its nearest
/// ancestor) back to its default, or removes it (an unknown key, or one
/// with no default of its own, as a policy's key). `false` when nothing
/// could be changed.
fn set_aside(data: &mut Dict, defaults: &Dict, path: &[String], unknown: bool) -> bool {
    for len in (1..=path.len()).rev() {
        let (parent, leaf) = (&path[..len - 1], &path[len - 1]);
        let default = if unknown {
            None
        } else {
            lookup(defaults, &path[..len]).cloned()
        };
        let Some(table) = lookup_mut(data, parent) else {
            continue;
        };
        if !table.contains_key(leaf) {
            continue;
        }
        match default {
            Some(d) => {
                table.insert(leaf.clone(), d);
            }
            None => {
                table.remove(leaf);
            }
        }
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested() {
        assert_eq!(nearest("listn", &["listen", "tls"]), Some("listen"));
        assert_eq!(nearest("colour", &["listen", "tls"]), None);
        assert_eq!(edits("kitten", "sitting"), 3);
    }
}
