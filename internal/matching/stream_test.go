package matching

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/drivers"
	"github.com/backhaul/backhaul/internal/event"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/loads"
)

// indexed reports what a replica's index says about a load and a driver.
func (s *Service) indexedLoad(id string) bool {
	s.idx.mu.RLock()
	defer s.idx.mu.RUnlock()
	_, ok := s.idx.loads[id]
	return ok
}

func (s *Service) indexedDriver(id string) (driverRec, bool) {
	s.idx.mu.RLock()
	defer s.idx.mu.RUnlock()
	rec, ok := s.idx.drivers[id]
	if !ok {
		return driverRec{}, false
	}
	return *rec, true
}

// TestIndexFollowsTheStream builds two replicas' indexes from the store and
// follows posting, booking, status changes, deliveries and preferences
// through the event stream; events applied again or late change nothing.
func TestIndexFollowsTheStream(t *testing.T) {
	eachSetup(t, func(t *testing.T, su setup) {
		ctx := context.Background()
		db, buses := su.open(t, 2)
		relay(t, db, buses[0])
		pl := newPlatform(t, db)
		d1 := pl.driver(dispA, "Ana", dallas, freight.Van, nil)
		first := pl.post(shipper, loadSpec{id: "first", from: fortWorth, to: atlanta})

		s1, reg := newService(t, db, buses[0], Deps{}, testOptions("r1"))
		s2, _ := newService(t, db, buses[1], Deps{}, testOptions("r2"))
		for _, s := range []*Service{s1, s2} {
			if !s.indexedLoad(first.ID) {
				t.Fatal("the index was not built from the store: the first load is missing")
			}
			if _, ok := s.indexedDriver(d1.ID); !ok {
				t.Fatal("the index was not built from the store: the driver is missing")
			}
		}
		run(t, s1)
		run(t, s2)

		second := pl.post(shipper, loadSpec{id: "second", from: dallas, to: memphis})
		waitFor(t, "both replicas to index the new load", func() bool { return s1.indexedLoad(second.ID) && s2.indexedLoad(second.ID) })

		if _, err := pl.loads.Book(ctx, dispA, loads.BookingInput{LoadID: first.ID, DriverID: d1.ID}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the booked load to leave both indexes and become the driver's", func() bool {
			for _, s := range []*Service{s1, s2} {
				rec, _ := s.indexedDriver(d1.ID)
				if s.indexedLoad(first.ID) || len(rec.active) != 1 || rec.active[0].id != first.ID {
					return false
				}
			}
			return true
		})

		for _, st := range []freight.LoadStatus{freight.StatusDispatched, freight.StatusAtPickup, freight.StatusInTransit,
			freight.StatusAtDelivery, freight.StatusDelivered} {
			if _, err := pl.loads.SetStatus(ctx, dispA, first.ID, loads.StatusInput{Status: st}); err != nil {
				t.Fatalf("move the load to %s: %v", st, err)
			}
		}
		waitFor(t, "the delivery to locate the driver in Atlanta", func() bool {
			rec, _ := s2.indexedDriver(d1.ID)
			return len(rec.active) == 0 && rec.lastDrop != nil && *rec.lastDrop == atlanta.point()
		})

		if _, err := pl.drivers.SetStatus(ctx, dispA, d1.ID, drivers.StatusInput{Status: freight.DriverOffDuty}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the driver's status to reach the other replica", func() bool {
			rec, _ := s2.indexedDriver(d1.ID)
			return rec.Status == freight.DriverOffDuty && rec.slot.cell == -1
		})

		if _, err := s1.SetPreferences(ctx, dispA, d1.ID, PreferencesInput{NoGoStates: []string{"ga"}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the preferences to reach the other replica", func() bool {
			s2.idx.mu.RLock()
			defer s2.idx.mu.RUnlock()
			p := s2.idx.prefs[d1.ID]
			return p != nil && len(p.NoGoStates) == 1 && p.NoGoStates[0] == "GA"
		})

		// The first load's posting event, applied again twice after its
		// delivery, leaves it out of the index: events only say which
		// row to read.
		var posted event.Event
		var data string
		err := db.QueryRow(ctx, `SELECT id, type, org_id, subject_id, data FROM outbox WHERE type = 'loads.posted.v1' AND subject_id = ?`, first.ID).
			Scan(&posted.ID, &posted.Type, &posted.OrgID, &posted.SubjectID, &data)
		if err != nil {
			t.Fatal(err)
		}
		posted.Data = json.RawMessage(data)
		for range 2 {
			if err := s2.apply(ctx, posted); err != nil {
				t.Fatal(err)
			}
		}
		if s2.indexedLoad(first.ID) {
			t.Error("a late posting event put a delivered load back on the board")
		}
		if got := metric(t, reg, "backhaul_matching_index_events_total", nil); got < 5 {
			t.Errorf("index events applied: got %g, want at least 5", got)
		}
	})
}

