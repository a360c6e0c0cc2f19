//! Durations as people write them in `tessera.toml`: `30s`, `10m`, `24h`,
//! `1h 30m`; and `none` where a limit may be absent.

use serde::{de, Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// Parses `30s`, `10m`, `24h`, `1h 30m`, `500ms`.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration: write it like 30s, 10m or 24h".into());
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("bad duration {s:?} ({e}): write it like 30s, 10m or 24h"))
}

/// Writes a duration in the largest unit that divides it: `24h`, `90s`.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// serde for a required `Duration`.
pub mod required {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(de::Error::custom)
    }
}

/// serde for an optional limit: `none` (or `0s`) means no limit.
pub mod optional {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format(*d)),
            None => s.serialize_str("none"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        let d = parse(&s).map_err(de::Error::custom)?;
        Ok((!d.is_zero()).then_some(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_forms_the_spec_uses() {
        for (text, secs) in [("30s", 30), ("10m", 600), ("24h", 86_400), ("1h 30m", 5_400)] {
            assert_eq!(parse(text).unwrap(), Duration::from_secs(secs), "{text}");
        }
        assert_eq!(format(Duration::from_secs(86_400)), "24h");
        assert_eq!(format(Duration::from_secs(5_400)), "90m");
        assert_eq!(format(Duration::from_secs(86_399)), "86399s");
        assert_eq!(format(Duration::from_millis(1_500)), "1500ms");
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        let err = parse("ten minutes").unwrap_err();
        assert!(err.contains("30s, 10m or 24h"), "{err}");
        assert!(parse("").is_err());
    }
}
