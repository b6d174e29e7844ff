package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/journal"
)

// RebuildStats tells what a rebuild did.
type RebuildStats struct {
	Events    int // journal records read
	Calls     int // calls derived and handed to save
	Skipped   int // calls outside the time range
	StillOpen int // calls the journal ends in the middle of (not saved)
}

// Rebuild re-derives every call from a journal with fresh engines, one per
// server, exactly as serve derived them: after an engine fix, a month of
// calls can be recomputed. Calls whose start is in [from, to) (zero times:
// no bound) are rated when rater is not nil and handed to save in batches.
// Calls the journal ends in the middle of are counted, not saved: a running
// serve will complete them.
func Rebuild(ctx context.Context, dir string, from, to time.Time, rater Rater, save func([]*callgraph.Call) error) (RebuildStats, error) {
	var st RebuildStats
	engines := map[string]*callgraph.Engine{}
	var linker callgraph.Linker
	var batch []*callgraph.Call
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := save(batch)
		batch = batch[:0]
		return err
	}
	skipped := 0
	for x, err := range readJournal(dir, journal.Position{}, &skipped) {
		if err != nil {
			return st, fmt.Errorf("rebuild: %w", err)
		}
		if st.Events&1023 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		st.Events++
		eng := engines[x.rec.Server]
		if eng == nil {
			eng = callgraph.New(callgraph.Options{Server: x.rec.Server})
			engines[x.rec.Server] = eng
		}
		for _, done := range eng.HandleSeq(x.m, x.rec.Arrival, x.seq) {
			// As serve does: calls joined over a trunk are linked, and
			// the earlier one is saved again with its link.
			for i, c := range linker.Add(done) {
				if (!from.IsZero() && c.Start.Before(from)) || (!to.IsZero() && !c.Start.Before(to)) {
					if i == 0 {
						st.Skipped++
					}
					continue
				}
				if rater != nil {
					c.Billing = rater.Rate(c)
				}
				batch = append(batch, c)
				if i == 0 {
					st.Calls++
				}
			}
			if len(batch) >= 500 {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
	}
	st.Events += skipped
	for _, eng := range engines {
		st.StillOpen += eng.Stats().OpenCalls
	}
	return st, flush()
}
