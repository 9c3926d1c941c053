package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestPrintResultTargets: the ×1 targets line marks CPU and memory only when they were
// measured; a run whose server died or was not found meets no target by default.
func TestPrintResultTargets(t *testing.T) {
	for _, tc := range []struct {
		name string
		cpu  float64
		rss  uint64
		want string
	}{
		{"measured, under both", 0.05, 32 << 20, "CPU < 10 % ✓  RSS < 64 MB ✓"},
		{"measured, over both", 0.5, 128 << 20, "CPU < 10 % ✗  RSS < 64 MB ✗"},
		{"not measured", 0, 0, "CPU < 10 % not measured  RSS < 64 MB not measured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			printResult(&out, &result{Profile: "seed", Scale: 1, ServerCPU: tc.cpu, PeakRSS: tc.rss})
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("the report lacks %q:\n%s", tc.want, &out)
			}
		})
	}
}
