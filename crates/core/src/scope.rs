//! OAuth2 scopes: what a token may do at the gateway, within what its
//! principal's roles allow (SPEC §3.1). `read` is GET/HEAD/OPTIONS, `write`
//! every method, `emergency` only seed 000's allow-list.

use crate::error::{AuthError, AuthResult, OAuthCode};
use tessera_model::RoleGrant;

pub const READ: &str = "read";
pub const WRITE: &str = "write";
pub const EMERGENCY: &str = "emergency";

/// Whether the space-separated `scope` (RFC 6749 §3.3) holds `word`.
pub fn has(scope: &str, word: &str) -> bool {
    scope.split_whitespace().any(|w| w == word)
}

/// The scope a token gets when none is asked for (seed 000's example).
pub const DEFAULT: &str = "read write";

/// The built-in role that can only read.
pub const READ_ONLY_ROLE: &str = "read_only";

/// The scopes a principal holding `roles` may have: only `read` when every
/// enabled role it holds is `read_only`, else `read` and `write`.
pub fn allowed(roles: &[RoleGrant]) -> Vec<&'static str> {
    let enabled: Vec<&RoleGrant> = roles.iter().filter(|g| g.role.enabled).collect();
    if !enabled.is_empty() && enabled.iter().all(|g| g.role.name == READ_ONLY_ROLE) {
        vec![READ]
    } else {
        vec![READ, WRITE]
    }
}

/// Resolves the `scope` parameter of a password or client_credentials
/// grant against what the principal may have: absent means `read write`
/// narrowed to what is allowed, `*` means everything allowed, anything
/// else must be allowed word by word.
pub fn resolve(requested: Option<&str>, allowed: &[&'static str]) -> AuthResult<String> {
    let requested = requested.map(str::trim).filter(|s| !s.is_empty());
    match requested {
        None => Ok(DEFAULT
            .split(' ')
            .filter(|s| allowed.contains(s))
            .collect::<Vec<_>>()
            .join(" ")),
        Some("*") => Ok(allowed.join(" ")),
        Some(words) => {
            let mut out: Vec<&str> = Vec::new();
            for w in words.split_whitespace() {
                if w == EMERGENCY {
                    return Err(AuthError::oauth(
                        OAuthCode::InvalidScope,
                        "the emergency scope comes only with the emergency grant",
                    ));
                }
                if ![READ, WRITE].contains(&w) {
                    return Err(AuthError::oauth(
                        OAuthCode::InvalidScope,
                        format!("unknown scope {w:?}; use read, write or *"),
                    ));
                }
                if !allowed.contains(&w) {
                    return Err(AuthError::oauth(
                        OAuthCode::InvalidScope,
                        format!("scope {w:?} is not granted to this account"),
                    ));
                }
                if !out.contains(&w) {
                    out.push(w);
                }
            }
            Ok(out.join(" "))
        }
    }
}

/// A refresh may keep or narrow the original scope, never widen it
/// (RFC 6749 §6).
pub fn narrow(requested: Option<&str>, original: &str) -> AuthResult<String> {
    let Some(req) = requested.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(original.to_owned());
    };
    let have: Vec<&str> = original.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::new();
    for w in req.split_whitespace() {
        if !have.contains(&w) {
            return Err(AuthError::oauth(
                OAuthCode::InvalidScope,
                format!("scope {w:?} was not part of the original grant"),
            ));
        }
        if !out.contains(&w) {
            out.push(w);
        }
    }
    Ok(out.join(" "))
}

/// Whether a token with `scope` may use `method`. A token without an
/// OAuth2 scope (from the other doors) carries `read write`.
pub fn permits_method(scope: &str, method: &str) -> bool {
    let has = |s: &str| scope.split_whitespace().any(|w| w == s);
    if has(WRITE) {
        return true;
    }
    has(READ) && matches!(method, "GET" | "HEAD" | "OPTIONS")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_model::{AssignmentScope, Role, RoleId, Timestamp};

    fn grant(name: &str) -> RoleGrant {
        RoleGrant {
            role: Role {
                id: RoleId::from_bytes([0; 16]),
                name: name.into(),
                description: String::new(),
                enabled: true,
                builtin: true,
                created_at: Timestamp(0),
            },
            scope: AssignmentScope::System,
        }
    }

    #[test]
    fn read_only_principals_may_only_read() {
        assert_eq!(allowed(&[grant("read_only")]), vec![READ]);
        assert_eq!(
            allowed(&[grant("read_only"), grant("_member_")]),
            vec![READ, WRITE]
        );
        assert_eq!(allowed(&[]), vec![READ, WRITE]);
    }

    #[test]
    fn requested_scopes_resolve_against_what_is_allowed() {
        let rw = [READ, WRITE];
        assert_eq!(resolve(None, &rw).unwrap(), "read write");
        assert_eq!(resolve(Some("*"), &rw).unwrap(), "read write");
        assert_eq!(resolve(Some("*"), &[READ]).unwrap(), "read");
        assert_eq!(resolve(None, &[READ]).unwrap(), "read");
        assert_eq!(resolve(Some("write read write"), &rw).unwrap(), "write read");
        for bad in ["write", "admin", "emergency"] {
            let err = resolve(Some(bad), &[READ]).unwrap_err();
            assert!(
                matches!(
                    err,
                    AuthError::OAuth {
                        code: OAuthCode::InvalidScope,
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn refresh_may_only_narrow() {
        assert_eq!(narrow(None, "read write").unwrap(), "read write");
        assert_eq!(narrow(Some("read"), "read write").unwrap(), "read");
        assert!(narrow(Some("write"), "read").is_err());
    }

    #[test]
    fn scopes_gate_methods() {
        assert!(permits_method("read", "GET"));
        assert!(!permits_method("read", "POST"));
        assert!(permits_method("read write", "DELETE"));
        assert!(!permits_method("emergency", "GET"));
    }
}
