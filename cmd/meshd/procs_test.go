package main

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// An idle meshd gives up every processor but one once it has been calm for ten samples, and
// says so at debug level.
func TestIdleMeshdRunsOnOneProcessor(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one processor: nothing to adapt")
	}
	p := startMeshd(t, "-log-level", "debug")
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		logs := p.Logs()
		if i := strings.Index(logs, `msg="processors changed"`); i >= 0 {
			line, _, _ := strings.Cut(logs[i:], "\n")
			if !strings.Contains(line, " to=1 ") {
				t.Fatalf("an idle meshd changed its processors otherwise: %s", line)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("an idle meshd kept every processor:\n%s", logs)
		}
	}
}
