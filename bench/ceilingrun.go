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

// ceilingResult is what the ceiling broadcaster delivered to the same number of sockets.
type ceilingResult struct {
	Connections      int           `json:"connections"`
	Sent             uint64        `json:"sent"`      // frames written (messages × subscribers)
	Delivered        uint64        `json:"delivered"` // frames received, after the queues drained
	Elapsed          time.Duration `json:"elapsed"`
	DeliveriesPerSec float64       `json:"deliveriesPerSec"`
	OutOfOrder       uint64        `json:"outOfOrder"`
	CPU              float64       `json:"cpu"` // of one core, during the flood
	PeakRSS          uint64        `json:"peakRSS"`
}

// runCeiling starts the ceiling broadcaster as a child process, subscribes nodes×groups
// sockets to it exactly as the load does, floods them for d and counts what arrives.
func runCeiling(ctx context.Context, s shape, d time.Duration, parallel int) (*ceilingResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("ceiling: find own binary: %w", err)
	}
	p, err := startProcess(ctx, "ceiling", self, nil, []string{ceilingEnv + "=1"})
	if err != nil {
		return nil, err
	}
	defer p.stop()
	ep, err := endpointsFor("http://" + p.addr + "/graphql")
	if err != nil {
		return nil, err
	}
	dialer := newDialer()
	conns := make([]*rtConn, s.groups*s.nodes)
	var (
		wg      sync.WaitGroup
		sem     = make(chan struct{}, parallel)
		failed  atomic.Pointer[error]
		arrived atomic.Uint64
		ooo     atomic.Uint64
	)
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := subscribe(ctx, dialer, ep, "ceiling", fmt.Sprintf("sub-%d", i), fmt.Sprintf("g%d", i/s.nodes), "ceiling")
			if err != nil {
				failed.CompareAndSwap(nil, &err)
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	var readers sync.WaitGroup
	var closing atomic.Bool
	defer func() {
		closing.Store(true)
		for _, c := range conns {
			if c != nil {
				c.close()
			}
		}
		readers.Wait()
	}()
	if errp := failed.Load(); errp != nil {
		return nil, fmt.Errorf("ceiling: subscribe: %w", *errp)
	}
	for _, c := range conns {
		readers.Go(func() {
			var last uint64
			for {
				f, err := c.next()
				if err != nil {
					return
				}
				for _, t := range f.tags {
					if t.seq <= last {
						ooo.Add(1)
						continue
					}
					last = t.seq
					arrived.Add(1)
				}
			}
		})
	}

	cpu0, _ := cpuTime(p.pid())
	body, _ := json.Marshal(floodRequest{Seconds: d.Seconds()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.addr+"/flood", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ceiling: flood: %w", err)
	}
	var fr floodResult
	err = json.NewDecoder(resp.Body).Decode(&fr)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ceiling: flood answered %s: %v", resp.Status, err)
	}
	atEnd := arrived.Load()
	cpu1, _ := cpuTime(p.pid())
	res := &ceilingResult{Connections: len(conns), Elapsed: fr.Elapsed}
	for key, n := range fr.Sent {
		var g int
		if _, err := fmt.Sscanf(key, "g%d", &g); err == nil && g < s.groups {
			res.Sent += n * uint64(s.nodes)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for arrived.Load() < res.Sent && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	res.Delivered, res.OutOfOrder = arrived.Load(), ooo.Load()
	res.DeliveriesPerSec = float64(atEnd) / fr.Elapsed.Seconds()
	res.CPU = (cpu1 - cpu0).Seconds() / fr.Elapsed.Seconds()
	res.PeakRSS, _ = peakRSS(p.pid())
	return res, nil
}
