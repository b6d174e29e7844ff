// Package journal is calltrail's write-ahead log of raw AMI events: every
// message is appended, with its server id and arrival time, before the
// engine sees it. After a crash the daemon replays the journal from its
// checkpoint and completes the calls that were in flight; `calltrail
// rebuild` re-derives every call from it.
//
// A journal is a folder of segment files (journal-00000001.log, …), each a
// sequence of records:
//
//	magic "CT1" | crc32c (4) | length (4) | arrival unix ns (8) | server length (1) | server | payload
//
// all integers big-endian, the CRC over everything after it. A torn record
// at the end of the last segment (a crash in the middle of a write) is cut
// off when the journal is opened; a damaged record elsewhere stops a reader
// with ErrCorrupt. Files are created 0600 in a 0700 folder.
package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors.
var (
	ErrCorrupt = errors.New("journal: corrupt record")
	ErrClosed  = errors.New("journal: closed")
)

// Sync policies: when an appended record reaches the disk.
type Sync int

const (
	// SyncInterval flushes and fsyncs at most every Options.SyncEvery: a
	// power cut loses at most that much; a crash of the process alone
	// loses nothing that was flushed to the OS.
	SyncInterval Sync = iota
	// SyncAlways fsyncs every record: nothing acknowledged is lost, at
	// the cost of one disk flush per event.
	SyncAlways
	// SyncNever leaves flushing to the OS page cache: a process crash
	// loses nothing written, a power cut loses what the OS had not
	// written back (typically up to 30 s).
	SyncNever
)

// ParseSync reads a sync policy name: always, interval or never.
func ParseSync(s string) (Sync, error) {
	switch s {
	case "always":
		return SyncAlways, nil
	case "interval", "":
		return SyncInterval, nil
	case "never":
		return SyncNever, nil
	}
	return 0, fmt.Errorf("journal: unknown sync policy %q (want always, interval or never)", s)
}

// Options configure a journal.
type Options struct {
	SegmentSize int64         // rotate after this many bytes; default 64 MiB
	Sync        Sync          // default SyncInterval
	SyncEvery   time.Duration // default 1 s
	MaxRecord   int           // largest payload accepted; default 1 MiB
}

// A Position is where a record starts.
type Position struct {
	Segment uint64 `json:"segment"`
	Offset  int64  `json:"offset"`
}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	return p.Segment < q.Segment || (p.Segment == q.Segment && p.Offset < q.Offset)
}

func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Segment, p.Offset) }

// A Record is one journaled message.
type Record struct {
	Server  string
	Arrival time.Time
	Data    []byte
}

const (
	magic      = "CT1"
	headerSize = 3 + 4 + 4 + 8 + 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A Journal appends records. It is safe for concurrent use.
type Journal struct {
	dir  string
	opts Options

	mu       sync.Mutex
	f        *os.File
	w        *bufio.Writer
	seg      uint64
	off      int64
	lastSync time.Time
	closed   bool
	buf      []byte
	cut      int64 // bytes of a torn last record cut off by Open
}

// Cut reports how many bytes of a torn last record Open cut off: the
// record a crash interrupted.
func (j *Journal) Cut() int64 { return j.cut }

// Open opens (creating if needed) the journal in dir and positions it at
// the end of its last segment, cutting off a torn last record.
func Open(dir string, opts Options) (*Journal, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = 64 << 20
	}
	if opts.SyncEvery <= 0 {
		opts.SyncEvery = time.Second
	}
	if opts.MaxRecord <= 0 {
		opts.MaxRecord = 1 << 20
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{dir: dir, opts: opts}
	segs, err := segments(dir)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return j, j.openSegment(1)
	}
	last := segs[len(segs)-1]
	end, err := validEnd(j.path(last), opts.MaxRecord)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(j.path(last), os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.Size() > end {
		j.cut = st.Size() - end
	}
	if err := f.Truncate(end); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: cut torn tail: %w", err)
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	j.f, j.w, j.seg, j.off = f, bufio.NewWriterSize(f, 64<<10), last, end
	return j, nil
}

// Dir returns the journal's folder.
func (j *Journal) Dir() string { return j.dir }

// Size returns the bytes its segments take on disk (what was flushed).
func (j *Journal) Size() (int64, error) {
	segs, err := segments(j.dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, seg := range segs {
		st, err := os.Stat(j.path(seg))
		if err != nil {
			continue // pruned meanwhile
		}
		n += st.Size()
	}
	return n, nil
}

func (j *Journal) path(seg uint64) string {
	return filepath.Join(j.dir, fmt.Sprintf("journal-%08d.log", seg))
}

func (j *Journal) openSegment(seg uint64) error {
	f, err := os.OpenFile(j.path(seg), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.f, j.w, j.seg, j.off = f, bufio.NewWriterSize(f, 64<<10), seg, 0
	return nil
}

// Append writes a record and returns where it starts. Under SyncAlways it
// is on disk when Append returns.
func (j *Journal) Append(r Record) (Position, error) {
	if len(r.Data) > j.opts.MaxRecord {
		return Position{}, fmt.Errorf("journal: record of %d bytes over the %d-byte limit", len(r.Data), j.opts.MaxRecord)
	}
	if len(r.Server) > 255 {
		return Position{}, fmt.Errorf("journal: server id longer than 255 bytes")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return Position{}, ErrClosed
	}
	if j.off >= j.opts.SegmentSize {
		if err := j.rotate(); err != nil {
			return Position{}, err
		}
	}
	b := j.buf[:0]
	b = append(b, magic...)
	b = append(b, 0, 0, 0, 0) // crc, filled below
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Data)))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Arrival.UnixNano()))
	b = append(b, byte(len(r.Server)))
	b = append(b, r.Server...)
	b = append(b, r.Data...)
	binary.BigEndian.PutUint32(b[3:7], crc32.Checksum(b[7:], castagnoli))
	j.buf = b
	pos := Position{Segment: j.seg, Offset: j.off}
	if _, err := j.w.Write(b); err != nil {
		return Position{}, fmt.Errorf("journal: write: %w", err)
	}
	j.off += int64(len(b))
	if err := j.maybeSync(); err != nil {
		return Position{}, err
	}
	return pos, nil
}

