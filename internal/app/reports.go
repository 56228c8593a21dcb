package app

import (
	"context"
	"time"

	"github.com/backhaul/backhaul/internal/modules"
	"github.com/backhaul/backhaul/internal/reports"
	"github.com/backhaul/backhaul/internal/store"
)

// partitionEvery is how often the monthly partitions of the rollups are
// created ahead and expired ones dropped.
const partitionEvery = time.Hour

// initReports serves /api/v1/reports with the load-service target (the
// reports are about loads and bookings, which it owns) and runs the data
// jobs: refreshing the report view every --reports-refresh-interval and
// keeping the monthly partitions of position_rollups. Every replica runs
// them; an advisory lock lets one refresh at a time, and partition upkeep is
// idempotent.
func (a *App) initReports(context.Context) (modules.Service, error) {
	svc, err := reports.New(a.db, a.log, a.reg)
	if err != nil {
		return nil, err
	}
	svc.Routes(a.api)
	return runner{&service{run: func(ctx context.Context) error {
		go a.maintainPartitions(ctx)
		return svc.Run(ctx, a.cfg.ReportsRefresh)
	}}}, nil
}

func (a *App) maintainPartitions(ctx context.Context) {
	t := time.NewTicker(partitionEvery)
	defer t.Stop()
	for {
		created, dropped, err := a.db.MaintainPartitions(ctx, store.RollupPartitions, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("partition upkeep failed", "table", store.RollupPartitions.Table, "err", err)
		case len(created)+len(dropped) > 0:
			a.log.Info("partitions kept", "table", store.RollupPartitions.Table, "created", created, "dropped", dropped)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
