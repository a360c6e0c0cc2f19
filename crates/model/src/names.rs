//! One identity per visible name (SPEC §5). User, domain, role and client
//! names are prepared and compared as RFC 8265 says for usernames:
//!
//! - a name is one or more *userparts* separated by single spaces
//!   (RFC 8265 §3.1), each made only of code points the PRECIS
//!   IdentifierClass allows (RFC 8264 §4.2): letters, digits, combining
//!   marks and ASCII punctuation. Invisible characters (U+200B ZERO WIDTH
//!   SPACE, joiners outside the scripts that need them, variation
//!   selectors, tags), control characters, bidirectional controls
//!   (U+202E RIGHT-TO-LEFT OVERRIDE and its kin), other spaces, symbols and
//!   compatibility forms are refused, with a message naming the code point;
//! - the name as stored and shown ([`CanonicalName::display`]) is the
//!   UsernameCasePreserved form: fullwidth and halfwidth forms mapped to
//!   their ordinary forms (`ＪＯＳＥ` is `JOSE`), then NFC (`jose` + U+0301
//!   is `josé`); letter case is kept;
//! - names are compared by [`CanonicalName::key`], the UsernameCaseMapped
//!   form of the display form: the same, lowercased with Unicode
//!   `toLowerCase` (RFC 8265 §3.3.2), then NFC again, and checked against
//!   the bidi rule of RFC 5893.
//!
//! The store keeps the key beside the name under a unique index and finds
//! names by it; the core refuses a name at creation and at login with the
//! message of [`NameError`]. Both use this module, so the two can never
//! disagree about what "the same name" means.

use precis_profiles::precis_core::profile::Profile;
use precis_profiles::precis_core::{CodepointInfo, Error as PrecisError, UnexpectedError};
use precis_profiles::{UsernameCaseMapped, UsernameCasePreserved};
use std::fmt;

/// What a name names; it only changes the wording of errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    User,
    Domain,
    Role,
    Client,
}

impl NameKind {
    /// `user name`, `domain name`, `role name`, `client id`.
    pub fn noun(self) -> &'static str {
        match self {
            NameKind::User => "user name",
            NameKind::Domain => "domain name",
            NameKind::Role => "role name",
            NameKind::Client => "client id",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            NameKind::User => "user names",
            NameKind::Domain => "domain names",
            NameKind::Role => "role names",
            NameKind::Client => "client ids",
        }
    }
}

/// A name refused by the profile, with a message fit for the person who
/// typed it (it names the offending code point).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    kind: NameKind,
    message: String,
}

impl NameError {
    pub fn kind(&self) -> NameKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NameError {}

/// A name in its two forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalName {
    /// As stored and shown: width-mapped, NFC, letter case kept.
    pub display: String,
    /// What names are compared by: `display` case-mapped (lowercase), NFC.
    /// Two names are the same name exactly when their keys are equal.
    pub key: String,
}

/// Both forms of `raw`, or why it cannot be a name.
///
/// Errors: [`NameError`] when `raw` is empty, starts or ends with a space,
/// has two spaces in a row, or holds a code point RFC 8265 refuses.
pub fn canonical(kind: NameKind, raw: &str) -> Result<CanonicalName, NameError> {
    if raw.is_empty() {
        return Err(NameError {
            kind,
            message: format!("{} must not be empty", kind.noun()),
        });
    }
    let mut display = String::with_capacity(raw.len());
    let mut key = String::with_capacity(raw.len());
    for (i, part) in raw.split(' ').enumerate() {
        if part.is_empty() {
            return Err(NameError {
                kind,
                message: format!(
                    "{} {raw:?} is refused: {} must not start or end with a space or have two spaces in a row",
                    kind.noun(),
                    kind.plural()
                ),
            });
        }
        let shown = UsernameCasePreserved::new()
            .enforce(part)
            .map_err(|e| explain(kind, raw, part, e))?;
        let mapped = UsernameCaseMapped::new()
            .enforce(shown.as_ref())
            .map_err(|e| explain(kind, raw, part, e))?;
        if i > 0 {
            display.push(' ');
            key.push(' ');
        }
        display.push_str(&shown);
        key.push_str(&mapped);
    }
    Ok(CanonicalName { display, key })
}

