-- Tessera schema, SQLite flavour. Times are milliseconds since the Unix epoch.

CREATE TABLE domains (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL CHECK (source IN ('local', 'ldap')),
    enabled     BOOLEAN NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX domains_name_ci ON domains (lower(name));

CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    domain_id          TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    common_name        TEXT,
    distinguished_name TEXT,
    password_hash      TEXT,
    enabled            BOOLEAN NOT NULL,
    emergency          BOOLEAN NOT NULL,
    failed_logins      INTEGER NOT NULL DEFAULT 0,
    first_failed_at    INTEGER,
    locked_until       INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_domain_name_ci ON users (domain_id, lower(name));

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled     BOOLEAN NOT NULL,
    builtin     BOOLEAN NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE clients (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT,
    grants      TEXT NOT NULL,
    policy      TEXT,
    enabled     BOOLEAN NOT NULL,
    created_at  INTEGER NOT NULL
);

-- scope_domain_id is '' for system scope, so it can sit in the key.
CREATE TABLE assignments (
    principal_kind  TEXT NOT NULL CHECK (principal_kind IN ('user', 'client')),
    principal_id    TEXT NOT NULL,
    role_id         TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    scope_domain_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (principal_kind, principal_id, role_id, scope_domain_id)
);
CREATE INDEX assignments_role ON assignments (role_id);

-- Session ids are time-ordered (a millisecond prefix), and the table is
-- clustered on them, so new sessions append instead of landing on random
-- pages; only the token-hash index takes random writes.
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    token_hash      BLOB NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('access', 'refresh', 'proxy')),
    format          TEXT NOT NULL CHECK (format IN ('opaque', 'jwt')),
    user_id         TEXT REFERENCES users (id) ON DELETE CASCADE,
    client_id       TEXT REFERENCES clients (id) ON DELETE CASCADE,
    domain_id       TEXT,
    door            TEXT NOT NULL,
    policy          TEXT NOT NULL,
    scope           TEXT NOT NULL,
    family_id       TEXT,
    auth_time       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER NOT NULL,
    expires_at      INTEGER,
    idle_timeout_ms INTEGER,
    revoked_at      INTEGER,
    revoke_reason   TEXT,
    -- A refresh session's token before its last rotation (replay detection).
    previous_hash   BLOB
) WITHOUT ROWID;
-- Access and proxy tokens are found by hash. Refresh tokens carry their
-- session id and are found by it (then checked against the hash), so the
-- one index with random keys is spared half the writes of a rotation.
CREATE UNIQUE INDEX sessions_token ON sessions (token_hash) WHERE kind <> 'refresh';
CREATE INDEX sessions_user ON sessions (user_id, kind);
CREATE INDEX sessions_family ON sessions (family_id);

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    algorithm       TEXT NOT NULL,
    public_key      BLOB NOT NULL,
    private_key_enc BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    retired_at      INTEGER,
    publish_until   INTEGER
);

CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    actor        TEXT,
    subject      TEXT,
    subject_name TEXT,
    domain       TEXT,
    door         TEXT,
    detail       TEXT NOT NULL
);
CREATE INDEX audit_at ON audit_events (at);
CREATE INDEX audit_subject ON audit_events (subject, at);

-- Facts every node of a cluster must agree on (bootstrap marker, service
-- token hash, key-file fingerprint).
CREATE TABLE cluster_facts (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL,
    set_at INTEGER NOT NULL
);

-- Changes that make cached sessions stale (revocations, disables,
-- lockouts, role changes). Every node reads new rows and drops what they
-- name from its cache; PostgreSQL also NOTIFYs so nodes read them at once.
CREATE TABLE invalidations (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    target TEXT NOT NULL
);
CREATE INDEX invalidations_at ON invalidations (at);
