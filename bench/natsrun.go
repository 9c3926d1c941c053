package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// natsResult is what nats-server's own WebSocket fan-out did with the same sockets, frame
// sizes and message rate: a production broker that does no GraphQL and no HTTP.
type natsResult struct {
	Connections      int           `json:"connections"`
	DeliveriesPerSec float64       `json:"deliveriesPerSec"`
	CPU              float64       `json:"cpu"` // of one core, over the flood
	P50              time.Duration `json:"p50"`
	P99              time.Duration `json:"p99"`
	Sent             uint64        `json:"sent"`      // messages × subscribers
	Delivered        uint64        `json:"delivered"` // received once the queues drained
	OutOfOrder       uint64        `json:"outOfOrder"`
	PeakRSS          uint64        `json:"peakRSS"`
	// GeneratorCollections counts the generator's own collections while it published and
	// the frames arrived (see holdCollector).
	GeneratorCollections uint64 `json:"generatorCollections"`
}

// held says whether nats-server delivered every frame, in order, with p99 within target.
func (n *natsResult) held(target time.Duration) bool {
	return n.Sent > 0 && n.Delivered == n.Sent && n.OutOfOrder == 0 && n.P99 <= target
}

// runNATS starts the nats-server reference as a child process, subscribes s.groups × s.nodes
// WebSockets to their groups' subjects and publishes every group's messages at the run's rate
// over one NATS connection for d.
func runNATS(ctx context.Context, s shape, d time.Duration, parallel int) (*natsResult, error) {
	rate := float64(s.dataRate + s.eventRate)
	if rate == 0 {
		return nil, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("nats reference: find own binary: %w", err)
	}
	p, err := startProcess(ctx, "natsref", "natsref", self, nil, []string{natsEnv + "=1"})
	if err != nil {
		return nil, err
	}
	defer p.stop()
	wsAddr, clientAddr, _ := strings.Cut(p.Addr(), ",")
	ns := &natsSockets{conns: make([]*natsConn, s.groups*s.nodes), hist: newHistShards(16)}
	defer ns.close()
	if err := ns.open(ctx, wsAddr, s.nodes, parallel); err != nil {
		return nil, err
	}
	nc, err := nats.Connect("nats://"+clientAddr, nats.Name("bench publisher"))
	if err != nil {
		return nil, fmt.Errorf("nats reference: connect publisher: %w", err)
	}
	defer nc.Close()

	gc := holdCollector()
	defer gc.release()
	cpu0, _ := cpuTime(p.Pid())
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	var sent atomic.Uint64
	for g := range s.groups {
		wg.Go(func() {
			subject := natsSubject(g)
			key := fmt.Sprintf("g%d", g)
			var seq uint64
			for ctx.Err() == nil {
				next := start.Add(time.Duration(float64(seq) / rate * float64(time.Second)))
				if !next.Before(deadline) {
					break
				}
				time.Sleep(time.Until(next))
				seq++
				frame := natsFrame(key, tag{sender: 0, seq: seq, sent: time.Now().UnixNano()})
				if nc.Publish(subject, frame) != nil {
					return
				}
			}
			sent.Add(seq * uint64(s.nodes))
		})
	}
	wg.Wait()
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("nats reference: flush: %w", err)
	}
	elapsed := time.Since(start)
	arrived := ns.arrived.Load()
	cpu1, _ := cpuTime(p.Pid())
	drain := time.Now().Add(10 * time.Second)
	for ns.arrived.Load() < sent.Load() && time.Now().Before(drain) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	h := ns.hist.merged()
	res := &natsResult{
		Connections:      len(ns.conns),
		DeliveriesPerSec: float64(arrived) / elapsed.Seconds(),
		CPU:              (cpu1 - cpu0).Seconds() / elapsed.Seconds(),
		P50:              h.percentile(50),
		P99:              h.percentile(99),
		Sent:             sent.Load(),
		Delivered:        ns.arrived.Load(),
		OutOfOrder:       ns.outOfOrder.Load(),
	}
	res.GeneratorCollections = gc.release()
	res.PeakRSS, _ = peakRSS(p.Pid())
	return res, ctx.Err()
}

func natsSubject(group int) string { return "bench.g" + strconv.Itoa(group) }

// natsFrame is the AppSync data frame meshd would send for one report, so that nats-server
// carries the same bytes to each socket and the same parser reads them.
func natsFrame(key string, t tag) []byte {
	return append(append([]byte(`{"id":"1","type":"data","payload":`), ceilingPayload(key, t)...), '}')
}

