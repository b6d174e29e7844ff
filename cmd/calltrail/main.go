// Command calltrail listens to Asterisk and writes a correct record of
// every call. Run "calltrail help" for its subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"syscall"
)

// A command is one subcommand; each lives in its own file.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is filled in one place so the set of subcommands reads at a glance.
func commands() map[string]command {
	return map[string]command{
		"replay":  {"read AMI captures and print one record per call", runReplay},
		"sim":     {"serve AMI captures as a fake Asterisk, for tests and demos", runSim},
		"serve":   {"follow Asterisk over AMI and FastAGI, store every call", runServe},
		"report":  {"print queue, agent, cause, KPI and quality reports from the database", runReport},
		"diagram": {"draw a stored call: who called whom, the transfers, a timeline", runDiagram},
		"demo":    {"play shipped captures through a fake Asterisk into the daemon", runDemo},
		"gen":     {"write a large AMI stream made of the captures, for load tests", runGen},
		"bench":   {"measure replay throughput and memory on a generated stream", runBench},
		"account": {"create and top up prepaid accounts, show balances and ledgers", runAccount},
		"export":  {"write stored calls as CSV, JSON lines or Asterisk's Master.csv", runExport},
		"rerate":  {"price stored calls again with a new rate file, and show the difference", runRerate},
		"web":     {"serve the HTTP API, reports and /metrics from the database alone", runWeb},
		"rebuild": {"re-derive every call from serve's journal and store it again", runRebuild},
		"collect": {"follow one Asterisk and publish its events to NATS JetStream for engines elsewhere", runCollect},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := cpuProfile(os.Getenv("CALLTRAIL_CPUPROFILE"))
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "calltrail:", err)
		}
		os.Exit(exitCode(err))
	}
}

// cpuProfile profiles the whole command into file when it is set (a
// running serve or collect is profiled until it stops cleanly): see
// docs/performance.md.
func cpuProfile(file string) (stop func()) {
	if file == "" {
		return func() {}
	}
	f, err := os.Create(file)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "calltrail: CALLTRAIL_CPUPROFILE:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// usageError marks a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return usageError{"no command given"}
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds)
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: calltrail <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
}
