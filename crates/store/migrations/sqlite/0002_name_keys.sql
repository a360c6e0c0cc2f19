-- One identity per visible name (SPEC §5). Every name gets a key beside
-- it: its RFC 8265 UsernameCaseMapped form (fullwidth forms mapped, NFC,
-- lowercased), and names are unique, and found, by key. SQL cannot compute
-- that form, so Tessera writes the key from Rust: on every insert, and for
-- rows written before this migration when the store is opened
-- (crates/store/src/names.rs). A row left without a key (its name is now
-- refused, or an older row holds the same key) is found by no name; it is
-- logged at every start.
--
-- The case-insensitive indexes of 0001 stay: every pair they refuse has
-- equal keys too, and they keep guarding nodes of an older version during
-- a rolling upgrade.

ALTER TABLE domains ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX domains_by_key ON domains (name_key);

ALTER TABLE users ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX users_by_domain_and_key ON users (domain_id, name_key);

ALTER TABLE roles ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX roles_by_key ON roles (name_key);

-- A client is still identified by its id; the key is how it is found.
ALTER TABLE clients ADD COLUMN id_key TEXT;
CREATE UNIQUE INDEX clients_by_key ON clients (id_key);
