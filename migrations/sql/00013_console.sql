-- +goose Up
-- The console's people, their passkeys, set-up links and sessions
-- (docs/console.md). A console person is an operator (all sites) or belongs
-- to one site; a site person may be one of the site's users, whose group
-- role then decides what they may do, exactly as for that user's API key.
CREATE TABLE console_people (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('operator', 'site')),
    site_id     TEXT REFERENCES sites(id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    -- The WebAuthn user handle: random, never the id, so an authenticator
    -- holds nothing that names the person.
    handle      BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    CHECK ((kind = 'operator' AND site_id IS NULL AND user_id IS NULL) OR (kind = 'site' AND site_id IS NOT NULL))
);
CREATE UNIQUE INDEX console_people_handle ON console_people (handle);
CREATE UNIQUE INDEX console_people_user ON console_people (user_id);

CREATE TABLE console_passkeys (
    id            TEXT PRIMARY KEY,
    person_id     TEXT NOT NULL REFERENCES console_people(id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL,
    -- The go-webauthn Credential as JSON: public key, sign count, flags.
    data          TEXT NOT NULL,
    sign_count    BIGINT NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX console_passkeys_credential ON console_passkeys (credential_id);
CREATE INDEX console_passkeys_person ON console_passkeys (person_id);

-- Set-up links: only a hash of the token; single use (used_at).
CREATE TABLE console_setup_tokens (
    token_hash  TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES console_people(id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);

-- Sessions: only a hash of the cookie's token. role_at_start is the
-- person's group role when the session began: a different role on a later
-- request ends the session.
CREATE TABLE console_sessions (
    token_hash    TEXT PRIMARY KEY,
    id            TEXT NOT NULL,
    person_id     TEXT NOT NULL REFERENCES console_people(id) ON DELETE CASCADE,
    site_id       TEXT,
    role_at_start TEXT NOT NULL,
    csrf          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ
);
CREATE UNIQUE INDEX console_sessions_id ON console_sessions (id);
CREATE INDEX console_sessions_person ON console_sessions (person_id);

-- WebAuthn ceremonies in flight (challenge and what it is for), so any
-- instance can finish what another began; they live for five minutes.
CREATE TABLE console_ceremonies (
    id          TEXT PRIMARY KEY,
    data        TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

-- Form nonces: a form posted twice makes one object.
CREATE TABLE console_form_nonces (
    nonce       TEXT PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE console_form_nonces;
DROP TABLE console_ceremonies;
DROP TABLE console_sessions;
DROP TABLE console_setup_tokens;
DROP TABLE console_passkeys;
DROP TABLE console_people;
