package app

import (
	"context"
	"net/http"
	"time"

	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
)

// principalSession keys the store's session consistency by principal: after
// a user or API key writes, its reads stay on the primary until a replica
// has replayed the write.
func principalSession(ctx context.Context) string {
	if p, ok := httpapi.PrincipalFrom(ctx); ok {
		return p.Subject()
	}
	return ""
}

// sessionTTL bounds how long a principal's last write position is shared:
// far longer than any replica lag the health checker tolerates (30 s).
const sessionTTL = 5 * time.Minute

// sessionTimeout bounds the Redis round trips a request spends on this; a
// slow or absent Redis leaves reads to the replica lag bound, never blocks.
const sessionTimeout = 50 * time.Millisecond

// sharedSessions carries read-your-writes across replicas of the platform:
// a principal's last write position (the primary's WAL LSN) goes to Redis,
// and a request served by any process reads it, so that the principal's
// reads stay on the primary until a database replica has replayed the write,
// even when a load balancer sends the next request to another pod. It does
// nothing without database replicas or without Redis.
func (a *App) sharedSessions(next http.Handler) http.Handler {
	if a.redis == nil || len(a.cfg.DatabaseReplicaURLs) == 0 {
		return next
	}
	prefix := "backhaul:"
	if a.cfg.NATSNamespace != "" {
		prefix += a.cfg.NATSNamespace + ":"
	}
	prefix += "lsn:"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject := principalSession(r.Context())
		if subject == "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		gctx, cancel := context.WithTimeout(ctx, sessionTimeout)
		if lsn, err := a.redis.Get(gctx, prefix+subject).Result(); err == nil && lsn != "" {
			ctx = store.WithSessionLSN(ctx, lsn)
		}
		cancel()
		before := a.db.LastWriteLSN(ctx)
		next.ServeHTTP(w, r.WithContext(ctx))
		if after := a.db.LastWriteLSN(ctx); after != "" && after != before {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sessionTimeout)
			if err := a.redis.Set(sctx, prefix+subject, after, sessionTTL).Err(); err != nil {
				a.log.Debug("shared session: write position not shared", "err", err)
			}
			cancel()
		}
	})
}
