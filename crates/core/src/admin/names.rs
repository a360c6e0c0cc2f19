//! What a name may look like. Checked before anything is written, with a
//! message that says what to change.

use crate::error::{AuthError, AuthResult};

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
                "use only letters, digits and {}",
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

/// Domain names: letters, digits, `.`, `_`, `-`; up to 64.
pub fn domain(name: &str) -> AuthResult<()> {
    check_token_chars("domain name", name, 64, "._-")
}

/// Role names: letters, digits, `.`, `_`, `-`; up to 64 (`_member_`).
pub fn role(name: &str) -> AuthResult<()> {
    check_token_chars("role name", name, 64, "._-")
}

/// OAuth2 client ids: URL-safe characters; up to 128.
pub fn client_id(id: &str) -> AuthResult<()> {
    check_token_chars("client id", id, 128, "._~-")
}

/// User names: up to 128 printable characters, no `:` (HTTP Basic splits
/// on it), no surrounding spaces.
pub fn user(name: &str) -> AuthResult<()> {
    if name.is_empty() {
        return Err(bad("user name", "must not be empty"));
    }
    if name.chars().count() > 128 {
        return Err(bad("user name", "at most 128 characters"));
    }
    if name.trim() != name {
        return Err(bad(
            &format!("user name {name:?}"),
            "must not start or end with spaces",
        ));
    }
    if name.contains(':') {
        return Err(bad(
            &format!("user name {name:?}"),
            "must not contain ':' (HTTP Basic authentication splits on it)",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("user name", "must not contain control characters"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_seeds_are_accepted() {
        for d in ["local", "Local", "sdn", "marketingUsers"] {
            domain(d).unwrap();
        }
        for r in ["admin", "_member_", "read_only", "sdn-admin"] {
            role(r).unwrap();
        }
        for c in ["simplivity", "my-client", "client-id"] {
            client_id(c).unwrap();
        }
        for u in ["root", "svtcli", "user1", "admin@example.com", "Jane Doe"] {
            user(u).unwrap();
        }
    }

    #[test]
    fn bad_names_say_what_to_fix() {
        assert!(user("a:b").unwrap_err().to_string().contains("':'"));
        assert!(user(" bob").unwrap_err().to_string().contains("spaces"));
        assert!(user("").unwrap_err().to_string().contains("empty"));
        assert!(domain("my domain")
            .unwrap_err()
            .to_string()
            .contains("letters, digits"));
        assert!(role(&"r".repeat(65)).unwrap_err().to_string().contains("64"));
        assert!(text("description", "a\nb", 100).is_err());
    }
}
