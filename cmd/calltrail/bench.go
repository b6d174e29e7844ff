package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/calltrail/calltrail/bench"
	"github.com/calltrail/calltrail/billing"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, "usage: calltrail bench replay [flags] FILE")
		fmt.Fprintln(stderr, "       calltrail bench memory [flags] FILE|-")
		fmt.Fprintln(stderr, "       calltrail bench store [--dsn DSN] [flags] FILE")
		fmt.Fprintln(stderr, "\nMeasures replay throughput against `wc -l` on the same file, the heap")
		fmt.Fprintln(stderr, "the engine holds per live leg, and how many completed calls a second the")
		fmt.Fprintln(stderr, "batching writer stores into a database. Make FILE with calltrail gen; see")
		fmt.Fprintln(stderr, "docs/performance.md.")
	}
	if len(args) == 0 {
		usage()
		return usageError{"bench: replay, memory or store?"}
	}
	switch args[0] {
	case "replay":
		return benchReplay(ctx, args[1:], stdout, stderr)
	case "memory":
		return benchMemory(ctx, args[1:], stdout, stderr)
	case "store":
		return benchStore(ctx, args[1:], stdout, stderr)
	case "stage":
		// One stage in a process of its own; benchReplay starts these.
		return benchStage(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		usage()
		return nil
	}
	usage()
	return usageError{fmt.Sprintf("bench: unknown mode %q", args[0])}
}

// billingFlags are the rater settings of the billing stage.
type billingFlags struct {
	rates  *string
	trunks stringList
}

func (b *billingFlags) register(fs *flag.FlagSet) {
	b.rates = fs.String("rates", "configs/rates.yaml", "rate plan file for the billing stages")
	fs.Var(&b.trunks, "trunk", "trunk channel pattern (repeatable; default SIP/trunk* and PJSIP/trunk*)")
}

func (b *billingFlags) args() []string {
	a := []string{"--rates", *b.rates}
	for _, t := range b.trunks {
		a = append(a, "--trunk", t)
	}
	return a
}

func (b *billingFlags) rater(legs string) (*billing.Rater, error) {
	rates, err := billing.LoadRates(*b.rates)
	if err != nil {
		return nil, err
	}
	cfg := billing.DefaultConfig()
	cfg.Legs = legs
	cfg.Trunks = b.trunks
	if len(cfg.Trunks) == 0 {
		cfg.Trunks = []string{"SIP/trunk*", "PJSIP/trunk*"}
	}
	return billing.NewRater(rates, cfg)
}

// benchReplay times `wc -l` on the file, then each stage in a child
// process, and prints the table.
func benchReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.String("runs", "parse,engine,billing,billing-all", "what to run: parse, engine, billing (trunk legs), billing-all (every leg)")
	procs := fs.Int("procs", 1, "GOMAXPROCS of each run (1: one core, the collector included)")
	every := fs.Int64("every", 1_000_000, "sample resident memory every this many events (0: never)")
	repeat := fs.Int("repeat", 1, "run each this many times and keep the fastest (a busy machine only slows runs down)")
	var bf billingFlags
	bf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"bench replay: one FILE"}
	}
	file := fs.Arg(0)
	self, err := os.Executable()
	if err != nil {
		return err
	}

	base, err := wcLines(ctx, file)
	if err != nil {
		return err
	}
	var results []bench.Run
	for _, name := range strings.Split(*runs, ",") {
		stage, legs := name, ""
		switch name {
		case "billing":
			legs = billing.BillTrunks
		case "billing-all":
			stage, legs = "billing", billing.BillAll
		}
		if _, err := bench.ParseStage(stage); err != nil {
			return usageError{err.Error()}
		}
		a := []string{"bench", "stage", "--stage", stage, "--legs", legs, "--every", strconv.FormatInt(*every, 10)}
		a = append(append(a, bf.args()...), file)
		var best bench.Run
		for i := 0; i < max(*repeat, 1); i++ {
			r, err := runStage(ctx, self, a, *procs, stderr)
			if err != nil {
				return fmt.Errorf("bench %s: %w", name, err)
			}
			r.Name = name
			fmt.Fprintf(stderr, "bench: %s: %.0f events/s\n", name, r.EventsPerSecond())
			if i == 0 || r.Elapsed < best.Elapsed {
				best = r
			}
		}
		results = append(results, best)
	}
	fmt.Fprintf(stdout, "%s: %d bytes, GOMAXPROCS=%d, fastest of %d\n\n", file, base.Bytes, *procs, max(*repeat, 1))
	bench.WriteReplayTable(stdout, base, results)
	for _, r := range results {
		if len(r.Samples) > 0 {
			fmt.Fprintf(stdout, "\nMemory during %s, every %d events:\n\n", r.Name, *every)
			bench.WriteSamples(stdout, r.Result)
		}
	}
	return nil
}

