// Command soak kills meshd with SIGKILL at random points under the seed load, over and over,
// and after every restart checks every change meshd acknowledged before: groups, joins,
// leaves and (within one status flush) reports. It is bounded in cycles and time and is not
// part of the default test run:
//
//	go run ./bench/soak            # 100 cycles, writes bench/soak/RESULT.md
//	go run ./bench/soak -cycles 5  # a quick look
//
// The load per cycle is the seed profile's shape: 10 classrooms of 40 editors, each host
// creating its group, 39 members joining, a few leaving, everyone reporting variables.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
)

func main() {
	cycles := flag.Int("cycles", 100, "how many times meshd is killed and restarted")
	classrooms := flag.Int("classrooms", 10, "classrooms per cycle")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed of the kill points")
	out := flag.String("out", "bench/soak/RESULT.md", "where the summary is written (empty: stdout only)")
	limit := flag.Duration("timeout", 15*time.Minute, "the whole run's bound")
	flag.Parse()
	if err := run(*cycles, *classrooms, *seed, *out, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// flush is meshd's status flush interval in the soak; reports acknowledged longer than
// flush+slack before a kill must survive it.
const (
	flush = 200 * time.Millisecond
	slack = time.Second
)

func run(cycles, classrooms int, seed uint64, out string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tmp, err := os.MkdirTemp("", "meshd-soak")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := meshdtest.Build(ctx, nil, nil)
	if err != nil {
		return fmt.Errorf("build meshd (run inside the repository): %w", err)
	}
	defer bin.Remove()
	opts := meshdtest.Options{Binary: bin.Path, Args: []string{"-listen-addr", "127.0.0.1:0", "-data-dir", filepath.Join(tmp, "data"),
		"-status-flush-interval", flush.String(),
		// The soak outlives the default lifetimes: nothing may expire while it runs.
		"-host-heartbeat-ttl-seconds", "7200", "-member-heartbeat-ttl-seconds", "7200", "-max-connection-time-seconds", "7200"},
		Env: []string{"MESH_LOG_LEVEL=info"}}
	rng := rand.New(rand.NewPCG(seed, 0))
	l := &meshdtest.Ledger{Lag: flush + slack}
	// The seed profile's classroom: 39 members join, two leave, 15 reports a second.
	classroom := meshdtest.Classroom{Members: 39, Leaves: 2, Every: time.Second / 15}
	start := time.Now()
	var checked, killedAfter int64
	for cycle := range cycles {
		p, err := meshdtest.Start(ctx, opts)
		if err != nil {
			return fmt.Errorf("cycle %d: %w", cycle, err)
		}
		n, err := l.Verify(p)
		if err != nil {
			p.Kill()
			return fmt.Errorf("cycle %d: LOST an acknowledged change: %w\nmeshd's log:\n%s", cycle, err, p.Logs())
		}
		checked += n
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range classrooms {
			wg.Go(func() { l.Play(p, fmt.Sprintf("c%dr%d", cycle, c), classroom, stop) })
		}
		wait := time.Duration(200+rng.IntN(1300)) * time.Millisecond
		time.Sleep(wait)
		p.Kill()
		l.Killed(time.Now())
		close(stop)
		wg.Wait()
		killedAfter += wait.Milliseconds()
		fmt.Printf("cycle %3d: killed after %4d ms; %d acknowledged changes checked so far\n", cycle+1, wait.Milliseconds(), checked)
	}
	p, err := meshdtest.Start(ctx, opts)
	if err != nil {
		return err
	}
	n, err := l.Verify(p)
	p.Kill()
	if err != nil {
		return fmt.Errorf("after the last cycle: LOST an acknowledged change: %w", err)
	}
	checked += n
	summary := fmt.Sprintf(`# Soak: SIGKILL under the seed load

`+"`go run ./bench/soak -seed %d`"+` on %s (%d CPUs), %s:

| cycles | classrooms per cycle | kill point | acknowledged changes checked | lost |
|---|---|---|---|---|
| %d | %d (40 editors each) | random, 200–1500 ms into the load (mean %d ms) | %d | 0 |

Every cycle starts the real binary on the same state file, checks every change it acknowledged
in all earlier cycles (groups, joins and leaves exactly, in-flight ones either way; reports
acknowledged more than %v before the kill exactly), runs the load and kills meshd with SIGKILL.
Acknowledged groups %d, memberships %d, reports %d. Took %s.
`, seed, runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"),
		cycles, classrooms, killedAfter/int64(max(cycles, 1)), checked, flush+slack,
		l.Groups(), l.Memberships(), l.Reports(), time.Since(start).Round(time.Second))
	fmt.Print(summary)
	if out != "" {
		return os.WriteFile(out, []byte(summary), 0o644)
	}
	return nil
}
