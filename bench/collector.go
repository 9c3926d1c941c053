package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// The generator is the instrument: its readers timestamp every delivery. A collection of its
// own heap stops them all at once (assists and marking on the cores the servers need), and
// every delivery waiting meanwhile is counted as the server's latency. So the generator keeps
// its collector off while it measures, and says how many collections ran anyway.

// gcHold is the generator's collector held off for one measurement.
type gcHold struct {
	held    bool
	percent int   // GOGC to restore
	limit   int64 // memory limit to restore
	cycles0 uint64
}

// holdCollector collects once, then keeps the generator's collector off until release, unless
// its memory nears heldMemoryLimit (Go's soft limit: then it collects, and release counts it).
// With GOGC set in the environment the collector is left as it is set, and only counted.
func holdCollector() *gcHold {
	if os.Getenv("GOGC") != "" {
		return &gcHold{cycles0: gcCycles()}
	}
	runtime.GC()
	h := &gcHold{held: true, cycles0: gcCycles()}
	h.limit = debug.SetMemoryLimit(heldMemoryLimit())
	h.percent = debug.SetGCPercent(-1)
	return h
}

// release restores the collector and returns the collections that ran since the hold began.
func (h *gcHold) release() uint64 {
	n := gcCycles() - h.cycles0
	if h.held {
		debug.SetGCPercent(h.percent)
		debug.SetMemoryLimit(h.limit)
		h.held = false
	}
	return n
}

// heldMemoryLimit is what the generator may grow to while its collector is held: what it
// holds now plus half the memory the machine has available (a ×10 window of 20 s allocates
// about 0.5 GB).
func heldMemoryLimit() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	spare := int64(heldFallbackSpare)
	if kb, ok := meminfoKB("MemAvailable"); ok {
		spare = kb << 10 / 2
	}
	return int64(s[0].Value.Uint64()) + spare
}

// heldFallbackSpare is the growth allowed when the memory available cannot be read.
const heldFallbackSpare = 1 << 30

// gcCycles is the number of collections the process has completed.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
