package daemon

import (
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/internal/journal"
)

// journaled is one journal record read back as an AMI message, with the
// sequence number the engines key checkpoints by.
type journaled struct {
	rec journal.Record
	seq int64
	m   *ami.Message
}

// readJournal yields the messages of the journal in dir from a position
// on. A record that is not an AMI message is skipped (counted in
// skipped); a damaged journal ends the sequence with its error.
func readJournal(dir string, from journal.Position, skipped *int) iter.Seq2[journaled, error] {
	return func(yield func(journaled, error) bool) {
		rd, err := journal.NewReader(dir, from)
		if err != nil {
			yield(journaled{}, err)
			return
		}
		defer rd.Close()
		for {
			rec, pos, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(journaled{}, fmt.Errorf("journal %s: %w", dir, err))
				return
			}
			m, err := ami.NewReader(newBytesReader(rec.Data)).ReadMessage()
			if err != nil {
				*skipped++
				continue
			}
			if !yield(journaled{rec: rec, seq: seqOf(pos), m: m}, nil) {
				return
			}
		}
	}
}
