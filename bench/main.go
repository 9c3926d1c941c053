// Command bench is meshd's load generator. It drives a meshd over real HTTP and real AppSync
// realtime WebSockets the way classrooms of the newest Smalruby editor do (spec §14.1, §14.5),
// counts every delivery exactly, and compares meshd with the ceiling of the machine: a bare
// WebSocket broadcaster fed to the same number of sockets.
//
//	go run ./bench                      # the seed profile: 10 groups × 40 nodes, 170 writes/s
//	go run ./bench -scale 25            # 25 × the seed profile
//	go run ./bench -profile polling     # the same classrooms in polling mode
//	go run ./bench -sweep 1,5,10,25,50  # the sweep, written to bench/results
//
// Only loopback targets are accepted unless -allow-remote is given. Every run is bounded in
// time; Ctrl-C stops it cleanly.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
)

func main() {
	if os.Getenv(ceilingEnv) == "1" {
		os.Exit(ceilingMain())
	}
	if os.Getenv(natsEnv) == "1" {
		os.Exit(natsMain())
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(generatorGOGC)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := mainWith(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// generatorGOGC is the generator's own GC target (unless GOGC is set) outside its
// measurements, during which it does not collect at all (holdCollector). The generator shares
// the machine with the servers it measures: at ×10 its collections took 7 % of its CPU and
// their assists delayed the readers that timestamp deliveries. Memory is what it can spare;
// the servers it starts keep Go's default.
const generatorGOGC = 400

// The seed profile (spec §14.5): 10 groups of 40 nodes, each group sending 15 reports and 2
// event batches per second.
const (
	seedGroups    = 10
	seedNodes     = 40
	seedDataRate  = 15
	seedEventRate = 2
)

// Targets of the issue, checked and printed with every run.
const (
	targetP99Seed  = 5 * time.Millisecond
	targetP99Sweep = 50 * time.Millisecond
	targetCPUSeed  = 0.10
	targetRSSSeed  = 64 << 20
	// targetIdleSocketKB is the resident memory one idle subscribed socket may cost meshd.
	targetIdleSocketKB = 24
	// targetCPURatio is meshd's CPU over the paced ceiling's at the same rate.
	targetCPURatio = 1.5
	// targetFedRatio is meshd's CPU over the fed broadcaster's, which gets the same
	// mutations over HTTP.
	targetFedRatio = 1.3
)

func mainWith(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o         options
		groups    = fs.Int("groups", 0, "groups (default 10 × -scale)")
		sweep     = fs.String("sweep", "", "comma-separated scales to run in turn, stopping at the first that both meshd and the bare broadcaster miss (e.g. 1,5,10,15,20)")
		out       = fs.String("out", filepath.Join("bench", "results"), "directory the sweep writes RESULTS.md, sweep.svg, machine.md and results.json to")
		jsonFile  = fs.String("json", "", "write a single run's result as JSON to this file")
		keepGoing = fs.Bool("keep-going", false, "with -sweep, run every scale even after one misses the targets")
		limit     = fs.Duration("limit", time.Hour, "stop everything after this long")
	)
	fs.StringVar(&o.profile, "profile", "seed", "seed (WebSocket subscriptions) or polling (pollGroupData every 2 s)")
	fs.IntVar(&o.scale, "scale", 1, "multiple of the seed profile's groups")
	fs.IntVar(&o.shape.nodes, "nodes", seedNodes, "nodes per group (1 host + members)")
	fs.IntVar(&o.shape.dataRate, "data-rate", seedDataRate, "reportDataByNode per second per group")
	fs.IntVar(&o.shape.eventRate, "event-rate", seedEventRate, "fireEventsByNode per second per group")
	fs.StringVar(&o.target, "target", "", "GraphQL URL of a running server, on loopback unless -allow-remote (default: build and start meshd)")
	fs.IntVar(&o.cluster, "cluster", 0, "start this many meshd processes as one cluster instead of one meshd; each group's host on one node, its members on all")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "let -target name another machine's http(s):// endpoint, e.g. an AppSync API to compare with")
	fs.StringVar(&o.apiKey, "api-key", "da2-bench", "API key to send")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "steady load before measuring")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "measurement window")
	fs.DurationVar(&o.ceiling, "ceiling", 10*time.Second, "how long the ceiling broadcaster floods (0 skips it)")
	fs.IntVar(&o.parallel, "parallel", 64, "nodes setting up at once during the lesson start")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write meshd's CPU profile over the window to this file")
	fs.StringVar(&o.allocProfile, "allocprofile", "", "write meshd's allocations over the window to this file (go tool pprof -sample_index=alloc_space)")
	fs.StringVar(&o.genProfile, "genprofile", "", "write the generator's own CPU profile over the window to this file")
	fs.StringVar(&o.trace, "trace", "", "write meshd's execution trace over the window's first 5 s to this file (go tool trace)")
	fs.StringVar(&o.meshd, "meshd", "", "meshd binary to start, e.g. an older build for a before/after comparison (default: build this module's)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.log = stderr
	if err := o.check(); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	scales := []int{o.scale}
	if *sweep != "" {
		var err error
		if scales, err = parseScales(*sweep); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 2
		}
		if *groups != 0 {
			fmt.Fprintln(stderr, "bench: -groups and -sweep exclude each other")
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	fileLimit, err := raiseFileLimit()
	if err != nil {
		logf(stderr, "open-file limit unchanged: %v", err)
	}
	root, err := moduleRoot(ctx)
	if err == nil {
		o.docs, err = loadDocuments(root)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if o.target == "" && o.meshd == "" {
		bin, err := meshdtest.Build(ctx, nil, nil)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer bin.Remove()
		o.meshd = bin.Path
	}

	var results []*result
	var failure error
	for _, scale := range scales {
		ro := o
		ro.scale = scale
		ro.shape.groups = seedGroups * scale
		if *groups != 0 {
			ro.shape.groups = *groups
		}
		// Every node's socket, the HTTP pool and some slack must fit under the limit; with the
		// references, the ceiling's sockets too, while meshd's are open.
		sockets := ro.shape.groups * ro.shape.nodes
		if ro.ceiling > 0 {
			sockets *= 2
		}
		if need := uint64(sockets + 1024); !ro.shape.polling && fileLimit > 0 && need > fileLimit {
			failure = fmt.Errorf("%s ×%d needs %d open files for its sockets; this machine allows %d", o.profile, scale, need, fileLimit)
			break
		}
		r, err := run(ctx, ro)
		if err != nil {
			failure = fmt.Errorf("%s ×%d: %w", o.profile, scale, err)
			break
		}
		results = append(results, r)
		printResult(stdout, r)
		// A multiple that meshd misses but the bare broadcaster holds is not the end: the
		// sweep must find how far the broadcaster goes, to compare.
		ceilingHeld := r.Ceiling != nil && r.Ceiling.pacedHeld(r.p99Target())
		if *sweep != "" && !*keepGoing && !r.meets() && !ceilingHeld {
			logf(stderr, "×%d misses the targets (zero loss, p99 ≤ %v), and so does the bare broadcaster: the sweep stops here", scale, r.p99Target())
			break
		}
	}
	if *sweep != "" && len(results) > 0 {
		if err := writeSweep(*out, results, failure); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		logf(stderr, "wrote %s", filepath.Join(*out, "RESULTS.md"))
	}
	if *jsonFile != "" && len(results) == 1 {
		if err := writeJSON(*jsonFile, results[0]); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	if failure != nil {
		if errors.Is(failure, context.Canceled) {
			fmt.Fprintln(stderr, "bench: interrupted")
		} else {
			fmt.Fprintln(stderr, "bench:", failure)
		}
		return 1
	}
	return 0
}

// check validates the options.
func (o *options) check() error {
	switch o.profile {
	case "seed":
	case "polling":
		o.shape.polling = true
	default:
		return fmt.Errorf("-profile %q: want seed or polling", o.profile)
	}
	s := o.shape
	switch {
	case o.scale < 1:
		return errors.New("-scale must be at least 1")
	case s.nodes < 1:
		return errors.New("-nodes must be at least 1")
	case s.dataRate < 0 || s.eventRate < 0 || s.dataRate+s.eventRate > s.nodes:
		return fmt.Errorf("-data-rate + -event-rate must be between 0 and -nodes (%d): each node sends at most once a second", s.nodes)
	case o.duration <= 0 || o.warmup < 0 || o.ceiling < 0:
		return errors.New("-duration must be positive, -warmup and -ceiling not negative")
	case o.parallel < 1:
		return errors.New("-parallel must be at least 1")
	case o.cluster < 0 || o.cluster > 0 && o.target != "":
		return errors.New("-cluster must not be negative, and excludes -target (give a running cluster's nodes to -target, separated by commas)")
	}
	return nil
}

func parseScales(s string) ([]int, error) {
	var scales []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sweep %q: want positive integers separated by commas", s)
		}
		scales = append(scales, n)
	}
	return scales, nil
}

func writeJSON(file string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}
