-- +goose Up
-- Booking history imported with `backhaul market import`; the platform's own
-- bookings are read from loads and bookings directly.
CREATE TABLE market_bookings (
    load_id      TEXT PRIMARY KEY,
    booked_at    {{.TIMESTAMP}} NOT NULL,
    pickup_at    {{.TIMESTAMP}} NOT NULL,
    origin_city  TEXT NOT NULL DEFAULT '',
    origin_state TEXT NOT NULL DEFAULT '',
    origin_lat   {{.FLOAT}} NOT NULL,
    origin_lon   {{.FLOAT}} NOT NULL,
    dest_city    TEXT NOT NULL DEFAULT '',
    dest_state   TEXT NOT NULL DEFAULT '',
    dest_lat     {{.FLOAT}} NOT NULL,
    dest_lon     {{.FLOAT}} NOT NULL,
    equipment    TEXT NOT NULL,
    weight_lbs   {{.FLOAT}} NOT NULL CHECK (weight_lbs >= 0),
    miles        {{.FLOAT}} NOT NULL CHECK (miles > 0),
    rate_usd     {{.FLOAT}} NOT NULL CHECK (rate_usd > 0),
    source       TEXT NOT NULL DEFAULT '',
    imported_at  {{.TIMESTAMP}} NOT NULL
);
-- Rate indexes and forecasts read the last year or so of bookings.
CREATE INDEX market_bookings_booked ON market_bookings (booked_at);

-- Rate models that went into service, newest last. The model itself is the
-- rate model's JSON; every replica loads the newest at start and when it
-- changes, so none trains to serve.
CREATE TABLE market_models (
    id              {{.SERIAL_PK}},
    run_id          BIGINT NOT NULL,
    area_scheme     TEXT NOT NULL,
    trained_at      {{.TIMESTAMP}} NOT NULL,
    history_through {{.TIMESTAMP}} NOT NULL,
    bookings        INTEGER NOT NULL,
    mape            {{.FLOAT}} NOT NULL,
    coverage        {{.FLOAT}} NOT NULL,
    metrics         {{.JSON}} NOT NULL,
    model           TEXT NOT NULL
);

-- Retraining jobs: queued by operators, by the daily schedule (one per day,
-- whichever replica queues it first, thanks to slot) and by imports; claimed
-- by one replica at a time.
CREATE TABLE market_training_runs (
    id           {{.SERIAL_PK}},
    trigger      TEXT NOT NULL,
    slot         TEXT UNIQUE,
    requested_by TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'accepted', 'rejected', 'failed')),
    requested_at {{.TIMESTAMP}} NOT NULL,
    started_at   {{.TIMESTAMP}},
    finished_at  {{.TIMESTAMP}},
    worker       TEXT NOT NULL DEFAULT '',
    message      TEXT NOT NULL DEFAULT '',
    report       {{.JSON}},
    model_id     BIGINT
);
CREATE INDEX market_training_runs_status ON market_training_runs (status, id);

-- +goose Down
DROP TABLE market_training_runs;
DROP TABLE market_models;
DROP TABLE market_bookings;
