-- +goose Up
-- Wallet copies of visitor passes. A row exists once the visitor has taken
-- the pass to a wallet: downloaded the Apple .pkpass, or opened the Save to
-- Google Wallet link. Revoking, using or outliving a pass changes its row:
-- a new update tag, the state the wallets were told, and (Google) a state
-- still to send.
CREATE TABLE wallet_passes (
    pass_id          TEXT PRIMARY KEY REFERENCES visitor_passes(id) ON DELETE CASCADE,
    site_id          TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    -- SHA-256 (hex) of the pass's authenticationToken; '' until the .pkpass
    -- is first downloaded. The token itself is never stored.
    auth_hash        TEXT NOT NULL DEFAULT '',
    -- The update tag of the pass's last change (from wallet_sequence); 0
    -- means unchanged since it was downloaded.
    update_seq       BIGINT NOT NULL DEFAULT 0,
    -- The pass state the wallets were last told about.
    notified_state   TEXT NOT NULL DEFAULT 'active' CHECK (notified_state IN ('active', 'revoked', 'used', 'expired')),
    -- Last-Modified of the Apple pass.
    changed_at       TIMESTAMPTZ NOT NULL,
    -- A Save to Google Wallet link was handed out, so Google may hold an object.
    google_saved     BOOLEAN NOT NULL DEFAULT FALSE,
    -- A Google object state still to send ('' = nothing to send), with its retries.
    google_state     TEXT NOT NULL DEFAULT '' CHECK (google_state IN ('', 'ACTIVE', 'INACTIVE', 'EXPIRED', 'COMPLETED')),
    google_attempts  INTEGER NOT NULL DEFAULT 0,
    google_next_at   TIMESTAMPTZ,
    google_error     TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX wallet_passes_notified ON wallet_passes (notified_state);
CREATE INDEX wallet_passes_google_due ON wallet_passes (google_next_at) WHERE google_state <> '';

-- Apple devices that asked for a pass's updates (PassKit web service).
CREATE TABLE wallet_registrations (
    device_library_id  TEXT NOT NULL,
    pass_type_id       TEXT NOT NULL,
    serial_number      TEXT NOT NULL REFERENCES wallet_passes(pass_id) ON DELETE CASCADE,
    push_token         TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device_library_id, pass_type_id, serial_number)
);
CREATE INDEX wallet_registrations_serial ON wallet_registrations (serial_number);
CREATE INDEX wallet_registrations_push_token ON wallet_registrations (push_token);

-- One increasing sequence for update tags, shared by every site (a phone
-- may hold passes of several). Taking a number locks the row until commit,
-- so tags become visible in the order they were taken: a phone that saw
-- tag n can never later miss a change numbered below n.
CREATE TABLE wallet_sequence (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    value  BIGINT NOT NULL
);
INSERT INTO wallet_sequence (id, value) VALUES (1, 0);

-- +goose Down
DROP TABLE wallet_sequence;
DROP TABLE wallet_registrations;
DROP TABLE wallet_passes;
