package gql

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// closeTimeout bounds the write of a socket's close frame.
const closeTimeout = time.Second

// slowReason names why a socket was closed as a slow consumer: its reader fell so far
// behind that frames waited beyond a limit, or a write did not finish in time.
type slowReason string

// The slow-consumer close reasons.
const (
	slowPendingFrames slowReason = "pending frames" // RealtimeConfig.SendQueue frames waited
	slowPendingBytes  slowReason = "pending bytes"  // RealtimeConfig.SendQueueBytes waited
	slowWriteDeadline slowReason = "write deadline" // a write outlasted RealtimeConfig.WriteTimeout
)

// frame is one outbound WebSocket message: prefix, then a payload shared by every subscriber
// of an execution, then suffix. A close frame carries a close code instead.
type frame struct {
	prefix, payload, suffix []byte
	published               time.Time
	closeCode               int
	closeText               string
}

// conn is one realtime socket: a reader goroutine and a bounded queue that a writer goroutine
// empties. The writer runs only while frames are pending (it starts with the first frame
// queued and ends when the queue is empty), and the queue holds only what is pending, so an
// idle socket costs no writer stack and no queue memory however large MESH_SEND_QUEUE_FRAMES
// is. What the frames say is the dialect's business.
type conn struct {
	s     *Server
	ws    *websocket.Conn
	d     dialect
	batch *batchConn // the connection under ws, when it can batch writes
	ip    string
	// writeDeadline is the write deadline set on ws; owned by the running writer.
	writeDeadline time.Time
	// done is closed once the writer has closed the socket.
	done chan struct{}

	key  string // API key from the upgrade request
	date string // client clock from the upgrade request

	// ctx ends when the socket does; work counts the goroutines running under it.
	ctx    context.Context
	cancel context.CancelFunc
	work   sync.WaitGroup

	mu          sync.Mutex
	queue       []frame // pending frames, at most SendQueue of them plus a close frame
	queuedBytes int     // the bytes of queue's frames, at most SendQueueBytes
	writing     bool    // a writer goroutine is running
	inited      bool
	subs        map[string]*subscriber
	closed      bool
	ending      closing // how the socket ends: the first close sent or received
}

// closing is the close that ended a socket, for its log line and OnSocketClose.
type closing struct {
	code int
	text string
	by   string // "server" or "client"
}

// noteCloseLocked remembers the first close of the socket.
func (c *conn) noteCloseLocked(code int, text, by string) {
	if c.ending.code == 0 {
		c.ending = closing{code, text, by}
	}
}

// noteReadEnd remembers why the client's side ended: its close frame, or a lost connection.
func (c *conn) noteReadEnd(err error) {
	code, text := websocket.CloseAbnormalClosure, "connection lost"
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		code, text = ce.Code, ce.Text
	}
	c.mu.Lock()
	c.noteCloseLocked(code, text, "client")
	c.mu.Unlock()
}

func newConn(s *Server, ws *websocket.Conn, d dialect, r *http.Request) *conn {
	c := &conn{
		s: s, ws: ws, d: d,
		done:  make(chan struct{}),
		batch: batchConnOf(ws.NetConn()),
		ip:    s.ClientIP(r.RemoteAddr, r.Header.Get("X-Forwarded-For")),
		subs:  map[string]*subscriber{},
	}
	c.ctx, c.cancel = context.WithCancel(withClientIP(context.Background(), c.ip))
	c.key, c.date = credentials(r)
	return c
}

// send queues a frame without ever blocking: a reader too slow to keep its queue under
// SendQueue frames and SendQueueBytes bytes is disconnected as a slow consumer, so it cannot
// hold up its group.
func (c *conn) send(f frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendLocked(f)
}

// sendLocked is send for callers that hold c.mu.
func (c *conn) sendLocked(f frame) bool {
	if c.closed {
		return false
	}
	size := len(f.prefix) + len(f.payload) + len(f.suffix)
	switch cfg := &c.s.rt.cfg; {
	case len(c.queue) >= cfg.SendQueue:
		c.slowLocked(slowPendingFrames)
		return false
	case c.queuedBytes+size > cfg.SendQueueBytes:
		c.slowLocked(slowPendingBytes)
		return false
	}
	c.queuedBytes += size
	c.enqueueLocked(f)
	return true
}

// slowLocked counts, logs and closes a slow consumer with 1013 (try again later). Nothing
// queued would be read in time: the close goes out at once, alone.
func (c *conn) slowLocked(reason slowReason) {
	if c.closed {
		return
	}
	c.s.rt.slowConsumers.Add(1)
	c.s.log.Warn("realtime slow consumer disconnected", "reason", string(reason), "ip", c.ip,
		"protocol", c.d.subprotocol(), "queued_frames", len(c.queue), "queued_bytes", c.queuedBytes)
	clear(c.queue)
	c.queue = c.queue[:0]
	c.queuedBytes = 0
	c.closeLocked(websocket.CloseTryAgainLater, "slow consumer: "+string(reason))
}

