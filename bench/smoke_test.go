package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the ceiling broadcaster and the nats-server
// reference, as the bench binary does: runCeiling and runNATS start their own executable with
// ceilingEnv or natsEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(ceilingEnv) == "1" {
		os.Exit(ceilingMain())
	}
	if os.Getenv(natsEnv) == "1" {
		os.Exit(natsMain())
	}
	os.Exit(m.Run())
}

// TestSmoke runs the generator end to end at a tiny scale against a freshly built meshd and
// checks the exact accounting: every owed message arrived once and in order, nothing failed.
func TestSmoke(t *testing.T) {
	tests := []struct {
		profile string
		ceiling bool
	}{
		{"seed", true},
		{"polling", false},
	}
	for _, tc := range tests {
		t.Run(tc.profile, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			file := filepath.Join(t.TempDir(), "result.json")
			var stdout, stderr bytes.Buffer
			args := []string{"-profile", tc.profile, "-groups", "2", "-nodes", "5", "-data-rate", "2", "-event-rate", "1",
				"-warmup", "500ms", "-duration", "3s", "-ceiling", "1s", "-json", file}
			if code := mainWith(ctx, args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var r result
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			if r.Expected == 0 || r.Deliveries < r.Expected || !r.clean() {
				t.Fatalf("accounting: %+v\nstdout:\n%s", r, &stdout)
			}
			if r.MutationsPerSec == 0 || r.DeliveriesPerSec == 0 || r.P99 == 0 || r.Max < r.P99 {
				t.Fatalf("rates or latencies missing: %+v", r)
			}
			if r.ServerCPUSeconds == 0 || r.PeakRSS == 0 {
				t.Fatalf("meshd's CPU or memory not measured: %+v", r)
			}
			if tc.ceiling {
				if r.Dissolved != "10/10" {
					t.Errorf("dissolve seen by %s subscribers, want 10/10", r.Dissolved)
				}
				if c := r.Ceiling; c == nil || c.Delivered == 0 || c.Delivered != c.Sent || r.CeilingRatio <= 0 {
					t.Errorf("ceiling: %+v, ratio %v", c, r.CeilingRatio)
				}
				if c := r.Ceiling; c == nil || c.PacedSent == 0 || c.PacedDelivered != c.PacedSent {
					t.Errorf("paced ceiling not counted: %+v", c)
				}
				if c := r.Ceiling; c == nil || c.FedSent == 0 || c.FedDelivered != c.FedSent || c.FedFailed != 0 || c.FedOthersPerSec == 0 {
					t.Errorf("fed broadcaster not counted: %+v", c)
				}
				if n := r.NATS; n == nil || n.Sent == 0 || n.Delivered != n.Sent || n.OutOfOrder != 0 || n.P99 == 0 {
					t.Errorf("nats-server reference: %+v", n)
				}
				if r.IdleRSSPerSocket == 0 {
					t.Errorf("RSS per idle socket not measured")
				}
			}
			if !strings.Contains(stdout.String(), "lost 0, duplicated 0, out of order 0, unexpected 0") {
				t.Errorf("report lacks the accounting line:\n%s", &stdout)
			}
		})
	}
}

func TestMainRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown profile", []string{"-profile", "storm"}, 2, `-profile "storm"`},
		{"non-loopback target", []string{"-target", "http://192.0.2.1:8080/graphql", "-ceiling", "0"}, 1, "refusing non-loopback target"},
		{"rates above nodes", []string{"-nodes", "3", "-data-rate", "3", "-event-rate", "1"}, 2, "-data-rate + -event-rate"},
		{"bad sweep", []string{"-sweep", "1,x"}, 2, "-sweep"},
		{"zero window", []string{"-duration", "0s"}, 2, "-duration must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := mainWith(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, &stderr, tc.code, tc.want)
			}
		})
	}
}

func TestWriteSweep(t *testing.T) {
	dir := t.TempDir()
	results := []*result{
		{Profile: "seed", Scale: 1, Groups: 10, Nodes: 40, Connections: 400, Window: time.Second, Expected: 10, Deliveries: 10,
			P50: time.Millisecond, P99: 3 * time.Millisecond, DeliveriesPerSec: 6800, ServerCPU: 0.06, IdleRSSPerSocket: 20 << 10,
			Ceiling: &ceilingResult{DeliveriesPerSec: 400000, PacedCPU: 0.05, PacedP99: time.Millisecond, PacedSent: 10, PacedDelivered: 10}, CeilingRatio: 0.017,
			NATS: &natsResult{CPU: 0.04, P99: 2 * time.Millisecond, Sent: 10, Delivered: 10}},
		{Profile: "seed", Scale: 5, Groups: 50, Nodes: 40, Connections: 2000, Window: time.Second, Expected: 10, Deliveries: 9, Lost: 1,
			P99: 80 * time.Millisecond, DeliveriesPerSec: 34000, HTTPErrors: map[string]uint64{"ReportDataByNode: transport timeout": 2},
			Ceiling: &ceilingResult{PacedCPU: 0.2, PacedP99: 60 * time.Millisecond, PacedSent: 10, PacedDelivered: 10}},
	}
	if err := writeSweep(dir, results, errors.New("seed ×25 needs 11024 open files")); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| ×1 | 400 |", "| ×5 | 2000 |", "1.7 %", "Largest multiple with zero loss and p99 ≤ 50ms: meshd ×1", "paced at the same rates, ×1 — meshd at least as far ✓",
		"= 6.0 % ÷ 5.0 % = 1.20× (target ≤ 1.5×) ✓", "nats-server's own WebSocket fan-out at the same rate: meshd CPU 6.0 % vs 4.0 % (1.50×)",
		"RSS per idle subscribed socket 20.0 KB (target ≤ 24 KB) ✓",
		"×5 is the first multiple that missed", "ended early: seed ×25 needs 11024 open files", "transport timeout ×2", "(sweep.svg)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, md)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "sweep.svg"))
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("sweep.svg is not well-formed XML: %v", err)
			}
			break
		}
	}
	for _, name := range []string{"machine.md", "results.json"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", name, err)
		}
	}
}
