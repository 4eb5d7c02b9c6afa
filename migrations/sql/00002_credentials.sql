-- +goose Up
-- Every change a reader must learn bumps its site's bundle_version in the
-- same transaction and is logged in site_changes, so readers can ask for
-- what changed since the version they hold.
ALTER TABLE sites ADD COLUMN bundle_version BIGINT NOT NULL DEFAULT 1;
-- Tokens issued before a user's credential_epoch are refused everywhere.
ALTER TABLE users ADD COLUMN credential_epoch TIMESTAMPTZ;

CREATE TABLE site_changes (
    site_id     TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (site_id, version)
);

CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY,
    private_enc   BYTEA NOT NULL,
    public_jwk    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    retired_at    TIMESTAMPTZ
);

CREATE TABLE credentials (
    id                TEXT PRIMARY KEY,
    site_id           TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('card', 'fob', 'mobile')),
    number            TEXT NOT NULL DEFAULT '',
    label             TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('pending', 'active', 'lost', 'revoked', 'expired')),
    revoke_reason     TEXT NOT NULL DEFAULT '',
    token_expires_at  TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    revoked_at        TIMESTAMPTZ
);
-- A card number belongs to one active credential of a site; a lost card's
-- number stays taken, because the lost card itself may still be out there.
CREATE UNIQUE INDEX credentials_site_number ON credentials (site_id, number)
    WHERE number <> '' AND status IN ('active', 'lost');
CREATE INDEX credentials_site ON credentials (site_id, id);
CREATE INDEX credentials_user ON credentials (user_id);

CREATE TABLE invitations (
    id             TEXT PRIMARY KEY,
    site_id        TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    credential_id  TEXT NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    code_hash      TEXT NOT NULL UNIQUE,
    expires_at     TIMESTAMPTZ NOT NULL,
    accepted_at    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    site_id        TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id  TEXT NOT NULL UNIQUE REFERENCES credentials(id) ON DELETE CASCADE,
    public_jwk     TEXT NOT NULL,
    platform       TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    push_token     TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE credential_challenges (
    challenge_hash  TEXT PRIMARY KEY,
    credential_id   TEXT NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
    expires_at      TIMESTAMPTZ NOT NULL
);

-- The deny list readers receive. An entry lives until the revoked token
-- would have expired anyway (until); cards never expire (until NULL).
CREATE TABLE revocations (
    credential_id  TEXT PRIMARY KEY REFERENCES credentials(id) ON DELETE CASCADE,
    site_id        TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    reason         TEXT NOT NULL,
    revoked_at     TIMESTAMPTZ NOT NULL,
    until_at       TIMESTAMPTZ,
    version        BIGINT NOT NULL
);
CREATE INDEX revocations_site ON revocations (site_id, version);

-- Access decisions reported by readers and audit records of admin actions.
CREATE TABLE events (
    id             TEXT PRIMARY KEY,
    site_id        TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    event_id       TEXT NOT NULL,
    type           TEXT NOT NULL CHECK (type IN ('access', 'audit')),
    action         TEXT NOT NULL DEFAULT '',
    granted        BOOLEAN,
    reason         TEXT NOT NULL DEFAULT '',
    method         TEXT NOT NULL DEFAULT '',
    door_id        TEXT NOT NULL DEFAULT '',
    reader_id      TEXT NOT NULL DEFAULT '',
    user_id        TEXT NOT NULL DEFAULT '',
    credential_id  TEXT NOT NULL DEFAULT '',
    actor          TEXT NOT NULL DEFAULT '',
    detail         TEXT NOT NULL DEFAULT '',
    occurred_at    TIMESTAMPTZ NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX events_site_event_id ON events (site_id, event_id);
CREATE INDEX events_site_time ON events (site_id, occurred_at DESC, id DESC);

-- +goose Down
DROP TABLE events;
DROP TABLE revocations;
DROP TABLE credential_challenges;
DROP TABLE devices;
DROP TABLE invitations;
DROP TABLE credentials;
DROP TABLE signing_keys;
DROP TABLE site_changes;
ALTER TABLE users DROP COLUMN credential_epoch;
ALTER TABLE sites DROP COLUMN bundle_version;
