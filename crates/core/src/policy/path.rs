//! The one form of a request path that the gateway rules, forward auth and
//! the emergency allow-list judge and that the gateway sends upstream
//! (SPEC §4): what a servlet container (the seeds' APIs are Java) would
//! serve, or a refusal. Each form and why it is normalized or refused is
//! in docs/decisions.md, "One canonical request path".
//!
//! Normalized, as Tomcat's `CoyoteAdapter` does: `;parameters` dropped from
//! every segment (so `..;` is `..`), percent-escapes decoded once, empty
//! segments merged, `.` and `..` resolved. Refused: whatever servers read
//! differently or only an attack needs: encoded `/`, `\` or `;`, a raw
//! `\`, an encoded dot in a dot segment, an escape left after decoding
//! (`%252e`), control characters, malformed escapes or UTF-8, and `..`
//! above the root.

use std::borrow::Cow;
use std::fmt;

/// A request path in canonical form. The rules match [`as_str`]; the
/// gateway sends [`encoded`], which decodes (once) to exactly that. Built
/// only by [`CanonicalPath::parse`], so nothing can judge a raw path.
///
/// Invariants: starts with `/`; no empty, `.` or `..` segment (only a
/// trailing `/` may follow the last segment); no segment holds `/`, `\`,
/// `;`, a control character or a percent escape.
///
/// [`as_str`]: CanonicalPath::as_str
/// [`encoded`]: CanonicalPath::encoded
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath<'a> {
    decoded: Cow<'a, str>,
    encoded: Cow<'a, str>,
}

/// Why a path has no canonical form. Its text names the path (debug
/// formatted, so control characters show escaped) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRefused {
    path: String,
    why: &'static str,
}

impl PathRefused {
    /// The reason alone, without the path.
    pub fn reason(&self) -> &'static str {
        self.why
    }
}

impl fmt::Display for PathRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the path {:?} is refused: {}", self.path, self.why)
    }
}

impl std::error::Error for PathRefused {}

impl fmt::Display for CanonicalPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.decoded)
    }
}

/// Bytes a path segment may carry unescaped in the canonical encoded form:
/// RFC 3986 `pchar` (unreserved, sub-delims, `:` and `@`) without `;`,
/// which servlet containers read as the start of parameters.
const KEEP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = matches!(
            i as u8,
            b'a'..=b'z'
                | b'A'..=b'Z'
                | b'0'..=b'9'
                | b'-'
                | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'='
                | b':'
                | b'@'
        );
        i += 1;
    }
    t
};

impl<'a> CanonicalPath<'a> {
    /// The canonical form of `raw`, the path of a request target as sent
    /// (percent-encoded, no query). A path already canonical, the usual
    /// case, is borrowed: one scan, no allocation.
    pub fn parse(raw: &'a str) -> Result<CanonicalPath<'a>, PathRefused> {
        if is_canonical(raw.as_bytes()) {
            return Ok(CanonicalPath {
                decoded: Cow::Borrowed(raw),
                encoded: Cow::Borrowed(raw),
            });
        }
        let decoded = normalize(raw).map_err(|why| PathRefused {
            path: raw.to_owned(),
            why,
        })?;
        let encoded = if decoded.bytes().all(|b| b == b'/' || KEEP[usize::from(b)]) {
            decoded.clone()
        } else {
            encode(&decoded)
        };
        Ok(CanonicalPath {
            decoded: Cow::Owned(decoded),
            encoded: Cow::Owned(encoded),
        })
    }

    /// The decoded path the rules match.
    pub fn as_str(&self) -> &str {
        &self.decoded
    }

    /// The same path percent-encoded for the upstream's request line.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// The non-empty segments, decoded.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.decoded.split('/').filter(|s| !s.is_empty())
    }

    /// Whether the path needed no change at all (it was borrowed).
    pub fn is_unchanged(&self) -> bool {
        matches!(self.encoded, Cow::Borrowed(_))
    }
}

