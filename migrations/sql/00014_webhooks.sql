-- +goose Up
-- Webhook endpoints of a site (docs/webhooks.md). The signing secret is kept
-- sealed (AES-256-GCM, a key derived from the KEK, bound to the row id); a
-- rotated-out secret keeps signing until prev_secret_until.
CREATE TABLE webhooks (
    id                TEXT PRIMARY KEY,
    site_id           TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    url               TEXT NOT NULL,
    events            TEXT NOT NULL,
    enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason   TEXT NOT NULL DEFAULT '',
    secret_enc        BYTEA NOT NULL,
    prev_secret_enc   BYTEA,
    prev_secret_until TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_site ON webhooks (site_id, id);

-- One delivery per event and endpoint, enqueued in the transaction of the
-- change; worked with the outbox's lease pattern: pending until a worker
-- claims it (sending, owner and lease_until), then delivered, pending again
-- for a retry at next_attempt_at, or failed.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    site_id          TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    type             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    owner            TEXT NOT NULL DEFAULT '',
    lease_until      TIMESTAMPTZ,
    last_status      INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    delivered_at     TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

-- Every attempt of a delivery: what the receiver answered and how long it
-- took.
CREATE TABLE webhook_attempts (
    id               TEXT PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    status_code      INTEGER NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    duration_ms      INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, created_at);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
