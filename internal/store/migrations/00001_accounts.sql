-- +goose Up
CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('shipper', 'carrier', 'broker', 'platform')),
    usdot       TEXT NOT NULL DEFAULT '',
    mc          TEXT NOT NULL DEFAULT '',
    created_at  {{.TIMESTAMP}} NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    driver_id     TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    created_at    {{.TIMESTAMP}} NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL,
    role         TEXT NOT NULL,
    driver_id    TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL,
    created_at   {{.TIMESTAMP}} NOT NULL,
    last_used_at {{.TIMESTAMP}},
    revoked_at   {{.TIMESTAMP}}
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash);
CREATE INDEX api_keys_org ON api_keys (org_id, created_at);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE users;
DROP TABLE organizations;
