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

// TestFedRatioReport: meshd ÷ the fed broadcaster is read from their turns and marked against
// the target for one meshd only; a cluster's summed CPU is not held to it.
func TestFedRatioReport(t *testing.T) {
	for _, tc := range []struct {
		name            string
		nodes           int
		meshd, fed      float64
		line, targetRow string
	}{
		{"one meshd under the target", 1, 0.24, 0.20, "= 1.20× (target ≤ 1.3×)", "= 1.20× (target ≤ 1.3×) ✓"},
		{"one meshd over the target", 1, 0.28, 0.20, "= 1.40× (target ≤ 1.3×)", "= 1.40× (target ≤ 1.3×) ✗"},
		{"a cluster's sum", 3, 0.60, 0.20, "= 3.00× (a cluster's sum; the target ≤ 1.3× is one meshd's)", "= 3.00× (target ≤ 1.3×) not for a cluster's sum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &result{Profile: "seed", Scale: 1, ServerNodes: tc.nodes, ServerCPU: 0.5,
				Ceiling: &ceilingResult{FedCPU: tc.fed, FedMeshdCPU: tc.meshd}}
			var out bytes.Buffer
			printResult(&out, r)
			if !strings.Contains(out.String(), "meshd CPU "+pct(tc.meshd)+" of a core ÷ fed broadcaster "+pct(tc.fed)+" "+tc.line) {
				t.Errorf("the report lacks %q:\n%s", tc.line, &out)
			}
			if md := resultsMarkdown([]*result{r}, nil); !strings.Contains(md, tc.targetRow) {
				t.Errorf("RESULTS.md lacks %q:\n%s", tc.targetRow, md)
			}
		})
	}
}
