-- +goose Up
-- An admin sends a user a console set-up link by SMS: a new message kind.
-- The link in its payload is a secret (it signs a person in once), so, like
-- an invitation code, it is emptied once the message is sent or dead.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('invitation', 'visitor_pass', 'pin', 'revocation', 'wallet_update', 'console_setup'));

-- +goose Down
DELETE FROM outbox WHERE kind = 'console_setup';
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('invitation', 'visitor_pass', 'pin', 'revocation', 'wallet_update'));
