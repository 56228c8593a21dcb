package tracking

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/tracking/ingest"
	"github.com/backhaul/backhaul/internal/tracking/latest"
)

// Result answers a batch: how many points are stored, and every point that
// is not, by its index in the batch.
type Result struct {
	Accepted int                `json:"accepted"`
	Rejected []ingest.Rejection `json:"rejected"`
}

// driverState is one driver's filter state in this replica. loaded is false
// until the last stored fixes are read, and again after a failed write, so
// that the next batch starts from what the store really holds.
type driverState struct {
	mu     sync.Mutex
	loaded bool
	track  *ingest.Track
	used   time.Time // guarded by Service.statesMu
}

func (s *Service) state(driverID string) *driverState {
	s.statesMu.Lock()
	defer s.statesMu.Unlock()
	st := s.states[driverID]
	if st == nil {
		st = &driverState{}
		s.states[driverID] = st
	}
	st.used = time.Now()
	return st
}

// evictStates forgets the drivers not heard from for idle; they are read
// from the store again when they report.
func (s *Service) evictStates(idle time.Duration) int {
	cutoff := time.Now().Add(-idle)
	s.statesMu.Lock()
	defer s.statesMu.Unlock()
	n := 0
	for id, st := range s.states {
		if st.used.Before(cutoff) {
			delete(s.states, id)
			n++
		}
	}
	return n
}

