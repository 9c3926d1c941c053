package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestPrintResultTargets: the ×1 targets line marks CPU and memory only when they were
// measured, and only for one meshd; a run whose server died or was not found meets no target
// by default, and a cluster's sums are not held to one process's targets.
func TestPrintResultTargets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes int
		cpu   float64
		rss   uint64
		want  string
	}{
		{"measured, under both", 1, 0.05, 32 << 20, "CPU < 10 % ✓  RSS < 64 MB ✓"},
		{"measured, over both", 1, 0.5, 128 << 20, "CPU < 10 % ✗  RSS < 64 MB ✗"},
		{"not measured", 1, 0, 0, "CPU < 10 % not measured  RSS < 64 MB not measured"},
		{"a cluster's sums", 3, 0.05, 32 << 20, "CPU < 10 % not for a cluster's sum  RSS < 64 MB not for a cluster's sum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			printResult(&out, &result{Profile: "seed", Scale: 1, ServerNodes: tc.nodes, ServerCPU: tc.cpu, PeakRSS: tc.rss})
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("the report lacks %q:\n%s", tc.want, &out)
			}
		})
	}
}
