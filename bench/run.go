package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// options describe one run.
type options struct {
	profile      string // seed or polling
	scale        int    // multiple of the seed profile
	shape        shape
	target       string            // a running server's GraphQL URL, or one per node of a cluster; empty starts meshd
	cluster      int               // with no target, start this many meshd processes as one cluster
	allowRemote  bool              // target may be another machine
	meshd        string            // the binary to start when target is empty
	docs         map[string]string // the editor's documents by operation name
	apiKey       string
	warmup       time.Duration
	duration     time.Duration // the measurement window
	ceiling      time.Duration // how long the ceiling floods; 0 skips it
	parallel     int           // nodes setting up at once during the lesson start
	cpuProfile   string        // file for meshd's CPU profile over the window
	trace        string        // file for meshd's execution trace over the window's first seconds
	allocProfile string        // file for meshd's allocations over the window
	genProfile   string        // file for the generator's own CPU profile over the window
	log          io.Writer
}

// result is everything one run measured.
type result struct {
	Profile     string        `json:"profile"`
	Scale       int           `json:"scale"`
	Groups      int           `json:"groups"`
	Nodes       int           `json:"nodesPerGroup"`
	Connections int           `json:"connections"`
	ServerNodes int           `json:"serverNodes,omitempty"` // meshd processes serving, more than one for a cluster
	LessonStart time.Duration `json:"lessonStart"`
	Warmup      time.Duration `json:"warmup"`
	Window      time.Duration `json:"window"`

	OfferedPerSec    float64 `json:"offeredPerSec"` // deliveries/s the senders' rates call for
	MutationsPerSec  float64 `json:"mutationsPerSec"`
	RequestsPerSec   float64 `json:"requestsPerSec"`
	DeliveriesPerSec float64 `json:"deliveriesPerSec"`

	Expected   uint64 `json:"expected"`
	Deliveries uint64 `json:"deliveries"`
	Lost       uint64 `json:"lost"`
	// DeadSockets ended during the run (their node was killed); OwedToDead counts the
	// messages owed to them after their last arrival, which Expected and Lost leave out.
	DeadSockets uint64 `json:"deadSockets,omitempty"`
	OwedToDead  uint64 `json:"owedToDeadSockets,omitempty"`
	Duplicated  uint64 `json:"duplicated"`
	OutOfOrder  uint64 `json:"outOfOrder"`
	Unexpected  uint64 `json:"unexpected"`

	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`

	HTTPErrors     map[string]uint64 `json:"httpErrors"`
	RealtimeErrors map[string]uint64 `json:"realtimeErrors"`
	Dissolved      string            `json:"dissolved"` // subscribers that saw the dissolve / subscribed

	// IdleRSSPerSocket is how much meshd's resident set grew per subscribed socket over the
	// lesson start, measured once the sockets sit idle before the steady load.
	IdleRSSPerSocket uint64 `json:"idleRSSPerSocket,omitempty"`

	ServerCPU        float64 `json:"serverCPU"` // of one core, during the window
	ServerCPUSeconds float64 `json:"serverCPUSeconds"`
	PeakRSS          uint64  `json:"peakRSS"`
	GeneratorCPU     float64 `json:"generatorCPU"` // of one core, during the window
	// GeneratorCollections counts the generator's own collections from the warm-up until the
	// window's messages arrived (see holdCollector): 0 unless its memory neared the limit.
	GeneratorCollections uint64 `json:"generatorCollections"`

	Ceiling      *ceilingResult `json:"ceiling,omitempty"`
	NATS         *natsResult    `json:"nats,omitempty"` // nats-server's WebSocket fan-out, same rate
	CeilingRatio float64        `json:"ceilingRatio,omitempty"`

	Notes []string `json:"notes,omitempty"` // what could not be measured
}

// cpuSampler reads CPU times and keeps the first failure.
type cpuSampler struct{ err error }

func (c *cpuSampler) read(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	d, err := cpuTime(pid)
	if err != nil && c.err == nil {
		c.err = err
	}
	return d
}

// clean says whether every owed message arrived exactly once, in order, and nothing failed.
func (r *result) clean() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.OutOfOrder == 0 && r.Unexpected == 0 &&
		len(r.HTTPErrors) == 0 && len(r.RealtimeErrors) == 0
}

// run drives one server through a lesson: start burst, warm-up, measurement window, drain and
// dissolve; then, if asked, measures the ceiling with the same number of sockets.
func run(ctx context.Context, o options) (*result, error) {
	s := o.shape
	res := &result{Profile: o.profile, Scale: o.scale, Groups: s.groups, Nodes: s.nodes, Warmup: o.warmup, Window: o.duration}
	if !s.polling {
		res.Connections = s.groups * s.nodes
		res.OfferedPerSec = float64(s.groups * (s.dataRate + s.eventRate) * s.nodes)
	}
	srv, stopServer, err := o.server(ctx)
	if err != nil {
		return nil, err
	}
	defer stopServer()
	pid := srv.pid
	eps := srv.eps
	if len(eps) == 0 {
		eps = []endpoints{srv.ep}
	}
	res.ServerNodes = len(eps)

	l := newLoad(s, eps, o.apiKey, o.docs)
	logf(o.log, "%s ×%d: lesson start of %d groups × %d nodes", o.profile, o.scale, s.groups, s.nodes)
	rss0, rssErr := srv.memory(rss)
	start := time.Now()
	setupCtx, cancelSetup := context.WithTimeout(ctx, 5*time.Minute)
	err = l.lessonStart(setupCtx, o.parallel)
	cancelSetup()
	res.LessonStart = time.Since(start)
	if err != nil {
		l.close()
		return nil, err
	}
	if pid != 0 && rssErr == nil && res.Connections > 0 {
		// The sockets are subscribed and idle: what they hold is what meshd grew by.
		sleepUntil(ctx, time.Now().Add(idleSettle))
		if rss1, err := srv.memory(rss); err == nil && rss1 > rss0 {
			res.IdleRSSPerSocket = (rss1 - rss0) / uint64(res.Connections)
		}
	}

	gc := holdCollector()
	defer gc.release()
	windowStart := time.Now().Add(o.warmup)
	l.win.start.Store(windowStart.UnixNano())
	l.win.end.Store(windowStart.Add(o.duration).UnixNano())
	steadyCtx, stopSteady := context.WithCancel(ctx)
	defer stopSteady()
	var steady sync.WaitGroup
	steady.Go(func() { l.steady(steadyCtx) })
	logf(o.log, "lesson start took %v; warm-up %v, then measuring for %v", res.LessonStart.Round(time.Millisecond), o.warmup, o.duration)

	sleepUntil(ctx, windowStart)
	var cpu cpuSampler
	cpu0, gen0 := srv.cpu(&cpu), cpu.read(os.Getpid())
	profiles := []struct {
		kind, file string
		d          time.Duration
	}{{"profile", o.cpuProfile, o.duration}, {"trace", o.trace, min(o.duration, maxTrace)}, {"allocs", o.allocProfile, o.duration}}
	stopGenProfile, err := startGenProfile(o.genProfile)
	if err != nil {
		logf(o.log, "generator profile: %v", err)
	}
	profiled := make(chan error, len(profiles))
	for _, p := range profiles {
		if p.file != "" && srv.pprof != "" {
			go func() { profiled <- fetchProfile(ctx, srv.pprof, p.kind, p.d, p.file) }()
		} else {
			profiled <- nil
		}
	}
	sleepUntil(ctx, windowStart.Add(o.duration))
	cpu1, gen1 := srv.cpu(&cpu), cpu.read(os.Getpid())
	if err := stopGenProfile(); err != nil {
		logf(o.log, "generator profile: %v", err)
	}
	// The references run while meshd still serves the load's groups, its load paused: the fed
	// broadcaster takes turns with it.
	references := o.ceiling > 0 && !s.polling
	l.paused.Store(references)
	if !references {
		stopSteady()
		steady.Wait()
	}
	if err := ctx.Err(); err != nil {
		l.close()
		return nil, err
	}
	for range profiles {
		if err := <-profiled; err != nil {
			logf(o.log, "profile: %v", err)
		}
	}

	l.catchUp(ctx)
	l.drain(ctx, time.Second, 15*time.Second)
	res.GeneratorCollections = gc.release()
	if references {
		logf(o.log, "ceiling: flooding %d sockets for %v", res.Connections, o.ceiling)
		side, notes := l.side()
		res.Notes = append(res.Notes, notes...)
		var meshd *turnTaker
		if pid != 0 {
			meshd = &turnTaker{pause: l.paused.Store, cpu: func() time.Duration { return srv.cpu(&cpu) }}
		}
		c, err := runCeiling(ctx, s, side, o.docs, o.ceiling, o.parallel, meshd)
		stopSteady()
		steady.Wait()
		if err != nil {
			l.close()
			return nil, err
		}
		res.Ceiling = c
		l.drain(ctx, time.Second, 15*time.Second)
	}
	seen, subscribed := l.dissolve(ctx, 15*time.Second)
	res.Dissolved = fmt.Sprintf("%d/%d", seen, subscribed)
	if pid != 0 {
		var err error
		if res.PeakRSS, err = srv.memory(peakRSS); err != nil {
			res.Notes = append(res.Notes, err.Error())
		}
		res.ServerCPUSeconds = srv.cpu(&cpu).Seconds()
	} else {
		res.Notes = append(res.Notes, "the server's process is not on this machine or was not found: its CPU and memory are not measured")
	}
	l.close()

	window := o.duration.Seconds()
	t := l.tally()
	h := l.hist.merged()
	res.Expected, res.Deliveries, res.Lost = t.expected, t.deliveries, t.lost
	res.DeadSockets, res.OwedToDead = t.deadSockets, t.dead
	res.Duplicated, res.OutOfOrder, res.Unexpected = t.duplicated, t.outOfOrder, t.unexpected
	res.DeliveriesPerSec = float64(t.inWindow) / window
	res.MutationsPerSec = float64(l.mutations.Load()) / window
	res.RequestsPerSec = float64(l.requests.Load()) / window
	res.P50, res.P99, res.Max = h.percentile(50), h.percentile(99), h.maximum()
	res.HTTPErrors, res.RealtimeErrors = l.httpErrors.snapshot(), l.realtimeErrors.snapshot()
	if cpu.err != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("CPU not measured: %v", cpu.err))
	} else {
		if pid != 0 {
			res.ServerCPU = (cpu1 - cpu0).Seconds() / window
		}
		res.GeneratorCPU = (gen1 - gen0).Seconds() / window
	}
	if err := stopServer(); err != nil {
		return nil, err
	}

	if c := res.Ceiling; c != nil {
		if c.DeliveriesPerSec > 0 {
			res.CeilingRatio = res.DeliveriesPerSec / c.DeliveriesPerSec
		}
		logf(o.log, "nats-server reference: publishing to %d WebSocket subscribers for %v", res.Connections, o.ceiling)
		if res.NATS, err = runNATS(ctx, s, o.ceiling, o.parallel); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// idleSettle is how long the subscribed sockets sit idle before meshd's resident set is read.
const idleSettle = 2 * time.Second

// server is the server under test.
type server struct {
	ep    endpoints
	pid   int         // 0 when unknown
	eps   []endpoints // every node of a cluster, ep the first
	pids  []int       // their processes
	pprof string      // host:port of its pprof listener, if any
}

// server starts meshd (or finds the -target server) and returns a stop function that may be
// called more than once; the first call's error is kept.
func (o options) server(ctx context.Context) (server, func() error, error) {
	if strings.Contains(o.target, ",") {
		eps, pids, err := targets(o.target)
		if err != nil {
			return server{}, nil, err
		}
		return server{ep: eps[0], pid: pids[0], eps: eps, pids: pids}, func() error { return nil }, nil
	}
	if o.target != "" {
		ep, err := endpointsFor(o.target, o.allowRemote)
		if err != nil {
			return server{}, nil, err
		}
		if !ep.loopback {
			// Another machine's process cannot be watched from here.
			return server{ep: ep}, func() error { return nil }, nil
		}
		_, port, _ := net.SplitHostPort(ep.host)
		p, _ := strconv.Atoi(port)
		return server{ep: ep, pid: listenerPID(p)}, func() error { return nil }, nil
	}
	dir, err := os.MkdirTemp("", "meshd-bench-")
	if err != nil {
		return server{}, nil, fmt.Errorf("data directory: %w", err)
	}
	var env []string
	if n := o.shape.groups*o.shape.nodes + 1000; n > 10000 {
		env = append(env, "MESH_MAX_CONNECTIONS="+strconv.Itoa(n))
	}
	// Every simulated editor connects from this one loopback address.
	env = append(env, "MESH_MAX_CONNECTIONS_PER_ADDRESS="+strconv.Itoa(2*o.shape.groups*o.shape.nodes+1000))
	if o.cluster > 0 {
		return o.startCluster(ctx, o.cluster, env)
	}
	var pprofAddr string
	if o.cpuProfile != "" || o.trace != "" || o.allocProfile != "" {
		if pprofAddr, err = freePort(); err != nil {
			return server{}, nil, err
		}
		env = append(env, "MESH_PPROF_ADDR="+pprofAddr)
	}
	p, err := startProcess(ctx, "meshd", "meshd", o.meshd, []string{"-listen-addr", "127.0.0.1:0", "-data-dir", dir}, env)
	if err != nil {
		os.RemoveAll(dir)
		return server{}, nil, err
	}
	ep, err := endpointsFor("http://"+p.Addr()+"/graphql", false)
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			stopErr = p.stop()
			os.RemoveAll(dir)
		})
		return stopErr
	}
	if err != nil {
		stop()
		return server{}, nil, err
	}
	return server{ep: ep, pid: p.Pid(), pprof: pprofAddr}, stop, nil
}

// freePort finds a loopback port nobody listens on.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startGenProfile starts the generator's own CPU profile into file (nothing when file is
// empty) and returns what stops it and closes the file.
func startGenProfile(file string) (stop func() error, err error) {
	stop = func() error { return nil }
	if file == "" {
		return stop, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return stop, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return stop, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// maxTrace bounds the execution trace taken with -trace: at ×10 a second of it is ~10 MB.
const maxTrace = 5 * time.Second

// fetchProfile records one of meshd's pprof profiles ("profile" for CPU, "trace" for the
// execution trace, "allocs" for the allocations made) for d into file.
func fetchProfile(ctx context.Context, addr, kind string, d time.Duration, file string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", addr, kind, max(int(d.Seconds()), 1))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	return f.Close()
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "bench: "+format+"\n", args...)
	}
}