/// Whether `raw` is its own canonical form: only `KEEP` bytes and `/`, a
/// leading `/`, and no empty (but the last), `.` or `..` segment.
fn is_canonical(raw: &[u8]) -> bool {
    let Some((b'/', rest)) = raw.split_first() else {
        return false;
    };
    let mut segment = 0usize;
    let mut dots = 0usize;
    for &b in rest {
        if b == b'/' {
            if segment == 0 || segment == dots && dots <= 2 {
                return false;
            }
            segment = 0;
            dots = 0;
        } else if KEEP[usize::from(b)] {
            segment += 1;
            dots += usize::from(b == b'.');
        } else {
            return false;
        }
    }
    // The last segment may be empty (a trailing `/`), not a dot segment.
    !(segment > 0 && segment == dots && dots <= 2)
}

/// The decoded canonical path, or why there is none.
fn normalize(raw: &str) -> Result<String, &'static str> {
    let Some(rest) = raw.strip_prefix('/') else {
        return Err("it must start with /");
    };
    let mut out = String::with_capacity(raw.len());
    // Where each kept segment (its leading `/`) starts in `out`, for `..`.
    let mut starts: Vec<usize> = Vec::new();
    let mut segment: Vec<u8> = Vec::new();
    let mut trailing_slash = false;
    let mut parts = rest.split('/').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        // Servlet semantics: a segment's parameters go, before decoding.
        let part = part.split(';').next().unwrap_or("");
        let encoded_dot = decode_segment(part, &mut segment)?;
        if segment
            .windows(3)
            .any(|w| w[0] == b'%' && is_hex(w[1]) && is_hex(w[2]))
        {
            return Err("it is percent-encoded twice (an escape is left after decoding)");
        }
        let segment = std::str::from_utf8(&segment).map_err(|_| "it is not UTF-8 once decoded")?;
        if segment.chars().any(char::is_control) {
            return Err("it has a control character");
        }
        match segment {
            "." | ".." if encoded_dot => return Err("it has a dot segment written with %2e"),
            "" | "." => {}
            ".." => match starts.pop() {
                Some(start) => out.truncate(start),
                None => return Err("its .. segments climb above the root"),
            },
            name => {
                starts.push(out.len());
                out.push('/');
                out.push_str(name);
                trailing_slash = false;
                continue;
            }
        }
        // An empty or dot segment at the end leaves the path ending in `/`.
        trailing_slash = last;
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    Ok(out)
}

/// Decodes one segment (parameters already gone) into `out`; whether any
/// `.` in it was percent-encoded.
fn decode_segment(part: &str, out: &mut Vec<u8>) -> Result<bool, &'static str> {
    out.clear();
    let mut encoded_dot = false;
    let bytes = part.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = match bytes[i] {
            b'%' => {
                let (Some(&hi), Some(&lo)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
                    return Err("it has a malformed percent escape");
                };
                let (Some(hi), Some(lo)) = (hex_value(hi), hex_value(lo)) else {
                    return Err("it has a malformed percent escape");
                };
                i += 2;
                match hi << 4 | lo {
                    b'/' | b'\\' => return Err("it has an encoded slash or backslash"),
                    b';' => return Err("it has an encoded ;"),
                    b'.' => {
                        encoded_dot = true;
                        b'.'
                    }
                    other => other,
                }
            }
            b'\\' => return Err("it has a backslash"),
            other => other,
        };
        if b < 0x20 || b == 0x7f {
            return Err("it has a control character");
        }
        out.push(b);
        i += 1;
    }
    Ok(encoded_dot)
}

