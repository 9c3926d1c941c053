package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// churnSink keeps churn's allocations from being optimised away.
var churnSink []byte

// churn allocates n bytes of garbage in 64 KiB pieces: with Go's default GOGC, enough for
// many collections.
func churn(n int) {
	for range n >> 16 {
		churnSink = make([]byte, 1<<16)
	}
}

func TestHoldCollector(t *testing.T) {
	tests := []struct {
		name string
		gogc string // the environment's GOGC
		held bool
	}{
		{name: "held off while measuring", gogc: "", held: true},
		{name: "GOGC set: left running and counted", gogc: "100", held: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOGC", tt.gogc)
			percent := debug.SetGCPercent(100)
			limit := debug.SetMemoryLimit(math.MaxInt64)
			t.Cleanup(func() {
				debug.SetGCPercent(percent)
				debug.SetMemoryLimit(limit)
			})

			h := holdCollector()
			if got := debug.SetMemoryLimit(-1); tt.held && got == math.MaxInt64 {
				t.Errorf("memory limit while held = %d, want a bound", got)
			}
			churn(256 << 20)
			n := h.release()
			switch {
			case tt.held && n != 0:
				t.Errorf("%d collections while held, want 0", n)
			case !tt.held && n == 0:
				t.Error("no collection counted over 256 MiB of garbage with GOGC=100")
			}
			if got := debug.SetGCPercent(100); got != 100 {
				t.Errorf("GOGC after release = %d, want 100 restored", got)
			}
			if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
				t.Errorf("memory limit after release = %d, want it restored", got)
			}
		})
	}
}
