-- +goose Up
-- Positions reported by drivers' phones and telematics devices. On SQLite
-- this is the table; on PostgreSQL the tracking service turns it, once and
-- while it is still empty, into a table partitioned by day on recorded_at
-- (native partitioning, which this portable template cannot express) and
-- keeps the partitions: see internal/tracking/partitions.go.
CREATE TABLE positions (
    driver_id   TEXT NOT NULL,
    carrier_id  TEXT NOT NULL,
    recorded_at {{.TIMESTAMP}} NOT NULL,
    received_at {{.TIMESTAMP}} NOT NULL,
    lat         {{.FLOAT}} NOT NULL,
    lon         {{.FLOAT}} NOT NULL,
    speed_mph   {{.FLOAT}},
    heading_deg {{.FLOAT}},
    accuracy_m  {{.FLOAT}},
    -- One fix per driver and instant: a retried batch cannot store twice.
    PRIMARY KEY (driver_id, recorded_at)
);
-- Rollups and retention scan by time.
CREATE INDEX positions_recorded ON positions (recorded_at);

-- Hourly rollups per driver, kept for a year after the raw fixes are gone.
CREATE TABLE position_rollups (
    driver_id     TEXT NOT NULL,
    carrier_id    TEXT NOT NULL,
    hour          {{.TIMESTAMP}} NOT NULL,
    points        INTEGER NOT NULL,
    miles         {{.FLOAT}} NOT NULL,
    avg_speed_mph {{.FLOAT}},
    max_speed_mph {{.FLOAT}},
    first_at      {{.TIMESTAMP}} NOT NULL,
    last_at       {{.TIMESTAMP}} NOT NULL,
    first_lat     {{.FLOAT}} NOT NULL,
    first_lon     {{.FLOAT}} NOT NULL,
    last_lat      {{.FLOAT}} NOT NULL,
    last_lon      {{.FLOAT}} NOT NULL,
    PRIMARY KEY (driver_id, hour)
);
CREATE INDEX position_rollups_hour ON position_rollups (hour);

-- Visits of a load's driver to its pickup and delivery geofences: arrival
-- after the dwell time, departure, and detention past the free time.
CREATE TABLE geofence_visits (
    load_id       TEXT NOT NULL,
    stop          TEXT NOT NULL CHECK (stop IN ('pickup', 'delivery')),
    driver_id     TEXT NOT NULL,
    carrier_id    TEXT NOT NULL,
    shipper_id    TEXT NOT NULL,
    inside_since  {{.TIMESTAMP}},
    outside_since {{.TIMESTAMP}},
    arrived_at    {{.TIMESTAMP}},
    departed_at   {{.TIMESTAMP}},
    last_fix_at   {{.TIMESTAMP}},
    fixes_inside  INTEGER NOT NULL DEFAULT 0,
    detention_min INTEGER NOT NULL DEFAULT 0,
    updated_at    {{.TIMESTAMP}} NOT NULL,
    PRIMARY KEY (load_id, stop)
);

-- The live ETA of each active load to its next stop.
CREATE TABLE load_etas (
    load_id         TEXT PRIMARY KEY,
    driver_id       TEXT NOT NULL,
    stop            TEXT NOT NULL,
    computed_at     {{.TIMESTAMP}} NOT NULL,
    remaining_miles {{.FLOAT}} NOT NULL,
    p50             {{.TIMESTAMP}} NOT NULL,
    p90             {{.TIMESTAMP}} NOT NULL,
    window_end      {{.TIMESTAMP}} NOT NULL,
    late_risk_at    {{.TIMESTAMP}}
);

-- +goose Down
DROP TABLE load_etas;
DROP TABLE geofence_visits;
DROP TABLE position_rollups;
DROP TABLE positions;
