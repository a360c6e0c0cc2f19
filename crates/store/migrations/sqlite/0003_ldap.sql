-- LDAP domains (SPEC §7). A domain whose source is 'ldap' has one row in
-- ldap_domains: where its directory is and how a login finds the user's
-- entry. Only the search account's password is kept, encrypted under the
-- master key; users' passwords never are. Users of such a domain are
-- shadow rows in users (no password hash), their assignments rewritten
-- from ldap_group_roles at every login.

CREATE TABLE ldap_domains (
    domain_id         TEXT PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    url               TEXT NOT NULL,
    -- 'dn_template' (user_dn_template) or 'search' (search_base, search_filter, bind_dn).
    bind_style        TEXT NOT NULL CHECK (bind_style IN ('dn_template', 'search')),
    user_dn_template  TEXT,
    search_base       TEXT,
    search_filter     TEXT,
    bind_dn           TEXT,
    bind_password_enc BLOB,
    group_base        TEXT,
    group_filter      TEXT,
    starttls          BOOLEAN NOT NULL,
    ca_pem            TEXT
);

-- group_key is the group's cn lowercased: groups match without regard to case.
CREATE TABLE ldap_group_roles (
    domain_id  TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    group_key  TEXT NOT NULL,
    group_name TEXT NOT NULL,
    role_id    TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    system     BOOLEAN NOT NULL,
    PRIMARY KEY (domain_id, group_key, role_id, system)
);
