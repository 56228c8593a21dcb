-- +goose Up
-- Notification preferences: one row per organization (user_id = '') with
-- its defaults, and one per user who set their own. prefs is a JSON object
-- (events and their channels, time zone, quiet hours, digest, phone).
CREATE TABLE notify_prefs (
    org_id     TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    prefs      {{.JSON}} NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at {{.TIMESTAMP}} NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

-- The in-app inbox. dedup_key (event, kind, user) is unique, so an event
-- delivered twice lands once.
CREATE TABLE notifications (
    seq        {{.SERIAL_PK}},
    id         TEXT NOT NULL UNIQUE,
    dedup_key  TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    urgent     INTEGER NOT NULL DEFAULT 0,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    subject_id TEXT NOT NULL DEFAULT '',
    data       {{.JSON}} NOT NULL,
    event_id   TEXT NOT NULL,
    created_at {{.TIMESTAMP}} NOT NULL,
    read_at    {{.TIMESTAMP}}
);
CREATE INDEX notifications_user ON notifications (user_id, seq);
CREATE INDEX notifications_unread ON notifications (user_id, seq) WHERE read_at IS NULL;

-- Webhook endpoints of organizations. event_types is a JSON array of
-- notification kinds ("*" for all). failing_since is set by the first
-- failed attempt after a success; an endpoint failing longer than the
-- configured period is disabled.
CREATE TABLE notify_endpoints (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    event_types     {{.JSON}} NOT NULL,
    secret          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason TEXT NOT NULL DEFAULT '',
    failing_since   {{.TIMESTAMP}},
    last_success_at {{.TIMESTAMP}},
    created_by      TEXT NOT NULL,
    created_at      {{.TIMESTAMP}} NOT NULL,
    updated_at      {{.TIMESTAMP}} NOT NULL,
    deleted_at      {{.TIMESTAMP}}
);
CREATE INDEX notify_endpoints_org ON notify_endpoints (org_id, id);

-- Deliveries on the external channels (webhook, email, sms). A lane is the
-- unit of ordering: one endpoint, or one user's email or SMS. Deliveries of
-- a lane go out in seq order, one at a time, by whichever replica holds the
-- lane's lease. status: pending (waiting, retrying, held for quiet hours or
-- a digest), delivered, dead (the dead-letter list), replayed (a dead
-- delivery queued again as a new row).
CREATE TABLE notify_deliveries (
    seq          {{.SERIAL_PK}},
    id           TEXT NOT NULL UNIQUE,
    dedup_key    TEXT NOT NULL UNIQUE,
    lane         TEXT NOT NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('webhook', 'email', 'sms')),
    org_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL DEFAULT '',
    endpoint_id  TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL,
    urgent       INTEGER NOT NULL DEFAULT 0,
    digest       INTEGER NOT NULL DEFAULT 0,
    event_id     TEXT NOT NULL,
    occurred_at  {{.TIMESTAMP}} NOT NULL,
    payload      {{.JSON}} NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead', 'replayed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      {{.TIMESTAMP}} NOT NULL,
    last_error   TEXT NOT NULL DEFAULT '',
    replay_of    TEXT NOT NULL DEFAULT '',
    created_at   {{.TIMESTAMP}} NOT NULL,
    updated_at   {{.TIMESTAMP}} NOT NULL,
    delivered_at {{.TIMESTAMP}}
);
CREATE INDEX notify_deliveries_lane ON notify_deliveries (lane, seq) WHERE status = 'pending';
CREATE INDEX notify_deliveries_due ON notify_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX notify_deliveries_endpoint ON notify_deliveries (endpoint_id, seq);

-- Lane leases: the replica holding a lane's lease is the only one sending
-- on it, which is what keeps a lane in order.
CREATE TABLE notify_lanes (
    lane        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    lease_until {{.TIMESTAMP}} NOT NULL
);

-- +goose Down
DROP TABLE notify_lanes;
DROP TABLE notify_deliveries;
DROP TABLE notify_endpoints;
DROP TABLE notifications;
DROP TABLE notify_prefs;