/// The key to look `raw` up by (a login, an admin command naming a user).
///
/// Errors: as [`canonical`]; a name that could never have been created is
/// refused with the same message rather than merely not found.
pub fn lookup_key(kind: NameKind, raw: &str) -> Result<String, NameError> {
    Ok(canonical(kind, raw)?.key)
}

/// Turns the profile's error into a sentence naming the code point.
fn explain(kind: NameKind, raw: &str, part: &str, e: PrecisError) -> NameError {
    let info: Option<&CodepointInfo> = match &e {
        PrecisError::BadCodepoint(info) => Some(info),
        PrecisError::Unexpected(UnexpectedError::ContextRuleNotApplicable(info))
        | PrecisError::Unexpected(UnexpectedError::MissingContextRule(info)) => Some(info),
        _ => None,
    };
    let message = match info {
        // Width mapping turns one code point into one, so the position in
        // the mapped string is the position in what was typed: name that
        // one (U+3000 IDEOGRAPHIC SPACE, not the space it maps to).
        Some(info) => {
            let c = part
                .chars()
                .nth(info.position)
                .or_else(|| char::from_u32(info.cp))
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            format!(
                "{} {raw:?} is refused: {} may not contain {}",
                kind.noun(),
                kind.plural(),
                describe(c)
            )
        }
        None if part.chars().any(is_right_to_left_letter) => format!(
            "{} {raw:?} is refused: it mixes right-to-left and left-to-right characters in a way RFC 8265 \
             refuses (the bidi rule of RFC 5893), which could make it display as another name",
            kind.noun()
        ),
        None => format!(
            "{} {raw:?} is refused: it is not a valid name under RFC 8265 ({e})",
            kind.noun()
        ),
    };
    NameError { kind, message }
}

/// Hebrew, Arabic and the other right-to-left blocks, for the wording of a
/// bidi-rule refusal only.
fn is_right_to_left_letter(c: char) -> bool {
    matches!(c as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF | 0x10800..=0x10FFF | 0x1E800..=0x1EFFF)
}

/// `U+200B (ZERO WIDTH SPACE), an invisible character ...`: the code point,
/// its name when it is one people trip over, and why it is refused.
fn describe(c: char) -> String {
    let cp = c as u32;
    let label = match char_name(cp) {
        Some(name) => format!("U+{cp:04X} ({name})"),
        None if c.is_control() || is_bidi_control(cp) || is_invisible(cp) || c.is_whitespace() => {
            format!("U+{cp:04X}")
        }
        None => format!("U+{cp:04X} ({c:?})"),
    };
    if c.is_control() {
        format!("{label}, a control character")
    } else if is_bidi_control(cp) {
        format!("{label}, a bidirectional control that can make a name display as another")
    } else if is_invisible(cp) {
        format!("{label}, an invisible character that would let two names look the same")
    } else if c.is_whitespace() {
        format!("{label}; separate words with one ordinary space (U+0020)")
    } else {
        format!("{label}; use letters, digits, combining marks and ASCII punctuation (RFC 8265)")
    }
}

/// RFC 5893 and UAX #9's explicit formatting characters.
fn is_bidi_control(cp: u32) -> bool {
    matches!(cp, 0x061C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069)
}

