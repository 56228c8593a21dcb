package app

import (
	"context"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/market"
	"github.com/backhaul/backhaul/internal/market/areas"
)

// positions gives the matching service the latest fixes of the tracking
// service running in this process, if any.
type positions struct{ a *App }

func (p positions) Latest(ctx context.Context, driverID string) (geo.Point, time.Time, bool) {
	t := p.a.tracking.Load()
	if t == nil {
		return geo.Point{}, time.Time{}, false
	}
	f, ok, err := t.Latest().Get(ctx, driverID)
	if err != nil || !ok {
		return geo.Point{}, time.Time{}, false
	}
	return f.Point(), f.Time, true
}

// outlook gives the matching service market intelligence's reload outlook
// of the market area around a place. Market indexes are relative (100 is
// the national level), not dollars a mile, so the rate is left to the
// matching service's own board figures (0 here).
type outlook struct{ market *market.Service }

func (o outlook) ReloadOutlook(ctx context.Context, lat, lon float64, eq freight.Equipment) (float64, float64, error) {
	out, err := o.market.ReloadOutlook(ctx, areas.Default().Of(lat, lon).ID, eq)
	if err != nil {
		return 0, 0, err
	}
	return out.Score, 0, nil
}