// TestThreeReplicasShareTheQueue runs three replicas (three Service values
// sharing one store and one NATS) and shows that every match request, from
// events and from dispatchers, is handled exactly once: one stored result
// and one matching.recommended.v1 event each, even when the queue delivers
// every request a second time.
func TestThreeReplicasShareTheQueue(t *testing.T) {
	eachSetup(t, func(t *testing.T, su setup) {
		ctx := context.Background()
		db, buses := su.open(t, 3)
		relay(t, db, buses[0])
		pl := newPlatform(t, db)
		var drv []freight.Driver
		for i, home := range []place{dallas, memphis, atlanta} {
			drv = append(drv, pl.driver(dispA, fmt.Sprintf("A%d", i), home, freight.Van, nil))
		}
		for i, home := range []place{houston, nashville} {
			drv = append(drv, pl.driver(dispB, fmt.Sprintf("B%d", i), home, freight.Van, nil))
		}
		var posted []freight.Load
		lanes := [][2]place{{dallas, memphis}, {fortWorth, atlanta}, {memphis, nashville}, {atlanta, birmingham}, {houston, dallas},
			{nashville, stLouis}, {dallas, oklahoma}, {memphis, littleRock}, {birmingham, atlanta}, {shreveport, dallas}}
		for i, ln := range lanes {
			posted = append(posted, pl.post(shipper, loadSpec{id: fmt.Sprintf("L%d", i), from: ln[0], to: ln[1]}))
		}

		var svcs []*Service
		var regs []*prometheus.Registry
		for i := range 3 {
			s, reg := newService(t, db, buses[i], Deps{}, testOptions(fmt.Sprintf("replica-%d", i+1)))
			svcs = append(svcs, s)
			regs = append(regs, reg)
			run(t, s)
		}
		// Requests from dispatchers, submitted through every replica.
		var submitted []string
		for i := range 30 {
			in := MatchRequestInput{DriverID: drv[i%3].ID, TopN: 5}
			if i%2 == 1 {
				in = MatchRequestInput{LoadID: posted[i%len(posted)].ID}
			}
			m, err := svcs[i%3].Submit(ctx, dispA, in)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != RequestQueued && m.Status != RequestDone {
				t.Errorf("submitted request: got status %s, want queued (or already done)", m.Status)
			}
			submitted = append(submitted, m.ID)
		}
		// Ten posted loads and five new available drivers make fifteen
		// more, one per event although three replicas consume the events.
		const want = 30 + 10 + 5
		countWhere := func(where string, args ...any) int {
			var n int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM match_requests WHERE `+where, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		waitFor(t, "every request to be done", func() bool {
			return countWhere("status = 'done'") == want
		})
		if n := countWhere("1=1"); n != want {
			t.Errorf("got %d requests, want %d", n, want)
		}
		if n := countWhere("source = ?", SourceLoadPosted); n != 10 {
			t.Errorf("got %d requests for posted loads, want 10", n)
		}
		if n := countWhere("source = ?", SourceDriverAvailable); n != 5 {
			t.Errorf("got %d requests for available drivers, want 5", n)
		}
		if n := countWhere("handled_by = '' OR result IS NULL OR attempts <> 1"); n != 0 {
			t.Errorf("%d requests lack a handler or a result, or took several attempts", n)
		}
		events := outboxCount(t, db, EventRecommended)
		if len(events) != want {
			t.Errorf("got recommended events for %d requests, want %d", len(events), want)
		}
		for id, n := range events {
			if n != 1 {
				t.Errorf("request %s: %d recommended events, want 1", id, n)
			}
		}
		done := func() (sum float64, per []float64) {
			for _, r := range regs {
				v := metric(t, r, "backhaul_match_requests_total", map[string]string{"outcome": "done"})
				per = append(per, v)
				sum += v
			}
			return sum, per
		}
		sum, per := done()
		if sum != want {
			t.Errorf("results stored by the replicas: got %g, want %d", sum, want)
		}
		t.Logf("requests handled per replica: %v", per)

		// The queue hands every request out again (as after a lost
		// acknowledgement): nothing more is stored or published.
		js := buses[0].JetStream()
		for _, id := range submitted {
			body, _ := json.Marshal(queueMessage{RequestID: id})
			msg := &nats.Msg{Subject: buses[0].Subject(queueSubject), Data: body}
			if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(uuid.NewString())); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the second deliveries to be handled", func() bool {
			var dup float64
			for _, r := range regs {
				dup += metric(t, r, "backhaul_match_requests_total", map[string]string{"outcome": "duplicate"})
			}
			return dup == float64(len(submitted))
		})
		if sum, _ := done(); sum != want {
			t.Errorf("after the second deliveries, results stored: got %g, want %d", sum, want)
		}
		if got := len(outboxCount(t, db, EventRecommended)); got != want {
			t.Errorf("after the second deliveries, recommended events: got %d, want %d", got, want)
		}
		waitFor(t, "queue_depth to fall to zero", func() bool {
			for _, r := range regs {
				if metric(t, r, "queue_depth", nil) != 0 {
					return false
				}
			}
			return true
		})

		// A dispatcher's result names its own drivers; a driver request's
		// items are loads.
		m, err := svcs[2].GetRequest(ctx, dispA, submitted[1])
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != RequestDone || m.Result == nil || m.Scope != "carrier" {
			t.Fatalf("load request: got %+v", m)
		}
		for _, it := range m.Result.Items {
			if it.CarrierID != dispA.OrgID {
				t.Errorf("carrier A's request lists a driver of %s", it.CarrierID)
			}
		}
		if _, err := svcs[0].GetRequest(ctx, dispB, submitted[0]); freight.ErrorCode(err) != freight.ENOTFOUND {
			t.Errorf("another carrier reading the request: got %v, want not found", err)
		}
	})
}
