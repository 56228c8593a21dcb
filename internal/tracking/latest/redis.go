package latest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxGeoLat is the largest latitude Redis GEO stores (Web Mercator's).
const maxGeoLat = 85.05112878

// Redis is the index shared by every replica: each driver's fix under its
// own key (so lookups spread over a cluster), and a GEO set per region of
// five degrees (so a radius query touches only the regions it covers and
// the sets stay small and spread too).
type Redis struct {
	client redis.UniversalClient
	prefix string
	ttl    time.Duration
}

var _ Index = (*Redis)(nil)

// NewRedis returns an index keeping its keys under prefix. A fix not updated
// for ttl expires (0 keeps fixes forever).
func NewRedis(client redis.UniversalClient, prefix string, ttl time.Duration) *Redis {
	return &Redis{client: client, prefix: prefix, ttl: ttl}
}

func (r *Redis) fixKey(driverID string) string { return r.prefix + "fix:" + driverID }

func (r *Redis) regionKey(c cell) string {
	return r.prefix + "geo:" + strconv.Itoa(c.lat) + ":" + strconv.Itoa(c.lon)
}

func geoOK(f Fix) bool { return math.Abs(f.Lat) <= maxGeoLat }

// Update implements Index. It reads the stored fixes first and writes only
// newer ones, moving a driver between region sets when it crosses a border.
func (r *Redis) Update(ctx context.Context, fixes []Fix) error {
	newest := map[string]Fix{}
	for _, f := range fixes {
		if old, ok := newest[f.DriverID]; !ok || f.Time.After(old.Time) {
			newest[f.DriverID] = f
		}
	}
	if len(newest) == 0 {
		return nil
	}
	ids := make([]string, 0, len(newest))
	keys := make([]string, 0, len(newest))
	for id := range newest {
		ids, keys = append(ids, id), append(keys, r.fixKey(id))
	}
	stored, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return fmt.Errorf("latest positions: read: %w", err)
	}
	pipe := r.client.Pipeline()
	for i, id := range ids {
		f := newest[id]
		var old Fix
		hadOld := decodeFix(stored[i], &old)
		if hadOld && old.Time.After(f.Time) {
			continue
		}
		b, _ := json.Marshal(f)
		pipe.Set(ctx, keys[i], b, r.ttl)
		c := cellOf(f.Point(), regionDeg)
		if hadOld && geoOK(old) {
			if oc := cellOf(old.Point(), regionDeg); oc != c || !geoOK(f) {
				pipe.ZRem(ctx, r.regionKey(oc), id)
			}
		}
		if geoOK(f) {
			pipe.GeoAdd(ctx, r.regionKey(c), &redis.GeoLocation{Name: id, Longitude: f.Lon, Latitude: f.Lat})
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("latest positions: write: %w", err)
	}
	return nil
}

func decodeFix(v any, f *Fix) bool {
	s, ok := v.(string)
	return ok && json.Unmarshal([]byte(s), f) == nil
}

// Get implements Index.
func (r *Redis) Get(ctx context.Context, driverID string) (Fix, bool, error) {
	b, err := r.client.Get(ctx, r.fixKey(driverID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Fix{}, false, nil
	}
	if err != nil {
		return Fix{}, false, fmt.Errorf("latest position: %w", err)
	}
	var f Fix
	if err := json.Unmarshal(b, &f); err != nil {
		return Fix{}, false, fmt.Errorf("latest position: %w", err)
	}
	return f, true, nil
}

// Within implements Index. Redis measures on a slightly different sphere,
// so it is asked for a little more and the answer is cut with the same
// great-circle distance as the in-process index.
func (r *Redis) Within(ctx context.Context, q Query) ([]Near, error) {
	cells := cellsCovering(q.Center, q.Miles, regionDeg)
	pipe := r.client.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(cells))
	for i, c := range cells {
		cmds[i] = pipe.GeoSearch(ctx, r.regionKey(c), &redis.GeoSearchQuery{
			Longitude: q.Center.Lon, Latitude: q.Center.Lat,
			Radius: q.Miles*1.01 + 0.01, RadiusUnit: "mi",
		})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("latest positions: search: %w", err)
	}
	var ids []string
	for _, cmd := range cmds {
		ids = append(ids, cmd.Val()...)
	}
	if len(ids) == 0 {
		return []Near{}, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.fixKey(id)
	}
	vals, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("latest positions: read: %w", err)
	}
	candidates := make([]Fix, 0, len(ids))
	for _, v := range vals {
		var f Fix
		if decodeFix(v, &f) {
			candidates = append(candidates, f)
		}
	}
	return keep(q, candidates), nil
}
