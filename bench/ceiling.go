package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// ceilingEnv, set to 1, makes the bench binary serve as the ceiling broadcaster instead of
// generating load: the generator starts it as a separate process, like meshd, so each has its
// own file-descriptor budget and its CPU and memory are measured the same way.
const ceilingEnv = "MESHD_BENCH_CEILING"

// The ceiling is the least any server must do to deliver group messages over WebSockets: it
// accepts the same AppSync handshake and subscriptions, then, asked by POST /flood, encodes one
// data frame per message (shaped and sized like meshd's onMessageInGroup frames) and writes it
// to every subscriber of the group as fast as the sockets take it. No GraphQL, no bus, no
// state, no HTTP mutations: what it delivers per second is what this machine can deliver at
// all with the generator's client machinery on the other end.
type ceiling struct {
	upgrader websocket.Upgrader

	mu     sync.Mutex
	groups map[string]*ceilingGroup
	conns  map[*ceilingConn]struct{}
}

type ceilingGroup struct {
	mu   sync.Mutex
	subs []ceilingSub
	seq  uint64 // messages published through POST /publish
}

type ceilingSub struct {
	c      *ceilingConn
	id     string
	prefix []byte // {"id":…,"type":"data","payload":
}

// ceilingConn is one socket: frames wait in out for the writer goroutine.
type ceilingConn struct {
	ws   *websocket.Conn
	out  chan ceilingFrame
	done chan struct{}
	once sync.Once
}

// ceilingFrame is prefix + payload + "}" for messages, or payload alone for control frames.
type ceilingFrame struct {
	prefix, payload []byte
}

// ceilingQueue matches meshd's default send queue (MESH_SEND_QUEUE_FRAMES).
const ceilingQueue = 1024

