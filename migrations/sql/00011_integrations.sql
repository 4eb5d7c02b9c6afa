-- +goose Up
-- Idempotency keys of POST requests. One row per principal (the API key id)
-- and key: the unique index makes concurrent duplicates meet here, whatever
-- instance they reach. request_hash covers method, path and body; the
-- response (status, content type, body) is kept encrypted with a key derived
-- from the KEK, because some answers carry one-time secrets. Rows older than
-- 24 hours are purged.
CREATE TABLE idempotency_keys (
    principal        TEXT NOT NULL,
    idem_key         TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('running', 'done')),
    -- A running request holds the key until locked_until; after that (its
    -- instance died) another request may take it over.
    locked_until     TIMESTAMPTZ NOT NULL,
    response_status  INTEGER NOT NULL DEFAULT 0,
    response_type    TEXT NOT NULL DEFAULT '',
    response_body    BYTEA,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX idempotency_keys_principal_key ON idempotency_keys (principal, idem_key);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- CSV imports of users and cards. The uploaded file is kept in the row until
-- the job ends, so any instance can run or resume it: position counts the
-- data rows already processed, and a worker holds the job with owner and
-- lease_until while it runs.
CREATE TABLE imports (
    id               TEXT PRIMARY KEY,
    site_id          TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    actor            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    total            INTEGER NOT NULL,
    done             INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    position         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    owner            TEXT NOT NULL DEFAULT '',
    lease_until      TIMESTAMPTZ,
    error            TEXT NOT NULL DEFAULT '',
    body             BYTEA,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ
);
CREATE INDEX imports_site ON imports (site_id, id);
CREATE INDEX imports_status ON imports (status, lease_until);

-- The rows an import refused, by line of the file.
CREATE TABLE import_errors (
    import_id        TEXT NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    line             INTEGER NOT NULL,
    field            TEXT NOT NULL,
    message          TEXT NOT NULL
);
CREATE INDEX import_errors_import ON import_errors (import_id, line);

-- +goose Down
DROP TABLE import_errors;
DROP TABLE imports;
DROP TABLE idempotency_keys;
