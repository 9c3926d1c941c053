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

// feed runs the fed broadcaster: it gets every request the load sends meshd, one each
// through the generator's HTTP client to the ceiling's POST /publish, with the bodies the
// editor sends (the same documents and variables, so the same sizes). Every group's senders
// post the run's reports and events at the load's rates and slots, each written to the
// group's subscribers; every node's heartbeats and 15 s syncs go at their intervals, their
// phases spread evenly, each answered with as many bytes as meshd answered.
//
// With meshd set, the fed broadcaster and meshd take turns of d/turns (at most turnMax) for
// 2d: each gets the load for d in all, and each one's CPU is read over its own turns only, so
// that both are measured in the same minute, under the same state of the machine. Without,
// the fed broadcaster gets the load for d. It records both CPUs, the latency and the counts.
func (cs *ceilingSockets) feed(ctx context.Context, p *process, s shape, side sideTraffic, docs map[string]string, d time.Duration, meshd *turnTaker, res *ceilingResult) error {
	var failed counts
	a := newAPI("http://"+p.Addr()+"/publish", "", 512, &failed)
	defer a.close()
	perGroup := s.dataRate + s.eventRate
	var posted, answered, refused atomic.Uint64
	var on atomic.Bool // the fed broadcaster's turn
	total := d
	if meshd != nil {
		total = 2 * d
	}
	window, cancel := context.WithTimeout(ctx, total)
	defer cancel()
	// post sends one request and counts it in ok, or as refused. The window ends the
	// schedule, not a request under way, so every request the ceiling took is counted.
	post := func(query string, body []byte, ok *atomic.Uint64) {
		if a.publish(ctx, query, body) {
			ok.Add(1)
		} else if ctx.Err() == nil {
			refused.Add(1)
		}
	}
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
					if !on.Load() {
						return
					}
					seq++
					post("g="+fedGroup(gi), fedBody(op, docs[op], gi, pos, sender, seq), &posted)
				})
			})
		}
	}
	nodes := s.groups * s.nodes
	for i, r := range side.requests(s, docs) {
		first := start.Add(r.every * time.Duration(i%nodes) / time.Duration(nodes))
		query := "n=" + strconv.Itoa(side.answer[r.op])
		wg.Go(func() {
			every(window, first, r.every, func() {
				if on.Load() {
					post(query, r.body, &answered)
				}
			})
		})
	}
	fed, mine := takeTurns(window, start, d, turnMax, func() time.Duration { t, _ := cpuTime(p.Pid()); return t }, meshd, &on)
	wg.Wait()
	res.FedCPU = fed.cpu()
	if meshd != nil {
		res.FedMeshdCPU = mine.cpu()
	}
	res.FedPostsPerSec = float64(posted.Load()) / fed.wall.Seconds()
	res.FedOthersPerSec = float64(answered.Load()) / fed.wall.Seconds()
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

// turnTaker is meshd's side of the turns with the fed broadcaster: its load paused or not,
// and its CPU (summed over a cluster's processes).
type turnTaker struct {
	pause func(bool)
	cpu   func() time.Duration
}

// turnMax is the longest turn: short enough that many turns of each side interleave.
const turnMax = 5 * time.Second

// usage is what one side's turns took: CPU time and wall time.
type usage struct{ busy, wall time.Duration }

// cpu is the CPU used over the turns, as a fraction of one core.
func (u usage) cpu() float64 {
	if u.wall <= 0 {
		return 0
	}
	return u.busy.Seconds() / u.wall.Seconds()
}

// takeTurns gives the fed broadcaster (its load switched by on, its CPU read by fedCPU) the
// load until ctx ends, in turns of at most most with meshd if meshd is set, meshd's first;
// each side has d in all. It returns what each side's turns used.
func takeTurns(ctx context.Context, start time.Time, d, most time.Duration, fedCPU func() time.Duration, meshd *turnTaker, on *atomic.Bool) (fed, mine usage) {
	if meshd == nil {
		on.Store(true)
		c0 := fedCPU()
		<-ctx.Done()
		u := usage{busy: fedCPU() - c0, wall: time.Since(start)}
		on.Store(false)
		return u, usage{}
	}
	turns := max(1, int((d+most-1)/most))
	turn := d / time.Duration(turns)
	for i := range 2 * turns {
		fedTurn := i%2 == 1
		meshd.pause(fedTurn)
		on.Store(fedTurn)
		side, cpu := &mine, meshd.cpu
		if fedTurn {
			side, cpu = &fed, fedCPU
		}
		c0, t0 := cpu(), time.Now()
		sleepUntil(ctx, start.Add(time.Duration(i+1)*turn))
		side.busy += cpu() - c0
		side.wall += time.Since(t0)
	}
	on.Store(false)
	meshd.pause(true)
	<-ctx.Done()
	return fed, mine
}

