-- +goose Up
-- Visitor passes: a QR token and/or a PIN for a visitor (a user of the
-- site, found again by phone), issued by an admin or by a member within
-- their group's policy. The QR token itself is not stored: it is signed
-- again from these fields when needed; the link's token is stored hashed.
CREATE TABLE visitor_passes (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    type            TEXT NOT NULL CHECK (type IN ('recurring', 'temporary', 'single_use')),
    status          TEXT NOT NULL CHECK (status IN ('active', 'used', 'revoked')),
    visitor_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issuer_kind     TEXT NOT NULL CHECK (issuer_kind IN ('operator', 'admin', 'member')),
    issuer_key_id   TEXT NOT NULL,
    issuer_user_id  TEXT REFERENCES users(id) ON DELETE SET NULL,
    starts_at       TIMESTAMPTZ NOT NULL,
    ends_at         TIMESTAMPTZ NOT NULL,
    schedule_days   INTEGER NOT NULL DEFAULT 0,
    schedule_start  INTEGER NOT NULL DEFAULT 0,
    schedule_end    INTEGER NOT NULL DEFAULT 0,
    method_qr       BOOLEAN NOT NULL,
    method_pin      BOOLEAN NOT NULL,
    deliver_via     TEXT NOT NULL DEFAULT 'none' CHECK (deliver_via IN ('none', 'sms', 'push')),
    link_hash       TEXT NOT NULL UNIQUE,
    used_at         TIMESTAMPTZ,
    used_door_id    TEXT NOT NULL DEFAULT '',
    used_reader_id  TEXT NOT NULL DEFAULT '',
    revoked_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK (method_qr OR method_pin)
);
CREATE INDEX visitor_passes_site ON visitor_passes (site_id, id);
CREATE INDEX visitor_passes_visitor ON visitor_passes (visitor_id);

CREATE TABLE visitor_pass_doors (
    pass_id  TEXT NOT NULL REFERENCES visitor_passes(id) ON DELETE CASCADE,
    door_id  TEXT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    PRIMARY KEY (pass_id, door_id)
);
CREATE INDEX visitor_pass_doors_door ON visitor_pass_doors (door_id);

-- PIN codes of a door. Offline PINs store only what regenerates them (type,
-- window, nonce: the door key is derived, never stored) and their id (the
-- deny list's key). Custom PINs (chosen by an admin, or by the server for a
-- visitor pass) are stored encrypted (pin_enc, AES-GCM) with a keyed hash
-- (pin_hash) that the partial unique index uses to keep two active PINs of
-- a door from being equal.
CREATE TABLE pins (
    id                TEXT PRIMARY KEY,
    site_id           TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    door_id           TEXT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    mode              TEXT NOT NULL CHECK (mode IN ('offline', 'custom')),
    type              TEXT NOT NULL CHECK (type IN ('one_time', 'time_bound', 'permanent')),
    source            TEXT NOT NULL CHECK (source IN ('manual', 'visitor_pass', 'booking')),
    status            TEXT NOT NULL CHECK (status IN ('active', 'expired', 'deleted')),
    starts_at         TIMESTAMPTZ NOT NULL,
    ends_at           TIMESTAMPTZ,
    offline_id        TEXT,
    nonce             INTEGER NOT NULL DEFAULT 0,
    pin_enc           BYTEA,
    pin_hash          TEXT,
    schedule_days     INTEGER NOT NULL DEFAULT 0,
    schedule_start    INTEGER NOT NULL DEFAULT 0,
    schedule_end      INTEGER NOT NULL DEFAULT 0,
    assignee_user_id  TEXT REFERENCES users(id) ON DELETE SET NULL,
    assignee_key_id   TEXT NOT NULL DEFAULT '',
    pass_id           TEXT REFERENCES visitor_passes(id) ON DELETE CASCADE,
    created_by        TEXT NOT NULL,
    used_at           TIMESTAMPTZ,
    deleted_at        TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    CHECK ((mode = 'offline') = (offline_id IS NOT NULL)),
    CHECK ((mode = 'custom') = (pin_enc IS NOT NULL AND pin_hash IS NOT NULL)),
    -- A manual PIN has an end exactly when it is time_bound; a pass's or a
    -- booking's PIN takes the window of what it serves.
    CHECK ((type = 'time_bound') = (ends_at IS NOT NULL) OR source <> 'manual')
);
-- An offline PIN's id is its digits' identity for the door: the same id
-- twice would be the same PIN (or one on the deny list). Never reused.
CREATE UNIQUE INDEX pins_door_offline_id ON pins (door_id, offline_id) WHERE offline_id IS NOT NULL;
-- No two active custom PINs of a door are equal.
CREATE UNIQUE INDEX pins_door_pin_hash ON pins (door_id, pin_hash) WHERE pin_hash IS NOT NULL AND status = 'active';
CREATE INDEX pins_site_door ON pins (site_id, door_id, id);
CREATE INDEX pins_door_status ON pins (door_id, status);
CREATE INDEX pins_pass ON pins (pass_id);
CREATE INDEX pins_assignee ON pins (assignee_user_id);

-- +goose Down
DROP TABLE pins;
DROP TABLE visitor_pass_doors;
DROP TABLE visitor_passes;
