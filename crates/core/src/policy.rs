//! Gateway policy (SPEC §4): which principals may call which operations.
//! Rules map methods and a path pattern (`{name}` matches one segment, a
//! trailing `/**` any rest) to what they allow. Patterns are compiled into
//! a tree walked once per request, so the cost depends on the path's depth,
//! not on how many rules there are. Scopes then narrow what a token may do,
//! and emergency tokens (seed 000) may call only their allow-list. All of
//! it judges a [`CanonicalPath`], never the path as sent.

mod path;

pub use path::{CanonicalPath, PathRefused};

use crate::scope;
use crate::tokens::Identity;
use std::collections::HashMap;
use tessera_model::config::{GatewayConfig, GatewayRule};

/// One thing a rule allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allow {
    /// Any valid token whose subject holds this role.
    Role(String),
    /// Any valid token whose scope includes this one.
    Scope(String),
    /// Any valid token.
    Authenticated,
    /// Anyone, with or without a token.
    Anonymous,
}

impl Allow {
    /// One `allow` entry of a gateway rule.
    ///
    /// Errors: a sentence naming the entry and the forms it may take.
    pub(crate) fn parse(s: &str) -> Result<Allow, String> {
        match s {
            "authenticated" => Ok(Allow::Authenticated),
            "anonymous" => Ok(Allow::Anonymous),
            _ => match s.split_once(':') {
                Some(("role", r)) if !r.is_empty() => Ok(Allow::Role(r.to_owned())),
                Some(("scope", sc)) if !sc.is_empty() => Ok(Allow::Scope(sc.to_owned())),
                _ => Err(format!(
                    "{s:?} is not an allow entry: use role:NAME, scope:NAME, authenticated or anonymous"
                )),
            },
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    /// Upper-case methods; empty means every method.
    methods: Vec<String>,
    allow: Vec<Allow>,
}

impl Rule {
    fn covers(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m == method)
    }
}

#[derive(Debug, Default, Clone)]
struct Node {
    /// Built from the configuration only, so the hash needs no defence
    /// against chosen keys (lookups cannot grow it): foldhash, not SipHash.
    literal: HashMap<String, Node, foldhash::fast::RandomState>,
    param: Option<Box<Node>>,
    /// Rules whose pattern ends here.
    rules: Vec<Rule>,
    /// Rules whose pattern ends here with `/**`.
    rest: Vec<Rule>,
}

/// What the policy says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A token is needed (none, or none valid, was presented).
    Unauthenticated,
    /// The caller may not do this; the text says why.
    Forbidden(String),
    /// The request itself is unusable for this caller (seed 000's
    /// emergency GETs with sorting, filtering or optional properties).
    BadRequest(String),
}

/// The seed 000 operations an emergency token may call, below the prefix.
const EMERGENCY_OPS: [(&str, &str); 6] = [
    ("GET", "/hosts"),
    ("GET", "/omnistack_clusters"),
    ("GET", "/backups"),
    ("GET", "/datastores"),
    ("GET", "/virtual_machines"),
    ("POST", "/backups/{bkpId}/restore"),
];

/// Query parameters an emergency GET may still carry: paging only.
const EMERGENCY_QUERY_OK: [&str; 2] = ["offset", "limit"];

/// Compiled gateway rules.
#[derive(Debug, Clone)]
pub struct Policy {
    root: Node,
    default_authenticated: bool,
    emergency: Node,
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn insert(root: &mut Node, pattern: &str, rule: Rule) -> Result<(), String> {
    if !pattern.starts_with('/') {
        return Err(format!("path pattern {pattern:?} must start with /"));
    }
    let mut node = root;
    let parts: Vec<&str> = segments(pattern).collect();
    for (i, seg) in parts.iter().enumerate() {
        if *seg == "**" {
            if i + 1 != parts.len() {
                return Err(format!("in {pattern:?}, ** may only end a pattern"));
            }
            node.rest.push(rule);
            return Ok(());
        }
        node = if seg.starts_with('{') && seg.ends_with('}') && seg.len() > 2 {
            node.param.get_or_insert_with(Box::default)
        } else if seg.contains(['{', '}', '*']) {
            return Err(format!(
                "in {pattern:?}, segment {seg:?} is neither a literal nor {{name}}"
            ));
        } else {
            node.literal.entry((*seg).to_owned()).or_default()
        };
    }
    node.rules.push(rule);
    Ok(())
}

/// The first rule covering `method` for `path`: literal segments before
/// parameters before `/**`, so the most specific pattern wins.
fn lookup<'a>(node: &'a Node, segs: &[&str], method: &str) -> Option<&'a Rule> {
    let Some((first, rest)) = segs.split_first() else {
        return node
            .rules
            .iter()
            .find(|r| r.covers(method))
            .or_else(|| node.rest.iter().find(|r| r.covers(method)));
    };
    if let Some(found) = node.literal.get(*first).and_then(|n| lookup(n, rest, method)) {
        return Some(found);
    }
    if let Some(found) = node.param.as_deref().and_then(|n| lookup(n, rest, method)) {
        return Some(found);
    }
    node.rest.iter().find(|r| r.covers(method))
}

