package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ceilingResult is what the ceiling broadcaster did with the same number of sockets: paced at
// the run's message rate (what the least possible server spends on the same load), then
// unpaced (what this machine can deliver at all).
type ceilingResult struct {
	Connections int `json:"connections"`

	PacedDeliveriesPerSec float64       `json:"pacedDeliveriesPerSec"`
	PacedCPU              float64       `json:"pacedCPU"` // of one core
	PacedP50              time.Duration `json:"pacedP50"`
	PacedP99              time.Duration `json:"pacedP99"`
	// PacedSent and PacedDelivered count the paced flood's frames: written, and received
	// once the queues drained.
	PacedSent      uint64 `json:"pacedSent"`
	PacedDelivered uint64 `json:"pacedDelivered"`

	DeliveriesPerSec float64 `json:"deliveriesPerSec"` // unpaced
	CPU              float64 `json:"cpu"`              // of one core, unpaced

	// Fed*: the fed broadcaster, the fair floor: the same sockets, the run's requests sent
	// to it the way meshd gets them (one HTTP POST each, the same bodies, the same pacing);
	// each report and event written to its group's subscribers, each heartbeat and sync
	// answered with as many bytes as meshd's answer.
	FedCPU float64 `json:"fedCPU"` // of one core
	// FedMeshdCPU is meshd's CPU in its turns with the fed broadcaster, of one core.
	FedMeshdCPU     float64       `json:"fedMeshdCPU,omitempty"`
	FedP50          time.Duration `json:"fedP50"`
	FedP99          time.Duration `json:"fedP99"`
	FedPostsPerSec  float64       `json:"fedPostsPerSec"`  // reports and events
	FedOthersPerSec float64       `json:"fedOthersPerSec"` // heartbeats and syncs
	FedSent         uint64        `json:"fedSent"`
	FedDelivered    uint64        `json:"fedDelivered"`
	FedFailed       uint64        `json:"fedFailed"` // POSTs not answered 200

	Sent       uint64 `json:"sent"`      // frames written in every phase (messages × subscribers)
	Delivered  uint64 `json:"delivered"` // frames received, after the queues drained
	OutOfOrder uint64 `json:"outOfOrder"`
	PeakRSS    uint64 `json:"peakRSS"`

	// GeneratorCollections counts the generator's own collections during the three phases
	// (see holdCollector).
	GeneratorCollections uint64 `json:"generatorCollections"`
}

// pacedHeld says whether the paced flood kept what a multiple must: every frame delivered, in
// order, with p99 within target.
func (c *ceilingResult) pacedHeld(target time.Duration) bool {
	return c.PacedSent > 0 && c.PacedDelivered == c.PacedSent && c.OutOfOrder == 0 && c.PacedP99 <= target
}

// fedHeld says whether the fed broadcaster kept what a multiple must.
func (c *ceilingResult) fedHeld(target time.Duration) bool {
	return c.FedSent > 0 && c.FedDelivered == c.FedSent && c.FedFailed == 0 && c.OutOfOrder == 0 && c.FedP99 <= target
}

// fedRatio is meshd's CPU over the fed broadcaster's, both read in their turns with the same
// load; 0 when meshd's CPU was not read.
func (c *ceilingResult) fedRatio() float64 {
	if c.FedMeshdCPU <= 0 || c.FedCPU <= 0 {
		return 0
	}
	return c.FedMeshdCPU / c.FedCPU
}

// ceilingSockets are the generator's sockets subscribed to the ceiling, with what they got.
type ceilingSockets struct {
	conns      []*rtConn
	readers    sync.WaitGroup
	arrived    [3]atomic.Uint64 // by phase: paced flood, unpaced flood, fed
	outOfOrder atomic.Uint64
	hist       [3]histShards // latency by phase
}

