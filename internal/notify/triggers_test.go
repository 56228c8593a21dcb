package notify

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/event"
)

// Every event the platform publishes that concerns people maps to its kind
// and its audiences; events that concern nobody map to none.
func TestAudiences(t *testing.T) {
	db, buses := setups[0].open(t, 1)
	s, _ := newService(t, db, buses[0], Deps{}, testOptions())
	booking := map[string]any{"id": "b-1", "load_id": "load-1", "carrier_id": "org-carr", "driver_id": "drv-1"}
	tests := []struct {
		typ     string
		org     string
		data    any
		kind    Kind
		orgs    []string
		drivers []string // drivers addressed in the carrier's audience
	}{
		{"loads.posted.v1", "org-ship", map[string]any{"id": "load-1"}, KindLoadPosted, []string{"org-ship"}, nil},
		{"loads.status.v1", "org-ship", map[string]any{"load_id": "load-1", "from": "posted", "to": "booked", "carrier_id": "org-carr", "shipper_id": "org-ship"},
			KindLoadBooked, []string{"org-ship", "org-carr"}, nil},
		{"loads.status.v1", "org-ship", map[string]any{"load_id": "load-1", "from": "booked", "to": "dispatched", "carrier_id": "org-carr", "driver_id": "drv-1", "shipper_id": "org-ship"},
			KindLoadDispatched, []string{"org-ship", "org-carr"}, []string{"drv-1"}},
		{"loads.status.v1", "org-ship", map[string]any{"load_id": "load-1", "from": "dispatched", "to": "at_pickup", "carrier_id": "org-carr", "shipper_id": "org-ship"},
			KindLoadAtPickup, []string{"org-ship", "org-carr"}, nil},
		{"loads.status.v1", "org-ship", map[string]any{"load_id": "load-1", "from": "draft", "to": "posted", "shipper_id": "org-ship"}, "", nil, nil},
		{"bookings.created.v1", "org-carr", map[string]any{"booking": booking, "shipper_id": "org-ship"}, KindBookingConfirmed, []string{"org-carr"}, nil},
		{"bookings.assigned.v1", "org-carr", map[string]any{"booking": booking, "shipper_id": "org-ship"}, KindBookingAssigned, []string{"org-carr"}, []string{"drv-1"}},
		{"bookings.cancelled.v1", "org-carr", map[string]any{"booking": booking, "shipper_id": "org-ship"}, KindBookingCancelled, []string{"org-carr", "org-ship"}, nil},
		{"tracking.late_risk.v1", "org-ship", map[string]any{"load_id": "load-1", "stop": "delivery", "carrier_id": "org-carr", "shipper_id": "org-ship",
			"p50": time.Now(), "window_end": time.Now()}, KindLateRisk, []string{"org-ship", "org-carr"}, nil},
		{"tracking.geofence.v1", "org-ship", map[string]any{"load_id": "load-1", "stop": "pickup", "kind": "departed", "carrier_id": "org-carr", "shipper_id": "org-ship",
			"detention_min": 45}, KindDetention, []string{"org-ship", "org-carr"}, nil},
		{"tracking.geofence.v1", "org-ship", map[string]any{"load_id": "load-1", "stop": "pickup", "kind": "arrived", "carrier_id": "org-carr", "shipper_id": "org-ship"}, "", nil, nil},
		{"matching.recommended.v1", "org-carr", map[string]any{"kind": "driver", "subject_id": "drv-1", "org_id": "org-carr",
			"items": []map[string]any{{"load_id": "load-1", "score": 0.9}, {"load_id": "load-2", "score": 0.7}}}, KindRecommended, []string{"org-carr"}, []string{"drv-1"}},
		// A new load ranks several carriers' drivers: each carrier hears
		// of its own only; the poster hears nothing of whose they are.
		{"matching.recommended.v1", "org-ship", map[string]any{"kind": "load", "subject_id": "load-1", "org_id": "org-ship",
			"items": []map[string]any{{"load_id": "load-1", "score": 0.9, "driver_id": "drv-1", "carrier_id": "org-carr"},
				{"load_id": "load-1", "score": 0.8, "driver_id": "drv-9", "carrier_id": "org-other"}}}, KindRecommended, []string{"org-carr", "org-other"}, []string{"drv-1"}},
		{"optimize.job_finished.v1", "org-carr", map[string]any{"job_id": "j-1", "status": "succeeded", "vehicles": 3}, KindJobFinished, []string{"org-carr"}, nil},
		{"documents.uploaded.v1", "org-carr", map[string]any{"id": "d-1", "load_id": "load-1", "org_id": "org-carr", "kind": "pod"}, KindDocumentUploaded, []string{"org-carr"}, nil},
		{"drivers.created.v1", "org-carr", map[string]any{"id": "drv-1"}, "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+string(tt.kind), func(t *testing.T) {
			e, err := event.New(tt.typ, tt.org, "subject", time.Now(), tt.data)
			if err != nil {
				t.Fatal(err)
			}
			auds, err := s.audiences(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			var orgs []string
			for _, a := range auds {
				orgs = append(orgs, a.orgID)
				if a.n.Kind != tt.kind || a.n.Urgent != tt.kind.Urgent() {
					t.Errorf("kind %s (urgent %v), want %s", a.n.Kind, a.n.Urgent, tt.kind)
				}
				if a.orgID == "org-carr" && !slices.Equal(a.driverIDs, tt.drivers) {
					t.Errorf("carrier's drivers %v, want %v", a.driverIDs, tt.drivers)
				}
				if a.orgID == "org-other" && slices.Contains(a.driverIDs, "drv-1") {
					t.Error("another carrier hears of drv-1")
				}
				n := a.n
				if err := s.tpl.render(&n); err != nil {
					t.Errorf("template of %s: %v (data %v)", n.Kind, err, n.Data)
				}
			}
			if !slices.Equal(orgs, tt.orgs) {
				t.Errorf("audiences %v, want %v", orgs, tt.orgs)
			}
		})
	}
}
