-- +goose Up
-- The objects each site change touched, written in the same transaction as
-- the version bump (models.Store.bump). A reader at version v is sent a
-- delta built from the objects named after v, re-read in their current
-- state; a version without rows here (a change that named nothing, such as
-- a key rotation, or one made before this table) makes the reader take a
-- full bundle instead.
CREATE TABLE site_change_refs (
    site_id     TEXT NOT NULL,
    version     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    PRIMARY KEY (site_id, version, kind, object_id),
    FOREIGN KEY (site_id, version) REFERENCES site_changes (site_id, version) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE site_change_refs;
