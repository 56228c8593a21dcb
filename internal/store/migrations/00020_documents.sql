-- +goose Up
-- Documents attached to loads (bills of lading, proofs of delivery, rate
-- confirmations). The bytes live in the blob store under blob_key; this row
-- is their record and is committed only after the blob is written, so a row
-- never points at nothing. A blob without a row (a crash between the two)
-- is removed by the documents sweeper. No foreign key to loads: the load
-- service owns that table and documents may live beside another database.
CREATE TABLE documents (
    id           TEXT PRIMARY KEY,
    load_id      TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('bol', 'pod', 'rate_confirmation')),
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL CHECK (size_bytes > 0),
    sha256       TEXT NOT NULL,
    filename     TEXT NOT NULL DEFAULT '',
    blob_key     TEXT NOT NULL UNIQUE,
    uploaded_by  TEXT NOT NULL,
    created_at   {{.TIMESTAMP}} NOT NULL
);
CREATE INDEX documents_load ON documents (load_id, created_at, id);

-- +goose Down
DROP TABLE documents;
