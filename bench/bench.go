// Package bench measures how fast calltrail replays an AMI stream and how
// much memory it holds: the replay pipeline cut at each stage (parse only,
// parse and engine, parse, engine and billing), events per second, time
// and allocations per event, peak and sampled resident memory, and the
// heap the engine keeps per live leg.
//
// The measurements run on streams that internal/gen writes; "calltrail
// bench" drives them, each stage in a process of its own so that its
// peak memory is its own, and prints the tables of docs/performance.md.
// The Go benchmarks in this package cover the same loops on a small
// stream held in memory.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/callgraph"
)

// A Stage is how much of the replay pipeline runs.
type Stage string

const (
	// Parse reads and frames messages, as ami.Reader does for every
	// connection.
	Parse Stage = "parse"
	// Engine parses and feeds every message to a callgraph.Engine.
	Engine Stage = "engine"
	// Billing also rates every completed call.
	Billing Stage = "billing"
)

// Stages are the stages in pipeline order.
var Stages = []Stage{Parse, Engine, Billing}

// ParseStage returns the stage named s.
func ParseStage(s string) (Stage, error) {
	for _, st := range Stages {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("bench: unknown stage %q (want parse, engine or billing)", s)
}

// Config says what a replay measures.
type Config struct {
	Stage Stage
	// Rater prices the calls of the Billing stage.
	Rater *billing.Rater
	// SampleEvery is how many events apart memory is sampled; 0 never.
	SampleEvery int64
	// GC forces a collection before each sample, so that the heap
	// sampled is the live heap (slows the replay).
	GC bool
	// OnSample, when set, is called with each sample as it is taken,
	// and with a last one at the end of the stream, after Flush.
	OnSample func(Sample)
}

// A Sample is the process's memory after some events.
type Sample struct {
	Events    int64  `json:"events"`
	RSSKiB    int64  `json:"rss_kib"`    // VmRSS
	HeapInuse uint64 `json:"heap_inuse"` // runtime.MemStats.HeapInuse: spans in use
	HeapAlloc uint64 `json:"heap_alloc"` // runtime.MemStats.HeapAlloc: objects
	OpenLegs  int    `json:"open_legs"`  // engine stages only
	OpenCalls int    `json:"open_calls"`
}

// A Result is one replay's measurements.
type Result struct {
	Stage   Stage         `json:"stage"`
	Events  int64         `json:"events"`   // events and responses read
	Calls   int64         `json:"calls"`    // calls completed (engine stages)
	Bytes   int64         `json:"bytes"`    // bytes read
	Elapsed time.Duration `json:"elapsed"`  // wall time of the replay
	CPU     time.Duration `json:"cpu"`      // CPU time of the process during it
	Mallocs uint64        `json:"mallocs"`  // heap allocations during it
	Alloc   uint64        `json:"alloc"`    // bytes allocated during it
	GCs     uint32        `json:"gcs"`      // collections during it
	PeakKiB int64         `json:"peak_kib"` // VmHWM at the end
	// BaseHeap and BaseAlloc are HeapInuse and HeapAlloc before the
	// replay, after a collection: what the samples' heaps are measured
	// from.
	BaseHeap  uint64   `json:"base_heap"`
	BaseAlloc uint64   `json:"base_alloc"`
	Samples   []Sample `json:"samples,omitempty"`
	Billed    int64    `json:"billed,omitempty"` // billing records made
	Unplaced  int64    `json:"unplaced,omitempty"`
}

// EventsPerSecond is the replay's throughput.
func (r Result) EventsPerSecond() float64 {
	return float64(r.Events) / r.Elapsed.Seconds()
}

// EventsPerCPUSecond is the throughput per second of CPU time, which a
// busy machine disturbs less than the wall time.
func (r Result) EventsPerCPUSecond() float64 {
	return float64(r.Events) / r.CPU.Seconds()
}

// NsPerEvent is the wall time per event.
func (r Result) NsPerEvent() float64 { return float64(r.Elapsed.Nanoseconds()) / float64(r.Events) }

// AllocsPerEvent is the heap allocations per event.
func (r Result) AllocsPerEvent() float64 { return float64(r.Mallocs) / float64(r.Events) }

// BytesPerEvent is the bytes allocated per event.
func (r Result) BytesPerEvent() float64 { return float64(r.Alloc) / float64(r.Events) }

// Replay reads a stream to its end through the configured stage.
func Replay(ctx context.Context, r io.Reader, cfg Config) (Result, error) {
	res := Result{Stage: cfg.Stage}
	if cfg.Stage == Billing && cfg.Rater == nil {
		return res, errors.New("bench: billing stage without a rater")
	}
	cr := &countReader{r: r}
	ar := ami.NewReader(bufio.NewReaderSize(cr, 1<<20))
	var eng *callgraph.Engine
	if cfg.Stage != Parse {
		eng = callgraph.New(callgraph.Options{Server: "bench"})
	}
	var m ami.Message
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res.BaseHeap, res.BaseAlloc = before.HeapInuse, before.HeapAlloc
	start, startCPU := time.Now(), cpuTime()
	nextSample := cfg.SampleEvery
	for {
		if res.Events&0xffff == 0 && ctx.Err() != nil {
			return res, ctx.Err()
		}
		err := ar.ReadMessageInto(&m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("bench: message %d: %w", res.Events+1, err)
		}
		res.Events++
		if eng != nil {
			// The arrival time is not read: generated events have
			// Timestamps.
			for _, c := range eng.Handle(&m, time.Time{}) {
				res.Calls++
				if cfg.Stage == Billing {
					c.Billing = cfg.Rater.Rate(c)
					res.Billed += int64(len(c.Billing))
				}
			}
		}
		if cfg.SampleEvery > 0 && res.Events >= nextSample {
			nextSample += cfg.SampleEvery
			s := sample(res.Events, eng, cfg.GC)
			res.Samples = append(res.Samples, s)
			if cfg.OnSample != nil {
				cfg.OnSample(s)
			}
		}
	}
	if eng != nil {
		for _, c := range eng.Flush(time.Time{}) {
			res.Calls++
			if cfg.Stage == Billing {
				c.Billing = cfg.Rater.Rate(c)
				res.Billed += int64(len(c.Billing))
			}
		}
		res.Unplaced = eng.Stats().Unplaced
	}
	res.Elapsed = time.Since(start)
	res.CPU = cpuTime() - startCPU
	if cfg.OnSample != nil {
		cfg.OnSample(sample(res.Events, eng, cfg.GC))
	}
	runtime.ReadMemStats(&after)
	res.Mallocs = after.Mallocs - before.Mallocs
	res.Alloc = after.TotalAlloc - before.TotalAlloc
	res.GCs = after.NumGC - before.NumGC
	res.Bytes = cr.n
	res.PeakKiB, _ = ProcStatus("VmHWM")
	return res, nil
}

func sample(events int64, eng *callgraph.Engine, gc bool) Sample {
	if gc {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := Sample{Events: events, HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc}
	s.RSSKiB, _ = ProcStatus("VmRSS")
	if eng != nil {
		st := eng.Stats()
		s.OpenLegs, s.OpenCalls = st.OpenLegs, st.OpenCalls
	}
	return s
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ProcStatus returns a field of /proc/self/status in KiB, such as VmRSS
// (resident memory now) or VmHWM (its peak). It fails where there is no
// /proc.
func ProcStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(name) != field {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(string(f[0]), 10, 64)
	}
	return 0, fmt.Errorf("bench: no %s in /proc/self/status", field)
}
