//! What a name may look like. Checked before anything is written, with a
//! message that says what to change. User, domain, role and client names
//! follow RFC 8265 (SPEC §5: one identity per visible name); see
//! [`canonical_name`].

use crate::error::{AuthError, AuthResult};
use tessera_model::names;
pub use tessera_model::names::NameKind;

fn bad(what: &str, why: &str) -> AuthError {
    AuthError::InvalidInput(format!("{what}: {why}"))
}

fn check_token_chars(kind: &str, value: &str, max: usize, extra: &str) -> AuthResult<()> {
    if value.is_empty() {
        return Err(bad(kind, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(bad(kind, &format!("at most {max} characters")));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    {
        return Err(bad(
            &format!("{kind} {value:?}"),
            &format!(
                "use only ASCII letters, digits and {}",
                extra
                    .chars()
                    .map(|c| format!("'{c}'"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ));
    }
    Ok(())
}

/// The form a new user, domain, role or client name is stored in, or why
/// it cannot be one. Every name follows RFC 8265's UsernameCaseMapped
/// profile (SPEC §5, [`tessera_model::names`]): fullwidth forms are mapped
/// and the name is put in NFC, letter case kept; invisible, control and
/// bidirectional-control characters are refused, the message naming the
/// code point. On top of that, each kind keeps its own syntax:
///
/// - user names: up to 128 characters, no `:` (HTTP Basic splits on it);
/// - domain and role names: ASCII letters, digits, `.`, `_`, `-`; up to 64;
/// - client ids: ASCII letters, digits, `.`, `_`, `~`, `-`; up to 128.
///
/// The store refuses a second name with the same key (`Conflict`).
pub fn canonical_name(kind: NameKind, raw: &str) -> AuthResult<String> {
    let name = names::canonical(kind, raw)?.display;
    match kind {
        NameKind::User => user(&name)?,
        NameKind::Domain => check_token_chars("domain name", &name, 64, "._-")?,
        NameKind::Role => check_token_chars("role name", &name, 64, "._-")?,
        NameKind::Client => check_token_chars("client id", &name, 128, "._~-")?,
    }
    Ok(name)
}

/// The key a login or a command that names a user, domain, role or client
/// looks it up by: equal for every spelling of one name (any letter case,
/// any normalization form, fullwidth or not).
///
/// Errors: `InvalidInput` naming the code point when RFC 8265 refuses
/// `raw` (an invisible, control or bidirectional-control character), so a
/// login typed with one is refused with a clear message rather than
/// merely unknown. The store's lookups apply the same rule themselves.
pub fn lookup_key(kind: NameKind, raw: &str) -> AuthResult<String> {
    Ok(names::lookup_key(kind, raw)?)
}

/// User names, beyond RFC 8265: up to 128 characters, no `:`.
fn user(name: &str) -> AuthResult<()> {
    if name.chars().count() > 128 {
        return Err(bad("user name", "at most 128 characters"));
    }
    if name.contains(':') {
        return Err(bad(
            &format!("user name {name:?}"),
            "must not contain ':' (HTTP Basic authentication splits on it)",
        ));
    }
    Ok(())
}

/// Free text (descriptions, common names): up to `max` characters, no
/// control characters.
pub fn text(kind: &str, value: &str, max: usize) -> AuthResult<()> {
    if value.chars().count() > max {
        return Err(bad(kind, &format!("at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(bad(kind, "must not contain control characters"));
    }
    Ok(())
}

/// The rules above as `/openapi.json` states them: one component schema
/// per kind of name, secret and text, used by every field and parameter
/// that takes one. A `pattern` says what a regular expression can (the
/// characters, the single spaces between a user name's parts, the
/// length); the RFC 8265 rules for the letters a user name may hold are
/// in its description. Fullwidth forms of ASCII (and U+212A KELVIN SIGN)
/// are read as their ASCII forms, so the ASCII-only names' patterns list
/// them too.
#[cfg(feature = "openapi")]
pub mod schema {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
    use utoipa::openapi::RefOr;

    /// The characters of ASCII-only names (domain and role names), with
    /// their fullwidth forms.
    const TOKEN_CHARS: &str = r"A-Za-z0-9._\-\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A\uFF0E\uFF3F\uFF0D\u212A";
    /// A user name's characters: no control character, no space (but the
    /// single one between parts), no `:`.
    const USER_PART: &str = r"[^\x00-\x20\x7F-\xA0:]+";

    fn string(description: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    }

    macro_rules! component {
        ($(#[$doc:meta])* $name:ident => $schema:expr) => {
            $(#[$doc])*
            pub struct $name;
            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    RefOr::T(Schema::Object($schema.build()))
                }
            }
            impl utoipa::ToSchema for $name {}
        };
    }

    component!(
        /// A user name, as created and as looked up.
        UserName => string(
            "A user name (RFC 8265 UsernameCasePreserved): parts separated by single spaces, each of \
             letters, digits, combining marks and ASCII punctuation other than `:`; invisible, \
             control and bidirectional-control characters, other spaces, symbols and \
             compatibility forms are refused (400, naming the code point). At most 128 characters. \
             Fullwidth forms are read as their ordinary forms and letter case is kept; names are \
             compared case-insensitively.",
        )
        .min_length(Some(1))
        .max_length(Some(128))
        .pattern(Some(format!("^{USER_PART}( {USER_PART})*$")))
        .examples(["jane.doe", "José"])
    );
    component!(
        /// A domain's name.
        DomainName => string(
            "A domain's name: 1 to 64 ASCII letters, digits, `.`, `_` and `-` (fullwidth forms \
             are read as ASCII); compared case-insensitively.",
        )
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some(format!("^[{TOKEN_CHARS}]+$")))
        .examples(["local"])
    );
    component!(
        /// A domain's name where one may be left out: empty means the
        /// default domain (`local`).
        DomainNameOrDefault => string(
            "A domain's name as in `DomainName`, or empty for the default domain (`local`).",
        )
        .max_length(Some(64))
        .pattern(Some(format!("^[{TOKEN_CHARS}]*$")))
        .examples(["local"])
    );
    component!(
        /// A role's name.
        RoleName => string(
            "A role's name: 1 to 64 ASCII letters, digits, `.`, `_` and `-` (fullwidth forms are \
             read as ASCII); compared case-insensitively.",
        )
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some(format!("^[{TOKEN_CHARS}]+$")))
        .examples(["admin"])
    );
    component!(
        /// An OAuth2 client's id.
        ClientIdName => string(
            "An OAuth2 client id: 1 to 128 ASCII letters, digits, `.`, `_`, `~` and `-` \
             (fullwidth forms are read as ASCII); compared case-insensitively.",
        )
        .min_length(Some(1))
        .max_length(Some(128))
        .pattern(Some(format!("^[{TOKEN_CHARS}~\\uFF5E]+$")))
        .examples(["my-client"])
    );
    component!(
        /// A password Tessera stores (hashed).
        NewPassword => string(
            "A new password, as `[password]` sets the policy (400 saying what to change \
             otherwise): from `min_length` (default 8) to `max_length` (default 128) characters, \
             not the user's name nor containing it, and with `refuse_common` (default on) not one \
             of the most common passwords nor otherwise guessed within a million tries. At most \
             256 characters and 1024 bytes in UTF-8 whatever the configuration.",
        )
        // `new-password`: a password, and one the policy accepts (no
        // regular expression can say "not guessable"); the lengths are
        // this server's, set when the document is finished.
        .format(Some(SchemaFormat::Custom("new-password".into())))
        .min_length(Some(1))
        .max_length(Some(tessera_model::config::MAX_PASSWORD_CHARS as usize))
    );
    component!(
        /// A description: free text.
        Description => string("Free text: at most 1024 characters, no control characters.")
            .max_length(Some(1024))
            .pattern(Some(NO_CONTROL))
    );
    component!(
        /// A person's common name.
        CommonName => string("Free text: at most 256 characters, no control characters.")
            .max_length(Some(256))
            .pattern(Some(NO_CONTROL))
    );
    component!(
        /// An LDAP distinguished name, as text.
        DistinguishedName => string("Free text: at most 1024 characters, no control characters.")
            .max_length(Some(1024))
            .pattern(Some(NO_CONTROL))
    );

    /// Text without a control character (`char::is_control`: U+0000 to
    /// U+001F and U+007F to U+009F).
    const NO_CONTROL: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(kind: NameKind, raw: &str) -> String {
        canonical_name(kind, raw).unwrap_err().to_string()
    }

    #[test]
    fn names_from_the_seeds_are_accepted() {
        for d in ["local", "Local", "sdn", "marketingUsers"] {
            assert_eq!(canonical_name(NameKind::Domain, d).unwrap(), d);
        }
        for r in ["admin", "_member_", "read_only", "sdn-admin"] {
            assert_eq!(canonical_name(NameKind::Role, r).unwrap(), r);
        }
        for c in ["simplivity", "my-client", "client-id"] {
            assert_eq!(canonical_name(NameKind::Client, c).unwrap(), c);
        }
        for u in ["root", "svtcli", "user1", "admin@example.com", "Jane Doe", "José"] {
            assert_eq!(canonical_name(NameKind::User, u).unwrap(), u);
        }
    }

    #[test]
    fn names_are_stored_in_one_form() {
        assert_eq!(
            canonical_name(NameKind::User, "Jose\u{301}").unwrap(),
            "Jos\u{e9}"
        );
        assert_eq!(canonical_name(NameKind::User, "ＡＤＭＩＮ").unwrap(), "ADMIN");
        assert_eq!(canonical_name(NameKind::Domain, "ｓｄｎ").unwrap(), "sdn");
        assert_eq!(lookup_key(NameKind::User, "JOSE\u{301}").unwrap(), "jos\u{e9}");
    }

    #[test]
    fn bad_names_say_what_to_fix() {
        assert!(refusal(NameKind::User, "a:b").contains("':'"));
        assert!(refusal(NameKind::User, " bob").contains("space"));
        assert!(refusal(NameKind::User, "").contains("empty"));
        assert!(refusal(NameKind::User, &"u".repeat(129)).contains("128"));
        assert!(refusal(NameKind::Domain, "my domain").contains("letters, digits"));
        assert!(refusal(NameKind::Domain, "dömain").contains("letters, digits"));
        assert!(refusal(NameKind::Role, &"r".repeat(65)).contains("64"));
        assert!(text("description", "a\nb", 100).is_err());
        let m = refusal(NameKind::User, "admin\u{200b}");
        assert!(m.contains("U+200B (ZERO WIDTH SPACE)"), "{m}");
        let m = lookup_key(NameKind::User, "admin\u{202e}")
            .unwrap_err()
            .to_string();
        assert!(m.contains("U+202E (RIGHT-TO-LEFT OVERRIDE)"), "{m}");
        assert!(matches!(
            canonical_name(NameKind::Client, "c\u{7}"),
            Err(AuthError::InvalidInput(_))
        ));
    }
}
