package main

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
)

// TestKill9LosesNothingAcknowledged crashes meshd with SIGKILL in the middle of a load of
// creates, joins, leaves and reports, restarts it on the same file, and checks that every
// acknowledged control-plane change is there and that statuses are at most one flush interval
// behind. The crash is repeated in a bounded loop.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	const (
		cycles = 5
		flush  = 100 * time.Millisecond
	)
	args := []string{"-data-dir", dir, "-status-flush-interval", flush.String(), "-domain-mode", "fixed"}
	// The slack lets a loaded machine finish the flush that was due when it was killed.
	acked := &meshdtest.Ledger{Lag: flush + time.Second}
	// Small classrooms, one after another: creates, joins and leaves are in flight at the kill.
	classroom := meshdtest.Classroom{Members: 3, Leaves: 1, Reports: 6}
	verify := func(p *process) {
		t.Helper()
		if _, err := acked.Verify(p.Process); err != nil {
			t.Fatalf("after the crash: %v", err)
		}
	}
	for cycle := range cycles {
		p := startMeshd(t, args...)
		verify(p)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; i < 200 && acked.Play(p.Process, fmt.Sprintf("c%dw%d-host%d", cycle, w, i), classroom, stop); i++ {
				}
			})
		}
		time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond) // let the load run, then crash at a random point
		p.Signal(syscall.SIGKILL)
		acked.Killed(time.Now())
		p.wait(t)
		close(stop)
		wg.Wait()
	}
	verify(startMeshd(t, args...))
	if acked.Groups() < cycles {
		t.Fatalf("only %d groups were acknowledged: the load did not run", acked.Groups())
	}
}
