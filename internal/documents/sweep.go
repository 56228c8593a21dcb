package documents

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/blob"
)

// Sweep removes blobs that no document record points at and that are older
// than the grace period: the leftovers of a process that died between
// writing a blob and committing its record, of a failed commit, or of a
// delete whose blob removal failed. Younger blobs may belong to uploads in
// progress and are left alone. It returns how many blobs it removed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.cfg.SweepGrace)
	var old []string
	err := s.blobs.List(ctx, blobPrefix, func(i blob.Info) error {
		if i.Modified.Before(cutoff) {
			old = append(old, i.Key)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep documents: %w", err)
	}
	removed := 0
	for _, key := range old {
		// Keys are documents/<load>/<document>; a record is looked up by
		// its key, so a blob under an unexpected name is an orphan too.
		var n int
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM documents WHERE blob_key = ?`, key).Scan(&n); err != nil {
			return removed, fmt.Errorf("sweep documents: %w", err)
		}
		if n > 0 {
			continue
		}
		if err := s.blobs.Delete(ctx, key); err != nil {
			return removed, fmt.Errorf("sweep documents: %w", err)
		}
		removed++
		s.swept.Inc()
		s.log.Info("removed orphaned document blob", "key", key, "load", strings.Split(strings.TrimPrefix(key, blobPrefix), "/")[0])
	}
	return removed, nil
}

// Run sweeps every SweepEvery until ctx ends. Every replica may run it: a
// blob removed twice is removed once.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep documents", "err", err)
		}
	}
}
