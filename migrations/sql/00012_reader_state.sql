-- +goose Up
-- What an admin sees of a reader (GET /v1/sites/{site}/readers): when its
-- stream last opened and closed on any instance, what the daemon last
-- reported (its version, the bundle version it holds, its upload queue),
-- and when it was decommissioned (its row stays for the event history).
ALTER TABLE readers ADD COLUMN connected_at TIMESTAMPTZ;
ALTER TABLE readers ADD COLUMN disconnected_at TIMESTAMPTZ;
ALTER TABLE readers ADD COLUMN decommissioned_at TIMESTAMPTZ;
ALTER TABLE readers ADD COLUMN bundle_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE readers ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE readers ADD COLUMN queue_depth INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE readers DROP COLUMN queue_depth;
ALTER TABLE readers DROP COLUMN version;
ALTER TABLE readers DROP COLUMN bundle_version;
ALTER TABLE readers DROP COLUMN decommissioned_at;
ALTER TABLE readers DROP COLUMN disconnected_at;
ALTER TABLE readers DROP COLUMN connected_at;
