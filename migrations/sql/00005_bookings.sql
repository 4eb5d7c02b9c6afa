-- +goose Up
-- A schedule-based door's booking rules. opening_hours is JSON: a list of
-- weekly windows in the site's time zone.
CREATE TABLE booking_schedules (
    door_id              TEXT PRIMARY KEY REFERENCES doors(id) ON DELETE CASCADE,
    site_id              TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    opening_hours        TEXT NOT NULL,
    slot_minutes         INTEGER NOT NULL,
    capacity             INTEGER NOT NULL,
    max_booking_minutes  INTEGER NOT NULL,
    lead_days            INTEGER NOT NULL,
    weekly_quota         INTEGER NOT NULL,
    grace_minutes        INTEGER NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE bookings (
    id            TEXT PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    door_id       TEXT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    starts_at     TIMESTAMPTZ NOT NULL,
    ends_at       TIMESTAMPTZ NOT NULL,
    methods       TEXT NOT NULL DEFAULT '',
    pin_id        TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    created_by    TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    cancelled_at  TIMESTAMPTZ
);
CREATE INDEX bookings_door_time ON bookings (door_id, starts_at);
CREATE INDEX bookings_user_time ON bookings (user_id, starts_at);

-- +goose Down
DROP TABLE bookings;
DROP TABLE booking_schedules;
