-- +goose Up
CREATE TABLE loads (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    reference       TEXT NOT NULL DEFAULT '',
    origin_address  TEXT NOT NULL DEFAULT '',
    origin_city     TEXT NOT NULL DEFAULT '',
    origin_state    TEXT NOT NULL DEFAULT '',
    origin_zip      TEXT NOT NULL DEFAULT '',
    origin_lat      {{.FLOAT}} NOT NULL,
    origin_lon      {{.FLOAT}} NOT NULL,
    dest_address    TEXT NOT NULL DEFAULT '',
    dest_city       TEXT NOT NULL DEFAULT '',
    dest_state      TEXT NOT NULL DEFAULT '',
    dest_zip        TEXT NOT NULL DEFAULT '',
    dest_lat        {{.FLOAT}} NOT NULL,
    dest_lon        {{.FLOAT}} NOT NULL,
    pickup_start    {{.TIMESTAMP}} NOT NULL,
    pickup_end      {{.TIMESTAMP}} NOT NULL,
    delivery_start  {{.TIMESTAMP}} NOT NULL,
    delivery_end    {{.TIMESTAMP}} NOT NULL,
    equipment       TEXT NOT NULL,
    weight_lbs      INTEGER NOT NULL CHECK (weight_lbs > 0),
    commodity       TEXT NOT NULL DEFAULT '',
    rate_cents      BIGINT NOT NULL CHECK (rate_cents >= 0),
    notes           TEXT NOT NULL DEFAULT '',
    miles           {{.FLOAT}} NOT NULL,
    status          TEXT NOT NULL,
    carrier_id      TEXT NOT NULL DEFAULT '',
    driver_id       TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL,
    created_at      {{.TIMESTAMP}} NOT NULL,
    updated_at      {{.TIMESTAMP}} NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);
-- The load board: open loads by equipment and pickup date, then by origin.
CREATE INDEX loads_board ON loads (status, equipment, pickup_start, id);
CREATE INDEX loads_board_origin ON loads (status, origin_lat, origin_lon);
CREATE INDEX loads_org ON loads (org_id, created_at, id);
CREATE INDEX loads_carrier ON loads (carrier_id, created_at, id);
CREATE INDEX loads_driver ON loads (driver_id, created_at, id);

CREATE TABLE load_transitions (
    seq         {{.SERIAL_PK}},
    load_id     TEXT NOT NULL REFERENCES loads (id),
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    at          {{.TIMESTAMP}} NOT NULL,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX load_transitions_load ON load_transitions (load_id, seq);

CREATE TABLE bookings (
    id          TEXT PRIMARY KEY,
    load_id     TEXT NOT NULL REFERENCES loads (id),
    carrier_id  TEXT NOT NULL REFERENCES organizations (id),
    driver_id   TEXT NOT NULL DEFAULT '',
    truck_id    TEXT NOT NULL DEFAULT '',
    rate_cents  BIGINT NOT NULL CHECK (rate_cents >= 0),
    status      TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    created_by  TEXT NOT NULL,
    created_at  {{.TIMESTAMP}} NOT NULL
);
-- One active booking per load, enforced by the database so that two
-- concurrent bookings cannot both win.
CREATE UNIQUE INDEX bookings_one_active ON bookings (load_id) WHERE status = 'active';
CREATE INDEX bookings_carrier ON bookings (carrier_id, created_at, id);

-- +goose Down
DROP TABLE bookings;
DROP TABLE load_transitions;
DROP TABLE loads;
