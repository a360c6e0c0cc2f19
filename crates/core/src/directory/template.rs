//! Turning a login name into a DN or a search filter without letting it
//! change their meaning: `{user}` (and `{dn}`) are replaced in one pass,
//! each value escaped for where it lands (RFC 4514 in a DN, RFC 4515 in a
//! filter), so `a*)(uid=*` stays a literal name that matches nobody.

use ldap3::{dn_escape, ldap_escape};
use tessera_model::LdapBind;

/// The group filter used when a domain sets none: `groupOfNames` and
/// `groupOfUniqueNames` that list the user's DN, and `posixGroup`s that
/// list its login name.
pub const DEFAULT_GROUP_FILTER: &str = "(|(&(objectClass=groupOfNames)(member={dn}))\
(&(objectClass=groupOfUniqueNames)(uniqueMember={dn}))(&(objectClass=posixGroup)(memberUid={user})))";

/// Replaces each `{user}` and `{dn}` of `template` in one pass (a value
/// that itself contains `{dn}` is never expanded again).
fn substitute(template: &str, user: &str, dn: &str) -> String {
    let mut out = String::with_capacity(template.len() + user.len() + dn.len());
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{user}") {
            out.push_str(user);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{dn}") {
            out.push_str(dn);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The DN to bind as for `user` under a DN template, the name escaped as
/// an RFC 4514 attribute value.
pub fn user_dn(template: &str, user: &str) -> String {
    substitute(template, &dn_escape(user), "")
}

/// A search filter with `{user}` and `{dn}` escaped as RFC 4515 assertion
/// values.
pub fn filter(template: &str, user: &str, dn: &str) -> String {
    substitute(template, &ldap_escape(user), &ldap_escape(dn))
}

/// Where groups are searched when the domain names no group base: the
/// search base, or the trailing `dc=` components of the DN template (the
/// naming context; `uid={user},ou=people,dc=example,dc=org` gives
/// `dc=example,dc=org`), or the template without its first RDN.
pub fn default_group_base(bind: &LdapBind) -> String {
    match bind {
        LdapBind::Search { base, .. } => base.clone(),
        LdapBind::DnTemplate { template } => {
            let rdns = split_rdns(template);
            let dcs: Vec<&str> = rdns
                .iter()
                .rev()
                .take_while(|r| r.trim().to_ascii_lowercase().starts_with("dc="))
                .copied()
                .collect();
            if dcs.is_empty() {
                rdns.get(1..).map(|r| r.join(",")).unwrap_or_default()
            } else {
                dcs.into_iter().rev().collect::<Vec<_>>().join(",")
            }
        }
    }
}

/// A DN's RDNs, split on the commas that are not escaped.
fn split_rdns(dn: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                out.push(&dn[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&dn[start..]);
    out
}

/// The value of a DN's first RDN when its attribute is `cn` (how a group
/// in `memberOf` is named: `CN=Storage Admins,OU=Groups,DC=corp` gives
/// `Storage Admins`), RFC 4514 escapes undone.
pub fn leading_cn(dn: &str) -> Option<String> {
    let first = split_rdns(dn).into_iter().next()?;
    let (attr, value) = first.split_once('=')?;
    if !attr.trim().eq_ignore_ascii_case("cn") {
        return None;
    }
    // Escapes may spell one UTF-8 character as several hex pairs, so the
    // value is rebuilt as bytes.
    let mut out: Vec<u8> = Vec::new();
    let bytes = value.trim().as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                if let Some(&next) = bytes.get(i + 1) {
                    out.push(next);
                }
                i += 2;
            }
        }
    }
    let out = String::from_utf8_lossy(&out).into_owned();
    Some(out)
}

/// Checks a filter template: it must name `{user}` (or `{dn}` for group
/// filters) and parse as an RFC 4515 filter once filled in.
pub fn check_filter(what: &str, template: &str, needs: &[&str]) -> Result<(), String> {
    if !needs.iter().any(|n| template.contains(n)) {
        return Err(format!("{what} must contain {}", needs.join(" or ")));
    }
    let sample = filter(template, "someone", "cn=someone,dc=example");
    ldap3::parse_filter(&sample)
        .map(|_| ())
        .map_err(|_| format!("{what} {template:?} is not a valid LDAP filter (RFC 4515)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_metacharacters_in_a_name_stay_literal() {
        let f = filter("(&(objectClass=person)(uid={user}))", "a*)(uid=*", "");
        assert_eq!(f, r"(&(objectClass=person)(uid=a\2a\29\28uid=\2a))");
        assert!(ldap3::parse_filter(&f).is_ok());
        assert_eq!(filter("(uid={user})", r"x\00", ""), r"(uid=x\5c00)");
    }

    #[test]
    fn dn_specials_in_a_name_stay_literal() {
        let t = "uid={user},ou=people,dc=example,dc=org";
        assert_eq!(user_dn(t, "alice"), "uid=alice,ou=people,dc=example,dc=org");
        assert_eq!(
            user_dn(t, "bob,ou=admins"),
            r"uid=bob\2cou\3dadmins,ou=people,dc=example,dc=org"
        );
        assert!(user_dn(t, "#x ").starts_with(r"uid=\23x\20,"));
        assert!(user_dn(t, " x").starts_with(r"uid=\20x,"));
    }

    #[test]
    fn substitution_is_one_pass() {
        assert_eq!(
            filter("(member={dn})(uid={user})", "{dn}", "cn=x"),
            "(member=cn=x)(uid={dn})"
        );
        assert_eq!(filter("({nope}={user})", "u", ""), "({nope}=u)");
    }

    #[test]
    fn default_group_base_is_the_naming_context() {
        let t = LdapBind::DnTemplate {
            template: "uid={user},ou=people,dc=example,dc=org".into(),
        };
        assert_eq!(default_group_base(&t), "dc=example,dc=org");
        let t = LdapBind::DnTemplate {
            template: "cn={user},ou=people,o=corp".into(),
        };
        assert_eq!(default_group_base(&t), "ou=people,o=corp");
    }

    #[test]
    fn member_of_values_name_their_group() {
        assert_eq!(
            leading_cn("CN=Storage Admins,OU=Groups,DC=corp,DC=example").as_deref(),
            Some("Storage Admins")
        );
        assert_eq!(leading_cn(r"cn=a\2cb,dc=x").as_deref(), Some("a,b"));
        assert_eq!(leading_cn(r"cn=a\,b,dc=x").as_deref(), Some("a,b"));
        assert_eq!(leading_cn("ou=x,dc=y"), None);
    }

    #[test]
    fn filters_are_checked() {
        assert!(check_filter("f", "(uid={user})", &["{user}"]).is_ok());
        assert!(check_filter("f", "(uid=x)", &["{user}"]).is_err());
        assert!(check_filter("f", "(uid={user}", &["{user}"]).is_err());
        assert!(check_filter("g", DEFAULT_GROUP_FILTER, &["{dn}", "{user}"]).is_ok());
    }
}
