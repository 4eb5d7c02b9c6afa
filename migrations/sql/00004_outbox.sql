-- +goose Up
-- The notification outbox. A message is inserted in the same transaction as
-- the change that causes it (an invitation, a visitor pass, a revocation),
-- so it exists exactly when the change does; workers deliver it afterwards.
--
-- A claim sets status 'sending', owner and lease_until, and also moves
-- next_attempt_at to lease_until: the claim query then finds both pending
-- messages that are due and leases that ran out (a worker died) with one
-- condition on the (status, next_attempt_at) index.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    site_id          TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('invitation', 'visitor_pass', 'revocation', 'wallet_update')),
    channel          TEXT NOT NULL CHECK (channel IN ('apns', 'fcm', 'sms')),
    recipient        TEXT NOT NULL,
    topic            TEXT NOT NULL DEFAULT '',
    push_type        TEXT NOT NULL DEFAULT '',
    priority         INTEGER NOT NULL DEFAULT 0,
    collapse_id      TEXT NOT NULL DEFAULT '',
    expiration       TIMESTAMPTZ,
    -- JSON; it may hold a secret (an invitation code), so it is emptied
    -- once the message is sent or dead.
    payload          TEXT NOT NULL DEFAULT '{}',
    idempotency_key  TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    owner            TEXT NOT NULL DEFAULT '',
    lease_until      TIMESTAMPTZ,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ
);
-- Enqueuing the same notification twice (a retried request) is a no-op.
CREATE UNIQUE INDEX outbox_site_idempotency_key ON outbox (site_id, idempotency_key);
CREATE INDEX outbox_claim ON outbox (status, next_attempt_at);
CREATE INDEX outbox_site ON outbox (site_id, id);
-- Token hygiene clears a dead push token wherever it is.
CREATE INDEX devices_push_token ON devices (push_token) WHERE push_token <> '';

-- +goose Down
DROP INDEX devices_push_token;
DROP TABLE outbox;
