package loads

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/accounts"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

// TestCanSeeMatchesVisible checks that the Go rule applied to loads read
// through the entity cache grants exactly what the SQL rule grants, for
// every kind of caller and every state of a load: a difference would leak a
// load to another tenant, or hide one from its owner.
func TestCanSeeMatchesVisible(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	now := time.Now().UTC()
	orgs := map[string]freight.OrgKind{"shipper": freight.OrgShipper, "broker": freight.OrgBroker, "carrier": freight.OrgCarrier,
		"carrier2": freight.OrgCarrier, "platform": freight.OrgPlatform}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		for id, kind := range orgs {
			if err := accounts.InsertOrg(ctx, tx, freight.Organization{ID: id, Name: id, Kind: kind, CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var loadIDs []string
	statuses := []freight.LoadStatus{freight.StatusDraft, freight.StatusPosted, freight.StatusBooked, freight.StatusDispatched, freight.StatusDelivered}
	n := 0
	err = db.InTx(ctx, func(tx *store.Tx) error {
		for _, owner := range []string{"shipper", "broker"} {
			for _, st := range statuses {
				for _, carrier := range []string{"", "carrier", "carrier2", "broker"} {
					for _, driver := range []string{"", "d1", "d2"} {
						if carrier == "" && driver != "" {
							continue
						}
						n++
						l := freight.Load{ID: fmt.Sprintf("l%03d", n), OrgID: owner, Origin: freight.Location{Lat: 32, Lon: -96},
							Destination: freight.Location{Lat: 33, Lon: -84}, Pickup: freight.Window{Start: now, End: now},
							Delivery: freight.Window{Start: now, End: now}, Equipment: freight.Van, WeightLbs: 1000,
							Rate: 1000, Miles: 800, Status: st, CarrierID: carrier, DriverID: driver, CreatedBy: "x",
							CreatedAt: now, UpdatedAt: now, Version: 1}
						if err := insertLoad(ctx, tx, l); err != nil {
							return err
						}
						loadIDs = append(loadIDs, l.ID)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{db: db}
	var principals []freight.Principal
	for org, kind := range orgs {
		for _, role := range []freight.Role{freight.RoleShipper, freight.RoleDispatcher, freight.RoleDriver, freight.RoleOperator, freight.RoleAdmin} {
			for _, drv := range []string{"", "d1"} {
				principals = append(principals, freight.Principal{OrgID: org, OrgKind: kind, Role: role, DriverID: drv, UserID: "u"})
			}
		}
	}
	for _, id := range loadIDs {
		l, err := s.get(ctx, freight.Principal{Role: freight.RoleOperator}, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range principals {
			_, err := s.get(ctx, p, id)
			sql := err == nil
			if err != nil && freight.ErrorCode(err) != freight.ENOTFOUND {
				t.Fatal(err)
			}
			if got := canSee(p, l); got != sql {
				t.Errorf("%+v on load %+v: canSee = %v, SQL = %v", p, l, got, sql)
			}
		}
	}
}