// runCeiling starts the ceiling broadcaster as a child process, subscribes nodes×groups
// sockets to it exactly as the load does, and runs a paced flood, the fed broadcaster and an
// unpaced flood, d each; the fed broadcaster takes turns with meshd if meshd is set (see
// feed). side and docs are what the fed broadcaster needs to get the load's requests: its
// other requests' intervals and answers, and the editor's documents.
func runCeiling(ctx context.Context, s shape, side sideTraffic, docs map[string]string, d time.Duration, parallel int, meshd *turnTaker) (*ceilingResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("ceiling: find own binary: %w", err)
	}
	p, err := startProcess(ctx, "ceiling", "ceiling", self, nil, []string{ceilingEnv + "=1"})
	if err != nil {
		return nil, err
	}
	defer p.stop()
	cs, err := subscribeCeiling(ctx, p.Addr(), s, docs["OnMessageInGroup"], parallel)
	if cs != nil {
		defer cs.close()
	}
	if err != nil {
		return nil, err
	}
	res := &ceilingResult{Connections: len(cs.conns)}
	rate := float64(s.dataRate + s.eventRate)
	if rate > 0 {
		gc := holdCollector()
		sent, arrived, elapsed, cpu, err := cs.flood(ctx, p, floodRequest{Seconds: d.Seconds(), Rate: rate, Phase: 0}, s)
		res.GeneratorCollections += gc.release()
		if err != nil {
			return nil, err
		}
		res.Sent += sent
		res.PacedSent, res.PacedDelivered = sent, cs.arrived[0].Load()
		res.PacedDeliveriesPerSec = float64(arrived) / elapsed.Seconds()
		res.PacedCPU = cpu
		h := cs.hist[0].merged()
		res.PacedP50, res.PacedP99 = h.percentile(50), h.percentile(99)
		gc = holdCollector()
		err = cs.feed(ctx, p, s, side, docs, d, meshd, res)
		res.GeneratorCollections += gc.release()
		if err != nil {
			return nil, err
		}
		res.Sent += res.FedSent
	}
	gc := holdCollector()
	sent, arrived, elapsed, cpu, err := cs.flood(ctx, p, floodRequest{Seconds: d.Seconds(), Phase: 1}, s)
	res.GeneratorCollections += gc.release()
	if err != nil {
		return nil, err
	}
	res.Sent += sent
	res.DeliveriesPerSec = float64(arrived) / elapsed.Seconds()
	res.CPU = cpu
	res.Delivered = cs.arrived[0].Load() + cs.arrived[1].Load() + cs.arrived[fedPhase].Load()
	res.OutOfOrder = cs.outOfOrder.Load()
	res.PeakRSS, _ = peakRSS(p.Pid())
	return res, nil
}

// subscribeCeiling opens the sockets, s.nodes to each of s.groups groups, and starts their
// readers. On error the sockets opened so far are returned for closing.
func subscribeCeiling(ctx context.Context, addr string, s shape, doc string, parallel int) (*ceilingSockets, error) {
	ep, err := endpointsFor("http://"+addr+"/graphql", false)
	if err != nil {
		return nil, err
	}
	dialer := newDialer()
	cs := &ceilingSockets{conns: make([]*rtConn, s.groups*s.nodes), hist: [3]histShards{newHistShards(16), newHistShards(16), newHistShards(16)}}
	var (
		wg     sync.WaitGroup
		sem    = make(chan struct{}, parallel)
		failed atomic.Pointer[error]
	)
	for i := range cs.conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := subscribe(ctx, dialer, ep, "ceiling", doc, fmt.Sprintf("sub-%d", i), fmt.Sprintf("g%d", i/s.nodes), "ceiling")
			if err != nil {
				failed.CompareAndSwap(nil, &err)
				return
			}
			cs.conns[i] = c
		})
	}
	wg.Wait()
	if errp := failed.Load(); errp != nil {
		return cs, fmt.Errorf("ceiling: subscribe: %w", *errp)
	}
	for i, c := range cs.conns {
		cs.readers.Go(func() { cs.read(c, i) })
	}
	return cs, nil
}

// read counts one socket's frames by phase until it closes.
func (cs *ceilingSockets) read(c *rtConn, i int) {
	var last [3]uint64
	for {
		f, err := c.next()
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		for _, t := range f.tags {
			if t.sender < 0 || t.sender > fedPhase {
				continue
			}
			if t.seq <= last[t.sender] {
				cs.outOfOrder.Add(1)
				continue
			}
			last[t.sender] = t.seq
			cs.arrived[t.sender].Add(1)
			cs.hist[t.sender].shard(i).record(time.Duration(now - t.sent))
		}
	}
}

// flood asks the ceiling for one flood and returns the frames it sent, those that had arrived
// when it ended, how long it took and the ceiling's CPU over it (of one core); then it waits
// until every frame has arrived, at most 10 s.
func (cs *ceilingSockets) flood(ctx context.Context, p *process, fr floodRequest, s shape) (sent, arrived uint64, elapsed time.Duration, cpu float64, err error) {
	cpu0, _ := cpuTime(p.Pid())
	body, _ := json.Marshal(fr)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.Addr()+"/flood", bytes.NewReader(body))
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("ceiling: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("ceiling: flood: %w", err)
	}
	var res floodResult
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, 0, 0, 0, fmt.Errorf("ceiling: flood answered %s: %v", resp.Status, err)
	}
	arrived = cs.arrived[fr.Phase].Load()
	cpu1, _ := cpuTime(p.Pid())
	for _, n := range res.Sent {
		sent += n * uint64(s.nodes)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cs.arrived[fr.Phase].Load() < sent && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	return sent, arrived, res.Elapsed, (cpu1 - cpu0).Seconds() / res.Elapsed.Seconds(), nil
}

// close ends every subscription and waits for the readers.
func (cs *ceilingSockets) close() {
	for _, c := range cs.conns {
		if c != nil {
			c.close()
		}
	}
	cs.readers.Wait()
	for _, c := range cs.conns {
		if c != nil {
			c.ws.Close()
		}
	}
}