// load reads the driver's most recent stored fixes into a new track, so a
// resent batch is recognised after a restart too.
func (s *Service) loadTrack(ctx context.Context, driverID string) (*ingest.Track, error) {
	rows, err := s.db.Query(ctx, `SELECT recorded_at, lat, lon FROM positions WHERE driver_id = ? AND recorded_at >= ?
		ORDER BY recorded_at DESC LIMIT 16`, driverID, s.now().Add(-s.cfg.Limits.MaxAge))
	if err != nil {
		return nil, fmt.Errorf("last positions: %w", err)
	}
	defer rows.Close()
	var fixes []ingest.Fix
	for rows.Next() {
		var f ingest.Fix
		if err := rows.Scan(store.Time(&f.Time), &f.Lat, &f.Lon); err != nil {
			return nil, fmt.Errorf("last positions: %w", err)
		}
		fixes = append(fixes, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("last positions: %w", err)
	}
	t := ingest.NewTrack(ingest.Fix{})
	for i := len(fixes) - 1; i >= 0; i-- {
		t.Accept(ingest.Point{Time: fixes[i].Time, Lat: fixes[i].Lat, Lon: fixes[i].Lon}, 0)
	}
	return t, nil
}

// authorize resolves the driver of every point and checks the caller may
// post for it: a device key bound to a driver only for that driver, a
// carrier's dispatcher (or admin) for the carrier's drivers. A batch that
// names a driver the caller may not post for is refused whole.
func (s *Service) authorize(ctx context.Context, p freight.Principal, points []ingest.Point) error {
	switch {
	case p.Is(freight.RoleDriver) && p.DriverID != "" && p.OrgKind.HaulsLoads():
		for i := range points {
			switch points[i].DriverID {
			case "":
				points[i].DriverID = p.DriverID
			case p.DriverID:
			default:
				return freight.Errorf(freight.EFORBIDDEN, "this key reports positions for driver %s only", p.DriverID)
			}
		}
		return nil
	case p.OrgKind.HaulsLoads() && p.Is(freight.RoleDispatcher, freight.RoleAdmin):
		checked := map[string]bool{}
		for _, pt := range points {
			if pt.DriverID == "" || checked[pt.DriverID] {
				continue
			}
			ok, err := s.driverBelongs(ctx, p.OrgID, pt.DriverID)
			if err != nil {
				return err
			}
			if !ok {
				return freight.NotFound("driver " + pt.DriverID)
			}
			checked[pt.DriverID] = true
		}
		return nil
	}
	return freight.Errorf(freight.EFORBIDDEN, "only a carrier's devices, drivers and dispatchers report positions")
}

// driverBelongs asks the driver-service once per pair and ten minutes.
func (s *Service) driverBelongs(ctx context.Context, carrierID, driverID string) (bool, error) {
	key := carrierID + "/" + driverID
	now := time.Now()
	s.belongsMu.Lock()
	until, ok := s.belongs[key]
	s.belongsMu.Unlock()
	if ok && now.Before(until) {
		return true, nil
	}
	if s.deps.Drivers == nil {
		return false, fmt.Errorf("tracking: no driver checker configured")
	}
	belongs, err := s.deps.Drivers.DriverBelongs(ctx, carrierID, driverID)
	if err != nil {
		return false, fmt.Errorf("driver check: %w", err)
	}
	if belongs {
		s.belongsMu.Lock()
		if len(s.belongs) > 1_000_000 {
			clear(s.belongs)
		}
		s.belongs[key] = now.Add(10 * time.Minute)
		s.belongsMu.Unlock()
	}
	return belongs, nil
}

// Ingest filters a decoded batch and stores what passes, returning once
// it is durable. indexes[i] is the batch index of points[i]; rejected are
// the points the decoder already refused.
func (s *Service) Ingest(ctx context.Context, p freight.Principal, points []ingest.Point, indexes []int, rejected []ingest.Rejection) (Result, error) {
	start := time.Now()
	if err := s.authorize(ctx, p, points); err != nil {
		return Result{}, err
	}
	now := s.now()
	received := store.Now(now)
	res := Result{Rejected: rejected}
	reject := func(i int, reason ingest.Reason, detail string) {
		res.Rejected = append(res.Rejected, ingest.Rejection{Index: indexes[i], Reason: reason, Detail: detail})
	}
	// Group by driver, keeping the batch's order within each.
	var order []string
	byDriver := map[string][]int{}
	for i, pt := range points {
		if pt.DriverID == "" {
			reject(i, ingest.Malformed, "driver_id: required for a key that is not bound to a driver")
			continue
		}
		if reason, detail := s.cfg.Limits.Check(pt, now); reason != "" {
			reject(i, reason, detail)
			continue
		}
		if _, ok := byDriver[pt.DriverID]; !ok {
			order = append(order, pt.DriverID)
		}
		byDriver[pt.DriverID] = append(byDriver[pt.DriverID], i)
	}
	rows := make([]row, 0, len(points))
	var days []time.Time
	lastDay := time.Time{}
	for _, id := range order {
		st := s.state(id)
		st.mu.Lock()
		if !st.loaded {
			t, err := s.loadTrack(ctx, id)
			if err != nil {
				st.mu.Unlock()
				return Result{}, err
			}
			st.track, st.loaded = t, true
		}
		for _, i := range byDriver[id] {
			pt := points[i]
			pt.Time = store.Now(pt.Time)
			if reason, detail := st.track.Accept(pt, s.cfg.Limits.MaxSpeedMph); reason != "" {
				reject(i, reason, detail)
				continue
			}
			rows = append(rows, row{driverID: id, carrierID: p.OrgID, recordedAt: pt.Time, receivedAt: received,
				lat: pt.Lat, lon: pt.Lon, speed: pt.SpeedMph, heading: pt.HeadingDeg, acc: pt.AccuracyM})
			if d := day(pt.Time); !d.Equal(lastDay) {
				days, lastDay = append(days, d), d
			}
		}
		st.mu.Unlock()
	}
	if len(rows) > 0 {
		if s.parts != nil {
			if err := s.parts.ensure(ctx, days); err != nil {
				s.forget(order)
				return Result{}, err
			}
		}
		if err := s.write.submit(ctx, rows); err != nil {
			// The filter states advanced past rows that are not stored.
			s.forget(order)
			s.m.writeErrors.Inc()
			return Result{}, freight.Errorf(freight.EUNAVAILABLE, "positions not stored, retry the batch: %v", err)
		}
	}
	res.Accepted = len(rows)
	slices.SortFunc(res.Rejected, func(a, b ingest.Rejection) int { return a.Index - b.Index })
	if res.Rejected == nil {
		res.Rejected = []ingest.Rejection{}
	}
	s.m.accepted.Add(float64(len(rows)))
	for _, r := range res.Rejected {
		s.m.rejected.WithLabelValues(string(r.Reason)).Inc()
	}
	s.afterCommit(ctx, rows)
	s.m.batchSize.Observe(float64(len(points) + len(rejected)))
	s.m.latency.Observe(time.Since(start).Seconds())
	return res, nil
}

func (s *Service) forget(drivers []string) {
	for _, id := range drivers {
		st := s.state(id)
		st.mu.Lock()
		st.loaded, st.track = false, nil
		st.mu.Unlock()
	}
}

// afterCommit updates the latest positions and feeds the live views and
// the geofences with the stored rows. The rows are durable already, so a
// failure here is logged, not returned.
func (s *Service) afterCommit(ctx context.Context, rows []row) {
	if len(rows) == 0 {
		return
	}
	newest := map[string]int{}
	for i, r := range rows {
		if j, ok := newest[r.driverID]; !ok || r.recordedAt.After(rows[j].recordedAt) {
			newest[r.driverID] = i
		}
	}
	fixes := make([]latest.Fix, 0, len(newest))
	for _, i := range newest {
		r := rows[i]
		fixes = append(fixes, latest.Fix{DriverID: r.driverID, CarrierID: r.carrierID, Time: r.recordedAt, Lat: r.lat, Lon: r.lon,
			SpeedMph: deref(r.speed), HeadingDeg: deref(r.heading)})
	}
	if err := s.latest.Update(ctx, fixes); err != nil {
		s.m.latestErrors.Inc()
		s.log.Warn("update latest positions", "err", err)
	}
	s.hub.publish(fixes)
	if s.fanout != nil {
		s.fanout.Publish(fixes)
	}
	s.fences.feed(rows)
}