// fedGroup names group gi on the ceiling.
func fedGroup(gi int) string {
	return "g" + strconv.Itoa(gi)
}

// fedIDs are the variables naming group gi as the load's do: a group id (a UUID's 36
// characters) and a domain (a CRC-32 in hex) of the same lengths.
func fedIDs(gi int) map[string]any {
	return map[string]any{"groupId": fmt.Sprintf("00000000-0000-4000-8000-%012d", gi), "domain": "5ca1ab1e"}
}

// fedBody is the body meshd gets for one report or event batch of a node: the editor's
// document and variables, with a tag and ids of the same lengths as the load's.
func fedBody(op, doc string, group, pos, sender int, seq uint64) []byte {
	now := time.Now()
	t := tag{sender: sender, seq: seq, sent: now.UnixNano()}
	ids := fedIDs(group)
	ids["nodeId"] = nodeName(group, pos)
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
	return gqlBody(op, doc, ids)
}

// publish posts one fed request and reports whether the ceiling answered 200. query says
// what the ceiling does with it (see servePublish); the send time is added.
func (a *api) publish(ctx context.Context, query string, body []byte) bool {
	url := a.url + "?" + query + "&t=" + strconv.FormatInt(time.Now().UnixNano(), 10)
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

// sideOps are the requests the load sends besides reports and events, in WebSocket mode.
var sideOps = []string{"RenewHeartbeat", "SendMemberHeartbeat", "ListGroupStatuses"}

// sideTraffic is what the fed broadcaster needs to get the load's other requests as meshd
// got them: the heartbeat intervals meshd named and the size of meshd's answer to each.
type sideTraffic struct {
	hostInterval, memberInterval time.Duration
	answer                       map[string]int // bytes, by operation
}

// side is what the load saw of meshd that the fed broadcaster needs, and a note for each of
// sideOps that meshd never answered (the fed broadcaster then answers it with nothing).
func (l *load) side() (side sideTraffic, notes []string) {
	side = sideTraffic{hostInterval: l.groups[0].hostInterval, memberInterval: l.groups[0].memberInterval, answer: l.answers.sizes()}
	for _, op := range sideOps {
		if side.answer[op] == 0 {
			notes = append(notes, fmt.Sprintf("meshd answered no %s in this run: the fed broadcaster answers it with an empty body", op))
		}
	}
	return side, notes
}

// sideRequest is one node's timer of heartbeats or syncs.
type sideRequest struct {
	op    string
	body  []byte
	every time.Duration
}

// requests are every node's heartbeat timers, then every node's sync timers, in node order
// (group by group), with the bodies the load sends.
func (side sideTraffic) requests(s shape, docs map[string]string) []sideRequest {
	var hb, syncs []sideRequest
	for gi := range s.groups {
		statuses := gqlBody("ListGroupStatuses", docs["ListGroupStatuses"], fedIDs(gi))
		for pos := range s.nodes {
			vars := fedIDs(gi)
			op, period := "SendMemberHeartbeat", side.memberInterval
			if pos == 0 {
				op, period = "RenewHeartbeat", side.hostInterval
				vars["hostId"] = nodeName(gi, pos)
			} else {
				vars["nodeId"] = nodeName(gi, pos)
			}
			hb = append(hb, sideRequest{op: op, body: gqlBody(op, docs[op], vars), every: period})
			syncs = append(syncs, sideRequest{op: "ListGroupStatuses", body: statuses, every: syncPeriod})
		}
	}
	return append(hb, syncs...)
}

// gqlBody is the body of operation op with its document and vars, as the editor sends it.
func gqlBody(op, doc string, vars map[string]any) []byte {
	body, _ := json.Marshal(gqlRequest{OperationName: op, Variables: vars, Query: doc})
	return body
}

// answerSizes keeps the largest answer meshd gave to each of sideOps: a full classroom's
// listGroupStatuses, as every sync of the steady load gets.
type answerSizes map[string]*atomic.Int64

func newAnswerSizes() answerSizes {
	m := answerSizes{}
	for _, op := range sideOps {
		m[op] = new(atomic.Int64)
	}
	return m
}

// add notes an answer of n bytes to op; other operations are not kept.
func (m answerSizes) add(op string, n int) {
	if v := m[op]; v != nil {
		for cur := v.Load(); int64(n) > cur && !v.CompareAndSwap(cur, int64(n)); cur = v.Load() {
		}
	}
}

// sizes returns the largest answer to each of sideOps (0 if none was seen).
func (m answerSizes) sizes() map[string]int {
	out := map[string]int{}
	for op, v := range m {
		out[op] = int(v.Load())
	}
	return out
}
