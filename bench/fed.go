package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// feed runs the fed broadcaster for d: every group's senders post the run's mutations to
// the ceiling's POST /publish at the load's rates and slots, one request each through the
// generator's HTTP client, with the bodies the editor sends meshd (the same documents and
// variables, so the same sizes). It records the ceiling's CPU, the latency and the counts.
func (cs *ceilingSockets) feed(ctx context.Context, p *process, s shape, docs map[string]string, d time.Duration, res *ceilingResult) error {
	var failed counts
	a := newAPI("http://"+p.Addr()+"/publish", "", 512, &failed)
	defer a.close()
	perGroup := s.dataRate + s.eventRate
	var posted, refused atomic.Uint64
	window, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	cpu0, _ := cpuTime(p.Pid())
	start := time.Now()
	var wg sync.WaitGroup
	for gi := range s.groups {
		for pos := range perGroup {
			first := slotStart(start, gi*perGroup+pos, s.groups*perGroup)
			sender := gi*s.nodes + pos
			op := "ReportDataByNode"
			if pos >= s.dataRate {
				op = "FireEventsByNode"
			}
			var seq uint64
			wg.Go(func() {
				every(window, first, sendPeriod, func() {
					seq++
					// The window ends the schedule, not a request under way, so every post
					// the ceiling took is counted.
					if a.publish(ctx, fmt.Sprintf("g%d", gi), fedBody(op, docs[op], gi, pos, sender, seq)) {
						posted.Add(1)
					} else if ctx.Err() == nil {
						refused.Add(1)
					}
				})
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, _ := cpuTime(p.Pid())
	res.FedCPU = (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	res.FedPostsPerSec = float64(posted.Load()) / elapsed.Seconds()
	res.FedSent = posted.Load() * uint64(s.nodes)
	res.FedFailed = refused.Load()
	deadline := time.Now().Add(10 * time.Second)
	for cs.arrived[fedPhase].Load() < res.FedSent && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	res.FedDelivered = cs.arrived[fedPhase].Load()
	h := cs.hist[fedPhase].merged()
	res.FedP50, res.FedP99 = h.percentile(50), h.percentile(99)
	return ctx.Err()
}

// fedBody is the body meshd gets for one report or event batch of a node: the editor's
// document and variables, with a tag, a group id (a UUID's 36 characters) and a domain (a
// CRC-32 in hex) of the same lengths as the load's.
func fedBody(op, doc string, group, pos, sender int, seq uint64) []byte {
	now := time.Now()
	t := tag{sender: sender, seq: seq, sent: now.UnixNano()}
	ids := map[string]any{"groupId": fmt.Sprintf("00000000-0000-4000-8000-%012d", group), "domain": "5ca1ab1e",
		"nodeId": fmt.Sprintf("bench-%d-%d", group, pos)}
	if op == "ReportDataByNode" {
		data := make([]pair, variables)
		for i := range data {
			data[i] = pair{Key: variableNames[i], Value: fillerValue}
		}
		data[0].Value = t.String()
		ids["data"] = data
	} else {
		orderKey := strconv.FormatUint(seq, 10)
		ids["events"] = []eventInput{{EventName: "tick", Payload: t.String(), FiredAt: now.UTC().Format(isoMillis), OrderKey: &orderKey}}
	}
	body, _ := json.Marshal(gqlRequest{OperationName: op, Variables: ids, Query: doc})
	return body
}

// publish posts one fed mutation for group and reports whether the ceiling answered 200.
func (a *api) publish(ctx context.Context, group string, body []byte) bool {
	url := a.url + "?g=" + group + "&t=" + strconv.FormatInt(time.Now().UnixNano(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("X-Api-Key", "da2-bench")
	req.Header.Set("X-Amz-User-Agent", "aws-amplify/2.0.8 js")
	resp, err := a.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	return err == nil && resp.StatusCode == http.StatusOK
}