// writeFailed ends a socket whose write failed: as a slow consumer when the write deadline
// passed, else as a broken connection.
func (c *conn) writeFailed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		c.slowLocked(slowWriteDeadline)
		return
	}
	c.closeLocked(websocket.CloseAbnormalClosure, "")
}

// enqueueLocked appends a frame and starts the writer unless it runs.
func (c *conn) enqueueLocked(f frame) {
	if c.queue == nil {
		c.queue = takeFrames()
	}
	c.queue = append(c.queue, f)
	if !c.writing {
		c.writing = true
		go c.write()
	}
}

// sendJSON queues a small control frame.
func (c *conn) sendJSON(v any) {
	b, _ := json.Marshal(v)
	c.send(frame{payload: b})
}

// sendResult queues the result of operation id.
func (c *conn) sendResult(id string, payload []byte) {
	c.send(frame{prefix: c.d.resultPrefix(id), payload: payload, suffix: []byte("}")})
}

// sendError answers operation id with errs.
func (c *conn) sendError(id string, errs []Error) {
	c.sendJSON(c.d.errorFrame(id, errs))
}

// operationError answers operation id with one error.
func (c *conn) operationError(id, errType, msg string) {
	c.sendError(id, []Error{{ErrorType: errType, Message: msg}})
}

// close queues a close frame after everything already queued.
func (c *conn) close(code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, text)
}

func (c *conn) closeLocked(code int, text string) {
	if c.closed {
		return
	}
	c.closed = true
	c.noteCloseLocked(code, text, "server")
	c.enqueueLocked(frame{closeCode: code, closeText: text})
}

// takeQueue hands the writer everything queued, giving back the slice it has written from;
// when nothing is queued the writer is done (and both slices are kept for the next burst
// of any socket: an idle socket keeps no queue).
func (c *conn) takeQueue(spent []frame) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	clear(spent) // drop the payload references of written frames
	if len(q) == 0 {
		c.queue = nil
		c.writing = false
		keepFrames(spent)
		keepFrames(q)
		return nil
	}
	c.queue = spent[:0]
	c.queuedBytes = 0
	return q
}

// write sends queued frames until none is left, a close frame is written or the connection
// fails; in the last two cases it closes the socket.
func (c *conn) write() {
	var batch []frame
	for {
		if batch = c.takeQueue(batch); batch == nil {
			return
		}
		if !c.writeBatch(batch) {
			c.ws.Close()
			close(c.done)
			return
		}
	}
}

// keepAlive queues the dialect's keep-alive frame on an initialised socket.
func (c *conn) keepAlive() {
	if b := c.d.keepAlive(); b != nil && c.isInited() {
		c.send(frame{payload: b})
	}
}

// writeBatch writes frames in order, in one system call when the socket allows it, and counts
// the messages among them as delivered once they are out; false means the socket is finished.
func (c *conn) writeBatch(batch []frame) bool {
	var bc *batchConn
	if len(batch) > 1 && c.batch != nil {
		bc = c.batch
		bc.cork()
	}
	scratch := frameBufs.Get().(*[]byte)
	defer func() {
		if cap(*scratch) <= batchKeepBytes {
			frameBufs.Put(scratch)
		}
	}()
	written, open := 0, true
	for _, f := range batch {
		c.armWriteDeadline()
		if f.closeCode != 0 {
			c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(f.closeCode, f.closeText), time.Now().Add(closeTimeout))
			open = false
			break
		}
		if err := c.writeFrame(f, scratch); err != nil {
			c.writeFailed(err)
			open = false
			break
		}
		written++
	}
	if bc != nil {
		if err := bc.uncork(); err != nil {
			c.writeFailed(err)
			return false
		}
	}
	rt := &c.s.rt
	for _, f := range batch[:written] {
		if !f.published.IsZero() {
			rt.framesSent.Add(1)
			if rt.cfg.OnDelivery != nil {
				rt.cfg.OnDelivery(time.Since(f.published))
			}
		}
	}
	return open
}

// armWriteDeadline gives the next write at least half of WriteTimeout and at most all of it.
// The deadline moves only once less than half is left, so that gorilla/websocket, which hands
// it to the connection before every frame, hands the same one, and the batching connection
// under it need not re-arm the runtime's timer for each frame (that cost a tenth of a
// frame's write).
func (c *conn) armWriteDeadline() {
	wt := c.s.rt.cfg.WriteTimeout
	now := time.Now()
	if c.writeDeadline.Sub(now) >= wt/2 {
		return
	}
	c.writeDeadline = now.Add(wt)
	c.ws.SetWriteDeadline(c.writeDeadline)
}

