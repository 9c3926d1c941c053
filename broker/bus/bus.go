// Package bus carries published group messages to subscribers, one subject per (domain,
// group) of an embedded NATS server. A value published in the process is handed to the
// process's own subscribers as it is, without an encoding; it is encoded, once, and published
// on its subject only while a client outside the process is connected (-nats-listen), and
// messages such clients publish reach the subscribers through a decoder.
package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/smalruby/meshd/broker/loglimit"
)

// Options configures the embedded NATS server.
type Options struct {
	// ListenAddr, when set (e.g. "127.0.0.1:4222"), also opens a NATS client port for other
	// processes; empty keeps the server in-process only.
	ListenAddr string
	// Token is the secret NATS clients of ListenAddr must present; New refuses a ListenAddr
	// without one of at least MinTokenLength characters, because the port carries every
	// group's messages.
	Token string
	// MaxPending bounds what waits for one subscription before its messages are dropped as a
	// slow consumer: bytes from outside the process, and MaxPending / 1 KiB values published
	// in it; 0 means 64 MiB.
	MaxPending int
	// Logger receives the bus's errors, slow-consumer drops among them, at most one line per
	// dropLogInterval; slog.Default() when nil.
	Logger *slog.Logger
}

// MinTokenLength is the shortest Token New accepts: a short one is guessed.
const MinTokenLength = 16

// maxPayload is the largest message the bus carries: far above the biggest allowed mutation.
const maxPayload = 8 << 20

// dropLogInterval is the least time between two log lines about the bus's errors, so that a
// burst of slow-consumer drops is one line, not thousands.
const dropLogInterval = 10 * time.Second

// Bus publishes and delivers group messages.
type Bus struct {
	srv        *server.Server
	nc         *nats.Conn
	listening  bool // a client port is open: clients outside the process may connect
	maxPending int
	log        *slog.Logger
	errLog     loglimit.Limit

	// local holds each subject's subscriptions in the process (a *subjectSubs by subject).
	local sync.Map

	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	retired uint64 // dropped messages of subscriptions that have ended
}

// subjectSubs are the subscriptions of one subject, replaced, never changed, so that a
// publish reads them without a lock.
type subjectSubs struct {
	list atomic.Pointer[[]*Subscription]
}

// Subscription is one subscriber of one group's messages.
type Subscription struct {
	b       *Bus
	subject string
	sub     *nats.Subscription // messages of clients outside the process
	q       queue
}

// New starts the embedded server and connects to it in-process.
func New(opts Options) (*Bus, error) {
	sopts := &server.Options{
		ServerName: "meshd",
		DontListen: opts.ListenAddr == "",
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: maxPayload,
		MaxPending: 4 * maxPayload,
	}
	if opts.ListenAddr != "" {
		if len(opts.Token) < MinTokenLength {
			return nil, fmt.Errorf("start embedded nats: a listen address needs a token of at least %d characters", MinTokenLength)
		}
		sopts.Authorization = opts.Token
		host, port, err := net.SplitHostPort(opts.ListenAddr)
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: listen address %q: %w", opts.ListenAddr, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: listen port %q: %w", port, err)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		sopts.Host, sopts.Port = host, p
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("start embedded nats: not ready within 10s")
	}
	b := &Bus{srv: srv, listening: opts.ListenAddr != "", maxPending: opts.MaxPending, log: opts.Logger, errLog: loglimit.Limit{Every: dropLogInterval},
		subs: make(map[*Subscription]struct{})}
	if b.maxPending <= 0 {
		b.maxPending = 64 << 20
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	// NoEcho: what the process publishes on NATS is for other clients; its own subscribers
	// have it already.
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("meshd"), nats.NoReconnect(), nats.Token(opts.Token),
		nats.NoEcho(), nats.ErrorHandler(b.asyncError))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	b.nc = nc
	return b, nil
}

// asyncError logs an error NATS reports outside any call, such as a subscription that fell
// so far behind that NATS dropped its messages (counted by Dropped), rate-limited.
func (b *Bus) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	if errors.Is(err, nats.ErrSlowConsumer) {
		b.slowConsumer(subject)
		return
	}
	ok, held := b.errLog.Allow(time.Now())
	if ok {
		b.log.Error("bus error", "subject", subject, "err", err, "lines_held_back", held)
	}
}

// slowConsumer logs, rate-limited, that a subscription of subject dropped messages.
func (b *Bus) slowConsumer(subject string) {
	if ok, held := b.errLog.Allow(time.Now()); ok {
		b.log.Warn("bus slow consumer: messages dropped", "subject", subject, "dropped_total", b.Dropped(), "lines_held_back", held)
	}
}

