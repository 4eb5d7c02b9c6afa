-- +goose Up
CREATE TABLE sites (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE doors (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    schedule_based  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX doors_site_name ON doors (site_id, lower(name));
CREATE INDEX doors_site ON doors (site_id, id);

CREATE TABLE readers (
    id            TEXT PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    door_id       TEXT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    name          TEXT NOT NULL DEFAULT '',
    last_seen_at  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX readers_door ON readers (door_id);

CREATE TABLE access_groups (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'member', 'visitor', 'none')),
    schedule_days   INTEGER NOT NULL DEFAULT 0,
    schedule_start  INTEGER NOT NULL DEFAULT 0,
    schedule_end    INTEGER NOT NULL DEFAULT 0,
    vp_enabled      BOOLEAN NOT NULL DEFAULT FALSE,
    vp_recurring    BOOLEAN NOT NULL DEFAULT FALSE,
    vp_temporary    BOOLEAN NOT NULL DEFAULT FALSE,
    vp_single_use   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX access_groups_site_name ON access_groups (site_id, lower(name));
CREATE INDEX access_groups_site ON access_groups (site_id, id);

CREATE TABLE group_doors (
    group_id  TEXT NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
    door_id   TEXT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, door_id)
);
CREATE INDEX group_doors_door ON group_doors (door_id);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL DEFAULT '',
    phone           TEXT NOT NULL DEFAULT '',
    group_id        TEXT REFERENCES access_groups(id) ON DELETE RESTRICT,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    deactivated_at  TIMESTAMPTZ
);
-- A phone number identifies one active person per site; deactivated users
-- keep theirs for the record without blocking a new user.
CREATE UNIQUE INDEX users_site_phone ON users (site_id, phone) WHERE phone <> '' AND status = 'active';
CREATE INDEX users_site ON users (site_id, id);
CREATE INDEX users_group ON users (group_id);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('operator', 'admin', 'member', 'reader')),
    site_id     TEXT REFERENCES sites(id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    reader_id   TEXT REFERENCES readers(id) ON DELETE CASCADE,
    lookup      TEXT NOT NULL,
    hash        BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX api_keys_lookup ON api_keys (lookup);

-- One row per one-time server event (the first start's operator key), so
-- that two instances starting at once cannot both bootstrap.
CREATE TABLE server_state (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE server_state;
DROP TABLE api_keys;
DROP TABLE users;
DROP TABLE group_doors;
DROP TABLE access_groups;
DROP TABLE readers;
DROP TABLE doors;
DROP TABLE sites;
