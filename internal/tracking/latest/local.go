package latest

import (
	"context"
	"sync"
)

// localCellDeg is the size of the in-process grid: at one degree a
// 50-mile query looks at a handful of cells.
const localCellDeg = 1

// Local is the in-process index, for one replica or the embedded mode.
type Local struct {
	mu    sync.RWMutex
	fixes map[string]Fix
	cells map[cell]map[string]struct{}
}

var _ Index = (*Local)(nil)

// NewLocal returns an empty index.
func NewLocal() *Local {
	return &Local{fixes: map[string]Fix{}, cells: map[cell]map[string]struct{}{}}
}

// Update implements Index.
func (l *Local) Update(_ context.Context, fixes []Fix) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range fixes {
		old, ok := l.fixes[f.DriverID]
		if ok && old.Time.After(f.Time) {
			continue
		}
		c := cellOf(f.Point(), localCellDeg)
		if ok {
			if oc := cellOf(old.Point(), localCellDeg); oc != c {
				delete(l.cells[oc], f.DriverID)
				if len(l.cells[oc]) == 0 {
					delete(l.cells, oc)
				}
			}
		}
		set := l.cells[c]
		if set == nil {
			set = map[string]struct{}{}
			l.cells[c] = set
		}
		set[f.DriverID] = struct{}{}
		l.fixes[f.DriverID] = f
	}
	return nil
}

// Get implements Index.
func (l *Local) Get(_ context.Context, driverID string) (Fix, bool, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	f, ok := l.fixes[driverID]
	return f, ok, nil
}

// Within implements Index.
func (l *Local) Within(_ context.Context, q Query) ([]Near, error) {
	l.mu.RLock()
	var candidates []Fix
	for _, c := range cellsCovering(q.Center, q.Miles, localCellDeg) {
		for id := range l.cells[c] {
			candidates = append(candidates, l.fixes[id])
		}
	}
	l.mu.RUnlock()
	return keep(q, candidates), nil
}

// Len is the number of drivers indexed.
func (l *Local) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.fixes)
}
