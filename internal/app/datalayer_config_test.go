package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDataLayerSettings(t *testing.T) {
	const primary = "postgres://app@db-primary:5432/backhaul"
	cfg, err := resolve(t, nil, map[string]string{
		"BACKHAUL_DATABASE_URL":          primary,
		"BACKHAUL_DATABASE_REPLICA_URLS": "postgres://app@db-replica-1:5432/backhaul,postgres://app@db-replica-2:5432/backhaul",
		"BACKHAUL_DB_REPLICA_MAX_LAG":    "10s",
		"BACKHAUL_DB_PGBOUNCER":          "true",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"postgres://app@db-replica-1:5432/backhaul", "postgres://app@db-replica-2:5432/backhaul"}; !slices.Equal(cfg.DatabaseReplicaURLs, want) {
		t.Errorf("replica urls = %v, want %v", cfg.DatabaseReplicaURLs, want)
	}
	if cfg.DBReplicaMaxLag != 10*time.Second || !cfg.DBPgBouncer || cfg.ReportsRefresh != 5*time.Minute {
		t.Errorf("settings = %v, %v, %v", cfg.DBReplicaMaxLag, cfg.DBPgBouncer, cfg.ReportsRefresh)
	}

	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"BACKHAUL_DATABASE_REPLICA_URLS": "postgres://app@r:5432/b"}, "database-replica-urls"},
		{map[string]string{"BACKHAUL_DATABASE_URL": primary, "BACKHAUL_DATABASE_REPLICA_URLS": "mysql://r/b"}, "database-replica-urls"},
		{map[string]string{"BACKHAUL_DB_PGBOUNCER": "true"}, "db-pgbouncer"},
		{map[string]string{"BACKHAUL_DB_REPLICA_MAX_LAG": "0s"}, "db-replica-max-lag"},
		{map[string]string{"BACKHAUL_REPORTS_REFRESH_INTERVAL": "10ms"}, "reports-refresh-interval"},
	} {
		_, err := resolve(t, nil, tt.env, "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want one naming %s", tt.env, err, tt.want)
		}
	}
}
