-- +goose Up
-- Indexes for the hot queries (the scaling guide's 4.1.3). The loads table
-- keeps every load ever hauled, while the load board and the matching index
-- read only the open ones: partial indexes on the posted loads stay as small
-- as the board, whatever the history.
--
-- The board's "newest" order and the matching index's open loads.
CREATE INDEX loads_posted_recent ON loads (id) WHERE status = 'posted';
-- The board's pickup order without an equipment filter (with one,
-- loads_board serves).
CREATE INDEX loads_posted_pickup ON loads (pickup_start, id) WHERE status = 'posted';
-- The matching index rebuild: the loads drivers are on now.
CREATE INDEX loads_driver_active ON loads (driver_id)
    WHERE status IN ('booked', 'dispatched', 'at_pickup', 'in_transit', 'at_delivery');
-- The matching index rebuild: each driver's last delivery. Covering on
-- PostgreSQL, so the rebuild reads the index alone.
CREATE INDEX loads_driver_delivered ON loads (driver_id, updated_at){{if .POSTGRES}} INCLUDE (dest_lat, dest_lon){{end}}
    WHERE status = 'delivered';
{{if .POSTGRES}}
-- Tracking history and the latest fix per driver read (driver_id,
-- recorded_at) ranges and the point: the primary key carries the point as
-- INCLUDE columns, so both are index-only scans without a second index to
-- maintain on the ingest path. On a partitioned positions table the
-- constraint is replaced on every partition.
ALTER TABLE positions DROP CONSTRAINT positions_pkey;
ALTER TABLE positions ADD CONSTRAINT positions_pkey PRIMARY KEY (driver_id, recorded_at)
    INCLUDE (lat, lon, speed_mph, heading_deg, carrier_id);
{{end}}
-- +goose Down
{{if .POSTGRES}}
ALTER TABLE positions DROP CONSTRAINT positions_pkey;
ALTER TABLE positions ADD CONSTRAINT positions_pkey PRIMARY KEY (driver_id, recorded_at);
{{end}}
DROP INDEX loads_driver_delivered;
DROP INDEX loads_driver_active;
DROP INDEX loads_posted_pickup;
DROP INDEX loads_posted_recent;
