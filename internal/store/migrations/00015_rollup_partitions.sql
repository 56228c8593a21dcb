-- +goose Up
-- Hourly position rollups are kept for a year (the scaling guide's 4.2.1):
-- on PostgreSQL they become a table partitioned by month on hour, so the
-- year's retention drops whole partitions. store.MaintainPartitions creates
-- the months ahead, moves rows that arrived early into the default
-- partition into their month, and drops expired months. SQLite keeps the
-- plain table and deletes by age.
{{if .POSTGRES}}
ALTER TABLE position_rollups RENAME TO position_rollups_plain;
ALTER TABLE position_rollups_plain RENAME CONSTRAINT position_rollups_pkey TO position_rollups_plain_pkey;
DROP INDEX position_rollups_hour;
CREATE TABLE position_rollups (
    LIKE position_rollups_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    PRIMARY KEY (driver_id, hour)
) PARTITION BY RANGE (hour);
CREATE INDEX position_rollups_hour ON position_rollups (hour);
-- Rows of a month without its partition yet land here and are moved out.
CREATE TABLE position_rollups_default PARTITION OF position_rollups DEFAULT;
INSERT INTO position_rollups SELECT * FROM position_rollups_plain;
DROP TABLE position_rollups_plain;
{{end}}
-- +goose Down
{{if .POSTGRES}}
CREATE TABLE position_rollups_plain (LIKE position_rollups INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO position_rollups_plain SELECT * FROM position_rollups;
DROP TABLE position_rollups;
ALTER TABLE position_rollups_plain RENAME TO position_rollups;
ALTER TABLE position_rollups ADD PRIMARY KEY (driver_id, hour);
CREATE INDEX position_rollups_hour ON position_rollups (hour);
{{end}}
