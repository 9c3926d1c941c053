// Package procs lets Go's runtime run meshd on one processor while meshd is lightly loaded,
// and on every processor it may use once it is busier. With several processors and little to
// do, the runtime keeps waking idle processors for each goroutine handed work (a socket's
// writer, a group's delivery) and spinning them in search of more: at the seed profile's ×1 on
// the 2-core build machine that cost meshd about an eighth of its CPU against the same meshd
// on one processor (bench/results/PERF-III.md, round 10). The processors of a busy meshd are
// what the runtime chose at start; once Run has changed them, the runtime no longer follows a
// change of the container's CPU limit.
package procs

import (
	"context"
	"log/slog"
	"runtime"
	"time"
)

// Policy says when to change the number of processors, from the cores meshd used in each
// sample.
type Policy struct {
	Max  int     // processors while busy: what the runtime chose at start
	Down float64 // cores used below which a sample counts as calm
	Up   float64 // cores used from which one sample brings Max processors back
	Calm int     // calm samples in a row before meshd goes down to one processor
}

// Default is meshd's policy for max processors, sampled once a second: down to one processor
// after ten seconds under a quarter of a core (×1 of the seed profile uses a fifth), back to
// max within a second of using 0.45 of a core (×5 uses more than half), so that a lesson's
// start or a busy class never waits more than a second on one processor.
func Default(max int) Policy {
	return Policy{Max: max, Down: 0.25, Up: 0.45, Calm: 10}
}

// Interval is how often Run samples.
const Interval = time.Second

// next returns the processors to use after a sample of used cores, given the processors in
// use and the calm samples in a row before it, and the calm samples in a row after it.
func (p Policy) next(procs int, used float64, calm int) (int, int) {
	if used >= p.Up {
		return p.Max, 0
	}
	if used >= p.Down {
		return procs, 0
	}
	calm++
	if calm >= p.Calm {
		return 1, calm
	}
	return procs, calm
}

// Run samples the process's CPU time (cpuSeconds) every interval and sets the runtime's
// processors by p until ctx ends. It does nothing with a Max of one.
func Run(ctx context.Context, p Policy, interval time.Duration, cpuSeconds func() float64, log *slog.Logger) {
	if p.Max <= 1 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	procs, calm := p.Max, 0
	lastCPU, lastAt := cpuSeconds(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cpu, at := cpuSeconds(), time.Now()
		used := (cpu - lastCPU) / at.Sub(lastAt).Seconds()
		lastCPU, lastAt = cpu, at
		var next int
		if next, calm = p.next(procs, used, calm); next != procs {
			runtime.GOMAXPROCS(next)
			log.Debug("processors changed", "from", procs, "to", next, "cores_used", used)
			procs = next
		}
	}
}
