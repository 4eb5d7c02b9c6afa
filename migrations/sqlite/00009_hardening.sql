-- +goose Up
-- The last refresh-challenge request time (Unix ms) accepted per
-- credential: a signed request is honoured once, and only when newer than
-- the last one, so a recorded request cannot displace a later challenge.
CREATE TABLE credential_challenge_clock (
    credential_id    TEXT PRIMARY KEY REFERENCES credentials(id) ON DELETE CASCADE,
    last_request_ms  INTEGER NOT NULL
);

-- How an API key's hash was computed: 'sha256' (before this migration, the
-- key's plain SHA-256) or 'hmac' (HMAC-SHA256 under a key derived from the
-- server's key-encryption key). A sha256 key is rehashed on its first
-- successful use.
ALTER TABLE api_keys ADD COLUMN hash_alg TEXT NOT NULL DEFAULT 'sha256';

-- +goose Down
ALTER TABLE api_keys DROP COLUMN hash_alg;
DROP TABLE credential_challenge_clock;
