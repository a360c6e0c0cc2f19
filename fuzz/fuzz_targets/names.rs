//! User, domain, role and client names (RFC 8265, `tessera_model::names`)
//! from any string: a name that is accepted must be stable, so that what
//! is stored finds itself again, and its key, typed as a name, is the
//! same name when the profile accepts it at all. (It need not: U+13C3
//! CHEROKEE LETTER TSV is a name, and its lowercase U+AB93, its key, is
//! refused by the IdentifierClass.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_model::names::{canonical, lookup_key, NameKind};

fuzz_target!(|raw: &str| {
    for kind in [NameKind::User, NameKind::Domain, NameKind::Role, NameKind::Client] {
        let Ok(c) = canonical(kind, raw) else { continue };
        let again = canonical(kind, &c.display)
            .unwrap_or_else(|e| panic!("{raw:?} → {:?} is refused: {e}", c.display));
        assert_eq!(again, c, "{raw:?} is not stable");
        if let Ok(key) = lookup_key(kind, &c.key) {
            assert_eq!(key, c.key, "{raw:?}: its key, typed as a name, is another name");
        }
    }
});