func (j *Journal) maybeSync() error {
	switch j.opts.Sync {
	case SyncAlways:
		return j.syncLocked()
	case SyncInterval:
		if now := time.Now(); now.Sub(j.lastSync) >= j.opts.SyncEvery {
			j.lastSync = now
			return j.syncLocked()
		}
	case SyncNever:
		if j.w.Buffered() > 32<<10 {
			return j.flushLocked()
		}
	}
	return nil
}

func (j *Journal) flushLocked() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("journal: write: %w", err)
	}
	return nil
}

func (j *Journal) syncLocked() error {
	if err := j.flushLocked(); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: fsync: %w", err)
	}
	return nil
}

// Flush hands buffered records to the operating system (a crash of the
// process no longer loses them); Sync also puts them on disk.
func (j *Journal) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	return j.flushLocked()
}

// Sync flushes and fsyncs.
func (j *Journal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	return j.syncLocked()
}

// End returns the position the next record will have.
func (j *Journal) End() Position {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Position{Segment: j.seg, Offset: j.off}
}

func (j *Journal) rotate() error {
	if err := j.syncLocked(); err != nil {
		return err
	}
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return j.openSegment(j.seg + 1)
}

// Close syncs and closes the journal.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	err := j.syncLocked()
	if cerr := j.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("journal: %w", cerr)
	}
	return err
}

// segments lists the segment numbers in dir, in order.
func segments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var segs []uint64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "journal-") || !strings.HasSuffix(name, ".log") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "journal-"), ".log"), 10, 64)
		if err == nil {
			segs = append(segs, n)
		}
	}
	sort.Slice(segs, func(a, b int) bool { return segs[a] < segs[b] })
	return segs, nil
}

// validEnd returns the offset just past the last whole, valid record of a
// segment.
func validEnd(path string, maxRecord int) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var off int64
	var buf []byte
	for {
		n, _, err := readRecord(r, &buf, maxRecord)
		if err != nil {
			return off, nil // EOF, torn or corrupt: the valid part ends here
		}
		off += int64(n)
	}
}

// readRecord reads one record into buf and returns its size on disk.
func readRecord(r *bufio.Reader, buf *[]byte, maxRecord int) (int, Record, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, Record{}, ErrCorrupt
		}
		return 0, Record{}, err
	}
	if string(h[:3]) != magic {
		return 0, Record{}, ErrCorrupt
	}
	sum := binary.BigEndian.Uint32(h[3:7])
	n := int(binary.BigEndian.Uint32(h[7:11]))
	if n > maxRecord {
		return 0, Record{}, ErrCorrupt
	}
	arrival := int64(binary.BigEndian.Uint64(h[11:19]))
	sl := int(h[19])
	body := n + sl
	if cap(*buf) < body {
		*buf = make([]byte, body)
	}
	b := (*buf)[:body]
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, Record{}, ErrCorrupt
	}
	crc := crc32.New(castagnoli)
	crc.Write(h[7:])
	crc.Write(b)
	if crc.Sum32() != sum {
		return 0, Record{}, ErrCorrupt
	}
	rec := Record{
		Server:  string(b[:sl]),
		Arrival: time.Unix(0, arrival).UTC(),
		Data:    b[sl:],
	}
	return headerSize + body, rec, nil
}
