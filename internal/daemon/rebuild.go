package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/calltrail/calltrail/ami"
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
	rd, err := journal.NewReader(dir, journal.Position{})
	if err != nil {
		return st, err
	}
	defer rd.Close()
	engines := map[string]*callgraph.Engine{}
	var batch []*callgraph.Call
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := save(batch)
		batch = batch[:0]
		return err
	}
	for {
		if st.Events&1023 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		rec, pos, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("rebuild: %w", err)
		}
		st.Events++
		m, err := ami.NewReader(newBytesReader(rec.Data)).ReadMessage()
		if err != nil {
			continue
		}
		eng := engines[rec.Server]
		if eng == nil {
			eng = callgraph.New(callgraph.Options{Server: rec.Server})
			engines[rec.Server] = eng
		}
		for _, c := range eng.HandleSeq(m, rec.Arrival, seqOf(pos)) {
			if (!from.IsZero() && c.Start.Before(from)) || (!to.IsZero() && !c.Start.Before(to)) {
				st.Skipped++
				continue
			}
			if rater != nil {
				c.Billing = rater.Rate(c)
			}
			batch = append(batch, c)
			st.Calls++
			if len(batch) >= 500 {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
	}
	for _, eng := range engines {
		st.StillOpen += eng.Stats().OpenCalls
	}
	return st, flush()
}
