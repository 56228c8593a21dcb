// Package gateway is the api-gateway: it rate-limits signed-in users, API
// keys and anonymous clients, bounds request bodies, and in split mode
// forwards each API prefix to the process that owns it.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/ratelimit"
)

// Limiter decides whether a key may make another request. Local and Redis
// limiters (internal/ratelimit) implement it; with Redis the budget is shared
// by every gateway replica.
type Limiter interface {
	Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Decision, error)
}

// Limits are the budgets per kind of caller.
type Limits struct {
	User ratelimit.Limit // per signed-in user
	Key  ratelimit.Limit // per API key
	Anon ratelimit.Limit // per client address, for sign-up and login
}

// Gateway holds the limiter and its metrics.
type Gateway struct {
	limiter Limiter
	limits  Limits
	log     *slog.Logger
	denied  *prometheus.CounterVec
	errors  prometheus.Counter
}

// New returns a gateway registering its metrics on reg.
func New(l Limiter, limits Limits, log *slog.Logger, reg prometheus.Registerer) *Gateway {
	g := &Gateway{limiter: l, limits: limits, log: log,
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backhaul_gateway_rate_limited_total",
			Help: "Requests refused with 429, by kind of caller.",
		}, []string{"kind"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "backhaul_gateway_rate_limiter_errors_total",
			Help: "Rate-limiter failures; requests pass while the limiter is unavailable.",
		}),
	}
	reg.MustRegister(g.denied, g.errors)
	return g
}

// allow applies one limit. A limiter failure lets the request through: a
// Redis outage must not take the API down with it.
func (g *Gateway) allow(w http.ResponseWriter, r *http.Request, kind, key string, l ratelimit.Limit) bool {
	d, err := g.limiter.Allow(r.Context(), key, l)
	if err != nil {
		g.errors.Inc()
		httpapi.LoggerFrom(r.Context()).Warn("rate limiter unavailable; letting request through", "err", err)
		return true
	}
	w.Header().Set("RateLimit-Remaining", itoa(d.Remaining))
	if d.Allowed {
		return true
	}
	g.denied.WithLabelValues(kind).Inc()
	httpapi.RateLimited(w, r, int(math.Ceil(d.RetryAfter.Seconds())))
	return false
}

func itoa(n int) string {
	if n < 0 {
		n = 0
	}
	return string(appendInt(nil, n))
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// LimitPrincipal rate-limits authenticated requests per user or API key.
func (g *Gateway) LimitPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := httpapi.PrincipalFrom(r.Context())
		if ok {
			kind, l := "user", g.limits.User
			if p.KeyID != "" {
				kind, l = "key", g.limits.Key
			}
			if !g.allow(w, r, kind, "rl:"+p.Subject(), l) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// LimitAnonymous rate-limits unauthenticated endpoints (sign-up, login) per
// client address, against password guessing and sign-up floods.
func (g *Gateway) LimitAnonymous(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if !g.allow(w, r, "anonymous", "rl:ip:"+host, g.limits.Anon) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// LimitBody bounds request bodies to max, or to the limit of the longest
// matching path prefix in byPrefix; handlers reading past the limit get an
// error that becomes 413.
func LimitBody(next http.Handler, limit int64, byPrefix map[string]int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		max, matched := limit, 0
		for p, l := range byPrefix {
			if len(p) > matched && (r.URL.Path == p || strings.HasPrefix(r.URL.Path, p+"/")) {
				max, matched = l, len(p)
			}
		}
		if r.ContentLength > max {
			httpapi.Error(w, r, freight.Errorf(freight.ETOOLARGE, "request body larger than %d bytes", max))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// Proxy forwards requests to the process running target at base. The
// credential travels on, so the owning service checks it again.
func Proxy(target string, base *url.URL, log *slog.Logger) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base)
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Request-ID", httpapi.RequestID(pr.In.Context()))
		},
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			log.Warn("upstream unavailable", "target", target, "err", err)
			httpapi.WriteProblem(w, httpapi.Problem{Type: httpapi.ProblemType + "bad_gateway", Title: "Bad Gateway",
				Status: http.StatusBadGateway, Code: "bad_gateway", Detail: target + " is unavailable; retry shortly",
				Instance: r.URL.Path, RequestID: httpapi.RequestID(r.Context())})
		},
	}
	return rp
}
