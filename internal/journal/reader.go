package journal

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// A Reader reads records from a position on, across segments.
type Reader struct {
	dir       string
	segs      []uint64
	i         int
	f         *os.File
	r         *bufio.Reader
	pos       Position
	buf       []byte
	maxRecord int
}

// NewReader returns a Reader of the journal in dir from position from (the
// zero Position reads everything).
func NewReader(dir string, from Position) (*Reader, error) {
	segs, err := segments(dir)
	if err != nil {
		return nil, err
	}
	rd := &Reader{dir: dir, maxRecord: 1 << 20}
	for _, s := range segs {
		if s >= from.Segment {
			rd.segs = append(rd.segs, s)
		}
	}
	if len(rd.segs) > 0 && rd.segs[0] == from.Segment && from.Offset > 0 {
		if err := rd.open(0, from.Offset); err != nil {
			return nil, err
		}
	}
	return rd, nil
}

func (rd *Reader) open(i int, off int64) error {
	if rd.f != nil {
		rd.f.Close()
	}
	path := filepath.Join(rd.dir, fmt.Sprintf("journal-%08d.log", rd.segs[i]))
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("journal: %w", err)
		}
	}
	rd.i, rd.f, rd.r = i, f, bufio.NewReaderSize(f, 256<<10)
	rd.pos = Position{Segment: rd.segs[i], Offset: off}
	return nil
}

// Next returns the next record and its position, or io.EOF at the end. The
// record's Data is valid until the next call.
func (rd *Reader) Next() (Record, Position, error) {
	for {
		if rd.f == nil {
			if rd.i >= len(rd.segs) {
				return Record{}, Position{}, io.EOF
			}
			if err := rd.open(rd.i, 0); err != nil {
				return Record{}, Position{}, err
			}
		}
		n, rec, err := readRecord(rd.r, &rd.buf, rd.maxRecord)
		if err == io.EOF {
			rd.f.Close()
			rd.f = nil
			rd.i++
			continue
		}
		if err != nil {
			last := rd.i == len(rd.segs)-1
			if errors.Is(err, ErrCorrupt) && last {
				// A torn tail of the segment being written: the end.
				return Record{}, Position{}, io.EOF
			}
			return Record{}, Position{}, fmt.Errorf("%w at %s", err, rd.pos)
		}
		pos := rd.pos
		rd.pos.Offset += int64(n)
		return rec, pos, nil
	}
}

// Pos returns where the record after the last one Next returned starts.
func (rd *Reader) Pos() Position { return rd.pos }

// Close releases the reader's file.
func (rd *Reader) Close() error {
	if rd.f != nil {
		return rd.f.Close()
	}
	return nil
}

// A Checkpoint says where replay must start after a restart: every call
// with an event before Position is complete and stored.
type Checkpoint struct {
	Position Position `json:"position"`
	// Written is when it was saved.
	Written string `json:"written,omitempty"`
}

const checkpointFile = "checkpoint.json"

// SaveCheckpoint records p atomically (write, fsync, rename).
func (j *Journal) SaveCheckpoint(p Position, written string) error {
	data, err := json.Marshal(Checkpoint{Position: p, Written: written})
	if err != nil {
		return err
	}
	tmp := filepath.Join(j.dir, checkpointFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("journal: checkpoint: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("journal: checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal: checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("journal: checkpoint: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(j.dir, checkpointFile)); err != nil {
		return fmt.Errorf("journal: checkpoint: %w", err)
	}
	return nil
}

// LoadCheckpoint returns the saved checkpoint; ok is false when there is
// none (a new journal: replay everything).
func LoadCheckpoint(dir string) (p Position, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return Position{}, false, nil
	}
	if err != nil {
		return Position{}, false, fmt.Errorf("journal: checkpoint: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return Position{}, false, fmt.Errorf("journal: checkpoint %s: %w", filepath.Join(dir, checkpointFile), err)
	}
	return c.Position, true, nil
}

// Prune deletes whole segments that end before keep and whose last write
// is older than retention: they hold no event of a call still open, and
// they are older than what the operator wants to be able to rebuild.
// The segment being written is never deleted. It returns how many it
// deleted.
func (j *Journal) Prune(keep Position, olderThan func(modTime int64) bool) (int, error) {
	j.mu.Lock()
	current := j.seg
	j.mu.Unlock()
	segs, err := segments(j.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range segs {
		if s >= keep.Segment || s >= current {
			break
		}
		path := j.path(s)
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		if olderThan != nil && !olderThan(st.ModTime().UnixNano()) {
			continue
		}
		if err := os.Remove(path); err != nil {
			return n, fmt.Errorf("journal: prune: %w", err)
		}
		n++
	}
	return n, nil
}