// ClientURL is the address other NATS clients reach the server at, or "" when it only runs
// in-process.
func (b *Bus) ClientURL() string {
	if addr := b.srv.Addr(); addr != nil {
		return "nats://" + addr.String()
	}
	return ""
}

// Publish sends v to every subscriber of the group. The process's own subscribers get v
// itself, which must not change afterwards; encode is called, once, only when clients outside
// the process may be listening, and its bytes published on the subject. Messages published
// from one goroutine, or serialised by the caller, are delivered in that order.
func (b *Bus) Publish(domain, groupID string, v any, encode func() ([]byte, error)) error {
	if b.nc.IsClosed() {
		return fmt.Errorf("publish to %s@%s: %w", groupID, domain, nats.ErrConnectionClosed)
	}
	subject := Subject(domain, groupID)
	if ss, ok := b.local.Load(subject); ok {
		for _, s := range *ss.(*subjectSubs).list.Load() {
			if !s.q.push(v) {
				b.slowConsumer(subject)
			}
		}
	}
	if !b.listening || b.srv.NumClients() <= 1 {
		return nil // nobody but the process itself is connected
	}
	data, err := encode()
	if err == nil {
		err = b.nc.Publish(subject, data)
	}
	if err != nil {
		return fmt.Errorf("publish to %s@%s: %w", groupID, domain, err)
	}
	return nil
}

// Subscribe calls fn with every message of the group, in publish order, from one goroutine:
// the values published in the process as they are, and what clients outside it publish on
// the subject through decode (a message decode refuses is logged and skipped).
func (b *Bus) Subscribe(domain, groupID string, decode func([]byte) (any, error), fn func(any)) (*Subscription, error) {
	subject := Subject(domain, groupID)
	s := &Subscription{b: b, subject: subject, q: newQueue(max(b.maxPending>>10, 1))}
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		v, err := decode(m.Data)
		if err != nil {
			b.log.Error("undecodable bus message", "subject", subject, "err", err)
			return
		}
		if !s.q.push(v) {
			b.slowConsumer(subject)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s@%s: %w", groupID, domain, err)
	}
	if err := sub.SetPendingLimits(-1, b.maxPending); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to %s@%s: %w", groupID, domain, err)
	}
	s.sub = sub
	go s.q.run(fn)
	b.mu.Lock()
	b.subs[s] = struct{}{}
	ss, _ := b.local.LoadOrStore(subject, &subjectSubs{})
	list := ss.(*subjectSubs)
	old := list.list.Load()
	var next []*Subscription
	if old != nil {
		next = append((*old)[:len(*old):len(*old)], s)
	} else {
		next = []*Subscription{s}
	}
	list.list.Store(&next)
	b.mu.Unlock()
	return s, nil
}

// Unsubscribe stops delivery to the subscription. A call of fn already running may finish
// after it returns.
func (s *Subscription) Unsubscribe() error {
	b := s.b
	b.mu.Lock()
	if _, ok := b.subs[s]; ok {
		b.retired += s.dropped()
		delete(b.subs, s)
		if ss, ok := b.local.Load(s.subject); ok {
			list := ss.(*subjectSubs)
			var next []*Subscription
			for _, x := range *list.list.Load() {
				if x != s {
					next = append(next, x)
				}
			}
			if len(next) == 0 {
				b.local.Delete(s.subject)
			}
			list.list.Store(&next)
		}
	}
	b.mu.Unlock()
	s.q.stop()
	if err := s.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	return nil
}

// dropped counts the subscription's dropped messages, from the process and from outside.
func (s *Subscription) dropped() uint64 {
	n := s.q.dropped.Load()
	if d, err := s.sub.Dropped(); err == nil {
		n += uint64(d)
	}
	return n
}

// Healthy reports whether the server runs and the broker's connection to it is up.
func (b *Bus) Healthy() bool {
	return b.srv.Running() && b.nc.IsConnected()
}

// Dropped counts the messages NATS dropped because a subscriber fell too far behind, over all
// subscriptions, past and present.
func (b *Bus) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.retired
	for s := range b.subs {
		n += s.dropped()
	}
	return n
}

// Close disconnects and shuts the server down; it may be called more than once. Values
// already handed to subscriptions are still delivered until they unsubscribe.
func (b *Bus) Close() {
	b.nc.Close()
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}
