-- +goose Up
-- A door's key generation. The door's offline-PIN key and card key are
-- derived from the key-encryption key and this number (0: the original
-- derivation); rotating the door's keys (POST .../rotate-keys) raises it,
-- so a stolen reader's copy of the keys stops working at the door. A PIN
-- records the generation it was made under: an offline PIN's digits
-- regenerate from it, and the door's offline PINs of an older generation
-- no longer open (they are re-issued).
ALTER TABLE doors ADD COLUMN key_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pins ADD COLUMN key_generation INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE pins DROP COLUMN key_generation;
ALTER TABLE doors DROP COLUMN key_generation;
