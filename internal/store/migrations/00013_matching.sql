-- +goose Up
-- Drivers' stated constraints and wishes, set by their carrier's
-- dispatchers or by the driver. The lists are JSON arrays: lanes
-- [{"origin":"TX","destination":"GA"}], states ["NY"], areas
-- [{"lat":..,"lon":..,"radius_miles":..}]. No foreign key to drivers: the
-- driver service owns that table and may live in another database.
CREATE TABLE driver_preferences (
    driver_id          TEXT PRIMARY KEY,
    carrier_id         TEXT NOT NULL,
    lanes              {{.JSON}} NOT NULL,
    home_by            {{.TIMESTAMP}},
    no_go_states       {{.JSON}} NOT NULL,
    no_go_areas        {{.JSON}} NOT NULL,
    max_deadhead_miles {{.FLOAT}},
    updated_by         TEXT NOT NULL,
    updated_at         {{.TIMESTAMP}} NOT NULL
);
CREATE INDEX driver_preferences_carrier ON driver_preferences (carrier_id, driver_id);

-- Match requests. The row is the record of the request and of its result;
-- the JetStream work queue carries only its ID. enqueued_at stays NULL
-- until the queue acknowledged the message, so a sweeper can publish what a
-- crash left unsent. A result is stored only while the status is queued,
-- so of two deliveries of one request exactly one stores it.
CREATE TABLE match_requests (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('driver', 'load')),
    subject_id    TEXT NOT NULL,
    source        TEXT NOT NULL CHECK (source IN ('load_posted', 'driver_available', 'dispatcher')),
    carrier_scope TEXT NOT NULL DEFAULT '',
    top_n         INTEGER NOT NULL CHECK (top_n BETWEEN 1 AND 50),
    status        TEXT NOT NULL CHECK (status IN ('queued', 'done', 'failed')),
    created_by    TEXT NOT NULL,
    created_at    {{.TIMESTAMP}} NOT NULL,
    updated_at    {{.TIMESTAMP}} NOT NULL,
    enqueued_at   {{.TIMESTAMP}},
    attempts      INTEGER NOT NULL DEFAULT 0,
    handled_by    TEXT NOT NULL DEFAULT '',
    finished_at   {{.TIMESTAMP}},
    result        {{.JSON}},
    error         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX match_requests_org ON match_requests (org_id, created_at, id);
CREATE INDEX match_requests_unpublished ON match_requests (created_at) WHERE status = 'queued' AND enqueued_at IS NULL;

-- +goose Down
DROP TABLE match_requests;
DROP TABLE driver_preferences;
