package httpapi

import (
	"context"
	"log/slog"

	"github.com/backhaul/backhaul/internal/freight"
)

type ctxKey int

const (
	principalKey ctxKey = iota
	requestIDKey
	loggerKey
	routeKey
)

// WithPrincipal returns ctx carrying the authenticated principal.
func WithPrincipal(ctx context.Context, p freight.Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom returns the authenticated principal, if any.
func PrincipalFrom(ctx context.Context) (freight.Principal, bool) {
	p, ok := ctx.Value(principalKey).(freight.Principal)
	return p, ok
}

// RequestID returns the request's ID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// LoggerFrom returns the request's logger (with its request ID), or the
// default logger outside a request.
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
