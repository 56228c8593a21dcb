-- +goose Up
CREATE TABLE trucks (
    id           TEXT PRIMARY KEY,
    carrier_id   TEXT NOT NULL REFERENCES organizations (id),
    unit         TEXT NOT NULL,
    equipment    TEXT NOT NULL,
    capacity_lbs INTEGER NOT NULL,
    plate        TEXT NOT NULL DEFAULT '',
    vin          TEXT NOT NULL DEFAULT '',
    created_at   {{.TIMESTAMP}} NOT NULL
);
CREATE UNIQUE INDEX trucks_unit ON trucks (carrier_id, unit);

CREATE TABLE drivers (
    id                TEXT PRIMARY KEY,
    carrier_id        TEXT NOT NULL REFERENCES organizations (id),
    name              TEXT NOT NULL,
    phone             TEXT NOT NULL DEFAULT '',
    home_address      TEXT NOT NULL DEFAULT '',
    home_city         TEXT NOT NULL DEFAULT '',
    home_state        TEXT NOT NULL DEFAULT '',
    home_zip          TEXT NOT NULL DEFAULT '',
    home_lat          {{.FLOAT}} NOT NULL,
    home_lon          {{.FLOAT}} NOT NULL,
    equipment         TEXT NOT NULL,
    capacity_lbs      INTEGER NOT NULL,
    truck_id          TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    hos_driving_left  INTEGER NOT NULL,
    hos_window_left   INTEGER NOT NULL,
    hos_cycle_left    INTEGER NOT NULL,
    hos_until_break   INTEGER NOT NULL,
    hos_updated_at    {{.TIMESTAMP}} NOT NULL,
    created_at        {{.TIMESTAMP}} NOT NULL,
    updated_at        {{.TIMESTAMP}} NOT NULL
);
CREATE INDEX drivers_carrier ON drivers (carrier_id, id);
-- The matching service rebuilds its index of available drivers from this.
CREATE INDEX drivers_status ON drivers (status, equipment);

-- +goose Down
DROP TABLE drivers;
DROP TABLE trucks;
