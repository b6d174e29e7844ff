package main

import (
	"os"
	"runtime/debug"
)

// batchGC tunes the garbage collector for a command that reads a stream as
// fast as it can (replay, rebuild, bench): the engine's live heap is small
// (tens of MiB) while each event allocates a little, so at the default
// GOGC=100 the collector runs many times a second. A collection every
// fourfold growth of the heap instead, under a 1 GiB soft limit, replays
// some 7 % faster (docs/performance.md). GOGC and GOMEMLIMIT, when set,
// win.
func batchGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}
