//! Request paths (`tessera_core::policy::CanonicalPath`, the one form the
//! gateway rules, `/v1/authz`, the emergency allow-list and the upstream
//! request use) and the rules that judge them (`Policy::decide`).
//!
//! Beyond "no panic", what Tessera judges must be what the upstream
//! serves. The reference upstream is a servlet container (the seeds' APIs
//! are Java): it drops `;` parameters from each segment, percent-decodes
//! once, merges empty segments and resolves dot segments (RFC 3986
//! §5.2.4). For every path Tessera accepts:
//! - the decoded form keeps the type's invariants (leading `/`, no empty,
//!   `.` or `..` segment but a trailing `/`, no `\`, `;`, control
//!   character or escape left in a segment);
//! - the encoded form (what the gateway forwards) decodes once to exactly
//!   the decoded form, and is its own canonical form;
//! - the servlet reads the same path, whenever it reads one at all.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tessera_core::policy::CanonicalPath;
use tessera_core::Identity;
use tessera_fuzz::world::{self, Minted};

/// Pieces paths are made of: the rules' own words and every trick of the
/// issue (`..;`, `;x=1`, encoded dots and separators, double encoding).
const PIECES: [&str; 32] = [
    "api",
    "admin",
    "public",
    "hosts",
    "1",
    "x",
    "secret",
    "backups",
    "restore",
    "v1",
    "authz",
    ".",
    "..",
    "..;",
    ";",
    ";x=1",
    "%2e",
    "%2E%2e",
    "%2f",
    "%2F",
    "%5c",
    "%3b",
    "%25",
    "%252e",
    "%00",
    "%",
    "\\",
    "//",
    "%c0%ae",
    "%ef%bc%8f",
    "~",
    "+",
];

#[derive(Arbitrary, Debug)]
enum Piece {
    Known(u8),
    Any(String),
}

#[derive(Arbitrary, Debug)]
enum Path {
    /// `/`-separated pieces.
    Segments(Vec<Vec<Piece>>, bool),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Case {
    method: u8,
    path: Path,
    query: Option<String>,
    /// 0: anonymous, 1: a user with `_member_` (scope `read write`), 2: the admin.
    who: u8,
}

const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"];

/// The fuzz user and the admin, as validated identities.
fn callers() -> &'static [Identity] {
    static CALLERS: OnceLock<Vec<Identity>> = OnceLock::new();
    CALLERS.get_or_init(|| {
        let w = world::world();
        let mut out = Vec::new();
        for t in [w.mint(Minted::Opaque), w.mint_admin()].into_iter().flatten() {
            if let Ok(who) = w.rt.block_on(w.core.check(&t, false)) {
                out.push(who);
            }
        }
        assert_eq!(out.len(), 2, "the fuzz callers could not log in");
        out
    })
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The path a servlet container serves for `raw`, or `None` when it would
/// refuse it (or read it in a way this reference does not model).
fn servlet_view(raw: &str) -> Option<String> {
    let rest = raw.strip_prefix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    let mut out: Vec<String> = Vec::new();
    let mut trailing = false;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let part = part.split(';').next().unwrap_or("");
        let decoded = String::from_utf8(percent_decode(part)?).ok()?;
        if decoded.contains(['/', '\\', ';']) || decoded.chars().any(char::is_control) {
            return None;
        }
        match decoded.as_str() {
            "" | "." => trailing = last,
            ".." => {
                out.pop()?;
                trailing = last;
            }
            _ => {
                out.push(decoded);
                trailing = false;
            }
        }
    }
    let mut path = format!("/{}", out.join("/"));
    if trailing && path != "/" {
        path.push('/');
    }
    Some(path)
}

fuzz_target!(|case: Case| {
    let raw = match &case.path {
        Path::Raw(s) => s.clone(),
        Path::Segments(segs, trailing) => {
            let mut s = String::new();
            for seg in segs {
                s.push('/');
                for piece in seg {
                    match piece {
                        Piece::Known(i) => s.push_str(PIECES[usize::from(*i) % PIECES.len()]),
                        Piece::Any(a) => s.push_str(a),
                    }
                }
            }
            if *trailing || s.is_empty() {
                s.push('/');
            }
            s
        }
    };
    let Ok(path) = CanonicalPath::parse(&raw) else {
        return;
    };
    let judged = path.as_str();

    // The type's invariants.
    assert!(judged.starts_with('/'), "{raw:?} → {judged:?}");
    let segs: Vec<&str> = judged[1..].split('/').collect();
    for (i, s) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        assert!(
            !(s.is_empty() && !last && judged != "/"),
            "{raw:?} → {judged:?}: an empty segment"
        );
        assert!(*s != "." && *s != "..", "{raw:?} → {judged:?}: a dot segment");
        assert!(!s.contains(['\\', ';']), "{raw:?} → {judged:?}: \\ or ;");
        assert!(
            !s.chars().any(char::is_control),
            "{raw:?} → {judged:?}: a control character"
        );
        let escape = |w: &[u8]| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit();
        assert!(
            !s.as_bytes().windows(3).any(escape),
            "{raw:?} → {judged:?}: an escape is left"
        );
    }
    assert_eq!(
        path.segments().collect::<Vec<_>>(),
        segs.iter().copied().filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        "{raw:?}"
    );

    // What the gateway forwards means exactly what was judged.
    let encoded = path.encoded();
    let once =
        percent_decode(encoded).unwrap_or_else(|| panic!("{raw:?}: the forwarded {encoded:?} is malformed"));
    assert_eq!(
        once,
        judged.as_bytes(),
        "{raw:?}: the forwarded {encoded:?} decodes to another path"
    );
    let again = CanonicalPath::parse(encoded)
        .unwrap_or_else(|e| panic!("{raw:?}: the forwarded {encoded:?} is refused: {e}"));
    assert_eq!(
        again.as_str(),
        judged,
        "{raw:?}: the forwarded {encoded:?} is judged differently"
    );

    // The servlet reads the same path.
    if let Some(served) = servlet_view(&raw) {
        assert_eq!(
            served, judged,
            "{raw:?} is judged as {judged:?} but a servlet serves {served:?}"
        );
    }

    // And the rules decide it, for each caller.
    let w = world::world();
    let method = METHODS[usize::from(case.method) % METHODS.len()];
    let who = match case.who % 3 {
        0 => None,
        n => callers().get(usize::from(n) - 1),
    };
    let _ = w.core.rules().decide(method, &path, case.query.as_deref(), who);
});
