package tracking

import (
	"sync"

	"github.com/backhaul/backhaul/internal/tracking/latest"
)

// hub fans committed fixes out to the live views of this replica.
type hub struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
}

// subscriber receives the fixes its filter keeps. A subscriber too slow to
// take them loses the oldest: a live map wants the newest position.
type subscriber struct {
	keep func(latest.Fix) bool
	ch   chan latest.Fix
}

func newHub() *hub { return &hub{subs: map[*subscriber]struct{}{}} }

func (h *hub) subscribe(keep func(latest.Fix) bool) *subscriber {
	sub := &subscriber{keep: keep, ch: make(chan latest.Fix, 256)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(sub.ch)
		return sub
	}
	h.subs[sub] = struct{}{}
	return sub
}

func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[sub]; ok {
		delete(h.subs, sub)
		close(sub.ch)
	}
}

func (h *hub) publish(fixes []latest.Fix) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		for _, f := range fixes {
			if !sub.keep(f) {
				continue
			}
			select {
			case sub.ch <- f:
			default:
				// Drop the oldest queued fix to make room for this one.
				select {
				case <-sub.ch:
				default:
				}
				select {
				case sub.ch <- f:
				default:
				}
			}
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for sub := range h.subs {
		delete(h.subs, sub)
		close(sub.ch)
	}
}
