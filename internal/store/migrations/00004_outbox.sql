-- +goose Up
CREATE TABLE outbox (
    seq          {{.SERIAL_PK}},
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    org_id       TEXT NOT NULL DEFAULT '',
    subject_id   TEXT NOT NULL DEFAULT '',
    occurred_at  {{.TIMESTAMP}} NOT NULL,
    data         {{.JSON}} NOT NULL,
    published_at {{.TIMESTAMP}}
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

CREATE TABLE processed_events (
    consumer     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at {{.TIMESTAMP}} NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE idempotency_keys (
    principal    TEXT NOT NULL,
    key          TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    content_type TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL DEFAULT '',
    created_at   {{.TIMESTAMP}} NOT NULL,
    PRIMARY KEY (principal, key)
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE processed_events;
DROP TABLE outbox;