// floodRequest asks the ceiling to broadcast for a while: Rate messages per second per group,
// or as fast as the sockets take them when Rate is 0. Phase goes into the tags as their
// sender, so the receivers keep one sequence per flood.
type floodRequest struct {
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"rate"`
	Phase   int     `json:"phase"`
}

// floodResult says how many messages each group's broadcaster sent (each to every
// subscriber of the group) and how long the flood took.
type floodResult struct {
	Sent    map[string]uint64 `json:"sent"`
	Elapsed time.Duration     `json:"elapsed"`
}

// ceilingMain serves the ceiling on a loopback port until SIGINT or SIGTERM.
func ceilingMain() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := raiseFileLimit(); err != nil {
		log.Warn("open-file limit unchanged", "err", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	c := &ceiling{
		upgrader: websocket.Upgrader{Subprotocols: []string{subprotocol}, ReadBufferSize: 1024, WriteBufferSize: 4096},
		groups:   map[string]*ceilingGroup{},
		conns:    map[*ceilingConn]struct{}{},
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("ceiling listening", "addr", ln.Addr().String())
	select {
	case <-ctx.Done():
	case err := <-served:
		log.Error("serve", "err", err)
		return 1
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.closeAll()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

func (c *ceiling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case websocket.IsWebSocketUpgrade(r):
		c.serveSocket(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/flood":
		c.serveFlood(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/publish":
		c.servePublish(w, r)
	default:
		http.Error(w, "POST /flood, POST /publish or a WebSocket upgrade", http.StatusNotFound)
	}
}

// serveFlood broadcasts to every group at once for the requested time and answers with the
// counts.
func (c *ceiling) serveFlood(w http.ResponseWriter, r *http.Request) {
	var req floodRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Seconds <= 0 || req.Seconds > 600 || req.Rate < 0 || req.Phase < 0 {
		http.Error(w, `body must be {"seconds": 0 < s ≤ 600, "rate": r ≥ 0, "phase": p ≥ 0}`, http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	groups := make(map[string]*ceilingGroup, len(c.groups))
	for k, g := range c.groups {
		groups[k] = g
	}
	c.mu.Unlock()
	start := time.Now()
	deadline := start.Add(time.Duration(req.Seconds * float64(time.Second)))
	res := floodResult{Sent: make(map[string]uint64, len(groups))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	i := 0
	for key, g := range groups {
		// Paced groups take turns through each period, as meshd's senders do.
		offset := time.Duration(0)
		if req.Rate > 0 {
			offset = time.Duration(float64(i) / float64(len(groups)) / req.Rate * float64(time.Second))
		}
		i++
		wg.Go(func() {
			n := g.flood(key, req, start.Add(offset), deadline)
			mu.Lock()
			res.Sent[key] = n
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// fedPhase is the sender of the tags the fed broadcaster writes: the floods use 0 (paced)
// and 1 (unpaced).
const fedPhase = 2

// maxPublishBody bounds what POST /publish reads, as meshd's -max-request-bytes does.
const maxPublishBody = 1 << 20

// servePublish is the fed broadcaster: one request arrives as one HTTP POST, read whole
// through net/http as meshd reads it. Its body is not parsed; the query string says what to do
// with it. A report or event (?g=<group>&t=<unix ns of the send>) becomes one frame written
// to every subscriber of the group and is answered with that message, as a mutation's answer
// echoes it; publishes of a group are numbered and queued under its lock, so they arrive in
// order. A heartbeat or sync (?n=<bytes>) is answered with n bytes, the size of meshd's
// answer to it.
func (c *ceiling) servePublish(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPublishBody))
	q := r.URL.Query()
	if err != nil || len(body) == 0 {
		http.Error(w, "POST /publish with a body", http.StatusBadRequest)
		return
	}
	key := q.Get("g")
	if key == "" {
		n, err := strconv.Atoi(q.Get("n"))
		if err != nil || n < 0 || n > len(answerFiller) {
			http.Error(w, "POST /publish?g=<group>&t=<unix ns> or ?n=<bytes>, with a body", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(answerFiller[:n])
		return
	}
	sent, err := strconv.ParseInt(q.Get("t"), 10, 64)
	if err != nil {
		http.Error(w, "POST /publish?g=<group>&t=<unix ns> with a body", http.StatusBadRequest)
		return
	}
	g := c.group(key)
	g.mu.Lock()
	g.seq++
	payload := ceilingPayload(key, tag{sender: fedPhase, seq: g.seq, sent: sent})
	for _, s := range g.subs {
		select {
		case s.c.out <- ceilingFrame{prefix: s.prefix, payload: payload}:
		case <-s.c.done:
		}
	}
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(payload)
}

// answerFiller is what the fed broadcaster answers heartbeats and syncs with, as many of its
// bytes as meshd answered (a full classroom's listGroupStatuses is ~45 KB); the generator
// reads the answer without parsing it.
var answerFiller = bytes.Repeat([]byte{'0'}, maxPublishBody)

// flood sends numbered messages to the group's subscribers until the deadline, paced at
// req.Rate or unpaced. A full queue blocks the broadcaster (backpressure) instead of
// disconnecting, so an unpaced count is what the slowest subscriber could take.
func (g *ceilingGroup) flood(key string, req floodRequest, start, deadline time.Time) uint64 {
	g.mu.Lock()
	subs := append([]ceilingSub(nil), g.subs...)
	g.mu.Unlock()
	var seq uint64
	for time.Now().Before(deadline) {
		if req.Rate > 0 {
			next := start.Add(time.Duration(float64(seq) / req.Rate * float64(time.Second)))
			if !next.Before(deadline) {
				break
			}
			time.Sleep(time.Until(next))
		}
		seq++
		payload := ceilingPayload(key, tag{sender: req.Phase, seq: seq, sent: time.Now().UnixNano()})
		for _, s := range subs {
			select {
			case s.c.out <- ceilingFrame{prefix: s.prefix, payload: payload}:
			case <-s.c.done:
			}
		}
	}
	return seq
}

// ceilingPayload encodes one onMessageInGroup data message with ten variables, the first
// carrying the tag, in meshd's field order.
func ceilingPayload(key string, t tag) []byte {
	b := make([]byte, 0, 1024)
	b = append(b, `{"data":{"onMessageInGroup":{"groupId":`...)
	b = strconv.AppendQuote(b, key)
	b = append(b, `,"domain":"ceiling","nodeStatus":{"nodeId":"ceiling-node","groupId":`...)
	b = strconv.AppendQuote(b, key)
	b = append(b, `,"domain":"ceiling","data":[`...)
	for i := range variables {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":"`...)
		b = append(b, variableNames[i]...)
		b = append(b, `","value":"`...)
		if i == 0 {
			b = t.append(b)
		} else {
			b = append(b, fillerValue...)
		}
		b = append(b, `","__typename":"SensorData"}`...)
	}
	b = append(b, `],"timestamp":"`...)
	b = time.Now().UTC().AppendFormat(b, isoMillis)
	return append(b, `","__typename":"NodeStatus"},"batchEvent":null,"groupDissolve":null,"__typename":"MeshMessage"}}}`...)
}

// isoMillis is AWSDateTime as meshd writes it.
const isoMillis = "2006-01-02T15:04:05.000Z"

// serveSocket speaks the AppSync dialect just far enough for the generator: connection_init,
// start and stop.
func (c *ceiling) serveSocket(w http.ResponseWriter, r *http.Request) {
	ws, err := c.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	cc := &ceilingConn{ws: ws, out: make(chan ceilingFrame, ceilingQueue), done: make(chan struct{})}
	c.mu.Lock()
	c.conns[cc] = struct{}{}
	c.mu.Unlock()
	go cc.write()
	type joined struct {
		g  *ceilingGroup
		id string
	}
	var subs []joined
	defer func() {
		for _, j := range subs {
			j.g.leave(cc, j.id)
		}
		c.mu.Lock()
		delete(c.conns, cc)
		c.mu.Unlock()
		cc.shut()
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var f struct {
			Type    string `json:"type"`
			ID      string `json:"id"`
			Payload struct {
				Data string `json:"data"`
			} `json:"payload"`
		}
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		id, _ := json.Marshal(f.ID)
		switch f.Type {
		case "connection_init":
			cc.send([]byte(`{"type":"connection_ack","payload":{"connectionTimeoutMs":300000}}`))
			cc.send([]byte(`{"type":"ka"}`))
		case "start":
			var req struct {
				Variables struct {
					GroupID string `json:"groupId"`
				} `json:"variables"`
			}
			json.Unmarshal([]byte(f.Payload.Data), &req)
			g := c.group(req.Variables.GroupID)
			g.join(ceilingSub{c: cc, id: f.ID, prefix: []byte(`{"id":` + string(id) + `,"type":"data","payload":`)},
				[]byte(`{"id":`+string(id)+`,"type":"start_ack"}`))
			subs = append(subs, joined{g, f.ID})
		case "stop":
			for i, j := range subs {
				if j.id == f.ID {
					j.g.leave(cc, j.id)
					subs = append(subs[:i], subs[i+1:]...)
					break
				}
			}
			cc.send([]byte(`{"id":` + string(id) + `,"type":"complete"}`))
		}
	}
}

// group returns the subscribers of a group, creating the entry.
func (c *ceiling) group(key string) *ceilingGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[key]
	if g == nil {
		g = &ceilingGroup{}
		c.groups[key] = g
	}
	return g
}

// join adds a subscriber and queues its ack.
func (g *ceilingGroup) join(s ceilingSub, ack []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s.c.send(ack)
	g.subs = append(g.subs, s)
}

func (g *ceilingGroup) leave(c *ceilingConn, id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, s := range g.subs {
		if s.c == c && s.id == id {
			g.subs = append(g.subs[:i:i], g.subs[i+1:]...)
			return
		}
	}
}

// send queues a control frame unless the socket is closing.
func (cc *ceilingConn) send(payload []byte) {
	select {
	case <-cc.done:
	case cc.out <- ceilingFrame{payload: payload}:
	}
}

func (cc *ceilingConn) shut() {
	cc.once.Do(func() { close(cc.done) })
}

func (cc *ceilingConn) write() {
	defer cc.ws.Close()
	for {
		select {
		case f := <-cc.out:
			if err := cc.writeFrame(f); err != nil {
				cc.shut()
				return
			}
		case <-cc.done:
			cc.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
			return
		}
	}
}

func (cc *ceilingConn) writeFrame(f ceilingFrame) error {
	cc.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	w, err := cc.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	w.Write(f.prefix)
	w.Write(f.payload)
	if f.prefix != nil {
		w.Write([]byte{'}'})
	}
	return w.Close()
}

// closeAll closes every socket with 1001 (going away).
func (c *ceiling) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for cc := range c.conns {
		cc.shut()
	}
}
