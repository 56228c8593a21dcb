-- +goose Up
-- Optimization jobs. The row is the record of the job; the JetStream work
-- queue only carries its ID. enqueued_at stays NULL until the queue has
-- acknowledged the job's message, so a sweeper can publish the jobs whose
-- message was never sent (a crash between commit and publish).
CREATE TABLE optimize_jobs (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL DEFAULT '',
    priority        TEXT NOT NULL CHECK (priority IN ('high', 'normal', 'low')),
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    time_limit_ms   BIGINT NOT NULL CHECK (time_limit_ms > 0),
    seed            BIGINT NOT NULL,
    format          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    instance_name   TEXT NOT NULL DEFAULT '',
    nodes           INTEGER NOT NULL,
    problem         {{.JSON}} NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      {{.TIMESTAMP}} NOT NULL,
    updated_at      {{.TIMESTAMP}} NOT NULL,
    enqueued_at     {{.TIMESTAMP}},
    -- attempts counts the workers that took the job; it also fences every
    -- write a worker makes, so a worker presumed dead cannot overwrite the
    -- attempt that replaced it.
    attempts        INTEGER NOT NULL DEFAULT 0,
    worker          TEXT NOT NULL DEFAULT '',
    lease_until     {{.TIMESTAMP}},
    started_at      {{.TIMESTAMP}},
    finished_at     {{.TIMESTAMP}},
    cancel_requested_at {{.TIMESTAMP}},
    best_vehicles   INTEGER,
    best_distance   {{.FLOAT}},
    best_elapsed_ms BIGINT,
    points          INTEGER NOT NULL DEFAULT 0,
    result          {{.JSON}},
    error           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX optimize_jobs_org ON optimize_jobs (org_id, id);
CREATE INDEX optimize_jobs_status ON optimize_jobs (status, id);
CREATE INDEX optimize_jobs_unpublished ON optimize_jobs (created_at) WHERE status = 'queued' AND enqueued_at IS NULL;

-- Every improvement of a job's best solution, numbered per job.
CREATE TABLE optimize_job_progress (
    job_id     TEXT NOT NULL REFERENCES optimize_jobs (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    elapsed_ms BIGINT NOT NULL,
    vehicles   INTEGER NOT NULL,
    distance   {{.FLOAT}} NOT NULL,
    iteration  BIGINT NOT NULL,
    at         {{.TIMESTAMP}} NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- +goose Down
DROP TABLE optimize_job_progress;
DROP TABLE optimize_jobs;