// runStage runs one stage in a child process.
func runStage(ctx context.Context, self string, args []string, procs int, stderr io.Writer) (bench.Run, error) {
	var r bench.Run
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(out, &r.Result); err != nil {
		return r, err
	}
	r.UserCPU, r.SysCPU, r.MaxRSSKiB = rusage(cmd.ProcessState)
	return r, nil
}

// wcLines runs wc -l on the file twice, the first to bring it into the
// page cache as far as it fits, and times the second.
func wcLines(ctx context.Context, file string) (bench.Baseline, error) {
	var b bench.Baseline
	fi, err := os.Stat(file)
	if err != nil {
		return b, err
	}
	b.Bytes = fi.Size()
	if err := exec.CommandContext(ctx, "wc", "-l", file).Run(); err != nil {
		return b, fmt.Errorf("wc -l: %w", err)
	}
	cmd := exec.CommandContext(ctx, "wc", "-l", file)
	start := time.Now()
	out, err := cmd.Output()
	b.Elapsed = time.Since(start)
	if err != nil {
		return b, fmt.Errorf("wc -l: %w", err)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return b, fmt.Errorf("wc -l: no output")
	}
	b.Lines, _ = strconv.ParseInt(f[0], 10, 64)
	b.UserCPU, b.SysCPU, b.MaxRSSKiB = rusage(cmd.ProcessState)
	return b, nil
}

func rusage(ps *os.ProcessState) (user, sys time.Duration, maxRSSKiB int64) {
	if ps == nil {
		return 0, 0, 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		maxRSSKiB = ru.Maxrss // KiB on Linux
	}
	return ps.UserTime(), ps.SystemTime(), maxRSSKiB
}

// benchStage runs one stage and writes its result as JSON.
func benchStage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	batchGC()
	fs := flag.NewFlagSet("bench stage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stageName := fs.String("stage", "engine", "parse, engine or billing")
	legs := fs.String("legs", "", "billed legs: trunks or all")
	every := fs.Int64("every", 0, "sample memory every this many events")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the replay to this file")
	var bf billingFlags
	bf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"bench stage: one FILE"}
	}
	stage, err := bench.ParseStage(*stageName)
	if err != nil {
		return usageError{err.Error()}
	}
	cfg := bench.Config{Stage: stage, SampleEvery: *every}
	if stage == bench.Billing {
		if cfg.Rater, err = bf.rater(*legs); err != nil {
			return err
		}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Replay(ctx, f, cfg)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}

// benchMemory replays a stream through the engine, collecting and
// sampling the heap every so many events, and reports the heap per live
// leg at the busiest sample.
func benchMemory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench memory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	every := fs.Int64("every", 500_000, "sample the heap every this many events")
	profile := fs.String("heapprofile", "", "write heap profiles PREFIX-busiest.pprof (at the sample with the most live legs) and PREFIX-end.pprof")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"bench memory: one FILE, or - for standard input"}
	}
	var r io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	cfg := bench.Config{Stage: bench.Engine, SampleEvery: *every, GC: true}
	var profErr error
	if *profile != "" {
		most := 0
		cfg.OnSample = func(s bench.Sample) {
			name := *profile + "-end.pprof"
			if s.OpenLegs > most {
				most, name = s.OpenLegs, *profile+"-busiest.pprof"
			} else if s.OpenLegs > 0 {
				return
			}
			if err := writeHeapProfile(name); err != nil && profErr == nil {
				profErr = err
			}
		}
	}
	res, err := bench.Replay(ctx, r, cfg)
	if err != nil {
		return err
	}
	if profErr != nil {
		return profErr
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d events, %d calls, %s; heap before the replay %.1f MiB in use, %.1f MiB of objects; peak RSS %.1f MiB\n\n",
		res.Events, res.Calls, res.Elapsed.Round(time.Millisecond), float64(res.BaseHeap)/(1<<20), float64(res.BaseAlloc)/(1<<20), float64(res.PeakKiB)/1024)
	bench.WriteSamples(&b, res)
	if pl, ok := bench.HeapPerLeg(res); ok {
		fmt.Fprintf(&b, "\nBusiest sample: %d legs open in %d calls; per live leg %.0f bytes of HeapInuse, %.0f bytes of HeapAlloc (live objects).\n",
			pl.At.OpenLegs, pl.At.OpenCalls, pl.Inuse, pl.Alloc)
	}
	_, err = stdout.Write(b.Bytes())
	return err
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
