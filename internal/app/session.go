package app

import (
	"context"

	"github.com/backhaul/backhaul/internal/httpapi"
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
