-- +goose Up
-- A group of the none role holds users with no access credentials (seed
-- 000, docs/roles.md): it opens no door and issues no visitor pass. The
-- API now refuses both; groups saved before lose them here, and their
-- sites' bundle version moves so readers fetch a bundle without them.
UPDATE sites SET bundle_version = bundle_version + 1
WHERE id IN (SELECT site_id FROM access_groups g WHERE g.role = 'none'
             AND (g.vp_enabled OR EXISTS (SELECT 1 FROM group_doors d WHERE d.group_id = g.id)));
DELETE FROM group_doors WHERE group_id IN (SELECT id FROM access_groups WHERE role = 'none');
UPDATE access_groups SET vp_enabled = FALSE, vp_recurring = FALSE, vp_temporary = FALSE, vp_single_use = FALSE
WHERE role = 'none';

-- +goose Down
-- Nothing to undo: the doors and policies removed were never in effect.
SELECT 1;
