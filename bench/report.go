package bench

import (
	"fmt"
	"io"
	"time"
)

// A Run is a Result with what the process that ran it used, as its parent
// saw it (getrusage of the child).
type Run struct {
	Name string // the row's name: the stage, and how calls were billed
	Result
	UserCPU, SysCPU time.Duration
	MaxRSSKiB       int64 // ru_maxrss
}

// A Baseline is `wc -l` on the same file: the cost of only reading it.
type Baseline struct {
	Lines     int64
	Bytes     int64
	Elapsed   time.Duration
	UserCPU   time.Duration
	SysCPU    time.Duration
	MaxRSSKiB int64
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// WriteReplayTable writes runs beside the baseline as a Markdown table.
func WriteReplayTable(w io.Writer, base Baseline, runs []Run) {
	fmt.Fprintln(w, "| run | events | wall s | events/s | events/CPU-s | MB/s | ns/event | allocs/event | B alloc/event | GCs | CPU s | peak RSS MiB | wall ÷ wc -l |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	if base.Elapsed > 0 {
		fmt.Fprintf(w, "| `wc -l` | %d lines | %.2f | %.0f lines/s | | %.0f | | | | | %.2f | %.1f | 1 |\n",
			base.Lines, base.Elapsed.Seconds(), float64(base.Lines)/base.Elapsed.Seconds(),
			float64(base.Bytes)/1e6/base.Elapsed.Seconds(), (base.UserCPU + base.SysCPU).Seconds(), mib(base.MaxRSSKiB))
	}
	for _, r := range runs {
		ratio := ""
		if base.Elapsed > 0 {
			ratio = fmt.Sprintf("%.1f", r.Elapsed.Seconds()/base.Elapsed.Seconds())
		}
		peak := r.MaxRSSKiB
		if peak == 0 {
			peak = r.PeakKiB
		}
		fmt.Fprintf(w, "| %s | %d | %.2f | %.0f | %.0f | %.0f | %.0f | %.2f | %.0f | %d | %.2f | %.1f | %s |\n",
			r.Name, r.Events, r.Elapsed.Seconds(), r.EventsPerSecond(), r.EventsPerCPUSecond(), float64(r.Bytes)/1e6/r.Elapsed.Seconds(),
			r.NsPerEvent(), r.AllocsPerEvent(), r.BytesPerEvent(), r.GCs, (r.UserCPU + r.SysCPU).Seconds(), mib(peak), ratio)
	}
}

// WriteSamples writes a run's memory samples as a Markdown table.
func WriteSamples(w io.Writer, r Result) {
	fmt.Fprintln(w, "| events | calls open | legs open | HeapInuse MiB | HeapAlloc MiB | RSS MiB |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|")
	for _, s := range r.Samples {
		fmt.Fprintf(w, "| %d | %d | %d | %.1f | %.1f | %.1f |\n",
			s.Events, s.OpenCalls, s.OpenLegs, float64(s.HeapInuse)/(1<<20), float64(s.HeapAlloc)/(1<<20), mib(s.RSSKiB))
	}
}

// PerLeg is the heap the engine held per live leg at the sample with the
// most live legs: the heap then, less the heap before the replay, over
// the legs. Inuse counts the heap's spans in use (HeapInuse), which
// includes the free room in spans that hold live objects; Alloc counts
// the live objects only (HeapAlloc, right after a collection).
type PerLeg struct {
	At           Sample
	Inuse, Alloc float64 // bytes per live leg
}

// HeapPerLeg finds the sample with the most open legs. Its heap must have
// been sampled after a collection (Config.GC) to mean anything.
func HeapPerLeg(r Result) (PerLeg, bool) {
	var best Sample
	for _, s := range r.Samples {
		if s.OpenLegs > best.OpenLegs {
			best = s
		}
	}
	if best.OpenLegs == 0 {
		return PerLeg{}, false
	}
	n := float64(best.OpenLegs)
	return PerLeg{
		At:    best,
		Inuse: float64(best.HeapInuse-r.BaseHeap) / n,
		Alloc: float64(best.HeapAlloc-r.BaseAlloc) / n,
	}, true
}