/// Percent-encodes every byte of a decoded path but `/` and `KEEP`.
fn encode(decoded: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(decoded.len() + 16);
    for b in decoded.bytes() {
        if b == b'/' || KEEP[usize::from(b)] {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form, and what becomes of it: `Ok((judged, sent upstream))`
    /// or `Err(part of the reason)`.
    #[allow(clippy::type_complexity)]
    const FORMS: &[(&str, Result<(&str, &str), &str>)] = &[
        // Already canonical: unchanged.
        ("/", Ok(("/", "/"))),
        ("/api/hosts", Ok(("/api/hosts", "/api/hosts"))),
        ("/api/hosts/", Ok(("/api/hosts/", "/api/hosts/"))),
        ("/a/.../b", Ok(("/a/.../b", "/a/.../b"))),
        ("/a/.x/..y", Ok(("/a/.x/..y", "/a/.x/..y"))),
        (
            "/a:b@c!$&'()*+,=-_~",
            Ok(("/a:b@c!$&'()*+,=-_~", "/a:b@c!$&'()*+,=-_~")),
        ),
        // Percent-escapes: decoded once; re-encoded only where needed.
        ("/api/hosts%20x", Ok(("/api/hosts x", "/api/hosts%20x"))),
        ("/api/%68osts", Ok(("/api/hosts", "/api/hosts"))),
        ("/a%2eb", Ok(("/a.b", "/a.b"))),
        ("/caf%C3%A9", Ok(("/café", "/caf%C3%A9"))),
        ("/café", Ok(("/café", "/caf%C3%A9"))),
        ("/a{b}|c", Ok(("/a{b}|c", "/a%7Bb%7D%7Cc"))),
        ("/q%3Fx%23y", Ok(("/q?x#y", "/q%3Fx%23y"))),
        ("/100%25", Ok(("/100%", "/100%25"))),
        ("/100%25done", Ok(("/100%done", "/100%25done"))),
        // `;` parameters: dropped from every segment, as a servlet does.
        (
            "/api/admin;x=1/secret",
            Ok(("/api/admin/secret", "/api/admin/secret")),
        ),
        ("/api/a;x=1/b", Ok(("/api/a/b", "/api/a/b"))),
        ("/a;jsessionid=1", Ok(("/a", "/a"))),
        ("/a/;x/b", Ok(("/a/b", "/a/b"))),
        ("/a/;x", Ok(("/a/", "/a/"))),
        ("/a;x=%2F/b", Ok(("/a/b", "/a/b"))),
        ("/;", Ok(("/", "/"))),
        // Empty segments merged.
        ("/api//hosts/", Ok(("/api/hosts/", "/api/hosts/"))),
        ("//evil.example/x", Ok(("/evil.example/x", "/evil.example/x"))),
        ("/a///", Ok(("/a/", "/a/"))),
        // Dot segments resolved, `..;` included; never above the root.
        ("/public/../api/things", Ok(("/api/things", "/api/things"))),
        ("/public/..;/api/admin/x", Ok(("/api/admin/x", "/api/admin/x"))),
        ("/public/.;x/y", Ok(("/public/y", "/public/y"))),
        ("/public/./x", Ok(("/public/x", "/public/x"))),
        ("/a/b/..", Ok(("/a/", "/a/"))),
        ("/a/.", Ok(("/a/", "/a/"))),
        ("/a/..", Ok(("/", "/"))),
        ("/a//../b", Ok(("/b", "/b"))),
        ("/..", Err("above the root")),
        ("/a/../..", Err("above the root")),
        ("/..;/x", Err("above the root")),
        // Encoded dots making a dot segment: refused.
        ("/public/%2e%2e/api/things", Err("%2e")),
        ("/public/%2E%2E/api", Err("%2e")),
        ("/public/.%2e/api", Err("%2e")),
        ("/public/%2e/api", Err("%2e")),
        ("/public/%2e%2e;x/api", Err("%2e")),
        // Encoded separators, `;` and raw backslashes: refused.
        ("/public/x%2F..%2F..%2Fapi", Err("encoded slash")),
        ("/public/x%2f", Err("encoded slash")),
        ("/public/x%5c..", Err("encoded slash or backslash")),
        ("/public/x%5C", Err("encoded slash or backslash")),
        ("/a\\b", Err("backslash")),
        ("/public\\..\\api", Err("backslash")),
        ("/api/admin%3Bx=1/secret", Err("encoded ;")),
        ("/api/admin%3b/secret", Err("encoded ;")),
        // Double encoding: refused.
        ("/public/%252e%252e/api", Err("twice")),
        ("/public/%252E./api", Err("twice")),
        ("/public/x%252fy", Err("twice")),
        ("/public/x%255cy", Err("twice")),
        ("/a%2500", Err("twice")),
        ("/a%25%32%65", Err("twice")),
        // NUL and control characters, raw or encoded: refused.
        ("/a%00b", Err("control")),
        ("/a%0d%0aX-Injected:1", Err("control")),
        ("/a%1f", Err("control")),
        ("/a%7F", Err("control")),
        ("/a%C2%85", Err("control")),
        ("/a\u{1}b", Err("control")),
        ("/a\tb", Err("control")),
        // Malformed: refused.
        ("/a%zz", Err("malformed")),
        ("/a%2", Err("malformed")),
        ("/a%", Err("malformed")),
        ("/a%u002e", Err("malformed")),
        ("/a%C0%AE", Err("UTF-8")),
        ("/a%FF", Err("UTF-8")),
        ("relative", Err("start with /")),
        ("", Err("start with /")),
        ("*", Err("start with /")),
    ];

    #[test]
    fn every_form_is_normalized_as_a_servlet_would_or_refused() {
        for (raw, expected) in FORMS {
            match (CanonicalPath::parse(raw), expected) {
                (Ok(path), Ok((judged, sent))) => {
                    assert_eq!((path.as_str(), path.encoded()), (*judged, *sent), "{raw:?}");
                }
                (Err(refused), Err(why)) => {
                    let text = refused.to_string();
                    assert!(
                        text.contains(why) && text.contains("is refused"),
                        "{raw:?}: {text}"
                    );
                }
                (got, _) => panic!("{raw:?}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn a_canonical_path_is_borrowed_and_anything_else_is_not() {
        for raw in ["/", "/api/hosts/42/disks", "/a/", "/a/...", "/a:b@c"] {
            assert!(CanonicalPath::parse(raw).unwrap().is_unchanged(), "{raw}");
        }
        for raw in ["/a;x", "/a//b", "/a/./b", "/a%20b", "/a{b}", "/café", "/a/.."] {
            assert!(!CanonicalPath::parse(raw).unwrap().is_unchanged(), "{raw}");
        }
    }

    #[test]
    fn segments_are_the_decoded_non_empty_ones() {
        let path = CanonicalPath::parse("/api/a%20b;x/c/").unwrap();
        assert_eq!(path.segments().collect::<Vec<_>>(), ["api", "a b", "c"]);
    }

    /// `/` and every string of up to six characters after it, over an
    /// alphabet of the troublesome ones: the fast path agrees with the slow one, the
    /// canonical form is its own canonical form, and it keeps the
    /// invariants the rules rely on.
    #[test]
    fn canonical_forms_are_fixed_points_and_the_fast_path_agrees() {
        const ALPHABET: [char; 10] = ['/', '.', 'a', ';', '%', '2', 'e', 'f', '5', 'c'];
        let mut raw = String::new();
        for len in 0..=6u32 {
            for n in 0..ALPHABET.len().pow(len) {
                raw.clear();
                raw.push('/');
                let mut n = n;
                for _ in 0..len {
                    raw.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                check(&raw);
            }
        }
    }

    fn check(raw: &str) {
        let fast = is_canonical(raw.as_bytes());
        if fast {
            assert_eq!(
                normalize(raw).as_deref(),
                Ok(raw),
                "fast path disagrees on {raw:?}"
            );
        }
        let Ok(path) = CanonicalPath::parse(raw) else {
            return;
        };
        let again = CanonicalPath::parse(path.encoded()).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        assert_eq!(again.as_str(), path.as_str(), "{raw:?}");
        assert_eq!(again.encoded(), path.encoded(), "{raw:?}");
        assert_eq!(again.is_unchanged(), !path.encoded().contains('%'), "{raw:?}");
        let decoded = path.as_str();
        assert!(
            decoded.starts_with('/') && !decoded.contains("//"),
            "{raw:?} → {decoded:?}"
        );
        assert!(
            decoded
                .split('/')
                .all(|s| s != "." && s != ".." && !s.contains(';')),
            "{raw:?} → {decoded:?}"
        );
    }
}
