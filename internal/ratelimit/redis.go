package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraLua decides one request in one round trip, atomically. KEYS[1] holds
// the TAT in microseconds since the Unix epoch; ARGV[1] is the emission
// interval in microseconds, ARGV[2] the burst. The clock is the server's
// TIME, so replicas whose clocks disagree still share one budget. The key
// expires when its TAT passes: from then on it would hold nothing. Returns
// {allowed, remaining, retry after µs, reset after µs}; the arithmetic is
// that of gcra in ratelimit.go, on integers well below 2^53.
const gcraLua = `
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ahead = 0
local tat = tonumber(redis.call("GET", KEYS[1]) or "")
if tat then ahead = math.max(tat - now, 0) end
local nxt = ahead + interval
local slack = burst * interval - nxt
if slack < 0 then
  return {0, 0, -slack, ahead}
end
redis.call("SET", KEYS[1], string.format("%.0f", now + nxt), "PX", math.ceil(nxt / 1000))
return {1, math.floor(slack / interval), 0, nxt}
`

// Redis keeps each key's TAT in Redis, so that every replica of a service
// draws on one budget per key. Intervals are whole microseconds, so rates
// above a million per second count as a million.
type Redis struct {
	client redis.UniversalClient
	prefix string
	script *redis.Script
}

// NewRedis returns a limiter that keeps its keys under prefix (for example
// "backhaul:ratelimit:api:") on client.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix, script: redis.NewScript(gcraLua)}
}

// Allow decides one request for key under l. The script is run by its
// digest and sent whole only when the server does not have it yet. An error
// (an invalid limit, Redis unreachable) is no decision: whether to let the
// request through is the caller's policy.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Decision, error) {
	interval, err := l.interval(time.Microsecond)
	if err != nil {
		return Decision{}, err
	}
	res, err := r.script.Run(ctx, r.client, []string{r.prefix + key}, interval.Microseconds(), l.Burst).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %q: %w", key, err)
	}
	if len(res) != 4 {
		return Decision{}, fmt.Errorf("rate limit %q: script returned %d values, want 4", key, len(res))
	}
	return Decision{
		Allowed:    res[0] == 1,
		Remaining:  int(res[1]),
		RetryAfter: time.Duration(res[2]) * time.Microsecond,
		ResetAfter: time.Duration(res[3]) * time.Microsecond,
	}, nil
}
