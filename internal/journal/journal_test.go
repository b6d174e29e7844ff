package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func record(i int) Record {
	return Record{
		Server:  fmt.Sprintf("pbx%d", i%3),
		Arrival: time.Unix(1795333546, int64(i)*1000).UTC(),
		Data:    []byte(fmt.Sprintf("Event: Newstate\r\nUniqueid: 1795333546.%d\r\n\r\n", i)),
	}
}

func readAll(t *testing.T, dir string, from Position) ([]Record, []Position) {
	t.Helper()
	rd, err := NewReader(dir, from)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var recs []Record
	var pos []Position
	for {
		r, p, err := rd.Next()
		if err == io.EOF {
			return recs, pos
		}
		if err != nil {
			t.Fatal(err)
		}
		r.Data = append([]byte(nil), r.Data...)
		recs = append(recs, r)
		pos = append(pos, p)
	}
}

func TestRoundTripAcrossSegments(t *testing.T) {
	for _, sync := range []Sync{SyncAlways, SyncInterval, SyncNever} {
		t.Run(fmt.Sprint(sync), func(t *testing.T) {
			dir := t.TempDir()
			j, err := Open(dir, Options{SegmentSize: 500, Sync: sync})
			if err != nil {
				t.Fatal(err)
			}
			var want []Position
			for i := 0; i < 50; i++ {
				p, err := j.Append(record(i))
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, p)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			segs, _ := segments(dir)
			if len(segs) < 5 {
				t.Fatalf("%d segments for 50 records of ~90 bytes at 500 bytes a segment", len(segs))
			}
			recs, pos := readAll(t, dir, Position{})
			if len(recs) != 50 {
				t.Fatalf("read %d records, want 50", len(recs))
			}
			for i, r := range recs {
				w := record(i)
				if r.Server != w.Server || !r.Arrival.Equal(w.Arrival) || !bytes.Equal(r.Data, w.Data) {
					t.Fatalf("record %d = %+v, want %+v", i, r, w)
				}
				if pos[i] != want[i] {
					t.Fatalf("record %d at %v, Append said %v", i, pos[i], want[i])
				}
			}
			// Reading from a position gives the rest.
			rest, _ := readAll(t, dir, want[37])
			if len(rest) != 13 || !bytes.Equal(rest[0].Data, record(37).Data) {
				t.Fatalf("from %v: %d records", want[37], len(rest))
			}
		})
	}
}

// A crash in the middle of a write leaves a torn record: Open cuts it off
// and appends after the last whole one; nothing before it is lost.
func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := j.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	end := j.End()
	j.Close()
	path := filepath.Join(dir, "journal-00000001.log")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("CT1\x00\x00\x00\x01\x00\x00\x00\x40half a rec"))
	f.Close()
	if recs, _ := readAll(t, dir, Position{}); len(recs) != 10 {
		t.Fatalf("reader saw %d records before reopening, want 10", len(recs))
	}
	j, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := j.End(); got != end {
		t.Fatalf("reopened at %v, want %v", got, end)
	}
	if _, err := j.Append(record(10)); err != nil {
		t.Fatal(err)
	}
	j.Close()
	recs, _ := readAll(t, dir, Position{})
	if len(recs) != 11 || !bytes.Equal(recs[10].Data, record(10).Data) {
		t.Fatalf("after reopening: %d records", len(recs))
	}
}

// A flipped bit in an older segment is reported, not read as an event.
func TestCorruptionIsReported(t *testing.T) {
	dir := t.TempDir()
	j, _ := Open(dir, Options{SegmentSize: 300})
	for i := 0; i < 12; i++ {
		j.Append(record(i))
	}
	j.Close()
	path := filepath.Join(dir, "journal-00000001.log")
	data, _ := os.ReadFile(path)
	data[40] ^= 0x20
	os.WriteFile(path, data, 0o600)
	rd, _ := NewReader(dir, Position{})
	defer rd.Close()
	var err error
	for err == nil {
		_, _, err = rd.Next()
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}

func TestCheckpointAndPrune(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := LoadCheckpoint(dir); ok || err != nil {
		t.Fatalf("new journal has a checkpoint: %v %v", ok, err)
	}
	j, _ := Open(dir, Options{SegmentSize: 200})
	var pos []Position
	for i := 0; i < 20; i++ {
		p, _ := j.Append(record(i))
		pos = append(pos, p)
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := j.SaveCheckpoint(pos[15], "test"); err != nil {
		t.Fatal(err)
	}
	got, ok, err := LoadCheckpoint(dir)
	if err != nil || !ok || got != pos[15] {
		t.Fatalf("checkpoint %v %v %v, want %v", got, ok, err, pos[15])
	}
	// Retention keeps everything younger than it.
	if n, _ := j.Prune(pos[15], func(int64) bool { return false }); n != 0 {
		t.Fatalf("pruned %d young segments", n)
	}
	n, err := j.Prune(pos[15], nil)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("nothing pruned before the checkpoint")
	}
	recs, _ := readAll(t, dir, Position{})
	if len(recs) == 0 || !bytes.Equal(recs[len(recs)-1].Data, record(19).Data) {
		t.Fatal("pruning lost records after the checkpoint")
	}
	rest, _ := readAll(t, dir, pos[15])
	if len(rest) != 5 {
		t.Fatalf("from the checkpoint: %d records, want 5", len(rest))
	}
	j.Close()
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	j.Append(record(1))
	j.SaveCheckpoint(Position{Segment: 1}, "")
	j.Close()
	for _, p := range []string{dir, filepath.Join(dir, "journal-00000001.log"), filepath.Join(dir, checkpointFile)} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: others can read the events", p, st.Mode().Perm())
		}
	}
}

func TestLimits(t *testing.T) {
	j, _ := Open(t.TempDir(), Options{MaxRecord: 100})
	defer j.Close()
	if _, err := j.Append(Record{Data: make([]byte, 101)}); err == nil {
		t.Fatal("accepted a record over MaxRecord")
	}
	j.Close()
	if _, err := j.Append(record(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	j, _ := Open(b.TempDir(), Options{Sync: SyncNever})
	defer j.Close()
	r := record(1)
	r.Data = bytes.Repeat([]byte("Key: value\r\n"), 40)
	b.SetBytes(int64(len(r.Data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := j.Append(r); err != nil {
			b.Fatal(err)
		}
	}
}