// writeFrame writes one frame as one WebSocket message. A frame in pieces is joined in
// scratch first: gorilla/websocket's WriteMessage, unlike NextWriter, allocates nothing, and
// at ×10 NextWriter's writer was an eighth of everything meshd allocated.
func (c *conn) writeFrame(f frame, scratch *[]byte) error {
	if len(f.prefix) == 0 && len(f.suffix) == 0 {
		return c.ws.WriteMessage(websocket.TextMessage, f.payload)
	}
	b := append(append(append((*scratch)[:0], f.prefix...), f.payload...), f.suffix...)
	*scratch = b
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// frameBufs holds the buffers frames in pieces are joined in, between bursts; one larger
// than batchKeepBytes is dropped after use.
var frameBufs = sync.Pool{New: func() any { return new([]byte) }}

func (c *conn) isInited() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inited
}

// setInited marks the socket initialised and reports whether it already was. The first time
// it logs the socket's opening: a probe that never initialises is not worth a line.
func (c *conn) setInited() (was bool) {
	c.mu.Lock()
	was, c.inited = c.inited, true
	c.mu.Unlock()
	if !was {
		c.s.log.Info("realtime connection opened", "protocol", c.d.subprotocol(), "ip", c.ip)
	}
	return was
}

// goWork runs fn on its own goroutine under the socket's context; the socket's end cancels
// it and waits for it.
func (c *conn) goWork(fn func(ctx context.Context)) {
	c.work.Add(1)
	go func() {
		defer c.work.Done()
		fn(c.ctx)
	}()
}

// read hands inbound frames to the dialect until the socket closes, then cleans up.
func (c *conn) read() {
	opened := time.Now()
	defer c.end(opened)
	timeout := c.s.rt.cfg.InitTimeout
	if timeout <= 0 {
		timeout = c.d.initTimeout()
	}
	initTimer := time.AfterFunc(timeout, func() {
		if !c.isInited() {
			c.d.initTimedOut(c)
		}
	})
	defer initTimer.Stop()
	for {
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			c.noteReadEnd(err)
			return
		}
		if kind == websocket.TextMessage && !utf8.Valid(data) {
			// RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007.
			c.s.rt.malformed.Add(1)
			c.close(websocket.CloseInvalidFramePayloadData, "text frame is not valid UTF-8")
			return
		}
		if !c.handle(data) {
			return
		}
	}
}

// handle decodes an inbound frame and passes it to the dialect on a short-lived goroutine,
// waiting for it: what a frame sets off (validating a document, say) grows a stack that
// would otherwise stay with the reader, which an idle socket keeps for its whole life. false
// means the socket is being closed.
func (c *conn) handle(data []byte) bool {
	ok := make(chan bool, 1)
	go func() {
		var f clientFrame
		if err := json.Unmarshal(data, &f); err != nil || f.Type == "" {
			ok <- c.malformed("frame is not a JSON object with a type")
			return
		}
		ok <- c.d.handle(c, f)
	}()
	return <-ok
}

// malformed counts a frame meshd cannot read and has the dialect answer it; false means the
// socket is being closed.
func (c *conn) malformed(msg string) bool {
	c.s.rt.malformed.Add(1)
	return c.d.malformed(c, msg)
}

// end closes the socket, cancels and waits for its work, ends its subscriptions and waits
// until the writer has closed the socket.
func (c *conn) end(opened time.Time) {
	rt := &c.s.rt
	defer rt.sockets.Done()
	c.close(websocket.CloseNormalClosure, "")
	defer func() { <-c.done }()
	c.cancel()
	c.work.Wait()
	c.mu.Lock()
	subs := c.subs
	inited := c.inited
	ending := c.ending
	c.subs = map[string]*subscriber{}
	c.mu.Unlock()
	for _, sub := range subs {
		rt.hub.remove(sub)
		rt.subscriptions.Add(-1)
	}
	rt.mu.Lock()
	delete(rt.conns, c)
	rt.mu.Unlock()
	rt.connections.Add(-1)
	// One line per connection, when it ends; a probe that never initialised is debug noise.
	level := slog.LevelInfo
	if !inited {
		level = slog.LevelDebug
	}
	c.s.log.Log(context.Background(), level, "realtime connection closed", "protocol", c.d.subprotocol(), "ip", c.ip,
		"duration", time.Since(opened).Round(time.Millisecond).String(), "subscriptions", len(subs),
		"close_code", ending.code, "reason", ending.text, "closed_by", ending.by)
	if rt.cfg.OnSocketClose != nil {
		rt.cfg.OnSocketClose(ending.code)
	}
}