/// Default-ignorable and blank-looking code points that are not controls.
fn is_invisible(cp: u32) -> bool {
    matches!(
        cp,
        0x00AD
            | 0x034F
            | 0x115F
            | 0x1160
            | 0x17B4
            | 0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200D
            | 0x2060..=0x2064
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// Names of the code points most often behind look-alike names.
fn char_name(cp: u32) -> Option<&'static str> {
    Some(match cp {
        0x00A0 => "NO-BREAK SPACE",
        0x00AD => "SOFT HYPHEN",
        0x034F => "COMBINING GRAPHEME JOINER",
        0x061C => "ARABIC LETTER MARK",
        0x115F => "HANGUL CHOSEONG FILLER",
        0x1160 => "HANGUL JUNGSEONG FILLER",
        0x180E => "MONGOLIAN VOWEL SEPARATOR",
        0x2000 => "EN QUAD",
        0x2001 => "EM QUAD",
        0x2002 => "EN SPACE",
        0x2003 => "EM SPACE",
        0x2009 => "THIN SPACE",
        0x200A => "HAIR SPACE",
        0x200B => "ZERO WIDTH SPACE",
        0x200C => "ZERO WIDTH NON-JOINER",
        0x200D => "ZERO WIDTH JOINER",
        0x200E => "LEFT-TO-RIGHT MARK",
        0x200F => "RIGHT-TO-LEFT MARK",
        0x2028 => "LINE SEPARATOR",
        0x2029 => "PARAGRAPH SEPARATOR",
        0x202A => "LEFT-TO-RIGHT EMBEDDING",
        0x202B => "RIGHT-TO-LEFT EMBEDDING",
        0x202C => "POP DIRECTIONAL FORMATTING",
        0x202D => "LEFT-TO-RIGHT OVERRIDE",
        0x202E => "RIGHT-TO-LEFT OVERRIDE",
        0x202F => "NARROW NO-BREAK SPACE",
        0x205F => "MEDIUM MATHEMATICAL SPACE",
        0x2060 => "WORD JOINER",
        0x2061 => "FUNCTION APPLICATION",
        0x2062 => "INVISIBLE TIMES",
        0x2063 => "INVISIBLE SEPARATOR",
        0x2064 => "INVISIBLE PLUS",
        0x2066 => "LEFT-TO-RIGHT ISOLATE",
        0x2067 => "RIGHT-TO-LEFT ISOLATE",
        0x2068 => "FIRST STRONG ISOLATE",
        0x2069 => "POP DIRECTIONAL ISOLATE",
        0x3000 => "IDEOGRAPHIC SPACE",
        0x3164 => "HANGUL FILLER",
        0xFE0F => "VARIATION SELECTOR-16",
        0xFEFF => "ZERO WIDTH NO-BREAK SPACE",
        0xFFA0 => "HALFWIDTH HANGUL FILLER",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(raw: &str) -> String {
        lookup_key(NameKind::User, raw).unwrap()
    }

    fn refusal(kind: NameKind, raw: &str) -> String {
        canonical(kind, raw).unwrap_err().to_string()
    }

    #[test]
    fn composed_and_decomposed_forms_are_one_name() {
        let composed = canonical(NameKind::User, "Jos\u{e9}").unwrap();
        let decomposed = canonical(NameKind::User, "Jose\u{301}").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(composed.display, "Jos\u{e9}", "stored in NFC, case kept");
        assert_eq!(composed.key, "jos\u{e9}");
        assert_eq!(key("JOSE\u{301}"), key("jos\u{e9}"));
        // Å as a letter and as A + ring; the Ångström sign, a singleton
        // that only looks like it, is refused (IdentifierClass).
        assert_eq!(key("\u{c5}sa"), key("A\u{30a}sa"));
        assert!(refusal(NameKind::User, "\u{212b}sa").contains("U+212B"));
    }

    #[test]
    fn letter_case_does_not_make_another_name() {
        assert_eq!(key("Admin"), "admin");
        assert_eq!(key("ADMIN"), key("admin"));
        assert_eq!(key("ΣΑΣ"), key("σασ"));
        assert_eq!(key("Ärger"), key("ärger"));
        // toLowerCase, not case folding (RFC 8265 §3.3.2): ß stays ß, so
        // "fußball" and "fussball" are two names, as RFC 8265 §3.5 says.
        assert_ne!(key("fußball"), key("fussball"));
        assert_eq!(canonical(NameKind::User, "Admin").unwrap().display, "Admin");
    }

    #[test]
    fn fullwidth_and_halfwidth_forms_are_their_ordinary_letters() {
        let wide = canonical(NameKind::User, "ＡＤＭＩＮ").unwrap();
        assert_eq!(wide.display, "ADMIN");
        assert_eq!(wide.key, "admin");
        assert_eq!(key("ｊｏｓé"), key("José"));
        // Halfwidth katakana map to the ordinary (fullwidth) ones.
        assert_eq!(key("ｶﾀｶﾅ"), key("カタカナ"));
    }

    #[test]
    fn invisible_characters_are_refused_by_name() {
        let m = refusal(NameKind::User, "admin\u{200b}");
        assert!(m.contains("U+200B (ZERO WIDTH SPACE)"), "{m}");
        assert!(m.contains("invisible"), "{m}");
        assert!(m.starts_with("user name \"admin\\u{200b}\""), "{m}");
        for raw in [
            "\u{feff}admin",
            "ad\u{ad}min",
            "admin\u{2060}",
            "admin\u{200d}",
            "a\u{fe0f}",
        ] {
            let m = refusal(NameKind::User, raw);
            assert!(m.contains("may not contain U+"), "{raw:?}: {m}");
        }
    }

    #[test]
    fn bidi_overrides_and_controls_are_refused_by_name() {
        let m = refusal(NameKind::User, "admin\u{202e}nimda");
        assert!(m.contains("U+202E (RIGHT-TO-LEFT OVERRIDE)"), "{m}");
        assert!(m.contains("bidirectional"), "{m}");
        let m = refusal(NameKind::User, "a\u{2067}b");
        assert!(m.contains("U+2067 (RIGHT-TO-LEFT ISOLATE)"), "{m}");
        let m = refusal(NameKind::Domain, "lo\u{7}cal");
        assert!(m.starts_with("domain name"), "{m}");
        assert!(m.contains("U+0007, a control character"), "{m}");
        let m = refusal(NameKind::Role, "a\nb");
        assert!(m.contains("U+000A"), "{m}");
        // Right-to-left text is fine on its own, not glued to a digit that
        // would display on the wrong side.
        assert!(canonical(NameKind::User, "\u{5d0}\u{5d1}").is_ok());
        let m = refusal(NameKind::User, "1\u{5d0}");
        assert!(m.contains("right-to-left"), "{m}");
    }

    #[test]
    fn spaces_separate_words_and_nothing_else() {
        let c = canonical(NameKind::User, "Jane Doe").unwrap();
        assert_eq!((c.display.as_str(), c.key.as_str()), ("Jane Doe", "jane doe"));
        for raw in [" bob", "bob ", "jane  doe", " "] {
            let m = refusal(NameKind::User, raw);
            assert!(m.contains("space"), "{raw:?}: {m}");
        }
        let m = refusal(NameKind::User, "jane\u{a0}doe");
        assert!(m.contains("U+00A0 (NO-BREAK SPACE)"), "{m}");
        // Named as typed, not as the space it maps to.
        let m = refusal(NameKind::User, "jane\u{3000}doe");
        assert!(m.contains("U+3000 (IDEOGRAPHIC SPACE)"), "{m}");
    }

    #[test]
    fn empty_names_and_symbols_are_refused() {
        assert_eq!(refusal(NameKind::Client, ""), "client id must not be empty");
        let m = refusal(NameKind::User, "snow☃");
        assert!(m.contains("U+2603 ('☃')"), "{m}");
        // A compatibility ligature is not the letters it looks like.
        assert!(refusal(NameKind::User, "\u{fb01}le").contains("U+FB01"));
    }

    #[test]
    fn the_names_tessera_already_uses_are_unchanged() {
        for raw in [
            "admin",
            "local",
            "_member_",
            "read_only",
            "sdn-admin",
            "marketingUsers",
            "admin@example.com",
            "simplivity",
            "client.id~1",
            "a:b",
        ] {
            let c = canonical(NameKind::User, raw).unwrap();
            assert_eq!(c.display, raw);
            assert_eq!(c.key, raw.to_lowercase());
        }
    }

    #[test]
    fn every_printable_ascii_name_keeps_its_display_and_lowercases_its_key() {
        let all: String = (0x21u8..=0x7e).map(char::from).collect();
        let c = canonical(NameKind::User, &all).unwrap();
        assert_eq!(c.display, all);
        assert_eq!(c.key, all.to_ascii_lowercase());
    }

    #[test]
    fn the_display_form_is_stable_and_has_the_same_key() {
        for raw in [
            "Jose\u{301}",
            "ＡＤＭＩＮ",
            "İstanbul",
            "ΣΑΣ",
            "Jane Doe",
            "ｶﾀｶﾅ",
            "A\u{30a}",
        ] {
            let once = canonical(NameKind::User, raw).unwrap();
            let twice = canonical(NameKind::User, &once.display).unwrap();
            assert_eq!(once, twice, "{raw:?}");
            let thrice = canonical(NameKind::User, &once.key).unwrap();
            assert_eq!(thrice.key, once.key, "{raw:?}: the key is its own key");
        }
    }
}
