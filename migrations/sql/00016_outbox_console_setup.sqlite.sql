-- +goose Up
-- An admin sends a user a console set-up link by SMS: a new message kind.
-- SQLite can't change a CHECK constraint, so the table is rebuilt (nothing
-- references it). The link in its payload is a secret (it signs a person in
-- once), so, like an invitation code, it is emptied once the message is
-- sent or dead.
CREATE TABLE outbox_new (
    id               TEXT PRIMARY KEY,
    site_id          TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('invitation', 'visitor_pass', 'pin', 'revocation', 'wallet_update', 'console_setup')),
    channel          TEXT NOT NULL CHECK (channel IN ('apns', 'fcm', 'sms')),
    recipient        TEXT NOT NULL,
    topic            TEXT NOT NULL DEFAULT '',
    push_type        TEXT NOT NULL DEFAULT '',
    priority         INTEGER NOT NULL DEFAULT 0,
    collapse_id      TEXT NOT NULL DEFAULT '',
    expiration       DATETIME,
    -- JSON; it may hold a secret (an invitation code, a PIN), so it is emptied
    -- once the message is sent or dead.
    payload          TEXT NOT NULL DEFAULT '{}',
    idempotency_key  TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  DATETIME NOT NULL,
    owner            TEXT NOT NULL DEFAULT '',
    lease_until      DATETIME,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL,
    sent_at          DATETIME
);
INSERT INTO outbox_new (id, site_id, kind, channel, recipient, topic, push_type, priority, collapse_id, expiration, payload, idempotency_key, status, attempts, next_attempt_at, owner, lease_until, last_error, created_at, updated_at, sent_at)
    SELECT id, site_id, kind, channel, recipient, topic, push_type, priority, collapse_id, expiration, payload, idempotency_key, status, attempts, next_attempt_at, owner, lease_until, last_error, created_at, updated_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE UNIQUE INDEX outbox_site_idempotency_key ON outbox (site_id, idempotency_key);
CREATE INDEX outbox_claim ON outbox (status, next_attempt_at);
CREATE INDEX outbox_site ON outbox (site_id, id);

-- +goose Down
CREATE TABLE outbox_new (
    id               TEXT PRIMARY KEY,
    site_id          TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('invitation', 'visitor_pass', 'pin', 'revocation', 'wallet_update')),
    channel          TEXT NOT NULL CHECK (channel IN ('apns', 'fcm', 'sms')),
    recipient        TEXT NOT NULL,
    topic            TEXT NOT NULL DEFAULT '',
    push_type        TEXT NOT NULL DEFAULT '',
    priority         INTEGER NOT NULL DEFAULT 0,
    collapse_id      TEXT NOT NULL DEFAULT '',
    expiration       DATETIME,
    -- JSON; it may hold a secret (an invitation code, a PIN), so it is emptied
    -- once the message is sent or dead.
    payload          TEXT NOT NULL DEFAULT '{}',
    idempotency_key  TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  DATETIME NOT NULL,
    owner            TEXT NOT NULL DEFAULT '',
    lease_until      DATETIME,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL,
    sent_at          DATETIME
);
INSERT INTO outbox_new (id, site_id, kind, channel, recipient, topic, push_type, priority, collapse_id, expiration, payload, idempotency_key, status, attempts, next_attempt_at, owner, lease_until, last_error, created_at, updated_at, sent_at)
    SELECT id, site_id, kind, channel, recipient, topic, push_type, priority, collapse_id, expiration, payload, idempotency_key, status, attempts, next_attempt_at, owner, lease_until, last_error, created_at, updated_at, sent_at FROM outbox WHERE kind <> 'console_setup';
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE UNIQUE INDEX outbox_site_idempotency_key ON outbox (site_id, idempotency_key);
CREATE INDEX outbox_claim ON outbox (status, next_attempt_at);
CREATE INDEX outbox_site ON outbox (site_id, id);
