package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// p99Target is the latency a multiple must keep: 50 ms over WebSockets; in polling mode one
// poll interval more, since a message waits for the next poll.
func (r *result) p99Target() time.Duration {
	if r.Profile == "polling" {
		return defaultPolling + targetP99Sweep
	}
	return targetP99Sweep
}

// referenceCollections counts the generator's own collections while it measured the
// ceiling's and nats-server's references.
func (r *result) referenceCollections() uint64 {
	var n uint64
	if r.Ceiling != nil {
		n += r.Ceiling.GeneratorCollections
	}
	if r.NATS != nil {
		n += r.NATS.GeneratorCollections
	}
	return n
}

// meets says whether a run kept zero loss and its p99 within its target.
func (r *result) meets() bool {
	return r.clean() && r.Expected > 0 && r.P99 <= r.p99Target()
}

func kb(b uint64) string { return fmt.Sprintf("%.1f KB", float64(b)/(1<<10)) }

func mb(b uint64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func pct(f float64) string { return fmt.Sprintf("%.1f %%", 100*f) }

func check(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// checkMeasured is check for a figure that may be missing (zero: the server's process was not
// found, or died during the run): a missing figure meets no target.
func checkMeasured(measured, ok bool) string {
	if !measured {
		return "not measured"
	}
	return check(ok)
}

// meshdCheck marks meshd's CPU or memory, or a ratio of it, against a target set for one
// meshd: a cluster's figures are sums over its processes (deploy/cluster.md compares them).
func (r *result) meshdCheck(measured, ok bool) string {
	if r.ServerNodes > 1 {
		return "not for a cluster's sum"
	}
	return checkMeasured(measured, ok)
}

// problems renders a tally of errors, or "none".
func problems(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, "; ")
}

// printResult writes a run's report for a person.
func printResult(w io.Writer, r *result) {
	mode := "WebSocket"
	if r.Profile == "polling" {
		mode = "polling"
	}
	fmt.Fprintf(w, "meshd %s ×%d (%s): %d groups × %d nodes, %d sockets, %v window\n", r.Profile, r.Scale, mode, r.Groups, r.Nodes, r.Connections, r.Window)
	if r.ServerNodes > 1 {
		fmt.Fprintf(w, "  server           a cluster of %d meshd processes; CPU and memory below are their sums\n", r.ServerNodes)
	}
	fmt.Fprintf(w, "  lesson start     %.2f s\n", r.LessonStart.Seconds())
	fmt.Fprintf(w, "  mutations/s      %.1f (all requests/s %.1f)\n", r.MutationsPerSec, r.RequestsPerSec)
	fmt.Fprintf(w, "  deliveries/s     %.0f", r.DeliveriesPerSec)
	if c := r.Ceiling; c != nil {
		fmt.Fprintf(w, " = %s of the ceiling's %.0f/s", pct(r.CeilingRatio), c.DeliveriesPerSec)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  latency          p50 %s  p99 %s  max %s\n", ms(r.P50), ms(r.P99), ms(r.Max))
	fmt.Fprintf(w, "  delivery         expected %d, lost %d, duplicated %d, out of order %d, unexpected %d\n",
		r.Expected, r.Lost, r.Duplicated, r.OutOfOrder, r.Unexpected)
	if r.DeadSockets > 0 {
		fmt.Fprintf(w, "  dead sockets     %d sockets died during the run; %d messages owed to them after their last arrival are not counted above\n",
			r.DeadSockets, r.OwedToDead)
	}
	if r.Connections > 0 {
		fmt.Fprintf(w, "  dissolve seen by %s subscribers\n", r.Dissolved)
	}
	fmt.Fprintf(w, "  meshd            CPU %s of a core (%.1f s in the window, %.1f s in all), peak RSS %s\n",
		pct(r.ServerCPU), r.ServerCPU*r.Window.Seconds(), r.ServerCPUSeconds, mb(r.PeakRSS))
	if r.IdleRSSPerSocket > 0 {
		fmt.Fprintf(w, "  idle sockets     %s of meshd's RSS per subscribed socket (target ≤ %d KB)\n", kb(r.IdleRSSPerSocket), targetIdleSocketKB)
	}
	if c := r.Ceiling; c != nil {
		fmt.Fprintf(w, "  ceiling          same rate: %.0f deliveries/s, CPU %s of a core, p99 %s; unpaced: %.0f/s, CPU %s; peak RSS %s\n",
			c.PacedDeliveriesPerSec, pct(c.PacedCPU), ms(c.PacedP99), c.DeliveriesPerSec, pct(c.CPU), mb(c.PeakRSS))
		if c.FedCPU > 0 {
			fmt.Fprintf(w, "  fed broadcaster  the same requests over HTTP (%.0f reports and events/s written to the groups, %.0f heartbeats and syncs/s answered): CPU %s of a core, p50 %s, p99 %s, %d of %d delivered, %d refused\n",
				c.FedPostsPerSec, c.FedOthersPerSec, pct(c.FedCPU), ms(c.FedP50), ms(c.FedP99), c.FedDelivered, c.FedSent, c.FedFailed)
		}
		if ratio := c.fedRatio(); ratio > 0 {
			target := fmt.Sprintf("target ≤ %.1f×", targetFedRatio)
			if r.ServerNodes > 1 {
				target = "a cluster's sum; the " + target + " is one meshd's"
			}
			fmt.Fprintf(w, "  in turns         meshd CPU %s of a core ÷ fed broadcaster %s = %.2f× (%s)\n",
				pct(c.FedMeshdCPU), pct(c.FedCPU), ratio, target)
		}
	}
	if n := r.NATS; n != nil {
		fmt.Fprintf(w, "  nats-server      same rate over its WebSocket fan-out: %.0f deliveries/s, CPU %s of a core, p99 %s, %d of %d delivered; peak RSS %s\n",
			n.DeliveriesPerSec, pct(n.CPU), ms(n.P99), n.Delivered, n.Sent, mb(n.PeakRSS))
	}
	fmt.Fprintf(w, "  generator        CPU %s of a core; its own collections while it measured: %d", pct(r.GeneratorCPU), r.GeneratorCollections)
	if r.Ceiling != nil || r.NATS != nil {
		fmt.Fprintf(w, " (the references: %d)", r.referenceCollections())
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  HTTP errors      %s\n", problems(r.HTTPErrors))
	fmt.Fprintf(w, "  realtime errors  %s\n", problems(r.RealtimeErrors))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note             %s\n", n)
	}
	if r.Profile == "seed" && r.Scale == 1 {
		fmt.Fprintf(w, "  targets ×1       zero loss %s  p99 ≤ 5 ms %s  CPU < 10 %% %s  RSS < 64 MB %s\n",
			check(r.clean()), check(r.P99 <= targetP99Seed), r.meshdCheck(r.ServerCPU > 0, r.ServerCPU < targetCPUSeed), r.meshdCheck(r.PeakRSS > 0, r.PeakRSS < targetRSSSeed))
	} else {
		fmt.Fprintf(w, "  targets          zero loss %s  p99 ≤ %v %s\n", check(r.clean()), r.p99Target(), check(r.P99 <= r.p99Target()))
	}
}

// writeSweep writes the sweep's results: RESULTS.md (the table), sweep.svg (the chart),
// machine.md (where it ran) and results.json (every number).
func writeSweep(dir string, results []*result, failure error) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, "results.json"), results); err != nil {
		return err
	}
	files := map[string]string{
		"RESULTS.md": resultsMarkdown(results, failure),
		"sweep.svg":  sweepSVG(results),
		"machine.md": machineMarkdown(),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func resultsMarkdown(results []*result, failure error) string {
	var b strings.Builder
	r0 := results[0]
	fmt.Fprintf(&b, "# meshd load sweep: %s profile\n\n", r0.Profile)
	if r0.ServerNodes > 1 {
		fmt.Fprintf(&b, "The server is a cluster of %d meshd processes on this machine (deploy/cluster.md); each group's host talks to one node, its members to all of them in turn; meshd CPU and RSS are the sums over the nodes.\n\n", r0.ServerNodes)
	}
	fmt.Fprintf(&b, "Generated by `go run ./bench -sweep …` on %s; the machine is described in [machine.md](machine.md), every number is in [results.json](results.json).\n\n",
		time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "Each run: lesson-start burst, %v warm-up, %v measured window. ×1 is the seed profile: %d groups × %d nodes, %d reports + %d event batches per second per group.\n",
		r0.Warmup, r0.Window, seedGroups, r0.Nodes, seedDataRate, seedEventRate)
	b.WriteString("Latency is from just before the mutation's HTTP request to the subscriber's receipt of the frame. The ceiling is a bare WebSocket broadcaster (no GraphQL, no NATS, no HTTP mutations) writing meshd-shaped frames to the same number of sockets, read by the same client code: once paced at the run's message rate (what the least possible server spends on the same deliveries) and once unpaced (what this machine can deliver at all). The fair floor is the same broadcaster fed the run's requests the way meshd gets them — one HTTP POST each through net/http, the editor's bodies, the same pacing — each report and event written to its group's subscribers, each heartbeat and 15 s sync answered with as many bytes as meshd answered — and it takes turns with meshd, which still serves the load's groups: up to 5 s each, alternating, so that both are measured in the same minutes; meshd ÷ fed divides meshd's CPU in its turns by the fed broadcaster's in its own. The second reference is nats-server's own WebSocket fan-out: every socket a NATS subscriber of its group's subject, the same frames published at the same rate over one NATS connection.\n\n")
	b.WriteString("| scale | sockets | mutations/s | deliveries/s | ceiling deliveries/s | % of ceiling | p50 | p99 | max | lost | dup | out of order | errors | meshd CPU (1 core) | bare broadcaster CPU, same rate | meshd ÷ broadcaster CPU | bare broadcaster p99, same rate | broadcaster holds (paced) | fed broadcaster CPU | meshd ÷ fed | fed p99 | fed holds | meshd holds | nats-server CPU, same rate | nats-server p99 | nats-server holds | meshd peak RSS | RSS per idle socket | lesson start |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		ceil, ratio, pacedCPU, cpuRatio, pacedP99, held := "—", "—", "—", "—", "—", "—"
		if c := r.Ceiling; c != nil {
			ceil, ratio = fmt.Sprintf("%.0f", c.DeliveriesPerSec), pct(r.CeilingRatio)
			pacedCPU, pacedP99, held = pct(c.PacedCPU), ms(c.PacedP99), check(c.pacedHeld(r.p99Target()))
			if c.PacedCPU > 0 {
				cpuRatio = fmt.Sprintf("%.2f×", r.ServerCPU/c.PacedCPU)
			}
		}
		fedCPU, fedRatio, fedP99, fedHeld := "—", "—", "—", "—"
		if c := r.Ceiling; c != nil && c.FedCPU > 0 {
			fedCPU, fedP99, fedHeld = pct(c.FedCPU), ms(c.FedP99), check(c.fedHeld(r.p99Target()))
		}
		if c := r.Ceiling; c != nil && c.fedRatio() > 0 {
			fedRatio = fmt.Sprintf("%.2f×", c.fedRatio())
		}
		natsCPU, natsP99, natsHeld := "—", "—", "—"
		if n := r.NATS; n != nil {
			natsCPU, natsP99, natsHeld = pct(n.CPU), ms(n.P99), check(n.held(r.p99Target()))
		}
		idle := "—"
		if r.IdleRSSPerSocket > 0 {
			idle = kb(r.IdleRSSPerSocket)
		}
		errs := uint64(0)
		for _, n := range r.HTTPErrors {
			errs += n
		}
		for _, n := range r.RealtimeErrors {
			errs += n
		}
		fmt.Fprintf(&b, "| ×%d | %d | %.0f | %.0f | %s | %s | %s | %s | %s | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f s |\n",
			r.Scale, r.Connections, r.MutationsPerSec, r.DeliveriesPerSec, ceil, ratio, ms(r.P50), ms(r.P99), ms(r.Max),
			r.Lost, r.Duplicated, r.OutOfOrder, errs, pct(r.ServerCPU), pacedCPU, cpuRatio, pacedP99, held,
			fedCPU, fedRatio, fedP99, fedHeld, check(r.meets()),
			natsCPU, natsP99, natsHeld, mb(r.PeakRSS), idle, r.LessonStart.Seconds())
	}
	b.WriteString("\n![deliveries and p99 latency by scale](sweep.svg)\n\n## Targets\n\n")
	if r0.Scale == 1 && r0.Profile == "seed" {
		fmt.Fprintf(&b, "- ×1: zero loss %s, p99 ≤ 5 ms %s (%s), meshd under 10 %% of a core %s (%s), under 64 MB %s (%s).\n",
			check(r0.clean()), check(r0.P99 <= targetP99Seed), ms(r0.P99), r0.meshdCheck(r0.ServerCPU > 0, r0.ServerCPU < targetCPUSeed), pct(r0.ServerCPU),
			r0.meshdCheck(r0.PeakRSS > 0, r0.PeakRSS < targetRSSSeed), mb(r0.PeakRSS))
	}
	best, ceilingBest := 0, 0
	for _, r := range results {
		if r.meets() {
			best = r.Scale
		}
		if r.Ceiling != nil && r.Ceiling.pacedHeld(r.p99Target()) {
			ceilingBest = r.Scale
		}
	}
	if best > 0 {
		fmt.Fprintf(&b, "- Largest multiple with zero loss and p99 ≤ %v: meshd ×%d (%d nodes)", r0.p99Target(), best, best*seedGroups*r0.Nodes)
	} else {
		fmt.Fprintf(&b, "- No multiple kept zero loss with p99 ≤ %v", r0.p99Target())
	}
	if r0.Ceiling != nil {
		fmt.Fprintf(&b, "; the bare broadcaster, paced at the same rates, ×%d — meshd at least as far %s", ceilingBest, check(best >= ceilingBest))
	}
	b.WriteString(".\n")
	for _, r := range results {
		if c := r.Ceiling; c != nil && c.PacedCPU > 0 {
			fmt.Fprintf(&b, "- ×%d: meshd CPU ÷ bare broadcaster CPU at the same rate = %s ÷ %s = %.2f× (target ≤ %.1f×) %s.\n",
				r.Scale, pct(r.ServerCPU), pct(c.PacedCPU), r.ServerCPU/c.PacedCPU, targetCPURatio, r.meshdCheck(true, r.ServerCPU/c.PacedCPU <= targetCPURatio))
		}
		if c := r.Ceiling; c != nil && c.fedRatio() > 0 {
			fmt.Fprintf(&b, "- ×%d: meshd CPU ÷ fed broadcaster CPU (the same requests over HTTP, in turns) = %s ÷ %s = %.2f× (target ≤ %.1f×) %s.\n",
				r.Scale, pct(c.FedMeshdCPU), pct(c.FedCPU), c.fedRatio(), targetFedRatio, r.meshdCheck(true, c.fedRatio() <= targetFedRatio))
		}
		if n := r.NATS; n != nil && n.CPU > 0 {
			fmt.Fprintf(&b, "- ×%d: against nats-server's own WebSocket fan-out at the same rate: meshd CPU %s vs %s (%.2f×), p99 %s vs %s.\n",
				r.Scale, pct(r.ServerCPU), pct(n.CPU), r.ServerCPU/n.CPU, ms(r.P99), ms(n.P99))
		}
		if r.IdleRSSPerSocket > 0 {
			fmt.Fprintf(&b, "- ×%d: meshd RSS per idle subscribed socket %s (target ≤ %d KB) %s.\n",
				r.Scale, kb(r.IdleRSSPerSocket), targetIdleSocketKB, check(r.IdleRSSPerSocket <= targetIdleSocketKB<<10))
		}
	}
	for _, r := range results {
		if !r.meets() {
			fmt.Fprintf(&b, "- ×%d is the first multiple that missed zero loss or p99 ≤ %v.\n", r.Scale, r.p99Target())
			break
		}
	}
	if failure != nil {
		fmt.Fprintf(&b, "- The sweep ended early: %v.\n", failure)
	}
	for _, r := range results {
		if len(r.HTTPErrors)+len(r.RealtimeErrors) > 0 {
			fmt.Fprintf(&b, "- ×%d errors: HTTP: %s; realtime: %s.\n", r.Scale, problems(r.HTTPErrors), problems(r.RealtimeErrors))
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- ×%d: %s.\n", r.Scale, n)
		}
	}
	return b.String()
}

// machineMarkdown describes the machine from /proc and the Go runtime.
func machineMarkdown() string {
	var b strings.Builder
	b.WriteString("# Machine of the sweep\n\n")
	fmt.Fprintf(&b, "- CPU: %s, %d logical cores (GOMAXPROCS %d)\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "- Memory: %s\n", memTotal())
	fmt.Fprintf(&b, "- Kernel: Linux %s\n", strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")))
	fmt.Fprintf(&b, "- Go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	b.WriteString("- Generator, meshd and the ceiling all run on this machine over loopback; they share its cores.\n")
	return b.String()
}

// memTotal is MemTotal of /proc/meminfo in GiB.
func memTotal() string {
	kb, ok := meminfoKB("MemTotal")
	if !ok {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
}

// meminfoKB reads one field of /proc/meminfo, in kB; false when it cannot be read.
func meminfoKB(field string) (int64, bool) {
	var kb int64
	if _, err := fmt.Sscanf(procField("/proc/meminfo", field+":"), "%d kB", &kb); err != nil || kb <= 0 {
		return 0, false
	}
	return kb, true
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return string(b)
}

func cpuModel() string {
	if m := procField("/proc/cpuinfo", "model name"); m != "unknown" {
		return strings.TrimSpace(strings.TrimPrefix(m, ":"))
	}
	return "unknown"
}

// procField returns what follows the first line starting with prefix in a /proc file.
func procField(path, prefix string) string {
	for _, line := range strings.Split(readFile(path), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSpace(rest)
		}
	}
	return "unknown"
}

// series is one line of a chart.
type series struct {
	name   string
	color  string
	values []float64
}

// sweepSVG draws two panels over the scales: deliveries/s offered, achieved by meshd and by the
// unpaced ceiling; and p99 latency of meshd and of the paced ceiling against the target, on a
// decade axis.
func sweepSVG(results []*result) string {
	labels := make([]string, len(results))
	var offered, del, ceil, p99, ceilP99 []float64
	for i, r := range results {
		labels[i] = fmt.Sprintf("×%d", r.Scale)
		offered = append(offered, r.OfferedPerSec)
		del = append(del, r.DeliveriesPerSec)
		c, cp := math.NaN(), math.NaN()
		if r.Ceiling != nil {
			c, cp = r.Ceiling.DeliveriesPerSec, float64(r.Ceiling.PacedP99)/float64(time.Millisecond)
		}
		ceil = append(ceil, c)
		ceilP99 = append(ceilP99, cp)
		p99 = append(p99, float64(r.P99)/float64(time.Millisecond))
	}
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="720" height="600" font-family="sans-serif" font-size="12">` + "\n")
	b.WriteString(`<rect width="720" height="600" fill="white"/>` + "\n")
	panel(&b, 0, "deliveries per second", labels, []series{{"offered", "#2ca02c", offered}, {"meshd", "#1f77b4", del}, {"ceiling (unpaced)", "#999999", ceil}}, math.NaN(), false)
	panel(&b, 300, "p99 delivery latency (ms, log scale)", labels, []series{{"meshd", "#d62728", p99}, {"ceiling at the same rate", "#999999", ceilP99}},
		float64(results[0].p99Target())/float64(time.Millisecond), true)
	b.WriteString("</svg>\n")
	return b.String()
}

// panel draws one line chart 300 px high starting at y0, on a linear axis from zero or, with
// logScale, a decade axis; target, if not NaN, is drawn as a dashed line.
func panel(b *strings.Builder, y0 float64, title string, labels []string, ss []series, target float64, logScale bool) {
	const left, right, top, height = 80.0, 680.0, 40.0, 200.0
	top1 := y0 + top + height
	lo, hi := math.Inf(1), target
	for _, s := range ss {
		for _, v := range s.values {
			if math.IsNaN(v) || logScale && v <= 0 {
				continue
			}
			lo = math.Min(lo, v)
			if math.IsNaN(hi) || v > hi {
				hi = v
			}
		}
	}
	if math.IsNaN(hi) || hi <= 0 {
		hi = 1
	}
	var y func(v float64) float64
	var ticks []float64
	if logScale {
		if !math.IsNaN(target) {
			lo = math.Min(lo, target)
		}
		if math.IsInf(lo, 1) {
			lo = hi
		}
		d0, d1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
		if d1 == d0 {
			d1++
		}
		y = func(v float64) float64 { return top1 - (math.Log10(v)-d0)/(d1-d0)*height }
		for d := d0; d <= d1; d++ {
			ticks = append(ticks, math.Pow(10, d))
		}
	} else {
		hi = niceCeil(hi * 1.05)
		y = func(v float64) float64 { return top1 - v/hi*height }
		for i := 0; i <= 4; i++ {
			ticks = append(ticks, hi*float64(i)/4)
		}
	}
	x := func(i int) float64 {
		if len(labels) == 1 {
			return (left + right) / 2
		}
		return left + float64(i)*(right-left)/float64(len(labels)-1)
	}
	fmt.Fprintf(b, `<text x="%g" y="%g" font-size="14" font-weight="bold">%s</text>`+"\n", left, y0+24, title)
	for _, v := range ticks {
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e0e0e0"/>`+"\n", left, y(v), right, y(v))
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, short(v))
	}
	for i, l := range labels {
		fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x(i), top1+18, l)
	}
	if !math.IsNaN(target) {
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#d62728" stroke-dasharray="6 4"/>`+"\n", left, y(target), right, y(target))
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end" fill="#d62728">target</text>`+"\n", right, y(target)-4)
	}
	for k, s := range ss {
		var pts []string
		for i, v := range s.values {
			if math.IsNaN(v) || logScale && v <= 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(i), y(v), s.color)
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
		lx := left + 10 + float64(k)*150
		fmt.Fprintf(b, `<rect x="%g" y="%g" width="12" height="12" fill="%s"/><text x="%g" y="%g">%s</text>`+"\n", lx, top1+30, s.color, lx+16, top1+40, s.name)
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// short renders an axis value compactly: 1500 → 1.5k.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", math.Round(v/1e5)/10)
	case v >= 1e3:
		return fmt.Sprintf("%gk", math.Round(v/1e2)/10)
	}
	return fmt.Sprintf("%g", math.Round(v*100)/100)
}