impl Policy {
    /// Compiles `[gateway]`'s rules; every problem names the rule.
    pub fn compile(config: &GatewayConfig) -> Result<Policy, String> {
        let mut root = Node::default();
        for (i, GatewayRule { methods, path, allow }) in config.rules.iter().enumerate() {
            let where_ = format!("gateway.rules[{i}]");
            let allow: Vec<Allow> = allow
                .iter()
                .map(|a| Allow::parse(a))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{where_}: {e}"))?;
            if allow.is_empty() {
                return Err(format!("{where_}: allow is empty; a rule must allow something"));
            }
            let methods: Vec<String> = methods
                .iter()
                .map(|m| m.to_ascii_uppercase())
                .filter(|m| m != "*")
                .collect();
            insert(&mut root, path, Rule { methods, allow }).map_err(|e| format!("{where_}: {e}"))?;
        }
        let mut emergency = Node::default();
        let prefix = config.emergency_prefix.trim_end_matches('/');
        for (method, op) in EMERGENCY_OPS {
            let rule = Rule {
                methods: vec![method.to_owned()],
                allow: vec![Allow::Authenticated],
            };
            insert(&mut emergency, &format!("{prefix}{op}"), rule)?;
        }
        Ok(Policy {
            root,
            default_authenticated: config.default == "authenticated",
            emergency,
        })
    }

    /// Decides a request for its canonical path: the one the gateway
    /// forwards. `query` is the raw query string; `who` the validated
    /// caller, if any.
    pub fn decide(
        &self,
        method: &str,
        path: &CanonicalPath<'_>,
        query: Option<&str>,
        who: Option<&Identity>,
    ) -> Decision {
        let segs: Vec<&str> = path.segments().collect();
        if let Some(who) = who {
            let token_scope = who.scope();
            if scope::has(token_scope, scope::EMERGENCY) {
                return self.decide_emergency(method, &segs, query);
            }
            if !scope::permits_method(token_scope, method) {
                return Decision::Forbidden(format!(
                    "a token with scope {token_scope:?} may not {method}; it needs the write scope"
                ));
            }
        }
        let Some(rule) = lookup(&self.root, &segs, method) else {
            return match (who, self.default_authenticated) {
                (Some(_), true) => Decision::Allow,
                (None, true) => Decision::Unauthenticated,
                (_, false) => Decision::Forbidden(format!("no gateway rule allows {method} {path}")),
            };
        };
        if rule.allow.contains(&Allow::Anonymous) {
            return Decision::Allow;
        }
        let Some(who) = who else {
            return Decision::Unauthenticated;
        };
        let ok = rule.allow.iter().any(|a| match a {
            Allow::Anonymous | Allow::Authenticated => true,
            Allow::Role(r) => who.subject.has_role(r),
            Allow::Scope(s) => scope::has(who.scope(), s),
        });
        if ok {
            Decision::Allow
        } else {
            Decision::Forbidden(format!("{method} {path} needs one of: {}", describe(&rule.allow)))
        }
    }

    fn decide_emergency(&self, method: &str, segs: &[&str], query: Option<&str>) -> Decision {
        if lookup(&self.emergency, segs, method).is_none() {
            return Decision::Forbidden(
                "an emergency token may only list hosts, omnistack_clusters, backups, datastores and \
                 virtual_machines, and restore a backup"
                    .into(),
            );
        }
        if method == "GET" {
            let params = query
                .map(|q| q.split('&').filter(|p| !p.is_empty()))
                .into_iter()
                .flatten();
            for p in params {
                let raw = p.split('=').next().unwrap_or(p);
                // Compare what the upstream will read: `%73ort` is `sort`.
                let name = percent_decode(&raw.replace('+', " ")).unwrap_or_else(|| raw.to_owned());
                if !EMERGENCY_QUERY_OK.contains(&name.as_str()) {
                    return Decision::BadRequest(format!(
                        "query parameter {name:?} is not available with an emergency token: sorting, filtering \
                         and optional properties are not supported in emergency mode"
                    ));
                }
            }
        }
        Decision::Allow
    }
}

