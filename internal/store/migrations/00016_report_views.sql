-- +goose Up
-- Reporting (the scaling guide's 4.1.3 materialized views): one row per
-- shipper, carrier, lane, equipment and pickup day with the sums every
-- report needs. The views below compute it; report_lane_daily holds it,
-- refreshed on a schedule by the reports job: a materialized view
-- refreshed CONCURRENTLY on PostgreSQL (readers never wait, which needs the
-- unique index), a table rewritten in one transaction on SQLite.

-- One row per hauled load: the loads a carrier booked, with their stop
-- visits and the deadhead from the driver's previous delivery.
CREATE VIEW report_load_facts AS
SELECT f.load_id, f.shipper_id, f.carrier_id, f.origin_state, f.dest_state, f.equipment, f.day,
    f.rate_cents, f.miles, f.pickup_end, f.delivery_end,
    p.arrived_at AS pickup_arrived_at, d.arrived_at AS delivery_arrived_at,
    COALESCE(p.detention_min, 0) + COALESCE(d.detention_min, 0) AS detention_min,
    -- Great-circle miles times the road circuity of internal/geo (1.2).
    CASE WHEN f.prev_lat IS NULL THEN 0 ELSE 1.2 * 3958.8 * 2 * asin(sqrt(
        sin(radians(f.origin_lat - f.prev_lat) / 2) * sin(radians(f.origin_lat - f.prev_lat) / 2) +
        cos(radians(f.prev_lat)) * cos(radians(f.origin_lat)) *
        sin(radians(f.origin_lon - f.prev_lon) / 2) * sin(radians(f.origin_lon - f.prev_lon) / 2))) END AS empty_miles
FROM (
    SELECT l.id AS load_id, l.org_id AS shipper_id, l.carrier_id, l.origin_state, l.dest_state, l.equipment,
        {{if .POSTGRES}}to_char(l.pickup_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'){{else}}substr(l.pickup_start, 1, 10){{end}} AS day,
        l.rate_cents, l.miles, l.pickup_end, l.delivery_end, l.origin_lat, l.origin_lon,
        CASE WHEN l.driver_id = '' THEN NULL ELSE LAG(l.dest_lat) OVER w END AS prev_lat,
        CASE WHEN l.driver_id = '' THEN NULL ELSE LAG(l.dest_lon) OVER w END AS prev_lon
    FROM loads l
    WHERE l.carrier_id <> '' AND l.status NOT IN ('draft', 'posted', 'cancelled')
    WINDOW w AS (PARTITION BY l.driver_id ORDER BY l.pickup_start, l.id)
) f
LEFT JOIN geofence_visits p ON p.load_id = f.load_id AND p.stop = 'pickup'
LEFT JOIN geofence_visits d ON d.load_id = f.load_id AND d.stop = 'delivery';

CREATE VIEW report_lane_daily_source AS
SELECT shipper_id, carrier_id, origin_state, dest_state, equipment, day,
    COUNT(*) AS loads,
    CAST(SUM(rate_cents) AS BIGINT) AS spend_cents,
    SUM(miles) AS loaded_miles,
    SUM(empty_miles) AS empty_miles,
    CAST(SUM(CASE WHEN pickup_arrived_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS pickups_measured,
    CAST(SUM(CASE WHEN pickup_arrived_at <= pickup_end THEN 1 ELSE 0 END) AS BIGINT) AS pickups_on_time,
    CAST(SUM(CASE WHEN delivery_arrived_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS deliveries_measured,
    CAST(SUM(CASE WHEN delivery_arrived_at <= delivery_end THEN 1 ELSE 0 END) AS BIGINT) AS deliveries_on_time,
    CAST(SUM(detention_min) AS BIGINT) AS detention_min
FROM report_load_facts
GROUP BY shipper_id, carrier_id, origin_state, dest_state, equipment, day;

{{if .POSTGRES}}
CREATE MATERIALIZED VIEW report_lane_daily AS SELECT * FROM report_lane_daily_source;
{{else}}
CREATE TABLE report_lane_daily AS SELECT * FROM report_lane_daily_source WHERE 0;
{{end}}
-- The key of a row: REFRESH ... CONCURRENTLY needs a unique index.
CREATE UNIQUE INDEX report_lane_daily_key ON report_lane_daily (shipper_id, carrier_id, origin_state, dest_state, equipment, day);
-- Reports read one tenant's days.
CREATE INDEX report_lane_daily_shipper ON report_lane_daily (shipper_id, day);
CREATE INDEX report_lane_daily_carrier ON report_lane_daily (carrier_id, day);

-- When each report table was last refreshed, for the reports' freshness.
CREATE TABLE report_refreshes (
    name         TEXT PRIMARY KEY,
    refreshed_at {{.TIMESTAMP}} NOT NULL
);

-- +goose Down
DROP TABLE report_refreshes;
{{if .POSTGRES}}
DROP MATERIALIZED VIEW report_lane_daily;
{{else}}
DROP TABLE report_lane_daily;
{{end}}
DROP VIEW report_lane_daily_source;
DROP VIEW report_load_facts;
