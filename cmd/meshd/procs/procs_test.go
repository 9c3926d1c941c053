package procs

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	p := Policy{Max: 4, Down: 0.25, Up: 0.45, Calm: 3}
	tests := []struct {
		name  string
		procs int
		used  []float64 // one sample each
		want  []int     // processors after each
	}{
		{"light load goes down after Calm samples", 4, []float64{0.2, 0.1, 0.2, 0.2}, []int{4, 4, 1, 1}},
		{"a busier sample breaks the calm", 4, []float64{0.2, 0.2, 0.3, 0.2, 0.2, 0.2}, []int{4, 4, 4, 4, 4, 1}},
		{"one busy sample brings every processor back", 1, []float64{0.2, 0.5, 0.2}, []int{1, 4, 4}},
		{"between Down and Up nothing changes", 1, []float64{0.3, 0.4, 0.44}, []int{1, 1, 1}},
		{"busy stays busy", 4, []float64{0.9, 1.5, 0.45}, []int{4, 4, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			procs, calm := tc.procs, 0
			for i, u := range tc.used {
				procs, calm = p.next(procs, u, calm)
				if procs != tc.want[i] {
					t.Fatalf("after sample %d (%.2f cores): %d processors, want %d", i, u, procs, tc.want[i])
				}
			}
		})
	}
}

// Run takes the runtime down to one processor while the process uses little CPU and gives it
// every processor back once it uses more, and leaves it alone with a Max of one.
func TestRun(t *testing.T) {
	start := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(start) })
	runtime.GOMAXPROCS(2)
	// The process "uses" rate cores: its CPU time grows by rate × the time that passed.
	var mu sync.Mutex
	rate, cpu, last := 0.1, 0.0, time.Now()
	cpuSeconds := func() float64 {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		cpu += rate * now.Sub(last).Seconds()
		last = now
		return cpu
	}
	setRate := func(r float64) {
		cpuSeconds()
		mu.Lock()
		rate = r
		mu.Unlock()
	}
	waitProcs := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); runtime.GOMAXPROCS(0) != want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("GOMAXPROCS stayed %d, want %d", runtime.GOMAXPROCS(0), want)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, Default(2), time.Millisecond, cpuSeconds, slog.New(slog.DiscardHandler))
		close(done)
	}()
	waitProcs(1)
	setRate(1.5)
	waitProcs(2)
	cancel()
	<-done

	// With one processor to begin with there is nothing to adapt: Run returns at once.
	runtime.GOMAXPROCS(1)
	Run(context.Background(), Default(1), time.Millisecond, func() float64 { t.Fatal("sampled with a Max of one"); return 0 }, slog.New(slog.DiscardHandler))
}