/// Percent-decodes `s`; `None` for a malformed escape or non-UTF-8.
fn percent_decode(s: &str) -> Option<String> {
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
    String::from_utf8(out).ok()
}

fn describe(allow: &[Allow]) -> String {
    allow
        .iter()
        .map(|a| match a {
            Allow::Role(r) => format!("role {r}"),
            Allow::Scope(s) => format!("scope {s}"),
            Allow::Authenticated => "any valid token".into(),
            Allow::Anonymous => "anyone".into(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CachedSession, ClientState};
    use crate::tokens::Subject;
    use std::sync::Arc;
    use tessera_model::*;

    fn config(rules: &[(&[&str], &str, &[&str])], default: &str) -> GatewayConfig {
        GatewayConfig {
            rules: rules
                .iter()
                .map(|(m, p, a)| GatewayRule {
                    methods: m.iter().map(|s| (*s).to_owned()).collect(),
                    path: (*p).to_owned(),
                    allow: a.iter().map(|s| (*s).to_owned()).collect(),
                })
                .collect(),
            default: default.into(),
            ..GatewayConfig::default()
        }
    }

    /// Decides for a path as sent, through its canonical form.
    fn decide(p: &Policy, method: &str, raw: &str, query: Option<&str>, who: Option<&Identity>) -> Decision {
        p.decide(method, &CanonicalPath::parse(raw).unwrap(), query, who)
    }

    fn who(roles: &[&str], scope: &str) -> Identity {
        let grants = roles
            .iter()
            .map(|r| RoleGrant {
                role: Role {
                    id: RoleId::from_bytes([0; 16]),
                    name: (*r).into(),
                    description: String::new(),
                    enabled: true,
                    builtin: false,
                    created_at: Timestamp(0),
                },
                scope: AssignmentScope::System,
            })
            .collect();
        let client = Client {
            id: ClientId("c".into()),
            secret_hash: None,
            grants: vec![],
            policy: None,
            enabled: true,
            created_at: Timestamp(0),
        };
        let session = Session {
            id: SessionId::from_bytes([1; 16]),
            token_hash: None,
            kind: TokenKind::Access,
            format: TokenFormat::Opaque,
            user_id: None,
            client_id: Some(client.id.clone()),
            domain_id: None,
            door: "oauth2".into(),
            policy: "p".into(),
            scope: scope.into(),
            family_id: None,
            auth_time: Timestamp(0),
            created_at: Timestamp(0),
            last_used_at: Timestamp(0),
            expires_at: None,
            idle_timeout_ms: None,
            revoked_at: None,
            revoke_reason: None,
            previous_hash: None,
        };
        Identity {
            session: Some(Arc::new(CachedSession::new(session))),
            subject: Subject::Client(Arc::new(ClientState::new(client, grants))),
        }
    }

    #[test]
    fn the_most_specific_pattern_wins_and_methods_filter() {
        let p = Policy::compile(&config(
            &[
                (&["GET"], "/api/hosts/{id}", &["role:viewer"]),
                (&["DELETE"], "/api/hosts/{id}", &["role:admin"]),
                (&["*"], "/api/hosts/special", &["anonymous"]),
                (&["*"], "/api/**", &["role:admin"]),
                (&["GET"], "/health", &["anonymous"]),
            ],
            "deny",
        ))
        .unwrap();
        let viewer = who(&["viewer"], "read write");
        assert_eq!(
            decide(&p, "GET", "/api/hosts/7", None, Some(&viewer)),
            Decision::Allow
        );
        assert!(matches!(
            decide(&p, "DELETE", "/api/hosts/7", None, Some(&viewer)),
            Decision::Forbidden(_)
        ));
        assert_eq!(
            decide(
                &p,
                "DELETE",
                "/api/hosts/7",
                None,
                Some(&who(&["admin"], "read write"))
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, "POST", "/api/hosts/special", None, None),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, "GET", "/api/datastores/1/files", None, None),
            Decision::Unauthenticated
        );
        assert_eq!(decide(&p, "GET", "/health", None, None), Decision::Allow);
        let none = decide(&p, "GET", "/elsewhere", None, Some(&viewer));
        assert!(matches!(none, Decision::Forbidden(m) if m.contains("no gateway rule")));
    }

    #[test]
    fn the_default_for_uncovered_paths_is_configurable() {
        let p = Policy::compile(&config(&[], "authenticated")).unwrap();
        assert_eq!(
            decide(&p, "GET", "/x", None, Some(&who(&[], "read"))),
            Decision::Allow
        );
        assert_eq!(decide(&p, "GET", "/x", None, None), Decision::Unauthenticated);
    }

    #[test]
    fn scopes_narrow_what_roles_allow() {
        let p = Policy::compile(&config(&[(&["*"], "/api/**", &["role:admin"])], "deny")).unwrap();
        let reader = who(&["admin"], "read");
        assert_eq!(
            decide(&p, "GET", "/api/hosts", None, Some(&reader)),
            Decision::Allow
        );
        assert!(
            matches!(decide(&p, "POST", "/api/hosts", None, Some(&reader)), Decision::Forbidden(m) if m.contains("write"))
        );
        let scoped = Policy::compile(&config(&[(&["*"], "/api/**", &["scope:write"])], "deny")).unwrap();
        assert_eq!(
            decide(&scoped, "PUT", "/api/x", None, Some(&who(&[], "read write"))),
            Decision::Allow
        );
    }

    #[test]
    fn emergency_tokens_get_only_the_allow_list_without_sorting_or_filtering() {
        let p = Policy::compile(&config(&[(&["*"], "/api/**", &["authenticated"])], "deny")).unwrap();
        let e = who(&[], "emergency");
        assert_eq!(decide(&p, "GET", "/api/hosts", None, Some(&e)), Decision::Allow);
        assert_eq!(
            decide(&p, "GET", "/api/hosts", Some("offset=0&limit=10"), Some(&e)),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, "POST", "/api/backups/7/restore", None, Some(&e)),
            Decision::Allow
        );
        assert!(matches!(
            decide(&p, "DELETE", "/api/hosts/1", None, Some(&e)),
            Decision::Forbidden(_)
        ));
        assert!(matches!(
            decide(&p, "GET", "/api/hosts/1", None, Some(&e)),
            Decision::Forbidden(_)
        ));
        let sorted = decide(&p, "GET", "/api/hosts", Some("sort=name"), Some(&e));
        assert!(matches!(sorted, Decision::BadRequest(m) if m.contains("\"sort\"")));
        let fields = decide(
            &p,
            "GET",
            "/api/virtual_machines",
            Some("show_optional_fields=true"),
            Some(&e),
        );
        assert!(matches!(fields, Decision::BadRequest(_)));
    }

    #[test]
    fn paths_are_judged_in_their_canonical_form() {
        let p = Policy::compile(&config(
            &[
                (&["GET"], "/public/**", &["anonymous"]),
                (&["*"], "/api/admin/**", &["role:admin"]),
                (&["*"], "/api/**", &["authenticated"]),
            ],
            "deny",
        ))
        .unwrap();
        assert_eq!(
            decide(&p, "GET", "/public/..;/api/admin/x", None, None),
            Decision::Unauthenticated
        );
        assert_eq!(decide(&p, "GET", "/public/x/..;/y", None, None), Decision::Allow);
        let viewer = who(&["viewer"], "read write");
        assert!(matches!(
            decide(&p, "GET", "/api/admin;x=1/secret", None, Some(&viewer)),
            Decision::Forbidden(m) if m.contains("/api/admin/secret") && m.contains("role admin")
        ));
        assert_eq!(
            decide(
                &p,
                "GET",
                "/api/admin;x=1/secret",
                None,
                Some(&who(&["admin"], "read"))
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, "GET", "/api//admin/./secret", None, None),
            Decision::Unauthenticated
        );
        // The emergency allow-list judges the same form.
        let e = who(&[], "emergency");
        assert_eq!(
            decide(&p, "GET", "/api/hosts;x=1", None, Some(&e)),
            Decision::Allow
        );
        assert_eq!(
            decide(&p, "GET", "/api/hosts/1/..", None, Some(&e)),
            Decision::Allow
        );
        assert!(matches!(
            decide(&p, "GET", "/api/hosts/..;/backups/..;/secrets", None, Some(&e)),
            Decision::Forbidden(_)
        ));
    }

    #[test]
    fn bad_rules_are_reported_by_position() {
        let err = Policy::compile(&config(&[(&["GET"], "/a/**/b", &["anonymous"])], "deny")).unwrap_err();
        assert!(err.contains("gateway.rules[0]") && err.contains("**"), "{err}");
        let err = Policy::compile(&config(&[(&["GET"], "/a", &["admins"])], "deny")).unwrap_err();
        assert!(err.contains("role:NAME"), "{err}");
        let err = Policy::compile(&config(&[(&["GET"], "a", &["anonymous"])], "deny")).unwrap_err();
        assert!(err.contains("start with /"), "{err}");
    }
}
