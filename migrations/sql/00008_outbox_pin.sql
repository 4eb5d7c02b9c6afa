-- +goose Up
-- PIN codes reach their holder through the outbox (deliver_via on PINs and
-- booking PINs): a new message kind. Like an invitation code, the PIN in a
-- message's payload is emptied once the message is sent or dead.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('invitation', 'visitor_pass', 'pin', 'revocation', 'wallet_update'));

-- +goose Down
DELETE FROM outbox WHERE kind = 'pin';
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('invitation', 'visitor_pass', 'revocation', 'wallet_update'));