// natsSockets are the generator's WebSockets subscribed to nats-server, with what they got.
type natsSockets struct {
	conns      []*natsConn
	readers    sync.WaitGroup
	arrived    atomic.Uint64
	outOfOrder atomic.Uint64
	hist       histShards
}

// open connects every socket (nodes per group) and starts its reader.
func (ns *natsSockets) open(ctx context.Context, wsAddr string, nodes, parallel int) error {
	dialer := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}
	var (
		wg     sync.WaitGroup
		sem    = make(chan struct{}, parallel)
		failed atomic.Pointer[error]
	)
	for i := range ns.conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := dialNATS(ctx, dialer, "ws://"+wsAddr, natsSubject(i/nodes))
			if err != nil {
				failed.CompareAndSwap(nil, &err)
				return
			}
			ns.conns[i] = c
		})
	}
	wg.Wait()
	if errp := failed.Load(); errp != nil {
		return fmt.Errorf("nats reference: subscribe: %w", *errp)
	}
	for i, c := range ns.conns {
		ns.readers.Go(func() { ns.read(c, i) })
	}
	return nil
}

// read counts one socket's messages until it closes.
func (ns *natsSockets) read(c *natsConn, i int) {
	var last uint64
	var f serverFrame
	_ = c.messages(func(payload []byte) {
		now := time.Now().UnixNano()
		if parseFrame(payload, &f) != nil {
			return
		}
		for _, t := range f.tags {
			if t.seq <= last {
				ns.outOfOrder.Add(1)
				continue
			}
			last = t.seq
			ns.arrived.Add(1)
			ns.hist.shard(i).record(time.Duration(now - t.sent))
		}
	})
}

func (ns *natsSockets) close() {
	for _, c := range ns.conns {
		if c != nil {
			c.ws.Close()
		}
	}
	ns.readers.Wait()
}

// natsConn is one WebSocket speaking the NATS client protocol.
type natsConn struct {
	ws    *websocket.Conn
	in    bytes.Buffer // one WebSocket message
	buf   []byte       // protocol not yet parsed
	store []byte       // buf's backing array between messages
}

// dialNATS connects, subscribes to subject and waits for the PONG that confirms it.
func dialNATS(ctx context.Context, d *websocket.Dialer, url, subject string) (*natsConn, error) {
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c := &natsConn{ws: ws}
	hello := "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nSUB " + subject + " 1\r\nPING\r\n"
	ws.SetWriteDeadline(time.Now().Add(ackTimeout))
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte(hello)); err != nil {
		ws.Close()
		return nil, err
	}
	ws.SetReadDeadline(time.Now().Add(ackTimeout))
	errPong := errors.New("pong")
	if err := c.messages(func([]byte) {}, errPong); !errors.Is(err, errPong) {
		ws.Close()
		return nil, fmt.Errorf("subscribe %s: %v", subject, err)
	}
	ws.SetReadDeadline(time.Time{})
	ws.SetWriteDeadline(time.Time{})
	return c, nil
}

// messages reads the protocol, answering PINGs, and calls onMsg with each MSG's payload. It
// returns the read error, or onPong when a PONG arrives and onPong is given.
func (c *natsConn) messages(onMsg func([]byte), onPong ...error) error {
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			return err
		}
		c.in.Reset()
		if _, err := c.in.ReadFrom(r); err != nil {
			return err
		}
		c.buf = append(c.buf, c.in.Bytes()...)
		for {
			eol := bytes.Index(c.buf, []byte("\r\n"))
			if eol < 0 {
				break
			}
			line := c.buf[:eol]
			consumed := eol + 2
			switch {
			case bytes.HasPrefix(line, []byte("MSG ")):
				f := bytes.Fields(line)
				size, err := strconv.Atoi(string(f[len(f)-1]))
				if err != nil {
					return fmt.Errorf("bad MSG line %q", line)
				}
				if len(c.buf) < consumed+size+2 {
					consumed = -1 // the payload is still on its way
					break
				}
				onMsg(c.buf[consumed : consumed+size])
				consumed += size + 2
			case bytes.Equal(line, []byte("PING")):
				if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte("PONG\r\n")); err != nil {
					return err
				}
			case bytes.Equal(line, []byte("PONG")) && len(onPong) > 0:
				c.buf = c.buf[consumed:]
				return onPong[0]
			case bytes.HasPrefix(line, []byte("-ERR")):
				return fmt.Errorf("nats-server: %s", line)
			}
			if consumed < 0 {
				break
			}
			c.buf = c.buf[consumed:]
		}
		// Keep what is left at the start of the buffer, which is reused.
		c.store = append(c.store[:0], c.buf...)
		c.buf = c.store
	}
}
